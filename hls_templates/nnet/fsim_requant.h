// fpga-sim HLS kernels: the integer requantiser of QDQ models (fpga_sim/ops/requant.py).
#ifndef FSIM_REQUANT_H_
#define FSIM_REQUANT_H_

#include "fsim_common.h"
#include "fsim_memory.h"

namespace fsim {

struct requant_config {
    static const unsigned out_par = 1, ii = 1;   // element lanes: outputs per iteration, cycles per iteration
    static const unsigned n = 1;
    static const unsigned m_div = 1, m_mod = 1;           // element i uses channel (i / m_div) % m_mod
    static const bool in_signed = true;
    static const long long lo = 0, hi = 0;                // clamp bounds, raw output values
};

// ops/requant.py: v = raw(x) * M[c] (one DSP multiply); y = round half to even of v / 2^shift[c]
// (a left shift when shift <= 0); y clamped to [lo, hi]; y is the output's raw value.
template <class CONFIG_T, class in_t, class m_t, class s_t, class out_t, class ms_t, class ss_t>
void requant(const in_t in[CONFIG_T::n], out_t out[CONFIG_T::n], const ms_t mult[], const ss_t shift[]) {
#pragma HLS INLINE off
    // elements: the simulator's element lanes
    for_each_lane<CONFIG_T::n, CONFIG_T::out_par, CONFIG_T::ii>([&](unsigned i) {
        const unsigned c = (i / CONFIG_T::m_div) % CONFIG_T::m_mod;
        const long long m = param<m_t>(mult[c]).to_int64();
        const int s = param<s_t>(shift[c]).to_int();
        const long long v = get_raw<CONFIG_T::in_signed>(in[i]) * m;
        long long t;
        if (s > 0) {
            t = v >> s;
            const long long r = v - (t << s);
            const long long half = 1LL << (s - 1);
            if (r > half || (r == half && (t & 1))) t += 1;
        } else {
            t = v << (-s);
        }
        if (t < CONFIG_T::lo) t = CONFIG_T::lo;
        if (t > CONFIG_T::hi) t = CONFIG_T::hi;
        set_raw(out[i], t);
    });
}

}  // namespace fsim

#endif

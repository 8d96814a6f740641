// fpga-sim HLS kernels: functions by normalised mantissa tables (Reciprocal, Sqrt, 1/Sqrt).
// Reproduces the integer arithmetic in the docstring of fpga_sim/ops/mantissa_lut.py.
#ifndef FSIM_NONLINEAR_H_
#define FSIM_NONLINEAR_H_

#include "fsim_common.h"
#include "fsim_memory.h"

namespace fsim {

enum mantissa_kind { MANT_RECIP = 0, MANT_SQRT = 1, MANT_RSQRT = 2 };

struct mantissa_config {
    static const unsigned out_par = 1, ii = 1;   // element lanes: outputs per iteration, cycles per iteration
    static const unsigned n = 1;
    static const int kind = MANT_RECIP;
    static const unsigned table_bits = 10;
    static const bool in_signed = true;
    static const int in_width = 16, in_frac = 10;
    static const int s_min = 0;                // the smallest exponent s over every input magnitude
    static const int activation = ACT_NONE;
};

// Position of the leading one of a > 0 (a priority encoder in hardware).
template <int W>
inline int msb(unsigned long long a) {
#pragma HLS INLINE
    int e = 0;
MSB:
    for (int b = 1; b < W; b++) {
#pragma HLS UNROLL
        if ((a >> b) & 1ull) e = b;
    }
    return e;
}

// The table entry and exponent of a magnitude a >= 1 at frac F_IN: f(a * 2^-F_IN) = T * 2^s.
template <int KIND, int NB, int W, class ts_t>
inline void mantissa_parts(unsigned long long a, int f_in, const ts_t *table, long long &t, int &s) {
#pragma HLS INLINE
    const int e = msb<W>(a);
    long long idx = (long long)(e >= NB ? (a >> (e - NB)) : (a << (NB - e))) - (1ll << NB);
    if (KIND == MANT_RECIP) {
        s = f_in - e;
    } else {
        const int d = e - f_in;
        const int k = d >= 0 ? d / 2 : -((1 - d) / 2);    // floor(d / 2)
        idx += (long long)(d & 1) << NB;
        s = KIND == MANT_SQRT ? k : -k;
    }
    t = (long long)table[idx];
}

// One value: raw input v -> T[idx] * 2^s as the exact p_t, negated for a negative reciprocal.
template <class CONFIG_T, class p_t, class ts_t>
inline p_t mantissa_value(long long v, const ts_t *table) {
#pragma HLS INLINE
    unsigned long long a = (unsigned long long)(v < 0 ? -v : v);
    if (a == 0) a = 1;
    long long t;
    int s;
    mantissa_parts<CONFIG_T::kind, CONFIG_T::table_bits, CONFIG_T::in_width>(a, CONFIG_T::in_frac, table, t, s);
    long long p = t << (s - CONFIG_T::s_min);
    if (v < 0) p = -p;
    p_t r;
    set_raw(r, p);
    return r;
}

// ops/mantissa_lut.py: normalise, read the mantissa's table entry, shift back, one cast.
template <class CONFIG_T, class in_t, class p_t, class out_t, class ts_t>
void mantissa_function(const in_t in[CONFIG_T::n], out_t out[CONFIG_T::n], const ts_t *table) {
#pragma HLS INLINE off
    // elements: the simulator's element lanes
    for_each_lane<CONFIG_T::n, CONFIG_T::out_par, CONFIG_T::ii>([&](unsigned i) {
        const long long v = get_raw<CONFIG_T::in_signed>(in[i]);
        out_t y = 0;
        if (CONFIG_T::kind == MANT_RECIP || v > 0) {
            y = out_t(mantissa_value<CONFIG_T, p_t>(v, table));
        }
        out[i] = apply_fused<CONFIG_T::activation, out_t>(y);
    });
}

}  // namespace fsim

#endif

// fpga-sim HLS kernel: 2-D convolution (NCHW, weights (Cout, Cin/groups, kh, kw)), with groups,
// strides, dilations and zero padding, on a MAC array of CONFIG_T::n_mult multipliers.
//
// K = Cin/groups * kh * kw multiply-accumulates per output.  The simulated machine issues
// M = n_mult products per cycle: when K >= M one output at a time, ceil(K/M) cycles each
// (k_par = M, out_par = 1); when K < M, floor(M/K) outputs in parallel (k_par = K,
// out_par = M/K).  The pipelined K loop below has exactly out_par * k_par multiplies in flight.
// Products are added to the accumulator in order k = (ci, ky, kx), bias first, as the engine does
// (`mac_cycle` in fsim_memory.h: with a wrapping accumulator a cycle's products are summed apart).
//
// One call computes one tile of the simulator's tile plan: output channels [co_begin, co_end).
// w and b hold channels from w_co0 on (the whole ROM: 0; a tile buffer loaded from DRAM:
// co_begin); STAGED writes the tile's outputs from out[0] (a staging buffer for DRAM), else at
// their place in the whole output.  One PRODUCTS iteration is one cycle of the MAC array.
#ifndef FSIM_CONV2D_H_
#define FSIM_CONV2D_H_

#include "fsim_common.h"
#include "fsim_memory.h"

namespace fsim {

struct conv2d_config {
    // shapes
    static const unsigned in_c = 1, in_h = 1, in_w = 1;
    static const unsigned out_c = 1, out_h = 1, out_w = 1;
    static const unsigned kh = 1, kw = 1;
    static const unsigned stride_h = 1, stride_w = 1;
    static const unsigned dil_h = 1, dil_w = 1;
    static const unsigned pad_top = 0, pad_left = 0;
    static const unsigned groups = 1;
    static const bool has_bias = true;
    static const int activation = ACT_NONE;
    // parallelism
    static const unsigned k_par = 1;     // products of one output per cycle
    static const unsigned out_par = 1;   // outputs computed side by side
    static const unsigned n_mult = 1;    // k_par * out_par
    static const bool partial_sums = false;   // accumulator wraps: add the k_par products apart first
};

template <class CONFIG_T, class in_t, class w_t, class b_t, class acc_t, class out_t, bool STAGED, class ws_t, class bs_t>
void conv2d(const in_t in[CONFIG_T::in_c * CONFIG_T::in_h * CONFIG_T::in_w], out_t *out, const ws_t *w, const bs_t *b,
            unsigned co_begin, unsigned co_end, unsigned w_co0) {
#pragma HLS INLINE off
    const unsigned cin_g = CONFIG_T::in_c / CONFIG_T::groups;
    const unsigned cout_g = CONFIG_T::out_c / CONFIG_T::groups;
    const unsigned n_k = cin_g * CONFIG_T::kh * CONFIG_T::kw;
    const unsigned plane = CONFIG_T::out_h * CONFIG_T::out_w;
    const unsigned o_begin = co_begin * plane;
    const unsigned n_out = co_end * plane;   // end of the tile's flat output range
    constexpr unsigned multiplier_limit = CONFIG_T::n_mult;   // products issued per cycle
#pragma HLS ALLOCATION operation instances=mul limit=multiplier_limit

    mac_array<CONFIG_T, acc_t>(o_begin, n_out, n_k,
        [&](unsigned o) { return acc_t(param<b_t>(b[o / plane - w_co0])); },
        [&](unsigned o, unsigned k, acc_t &prod) {
            const unsigned co = o / plane;
            const unsigned oy = (o % plane) / CONFIG_T::out_w, ox = o % CONFIG_T::out_w;
            const unsigned ci = k / (CONFIG_T::kh * CONFIG_T::kw);
            const window_tap<CONFIG_T> tap(oy, ox, (k / CONFIG_T::kw) % CONFIG_T::kh, k % CONFIG_T::kw);
            if (!tap.inside()) return false;
            const in_t x = in[tap.index(co / cout_g * cin_g + ci)];
            prod = x * param<w_t>(w[(co - w_co0) * n_k + k]);   // exact product, cast to acc_t
            return true;
        },
        [&](unsigned o, const acc_t &acc) {
            out[STAGED ? o - o_begin : o] = apply_fused<CONFIG_T::activation, out_t>(out_t(acc));
        });
}

}  // namespace fsim

#endif

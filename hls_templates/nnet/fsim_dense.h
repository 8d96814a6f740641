// fpga-sim HLS kernel: fully connected layer y = W x + b, W of shape (n_out, n_in), on a MAC
// array of CONFIG_T::n_mult multipliers; applied to each of n_rows rows (the last axis).
//
// K = n_in products per output.  As in the simulated machine: when K >= M one output at a time,
// ceil(K/M) cycles each (k_par = M, out_par = 1); when K < M, floor(M/K) outputs side by side
// (k_par = K, out_par = M/K).  Products are added in input order, bias first, as the engine does
// (`mac_cycle` in fsim_memory.h: with a wrapping accumulator a cycle's products are summed apart).
//
// One call computes one tile: output channels [co_begin, co_end) of every row, taken in the order
// j = row * channels + channel, out_par at a time (a group may span rows, as in the simulator).
// w and b hold channels from w_co0 on; STAGED writes output j at out[j] (a staging buffer for
// DRAM), else at out[row * n_out + channel].  One PRODUCTS iteration is one cycle of the array.
#ifndef FSIM_DENSE_H_
#define FSIM_DENSE_H_

#include "fsim_common.h"
#include "fsim_memory.h"

namespace fsim {

struct dense_config {
    static const unsigned n_rows = 1, n_in = 1, n_out = 1;
    static const bool has_bias = true;
    static const int activation = ACT_NONE;
    static const unsigned k_par = 1, out_par = 1, n_mult = 1;
    static const bool partial_sums = false;   // accumulator wraps: add the k_par products apart first
};

template <class CONFIG_T, class in_t, class w_t, class b_t, class acc_t, class out_t, bool STAGED, class ws_t, class bs_t>
void dense(const in_t in[CONFIG_T::n_rows * CONFIG_T::n_in], out_t *out, const ws_t *w, const bs_t *b,
           unsigned co_begin, unsigned co_end, unsigned w_co0) {
#pragma HLS INLINE off
    constexpr unsigned multiplier_limit = CONFIG_T::n_mult;   // products issued per cycle
#pragma HLS ALLOCATION operation instances=mul limit=multiplier_limit
    const unsigned ct = co_end - co_begin;
    const unsigned n_j = CONFIG_T::n_rows * ct;
    mac_array<CONFIG_T, acc_t>(0, n_j, CONFIG_T::n_in,
        [&](unsigned j) { return acc_t(param<b_t>(b[co_begin + j % ct - w_co0])); },
        [&](unsigned j, unsigned k, acc_t &prod) {
            const unsigned r = j / ct, co = co_begin + j % ct;
            prod = in[r * CONFIG_T::n_in + k] * param<w_t>(w[(co - w_co0) * CONFIG_T::n_in + k]);  // exact, cast to acc_t
            return true;
        },
        [&](unsigned j, const acc_t &acc) {
            const unsigned r = j / ct, co = co_begin + j % ct;
            out[STAGED ? j : r * CONFIG_T::n_out + co] = apply_fused<CONFIG_T::activation, out_t>(out_t(acc));
        });
}

}  // namespace fsim

#endif

// fpga-sim HLS kernels: reductions (ReduceSum/Mean/Max) and the MatMul of two activations.
// Each reproduces the integer arithmetic in the docstring of its fpga_sim/ops module
// (reduce.py, matmul.py).
#ifndef FSIM_REDUCE_H_
#define FSIM_REDUCE_H_

#include "fsim_common.h"
#include "fsim_memory.h"

namespace fsim {

enum reduce_kind { REDUCE_SUM = 0, REDUCE_MEAN = 1, REDUCE_MAX = 2 };

// The input seen as (outer, m, inner), the m reduced values of output o at stride inner.
struct reduce_config {
    static const unsigned out_par = 1, ii = 1;   // element lanes: outputs per iteration, cycles per iteration
    static const unsigned outer = 1, m = 1, inner = 1;
    static const int kind = REDUCE_SUM;
    static const int activation = ACT_NONE;
};

// ops/reduce.py: sum in acc_t (times the reciprocal for a mean) or exact max, one cast.  Outputs
// issue in the simulator's element lanes: an output's m - 1 adds or compares take II cycles.
template <class CONFIG_T, class in_t, class acc_t, class rc_t, class out_t, class rs_t>
void reduce(const in_t in[CONFIG_T::outer * CONFIG_T::m * CONFIG_T::inner],
            out_t out[CONFIG_T::outer * CONFIG_T::inner], const rs_t recip[]) {
#pragma HLS INLINE off
    for_each_lane<CONFIG_T::outer * CONFIG_T::inner, CONFIG_T::out_par, CONFIG_T::ii>([&](unsigned o) {
        const unsigned base = (o / CONFIG_T::inner) * CONFIG_T::m * CONFIG_T::inner + o % CONFIG_T::inner;
        out_t y;
        if (CONFIG_T::kind == REDUCE_MAX) {
            in_t v = in[base];
        MAX:
            for (unsigned j = 1; j < CONFIG_T::m; j++) {
#pragma HLS UNROLL
                if (in[base + j * CONFIG_T::inner] > v) v = in[base + j * CONFIG_T::inner];
            }
            y = out_t(v);
        } else {
            acc_t acc = 0;
        SUM:
            for (unsigned j = 0; j < CONFIG_T::m; j++) {
#pragma HLS UNROLL
                const acc_t v = in[base + j * CONFIG_T::inner];
                acc += v;
            }
            if (CONFIG_T::kind == REDUCE_MEAN) {
                y = out_t(acc * param<rc_t>(recip[0]));
            } else {
                y = out_t(acc);
            }
        }
        out[o] = apply_fused<CONFIG_T::activation, out_t>(y);
    });
}

// Output group g of a batched MatMul reads group (g / x_div) % x_mod of A (a_) and of B (b_).
struct matmul_config {
    static const unsigned out_par = 1, ii = 1;   // the MAC array: outputs per iteration, cycles per output
    static const unsigned groups = 1, n = 1, k = 1, m = 1;
    static const unsigned a_div = 1, a_mod = 1, b_div = 1, b_mod = 1;
    static const int activation = ACT_NONE;
};

// ops/matmul.py: acc += (acc_t)(A[i][p] * B[p][j]) over p, one cast.  Outputs issue as the
// simulator's MAC array does: OUT_PAR outputs an iteration when K fits the multipliers, else one
// output every II = ceil(K / M) cycles.
template <class CONFIG_T, class a_t, class b_t, class acc_t, class out_t>
void matmul(const a_t *a, const b_t *b, out_t out[CONFIG_T::groups * CONFIG_T::n * CONFIG_T::m]) {
#pragma HLS INLINE off
    for_each_lane<CONFIG_T::groups * CONFIG_T::n * CONFIG_T::m, CONFIG_T::out_par, CONFIG_T::ii>([&](unsigned o) {
        const unsigned g = o / (CONFIG_T::n * CONFIG_T::m), i = (o / CONFIG_T::m) % CONFIG_T::n, j = o % CONFIG_T::m;
        const unsigned ga = (g / CONFIG_T::a_div) % CONFIG_T::a_mod, gb = (g / CONFIG_T::b_div) % CONFIG_T::b_mod;
        acc_t acc = 0;
    PRODUCTS:
        for (unsigned p = 0; p < CONFIG_T::k; p++) {
#pragma HLS UNROLL
            const acc_t prod = a[(ga * CONFIG_T::n + i) * CONFIG_T::k + p] * b[(gb * CONFIG_T::k + p) * CONFIG_T::m + j];
            acc += prod;
        }
        out[o] = apply_fused<CONFIG_T::activation, out_t>(out_t(acc));
    });
}

}  // namespace fsim

#endif

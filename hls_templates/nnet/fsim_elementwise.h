// fpga-sim HLS kernels: element-wise arithmetic (Add/Sum, Mul by a constant, BatchNorm).
// Each reproduces the integer arithmetic in the docstring of its fpga_sim/ops module.
//
// A constant parameter P broadcast over the per-sample tensor is stored compactly and read at
// element i as P[(i / p_div) % p_mod]: p_mod = 1 for a scalar, (p_div = H*W, p_mod = C) for a
// per-channel constant, (1, n) for a full-size one.
#ifndef FSIM_ELEMENTWISE_H_
#define FSIM_ELEMENTWISE_H_

#include "fsim_common.h"
#include "fsim_memory.h"

namespace fsim {

struct elementwise_config {
    static const unsigned out_par = 1, ii = 1;   // element lanes: outputs per iteration, cycles per iteration
    static const unsigned n = 1;
    static const bool has_bias = false;
    static const unsigned p_div = 1, p_mod = 1;   // scale / alpha indexing
    static const unsigned b_div = 1, b_mod = 1;   // bias indexing
    static const int activation = ACT_NONE;
};

// acc += (acc_t)x[i] for every input, in order.
template <class acc_t>
inline void add_terms(acc_t &acc, unsigned i) {}

template <class acc_t, class T, class... Rest>
inline void add_terms(acc_t &acc, unsigned i, const T *x, const Rest *...rest) {
#pragma HLS INLINE
    const acc_t v = x[i];   // cast to the accumulator (its rounding/overflow)
    acc += v;               // the sum assigned to the accumulator (its overflow)
    add_terms<acc_t>(acc, i, rest...);
}

// ops/add.py: acc = (acc_t)B[i] (or 0); acc += (acc_t)x_k[i] in input order; one cast; ReLU.
template <class CONFIG_T, class acc_t, class b_t, class out_t, class bs_t, class... Ins>
void add(out_t out[CONFIG_T::n], const bs_t bias[], const Ins *...ins) {
#pragma HLS INLINE off
    // elements: the simulator's element lanes
    for_each_lane<CONFIG_T::n, CONFIG_T::out_par, CONFIG_T::ii>([&](unsigned i) {
        acc_t acc = CONFIG_T::has_bias ? acc_t(param<b_t>(bias[(i / CONFIG_T::b_div) % CONFIG_T::b_mod])) : acc_t(0);
        add_terms<acc_t>(acc, i, ins...);
        out[i] = apply_fused<CONFIG_T::activation, out_t>(out_t(acc));
    });
}

// ops/mul.py: y = (out_t)(x * S[i]), an exact product cast once.
template <class CONFIG_T, class in_t, class s_t, class out_t, class ss_t>
void mul_const(const in_t in[CONFIG_T::n], out_t out[CONFIG_T::n], const ss_t scale[]) {
#pragma HLS INLINE off
    // elements: the simulator's element lanes
    for_each_lane<CONFIG_T::n, CONFIG_T::out_par, CONFIG_T::ii>([&](unsigned i) {
        const s_t s = param<s_t>(scale[(i / CONFIG_T::p_div) % CONFIG_T::p_mod]);
        out[i] = apply_fused<CONFIG_T::activation, out_t>(out_t(in[i] * s));
    });
}

// ops/batchnorm.py: acc = (acc_t)BIAS[c]; acc += (acc_t)(x * SCALE[c]); one cast; ReLU.
template <class CONFIG_T, class in_t, class s_t, class b_t, class acc_t, class out_t, class ss_t, class bs_t>
void scale_shift(const in_t in[CONFIG_T::n], out_t out[CONFIG_T::n], const ss_t scale[], const bs_t bias[]) {
#pragma HLS INLINE off
    // elements: the simulator's element lanes
    for_each_lane<CONFIG_T::n, CONFIG_T::out_par, CONFIG_T::ii>([&](unsigned i) {
        acc_t acc = param<b_t>(bias[(i / CONFIG_T::b_div) % CONFIG_T::b_mod]);
        const acc_t prod = in[i] * param<s_t>(scale[(i / CONFIG_T::p_div) % CONFIG_T::p_mod]);
        acc += prod;
        out[i] = apply_fused<CONFIG_T::activation, out_t>(out_t(acc));
    });
}

}  // namespace fsim

#endif

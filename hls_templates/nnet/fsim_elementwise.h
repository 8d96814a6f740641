// fpga-sim HLS kernels: element-wise arithmetic (Add/Sum, Mul by a constant, BatchNorm).
// Each reproduces the integer arithmetic in the docstring of its fpga_sim/ops module.
//
// A constant parameter P broadcast over the per-sample tensor is stored compactly and read at
// element i as P[(i / p_div) % p_mod]: p_mod = 1 for a scalar, (p_div = H*W, p_mod = C) for a
// per-channel constant, (1, n) for a full-size one.  An activation input k broadcast into the
// output (Add/Sub/Mul of two activations) is read the same way at (i / xk_div) % xk_mod
// (xk_mod = 0: not broadcast, element i).
#ifndef FSIM_ELEMENTWISE_H_
#define FSIM_ELEMENTWISE_H_

#include "fsim_common.h"
#include "fsim_memory.h"

namespace fsim {

struct elementwise_config : lanes_config {
    static const unsigned n = 1;
    static const bool has_bias = false;
    static const unsigned p_div = 1, p_mod = 1;   // scale / alpha indexing
    static const unsigned b_div = 1, b_mod = 1;   // bias indexing
    static const unsigned x0_div = 1, x0_mod = 0, x1_div = 1, x1_mod = 0;   // broadcast activations
    static const unsigned x2_div = 1, x2_mod = 0, x3_div = 1, x3_mod = 0;
    static const unsigned neg_mask = 0;            // bit k: input k is subtracted (Sub)
    static const int activation = ACT_NONE;
};

// Element of activation input k read for output element i (see the header comment).
template <class CONFIG_T>
inline unsigned in_index(unsigned k, unsigned i) {
#pragma HLS INLINE
    switch (k) {
    case 0: return CONFIG_T::x0_mod ? (i / CONFIG_T::x0_div) % CONFIG_T::x0_mod : i;
    case 1: return CONFIG_T::x1_mod ? (i / CONFIG_T::x1_div) % CONFIG_T::x1_mod : i;
    case 2: return CONFIG_T::x2_mod ? (i / CONFIG_T::x2_div) % CONFIG_T::x2_mod : i;
    case 3: return CONFIG_T::x3_mod ? (i / CONFIG_T::x3_div) % CONFIG_T::x3_mod : i;
    default: return i;
    }
}

// acc += (acc_t)x[i] (acc -= for a subtracted input) for every input, in order.
template <class CONFIG_T, class acc_t>
inline void add_terms(acc_t &acc, unsigned i, unsigned k) {}

template <class CONFIG_T, class acc_t, class T, class... Rest>
inline void add_terms(acc_t &acc, unsigned i, unsigned k, const T *x, const Rest *...rest) {
#pragma HLS INLINE
    const acc_t v = x[in_index<CONFIG_T>(k, i)];   // cast to the accumulator (its rounding/overflow)
    if ((CONFIG_T::neg_mask >> k) & 1u) {
        acc -= v;           // the difference assigned to the accumulator (its overflow)
    } else {
        acc += v;           // the sum assigned to the accumulator (its overflow)
    }
    add_terms<CONFIG_T, acc_t>(acc, i, k + 1, rest...);
}

// ops/add.py: acc = (acc_t)B[i] (or 0); acc +-= (acc_t)x_k[i] in input order; one cast; ReLU.
template <class CONFIG_T, class acc_t, class b_t, class out_t, class bs_t, class... Ins>
void add(out_t out[CONFIG_T::n], const bs_t bias[], const Ins *...ins) {
#pragma HLS INLINE off
    // elements: the simulator's element lanes
    for_each_lane<CONFIG_T::n, CONFIG_T::out_par, CONFIG_T::ii>([&](unsigned i) {
        acc_t acc = CONFIG_T::has_bias ? acc_t(param<b_t>(bias[(i / CONFIG_T::b_div) % CONFIG_T::b_mod])) : acc_t(0);
        add_terms<CONFIG_T, acc_t>(acc, i, 0u, ins...);
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

// ops/mul.py: y = (out_t)(a[i] * b[i]) of two (broadcast) activations, an exact product cast
// once; Pow by 2 passes the same buffer twice.
template <class CONFIG_T, class a_t, class b_t, class out_t>
void mul_act(const a_t *a, const b_t *b, out_t out[CONFIG_T::n]) {
#pragma HLS INLINE off
    // elements: the simulator's element lanes
    for_each_lane<CONFIG_T::n, CONFIG_T::out_par, CONFIG_T::ii>([&](unsigned i) {
        out[i] = apply_fused<CONFIG_T::activation, out_t>(out_t(a[in_index<CONFIG_T>(0, i)] * b[in_index<CONFIG_T>(1, i)]));
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

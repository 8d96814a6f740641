// fpga-sim HLS kernels: element-wise activations (Relu/Clip, LeakyRelu/PRelu, table look-up).
// Each reproduces the integer arithmetic in the docstring of its fpga_sim/ops module.
#ifndef FSIM_ACTIVATION_H_
#define FSIM_ACTIVATION_H_

#include "fsim_common.h"
#include "fsim_memory.h"

namespace fsim {

struct clip_config : lanes_config {
    static const unsigned n = 1;
    static const bool has_lo = false, has_hi = false;
    static const long long lo_raw = 0, hi_raw = 0;   // bounds as raw values of the input type
    static const int activation = ACT_NONE;
};

// ops/relu.py: clamp in the input type (bounds on the input grid), one cast, fused ReLU.
template <class CONFIG_T, class in_t, class out_t>
void clip(const in_t in[CONFIG_T::n], out_t out[CONFIG_T::n]) {
#pragma HLS INLINE off
    in_t lo, hi;
    set_raw(lo, CONFIG_T::lo_raw);
    set_raw(hi, CONFIG_T::hi_raw);
    // elements: the simulator's element lanes
    for_each_lane<CONFIG_T::n, CONFIG_T::out_par, CONFIG_T::ii>([&](unsigned i) {
        in_t v = in[i];
        if (CONFIG_T::has_lo && v < lo) v = lo;
        if (CONFIG_T::has_hi && v > hi) v = hi;
        out[i] = apply_fused<CONFIG_T::activation, out_t>(out_t(v));
    });
}

struct leaky_config : lanes_config {
    static const unsigned n = 1;
    static const int activation = ACT_NONE;
};

// ops/leaky_relu.py: x > 0 ? (out_t)x : (out_t)(x * alpha[i]) with an exact product.
template <class CONFIG_T, class in_t, class a_t, class out_t, class as_t>
void leaky_relu(const in_t in[CONFIG_T::n], out_t out[CONFIG_T::n], const as_t alpha[CONFIG_T::n]) {
#pragma HLS INLINE off
    // elements: the simulator's element lanes
    for_each_lane<CONFIG_T::n, CONFIG_T::out_par, CONFIG_T::ii>([&](unsigned i) {
        const in_t x = in[i];
        out_t y;
        if (x > 0) {
            y = out_t(x);
        } else {
            y = out_t(x * param<a_t>(alpha[i]));
        }
        out[i] = apply_fused<CONFIG_T::activation, out_t>(y);
    });
}

enum tail_rule { TAIL_CLAMP = 0, TAIL_ZERO = 1, TAIL_IDENTITY = 2 };

struct lut_config : lanes_config {
    static const unsigned n = 1;
    static const unsigned table_bits = 10;
    static const int range_log2 = 3;
    static const bool in_signed = true;
    static const int below = TAIL_CLAMP, above = TAIL_CLAMP;   // tail rules outside the table
    static const long long lo_raw = 0, hi_raw = 0;             // raw(x) < lo_raw: below; >= hi_raw: above
    static const int activation = ACT_NONE;
};

// ops/lut.py: floor the input to a bin of the table and saturate to its range, then read;
// outside [-2^r, 2^r) the side's tail rule (clamp: the end entry, zero, identity: (out_t)x).
template <class CONFIG_T, class in_t, class table_t, class out_t, class ts_t>
void lut_activation(const in_t in[CONFIG_T::n], out_t out[CONFIG_T::n],
                    const ts_t table[1u << CONFIG_T::table_bits]) {
#pragma HLS INLINE off
    typedef ap_fixed<CONFIG_T::table_bits, CONFIG_T::range_log2 + 1, AP_TRN, AP_SAT> index_t;
    // elements: the simulator's element lanes
    for_each_lane<CONFIG_T::n, CONFIG_T::out_par, CONFIG_T::ii>([&](unsigned i) {
        const long long v = get_raw<CONFIG_T::in_signed>(in[i]);
        const int side = v < CONFIG_T::lo_raw ? CONFIG_T::below : (v >= CONFIG_T::hi_raw ? CONFIG_T::above : TAIL_CLAMP);
        out_t y;
        if (side == TAIL_ZERO) {
            y = out_t(0);
        } else if (side == TAIL_IDENTITY) {
            y = out_t(in[i]);
        } else {
            const index_t xi = in[i];
            const unsigned idx = unsigned(get_raw<true>(xi) + (1 << (CONFIG_T::table_bits - 1)));
            y = out_t(param<table_t>(table[idx]));  // same bits
        }
        out[i] = apply_fused<CONFIG_T::activation, out_t>(y);
    });
}

}  // namespace fsim

#endif

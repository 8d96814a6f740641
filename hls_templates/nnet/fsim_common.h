// fpga-sim HLS kernels: shared helpers.
//
// Every kernel follows the arithmetic contract of fpga-sim (docs/ARCHITECTURE.md): a product of
// two fixed-point values is exact; it is cast to the accumulator type; sums happen in the
// accumulator type; a bias is cast to the accumulator type and is the accumulator's initial
// value; the final sum is cast to the result type; a fused ReLU is applied after that cast.
// Kernels are templates over a per-layer config struct (sizes, parallelism) and the layer's
// types, so each generated layer is a one-line call.
#ifndef FSIM_COMMON_H_
#define FSIM_COMMON_H_

#include "ap_fixed.h"

namespace fsim {

// Fused activations a MAC layer may apply to its result (after the cast to the result type).
enum activation_kind { ACT_NONE = 0, ACT_RELU = 1 };

template <int ACT, class out_t>
inline out_t apply_fused(out_t v) {
#pragma HLS INLINE
    if (ACT == ACT_RELU && v < 0) {
        return out_t(0);
    }
    return v;
}

// The input position that tap (ky, kx) of output (oy, ox)'s sliding window reads: row iy, column
// ix of the unpadded input (outside 0..in_h-1 or 0..in_w-1: in the zero padding).  CONFIG_T names
// the window: stride_h/w, dil_h/w, pad_top/left and the input's in_h/w.
template <class CONFIG_T>
struct window_tap {
    int iy, ix;
    window_tap(unsigned oy, unsigned ox, unsigned ky, unsigned kx)
        : iy(int(oy * CONFIG_T::stride_h + ky * CONFIG_T::dil_h) - int(CONFIG_T::pad_top)),
          ix(int(ox * CONFIG_T::stride_w + kx * CONFIG_T::dil_w) - int(CONFIG_T::pad_left)) {}
    bool inside() const { return iy >= 0 && iy < int(CONFIG_T::in_h) && ix >= 0 && ix < int(CONFIG_T::in_w); }
    // its place in channel c of the (C, in_h, in_w) input
    unsigned index(unsigned c) const { return (c * CONFIG_T::in_h + iy) * CONFIG_T::in_w + ix; }
};

// Ceiling division for loop bounds computed at compile time.
template <unsigned A, unsigned B>
struct ceil_div {
    static const unsigned value = (A + B - 1) / B;
};

// Raw-bit access used by the testbench: a fixed-point value <-> its two's-complement integer.
template <class T>
inline void set_raw(T &v, long long raw) {
    v.range(T::width - 1, 0) = raw;
}

template <bool SIGNED, class T>
inline long long get_raw(const T &v) {
    if (SIGNED) {
        ap_int<T::width> s = v.range(T::width - 1, 0);
        return (long long)s.to_int64();
    }
    ap_uint<T::width> u = v.range(T::width - 1, 0);
    return (long long)u.to_uint64();
}

// Parameters (weights, biases, tables) are stored as the raw two's-complement integers of their
// ap_fixed type: plain integer ROMs compile in no time with g++ (thousands of ap_fixed
// constructors in a static initialiser take minutes) and cost nothing to reinterpret in
// hardware.  param<T>(s) turns a stored value into T: a bit copy from an integer, identity
// when the storage already is T.
template <class T, class S>
struct param_cast {
    static T get(const S &s) {
#pragma HLS INLINE
        T v;
        v.range(T::width - 1, 0) = (long long)s;
        return v;
    }
};

template <class T>
struct param_cast<T, T> {
    static T get(const T &s) { return s; }
};

template <class T, class S>
inline T param(const S &s) {
#pragma HLS INLINE
    return param_cast<T, S>::get(s);
}

}  // namespace fsim

#endif

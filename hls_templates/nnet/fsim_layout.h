// fpga-sim HLS kernels: layout ops (Reshape/Flatten, Concat on any axis, constant Pad, and the
// index maps of Transpose, Slice, Gather, Expand, DepthToSpace/SpaceToDepth, nearest Resize).
// Per-sample tensors are NCHW flattened, so a reshape is a copy and a concat copies rows of each
// input to its offset (a reshape: one row).  Each value is cast once to the result type, then the fused ReLU
// (fpga_sim/ops/reshape.py, concat.py, pad.py, remap.py).
#ifndef FSIM_LAYOUT_H_
#define FSIM_LAYOUT_H_

#include "fsim_common.h"
#include "fsim_memory.h"

namespace fsim {

// The next loop coordinate in row-major order: the last counter steps, carries ripple left.
template <unsigned RANK>
inline void odometer_step(unsigned c[RANK], const unsigned dims[RANK]) {
#pragma HLS INLINE
    bool carry = true;
    for (int k = RANK - 1; k >= 0; k--) {
#pragma HLS UNROLL
        if (carry) {
            c[k]++;
            carry = c[k] == dims[k];
            if (carry) c[k] = 0;
        }
    }
}

// out[o * ROW_OUT + OFFSET + i] = (out_t)in[o * ROW_IN + i], o < OUTER, i < ROW_IN: a reshape
// (OUTER = 1, ROW_IN = ROW_OUT, OFFSET = 0) or a copy of rows into a wider output.  OUT_PAR elements
// an iteration, II cycles each: the simulator's element lanes for this layer (counted).
template <unsigned OUTER, unsigned ROW_IN, unsigned ROW_OUT, unsigned OFFSET, int ACT, unsigned OUT_PAR, unsigned II,
          class in_t, class out_t>
void copy_rows(const in_t in[OUTER * ROW_IN], out_t *out) {
#pragma HLS INLINE off
    // copy: the simulator's element lanes
    for_each_lane<OUTER * ROW_IN, OUT_PAR, II>([&](unsigned j) {
        out[(j / ROW_IN) * ROW_OUT + OFFSET + j % ROW_IN] = apply_fused<ACT, out_t>(out_t(in[j]));
    });
}

// An index map (fpga_sim/ops/remap.py): a loop of up to 8 axes (d0..d7) in output order; the
// source address is the sum of one table entry per axis (entry o_k + c_k of `src`); a negative
// sum means "no input element": the fill value.  Counters step like an odometer: no division.
// Outputs issue in the simulator's element lanes (OUT_PAR an iteration, II cycles each, counted).
struct remap_config {
    static const unsigned out_par = 1, ii = 1;   // element lanes: outputs per iteration, cycles per iteration
    static const unsigned n_loop = 1;
    static const unsigned d0 = 1, d1 = 1, d2 = 1, d3 = 1, d4 = 1, d5 = 1, d6 = 1, d7 = 1;
    static const unsigned o0 = 0, o1 = 0, o2 = 0, o3 = 0, o4 = 0, o5 = 0, o6 = 0, o7 = 0;
    static const int activation = ACT_NONE;
};

template <class CONFIG_T, class in_t, class out_t, class tab_t, class fs_t>
void remap(const in_t *in, out_t *out, const tab_t src[], const fs_t fill[1]) {
#pragma HLS INLINE off
    const unsigned dims[8] = {CONFIG_T::d0, CONFIG_T::d1, CONFIG_T::d2, CONFIG_T::d3,
                              CONFIG_T::d4, CONFIG_T::d5, CONFIG_T::d6, CONFIG_T::d7};
    const unsigned offs[8] = {CONFIG_T::o0, CONFIG_T::o1, CONFIG_T::o2, CONFIG_T::o3,
                              CONFIG_T::o4, CONFIG_T::o5, CONFIG_T::o6, CONFIG_T::o7};
#pragma HLS ARRAY_PARTITION variable=dims complete
#pragma HLS ARRAY_PARTITION variable=offs complete
    unsigned c[8] = {0, 0, 0, 0, 0, 0, 0, 0};
#pragma HLS ARRAY_PARTITION variable=c complete
    const out_t f = param<out_t>(fill[0]);
    // remap: the simulator's element lanes, outputs in order (the odometer follows i)
    for_each_lane<CONFIG_T::n_loop, CONFIG_T::out_par, CONFIG_T::ii>([&](unsigned i) {
        long long s = 0;
        for (unsigned k = 0; k < 8; k++) {
#pragma HLS UNROLL
            s += (long long)src[offs[k] + c[k]];
        }
        const out_t v = s < 0 ? f : out_t(in[s]);
        out[i] = apply_fused<CONFIG_T::activation, out_t>(v);
        odometer_step<8>(c, dims);
    });
}

// Linear Resize (fpga_sim/ops/resize.py): per output, the 2^R taps of the interpolated axes
// (tables i0/i1: source offsets per axis, w0/w1: raw weights, 1 and 0 on axes not interpolated),
// each raw input times the product of its raw weights, summed exactly in 64 bits; the sum (FRAC
// fractional bits, acc_t) is cast once to out_t.  Up to 4 per-sample axes.
struct resize_linear_config {
    static const unsigned out_par = 1, ii = 1;   // element lanes: outputs per iteration, cycles per iteration
    static const unsigned n_loop = 1;
    static const unsigned d0 = 1, d1 = 1, d2 = 1, d3 = 1;
    static const unsigned o0 = 0, o1 = 0, o2 = 0, o3 = 0;
    static const bool in_signed = true;
    static const int activation = ACT_NONE;
};

template <class CONFIG_T, class in_t, class acc_t, class out_t, class it_t>
void resize_linear(const in_t *in, out_t *out, const it_t i0[], const it_t i1[], const it_t w0[], const it_t w1[]) {
#pragma HLS INLINE off
    const unsigned dims[4] = {CONFIG_T::d0, CONFIG_T::d1, CONFIG_T::d2, CONFIG_T::d3};
    const unsigned offs[4] = {CONFIG_T::o0, CONFIG_T::o1, CONFIG_T::o2, CONFIG_T::o3};
    unsigned c[4] = {0, 0, 0, 0};
#pragma HLS ARRAY_PARTITION variable=c complete
    // resize: the simulator's element lanes, outputs in order (the odometer follows i)
    for_each_lane<CONFIG_T::n_loop, CONFIG_T::out_par, CONFIG_T::ii>([&](unsigned i) {
        long long acc = 0;
    TAPS:
        for (unsigned m = 0; m < 16; m++) {
#pragma HLS UNROLL
            long long s = 0, w = 1;
            for (unsigned k = 0; k < 4; k++) {
#pragma HLS UNROLL
                const unsigned e = offs[k] + c[k];
                const bool hi = (m >> (3 - k)) & 1;
                s += hi ? (long long)i1[e] : (long long)i0[e];
                w *= hi ? (long long)w1[e] : (long long)w0[e];
            }
            if (w != 0) acc += w * get_raw<CONFIG_T::in_signed>(in[s]);
        }
        acc_t a;
        set_raw(a, acc);
        out[i] = apply_fused<CONFIG_T::activation, out_t>(out_t(a));
        odometer_step<4>(c, dims);
    });
}

struct pad_config {
    static const unsigned in_c = 1, in_h = 1, in_w = 1, out_c = 1, out_h = 1, out_w = 1;
    static const unsigned pad_c = 0, pad_h = 0, pad_w = 0;   // leading pads per axis
    static const unsigned out_par = 1, ii = 1;   // element lanes: outputs per iteration, cycles per iteration
    static const int activation = ACT_NONE;
};

// y = inside ? (out_t)x : VALUE (raw out_t), then the fused ReLU.
template <class CONFIG_T, class in_t, class out_t, class vs_t>
void pad3d(const in_t in[CONFIG_T::in_c * CONFIG_T::in_h * CONFIG_T::in_w],
           out_t out[CONFIG_T::out_c * CONFIG_T::out_h * CONFIG_T::out_w], const vs_t value[1]) {
#pragma HLS INLINE off
    const out_t v = param<out_t>(value[0]);
    // elements: the simulator's element lanes
    for_each_lane<CONFIG_T::out_c * CONFIG_T::out_h * CONFIG_T::out_w, CONFIG_T::out_par, CONFIG_T::ii>([&](unsigned o) {
        const unsigned c = o / (CONFIG_T::out_h * CONFIG_T::out_w);
        const unsigned y = (o / CONFIG_T::out_w) % CONFIG_T::out_h, x = o % CONFIG_T::out_w;
        const int ic = int(c) - int(CONFIG_T::pad_c);
        const int iy = int(y) - int(CONFIG_T::pad_h);
        const int ix = int(x) - int(CONFIG_T::pad_w);
        const bool inside = ic >= 0 && ic < int(CONFIG_T::in_c) && iy >= 0 && iy < int(CONFIG_T::in_h) &&
                            ix >= 0 && ix < int(CONFIG_T::in_w);
        const out_t r = inside ? out_t(in[(ic * CONFIG_T::in_h + iy) * CONFIG_T::in_w + ix]) : v;
        out[o] = apply_fused<CONFIG_T::activation, out_t>(r);
    });
}

}  // namespace fsim

#endif

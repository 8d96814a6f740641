// fpga-sim HLS kernels: layout ops (Reshape/Flatten, Concat on channels, constant Pad).
// Per-sample tensors are NCHW flattened, so a reshape is a copy and a channel concat writes each
// input at its offset.  Each value is cast once to the result type, then the fused ReLU
// (fpga_sim/ops/reshape.py, concat.py, pad.py).
#ifndef FSIM_LAYOUT_H_
#define FSIM_LAYOUT_H_

#include "fsim_common.h"
#include "fsim_memory.h"

namespace fsim {

// out[offset + i] = (out_t)in[i], i < N: a reshape (offset 0) or one part of a channel concat.
template <unsigned N, unsigned OFFSET, int ACT, unsigned OUT_PAR, unsigned II, class in_t, class out_t>
void copy_cast(const in_t in[N], out_t *out) {
#pragma HLS INLINE off
    // copy: the simulator's element lanes
    for_each_lane<N, OUT_PAR, II>([&](unsigned i) {
        out[OFFSET + i] = apply_fused<ACT, out_t>(out_t(in[i]));
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

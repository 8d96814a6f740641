// fpga-sim HLS kernels: max and average pooling over (C, H, W) with strides, dilations and pads.
// ops/maxpool.py: padded positions are skipped; the max is exact in the input type, then one cast.
// ops/avgpool.py: each valid input is cast to acc_t and added in acc_t; the sum times
// RECIP[count] (exact product) is cast once to the result type.
#ifndef FSIM_POOL_H_
#define FSIM_POOL_H_

#include "fsim_common.h"
#include "fsim_memory.h"

namespace fsim {

struct pool_config : lanes_config {
    static const unsigned c = 1, in_h = 1, in_w = 1, out_h = 1, out_w = 1;
    static const unsigned kh = 1, kw = 1, stride_h = 1, stride_w = 1, dil_h = 1, dil_w = 1;
    static const unsigned pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
    static const bool count_include_pad = false;
    static const int activation = ACT_NONE;
};

template <class CONFIG_T, class in_t, class out_t>
void maxpool2d(const in_t in[CONFIG_T::c * CONFIG_T::in_h * CONFIG_T::in_w],
               out_t out[CONFIG_T::c * CONFIG_T::out_h * CONFIG_T::out_w]) {
#pragma HLS INLINE off
    // outputs: the simulator's element lanes
    for_each_lane<CONFIG_T::c * CONFIG_T::out_h * CONFIG_T::out_w, CONFIG_T::out_par, CONFIG_T::ii>([&](unsigned o) {
        const unsigned c = o / (CONFIG_T::out_h * CONFIG_T::out_w);
        const unsigned oy = (o / CONFIG_T::out_w) % CONFIG_T::out_h, ox = o % CONFIG_T::out_w;
        in_t m = 0;
        bool found = false;
    WIN_Y:
        for (unsigned ky = 0; ky < CONFIG_T::kh; ky++) {
        WIN_X:
            for (unsigned kx = 0; kx < CONFIG_T::kw; kx++) {
                const window_tap<CONFIG_T> tap(oy, ox, ky, kx);
                if (!tap.inside()) continue;
                const in_t v = in[tap.index(c)];
                if (!found || v > m) {
                    m = v;
                    found = true;
                }
            }
        }
        out[(c * CONFIG_T::out_h + oy) * CONFIG_T::out_w + ox] =
            apply_fused<CONFIG_T::activation, out_t>(out_t(m));
    });
}

template <class CONFIG_T, class in_t, class acc_t, class recip_t, class out_t, class rs_t>
void avgpool2d(const in_t in[CONFIG_T::c * CONFIG_T::in_h * CONFIG_T::in_w],
               out_t out[CONFIG_T::c * CONFIG_T::out_h * CONFIG_T::out_w],
               const rs_t recip[CONFIG_T::kh * CONFIG_T::kw + 1]) {
#pragma HLS INLINE off
    // outputs: the simulator's element lanes
    for_each_lane<CONFIG_T::c * CONFIG_T::out_h * CONFIG_T::out_w, CONFIG_T::out_par, CONFIG_T::ii>([&](unsigned o) {
        const unsigned c = o / (CONFIG_T::out_h * CONFIG_T::out_w);
        const unsigned oy = (o / CONFIG_T::out_w) % CONFIG_T::out_h, ox = o % CONFIG_T::out_w;
        acc_t acc = 0;
        unsigned count = 0;
    WIN_Y:
        for (unsigned ky = 0; ky < CONFIG_T::kh; ky++) {
        WIN_X:
            for (unsigned kx = 0; kx < CONFIG_T::kw; kx++) {
                const window_tap<CONFIG_T> tap(oy, ox, ky, kx);
                const int iy = tap.iy, ix = tap.ix;
                const bool in_pads = iy >= -int(CONFIG_T::pad_top) && iy < int(CONFIG_T::in_h + CONFIG_T::pad_bottom) &&
                                     ix >= -int(CONFIG_T::pad_left) && ix < int(CONFIG_T::in_w + CONFIG_T::pad_right);
                if (CONFIG_T::count_include_pad ? in_pads : tap.inside()) count++;
                if (!tap.inside()) continue;
                const acc_t v = in[tap.index(c)];
                acc += v;
            }
        }
        out[(c * CONFIG_T::out_h + oy) * CONFIG_T::out_w + ox] =
            apply_fused<CONFIG_T::activation, out_t>(out_t(acc * param<recip_t>(recip[count])));
    });
}

}  // namespace fsim

#endif

// fpga-sim HLS kernels: row normalisations (LayerNorm / InstanceNorm, the accelerator's Softmax).
// Each reproduces the integer arithmetic in the docstring of its fpga_sim/ops module
// (layer_norm.py, softmax_lut.py).
#ifndef FSIM_NORM_H_
#define FSIM_NORM_H_

#include "fsim_common.h"
#include "fsim_memory.h"
#include "fsim_nonlinear.h"

namespace fsim {

// raw p * 2^-shift rounded half up (AP_RND) and saturated (AP_SAT) into z_t, as ap_fixed's
// cast of the exact value does; shift may be of either sign.
template <class z_t>
inline z_t round_sat(long long p, int shift) {
#pragma HLS INLINE
    const long long hi = (1ll << (z_t::width - 1)) - 1, lo = -hi - 1;
    long long q;
    if (shift > 62) {
        q = 0;                                   // |p| < 2^62: |p / 2^shift| < 1/2
    } else if (shift > 0) {
        q = (p + (1ll << (shift - 1))) >> shift;
    } else if (shift > -63 && p <= (hi >> -shift) && p >= -((-lo) >> -shift)) {
        q = p << -shift;
    } else {
        q = p > 0 ? hi : (p < 0 ? lo : 0);
    }
    if (q > hi) q = hi;
    if (q < lo) q = lo;
    z_t z;
    set_raw(z, q);
    return z;
}

struct norm_config {
    static const unsigned out_par = 1, ii = 1;           // element lanes: outputs per iteration, cycles each
    static const unsigned rows = 1, m = 1, g_rows = 1;   // rows per sample, values per row, rows of G/B
    static const bool per_row = false;                   // one G/B value per row (InstanceNorm), else per position
    static const bool in_signed = true;
    static const unsigned k = 0;                         // shift before squaring
    static const long long e = 0;                        // epsilon's term of the variance
    static const int v_frac = 0;
    static const unsigned table_bits = 10;
    static const int z_base = 0;                         // F + F_T - F_z
    static const int activation = ACT_NONE;
};

// ops/layer_norm.py (LayerNorm, InstanceNorm): exact row sums, one rsqrt table read per row, z rounded
// once, z*G + B.  Outputs issue in the simulator's element lanes (its 6 operations per output
// include the row's sums): a row's sums and its table read are taken as its first output issues.
template <class CONFIG_T, class in_t, class z_t, class g_t, class b_t, class acc_t, class out_t,
          class gs_t, class bs_t, class ts_t>
void normalise_rows(const in_t in[CONFIG_T::rows * CONFIG_T::m], out_t out[CONFIG_T::rows * CONFIG_T::m],
                const gs_t g[], const bs_t b[], const ts_t table[]) {
#pragma HLS INLINE off
    const long long m = CONFIG_T::m;
    long long s_sum = 0, t = 0;
    int s = 0;
    for_each_lane<CONFIG_T::rows * CONFIG_T::m, CONFIG_T::out_par, CONFIG_T::ii>([&](unsigned o) {
        const unsigned r = o / CONFIG_T::m, i = o % CONFIG_T::m;
        const in_t *row = in + r * CONFIG_T::m;
        if (i == 0) {
            s_sum = 0;
        SUM:
            for (unsigned j = 0; j < CONFIG_T::m; j++) s_sum += get_raw<CONFIG_T::in_signed>(row[j]);
            long long v = CONFIG_T::e;
        VARIANCE:
            for (unsigned j = 0; j < CONFIG_T::m; j++) {
                const long long q = (m * get_raw<CONFIG_T::in_signed>(row[j]) - s_sum) >> CONFIG_T::k;
                v += q * q;
            }
            if (v < 1) v = 1;
            mantissa_parts<MANT_RSQRT, CONFIG_T::table_bits, 63>((unsigned long long)v, CONFIG_T::v_frac, table, t, s);
        }
        const unsigned gi = CONFIG_T::per_row ? r : (r % CONFIG_T::g_rows) * CONFIG_T::m + i;
        const long long d = m * get_raw<CONFIG_T::in_signed>(row[i]) - s_sum;
        const z_t z = round_sat<z_t>(d * t, CONFIG_T::z_base - s);
        acc_t acc = param<b_t>(b[gi]);
        const acc_t prod = z * param<g_t>(g[gi]);
        acc += prod;
        out[o] = apply_fused<CONFIG_T::activation, out_t>(out_t(acc));
    });
}

struct softmax_lut_config {
    static const unsigned out_par = 1, ii = 1;           // element lanes: outputs per iteration, cycles each
    static const unsigned rows = 1, m = 1;
    static const bool in_signed = true;
    static const int e_shift = 0;                        // F + r + 1 - n of the exp table
    static const unsigned e_entries = 2048;
    static const long long e_lo_raw = 0;                 // d < e_lo_raw: below the exp table, 0
    static const unsigned recip_bits = 10;
    static const int f_e = 16, s_min = 0;
    static const int activation = ACT_NONE;
};

// The exp table's entry for d = x - max <= 0 (raw input units): floor to the bin, clamp, read.
template <class CONFIG_T, class es_t>
inline long long softmax_exp(long long d, const es_t exp_table[]) {
#pragma HLS INLINE
    const long long n = CONFIG_T::e_entries, half = n / 2;
    long long q;
    if (CONFIG_T::e_shift >= 0) {
        q = d >> (CONFIG_T::e_shift < 63 ? CONFIG_T::e_shift : 63);
    } else {
        const long long c = d < -n ? -n : (d > n ? n : d);
        q = c << (-CONFIG_T::e_shift < 40 ? -CONFIG_T::e_shift : 40);
    }
    long long idx = q + half;
    idx = idx < 0 ? 0 : (idx > n - 1 ? n - 1 : idx);
    return d < CONFIG_T::e_lo_raw ? 0 : (long long)exp_table[idx];
}

// ops/softmax_lut.py: row max, exp table of x - max, exact sum, one reciprocal per row.  Outputs
// issue in the simulator's element lanes; a row's max, exps (one exp-table read per element, kept
// in a row buffer), sum and reciprocal are taken as its first output issues.
template <class CONFIG_T, class in_t, class p_t, class out_t, class es_t, class rs_t>
void softmax_lut(const in_t in[CONFIG_T::rows * CONFIG_T::m], out_t out[CONFIG_T::rows * CONFIG_T::m],
                 const es_t exp_table[], const rs_t recip_table[]) {
#pragma HLS INLINE off
    long long e[CONFIG_T::m];
    long long t = 0;
    int s = 0;
    for_each_lane<CONFIG_T::rows * CONFIG_T::m, CONFIG_T::out_par, CONFIG_T::ii>([&](unsigned o) {
        if (o % CONFIG_T::m == 0) {
            const in_t *row = in + o;
            long long mx = get_raw<CONFIG_T::in_signed>(row[0]);
        MAX:
            for (unsigned j = 1; j < CONFIG_T::m; j++) {
                const long long v = get_raw<CONFIG_T::in_signed>(row[j]);
                if (v > mx) mx = v;
            }
            long long s_sum = 0;
        EXP:
            for (unsigned j = 0; j < CONFIG_T::m; j++) {
                e[j] = softmax_exp<CONFIG_T>(get_raw<CONFIG_T::in_signed>(row[j]) - mx, exp_table);
                s_sum += e[j];
            }
            mantissa_parts<MANT_RECIP, CONFIG_T::recip_bits, 63>((unsigned long long)(s_sum < 1 ? 1 : s_sum),
                                                                CONFIG_T::f_e, recip_table, t, s);
        }
        p_t p;
        set_raw(p, (e[o % CONFIG_T::m] * t) << (s - CONFIG_T::s_min));
        out[o] = apply_fused<CONFIG_T::activation, out_t>(out_t(p));
    });
}

}  // namespace fsim

#endif

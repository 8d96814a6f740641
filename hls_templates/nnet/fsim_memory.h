// fpga-sim HLS memory interface: burst loops between DRAM (m_axi) and on-chip buffers, and the
// counting build.  Compiled with -DFPGA_SIM_COUNT, every word moved through an m_axi port and
// every iteration of a layer's pipelined compute loop is counted per layer (fsim::count), so a
// C-simulation shows the DRAM words and compute cycles the simulator charged.  Without the flag
// the counters compile to nothing: the normal build is unchanged.
#ifndef FSIM_MEMORY_H_
#define FSIM_MEMORY_H_

#include "fsim_common.h"

namespace fsim {
namespace count {
enum Kind { INPUT_READS = 0, WEIGHT_READS = 1, WRITES = 2, CYCLES = 3, KINDS = 4 };
const unsigned MAX_LAYERS = 4096;
inline unsigned long long (&table())[MAX_LAYERS][KINDS] {
    static unsigned long long t[MAX_LAYERS][KINDS];
    return t;
}
inline unsigned &current() {
    static unsigned layer = 0;
    return layer;
}
inline void add(Kind kind, unsigned long long n) { table()[current()][kind] += n; }
inline void reset() {
    for (unsigned l = 0; l < MAX_LAYERS; l++)
        for (unsigned k = 0; k < KINDS; k++) table()[l][k] = 0;
}
}  // namespace count
}  // namespace fsim

#ifdef FPGA_SIM_COUNT
#define FSIM_COUNT(kind, n) fsim::count::add(fsim::count::kind, (n))
#define FSIM_COUNT_LAYER(i) (fsim::count::current() = (i))
#else
#define FSIM_COUNT(kind, n) ((void)0)
#define FSIM_COUNT_LAYER(i) ((void)0)
#endif

namespace fsim {

// A burst between DRAM and on-chip memory: n words copied one per cycle in address order, each
// counted as KIND (the counting build).
template <count::Kind KIND, class T, class S>
void burst(T *dst, const S *src, unsigned n) {
#pragma HLS INLINE off
WORDS:
    for (unsigned i = 0; i < n; i++) {
#pragma HLS PIPELINE II=1
        dst[i] = src[i];
#ifdef FPGA_SIM_COUNT
        fsim::count::add(KIND, 1);
#endif
    }
}

// DRAM -> on-chip; KIND: INPUT_READS or WEIGHT_READS.
template <count::Kind KIND, class T, class S>
inline void load_words(T *dst, const S *src, unsigned n) { burst<KIND>(dst, src, n); }

// on-chip -> DRAM.
template <class T, class S>
inline void store_words(T *dst, const S *src, unsigned n) { burst<count::WRITES>(dst, src, n); }

// The config of a layer in element lanes (its struct derives from this one): outputs per iteration
// and cycles per iteration, see for_each_lane.
struct lanes_config {
    static const unsigned out_par = 1, ii = 1;
};

// The element lanes of a non-MAC layer, as the simulator issues them: OUT_PAR outputs an
// iteration, each iteration II cycles (II = ceil(ops per output / lanes) when an output needs
// more operations than there are lanes).  body(i) computes output i; FSIM_COUNT counts II
// cycles an iteration.
template <unsigned N, unsigned OUT_PAR, unsigned II, class F>
inline void for_each_lane(F body) {
#pragma HLS INLINE
    constexpr unsigned ii = II;
ELEMENTS:
    for (unsigned i0 = 0; i0 < N; i0 += OUT_PAR) {
#pragma HLS PIPELINE II=ii
        FSIM_COUNT(CYCLES, II);
    LANES:
        for (unsigned l = 0; l < OUT_PAR; l++) {
#pragma HLS UNROLL
            if (i0 + l < N) body(i0 + l);
        }
    }
}

// One cycle of a MAC array for one output: the k_par products k0 .. k0+k_par-1 (below n_k)
// added to acc, bias first, in k order.  product(k, prod) sets product k (exact, cast to acc_t)
// and returns false when k reads the padding.  With a wrapping accumulator (partial_sums) the
// cycle's products are summed apart and added once: exact modulo 2^W, the same bits, one
// loop-carried add per cycle instead of k_par; a saturating one keeps the strict order.
template <class CONFIG_T, class acc_t, class F>
inline void mac_cycle(acc_t &acc, unsigned k0, unsigned n_k, F product) {
#pragma HLS INLINE
    acc_t part = 0;
PAR_K:
    for (unsigned kk = 0; kk < CONFIG_T::k_par; kk++) {
#pragma HLS UNROLL
        const unsigned k = k0 + kk;
        acc_t prod;
        if (k >= n_k || !product(k, prod)) continue;
        if (CONFIG_T::partial_sums) {
            part += prod;
        } else {
            acc += prod;
        }
    }
    if (CONFIG_T::partial_sums) acc += part;
}

// The MAC array's schedule of one tile (conv2d, dense): outputs [o_begin, o_end), out_par side by
// side; each starts from bias(o) (0 without CONFIG_T::has_bias), takes k_par of its n_k products a
// cycle (mac_cycle with product(o, k, prod); one PRODUCTS iteration is one counted cycle), and
// goes to store(o, acc).
template <class CONFIG_T, class acc_t, class Bias, class Product, class Store>
inline void mac_array(unsigned o_begin, unsigned o_end, unsigned n_k, Bias bias, Product product, Store store) {
#pragma HLS INLINE
OUTPUTS:
    for (unsigned o0 = o_begin; o0 < o_end; o0 += CONFIG_T::out_par) {
        acc_t acc[CONFIG_T::out_par];
#pragma HLS ARRAY_PARTITION variable=acc complete
    INIT:
        for (unsigned p = 0; p < CONFIG_T::out_par; p++) {
#pragma HLS UNROLL
            acc[p] = CONFIG_T::has_bias && o0 + p < o_end ? bias(o0 + p) : acc_t(0);
        }
    PRODUCTS:
        for (unsigned k0 = 0; k0 < n_k; k0 += CONFIG_T::k_par) {
#pragma HLS PIPELINE II=1
            FSIM_COUNT(CYCLES, 1);
        PAR_OUT:
            for (unsigned p = 0; p < CONFIG_T::out_par; p++) {
#pragma HLS UNROLL
                const unsigned o = o0 + p;
                if (o >= o_end) continue;
                mac_cycle<CONFIG_T>(acc[p], k0, n_k, [&](unsigned k, acc_t &prod) { return product(o, k, prod); });
            }
        }
    RESULTS:
        for (unsigned p = 0; p < CONFIG_T::out_par; p++) {
#pragma HLS UNROLL
            if (o0 + p < o_end) store(o0 + p, acc[p]);
        }
    }
}

}  // namespace fsim

#endif

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

}  // namespace fsim

#endif

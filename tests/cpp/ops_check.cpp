// Cross-check driver for the element-wise and pooling ops (fpga_sim/ops/*.py): each template
// below is the C++ that an op module's docstring states, written with Xilinx's ap_fixed.h.
// tests/test_ops_gxx.py generates the calls (one instantiation per type combination) into
// cases.inc; raw inputs come from a binary file as int64 and every result goes out as raw bits.
//
// usage: ops_check <input.bin> <output.bin>
#include <cstdio>
#include <cstdlib>
#include "ap_fixed.h"

typedef unsigned long long u64;
static FILE* g_in;
static FILE* g_out;

static u64 rd() {
  u64 v;
  if (fread(&v, sizeof v, 1, g_in) != 1) { fprintf(stderr, "input file too short\n"); exit(3); }
  return v;
}
static void wr(u64 v) { fwrite(&v, sizeof v, 1, g_out); }
template <class T> static T raw(u64 bits) { T x; x.setBits(bits); return x; }

// relu.py: clamp in input_t against raw bounds, then one cast
template <class X, class R> static void clip(int n, int has_lo, long long lo, int has_hi, long long hi) {
  X LO = raw<X>((u64)lo), HI = raw<X>((u64)hi);
  for (int i = 0; i < n; ++i) {
    X v = raw<X>(rd());
    if (has_lo && v < LO) v = LO;
    if (has_hi && v > HI) v = HI;
    R y = v;
    wr(y.bits_to_uint64());
  }
}

// leaky_relu.py: x > 0 ? (R)x : (R)(x * alpha)
template <class X, class A, class R> static void leaky(int n) {
  for (int i = 0; i < n; ++i) {
    X x = raw<X>(rd());
    A a = raw<A>(rd());
    R y;
    if (x > 0) y = x; else y = x * a;
    wr(y.bits_to_uint64());
  }
}

// mul.py: (R)(x * s)
template <class X, class S, class R> static void mul(int n) {
  for (int i = 0; i < n; ++i) {
    X x = raw<X>(rd());
    S s = raw<S>(rd());
    R y = x * s;
    wr(y.bits_to_uint64());
  }
}

// batchnorm.py: acc = (ACC)bias; acc = acc + (ACC)(x * scale); (R)acc
template <class X, class S, class B, class ACC, class R> static void bn(int n) {
  for (int i = 0; i < n; ++i) {
    X x = raw<X>(rd());
    S s = raw<S>(rd());
    B b = raw<B>(rd());
    ACC acc = b;
    ACC p = x * s;
    acc = acc + p;
    R y = acc;
    wr(y.bits_to_uint64());
  }
}

// add.py (three inputs and a constant): acc = (ACC)B; acc = acc + (ACC)x_k ...; (R)acc
template <class B, class X0, class X1, class X2, class ACC, class R> static void add3(int n) {
  for (int i = 0; i < n; ++i) {
    ACC acc = raw<B>(rd());
    ACC t0 = raw<X0>(rd()); acc = acc + t0;
    ACC t1 = raw<X1>(rd()); acc = acc + t1;
    ACC t2 = raw<X2>(rd()); acc = acc + t2;
    R y = acc;
    wr(y.bits_to_uint64());
  }
}

// avgpool.py: acc = sum of (ACC)x over k inputs; (R)(acc * recip)
template <class X, class ACC, class RC, class R> static void avg(int n, int k) {
  for (int i = 0; i < n; ++i) {
    ACC acc = 0;
    for (int j = 0; j < k; ++j) { ACC t = raw<X>(rd()); acc = acc + t; }
    RC rc = raw<RC>(rd());
    R y = acc * rc;
    wr(y.bits_to_uint64());
  }
}

// lut.py: index_t = ap_fixed<n, r+1, AP_TRN, AP_SAT>; idx = raw(index_t(x)) + N/2
template <class X, int NB, int R1> static void lutidx(int n) {
  for (int i = 0; i < n; ++i) {
    X x = raw<X>(rd());
    ap_fixed<NB, R1, AP_TRN, AP_SAT> xi = x;
    ap_uint<NB> bits = xi.range(NB - 1, 0);     // the raw bits of xi
    unsigned idx = (unsigned)(bits ^ (ap_uint<NB>(1) << (NB - 1)));   // flip the sign bit: + N/2
    wr((u64)idx);
  }
}

int main(int argc, char** argv) {
  if (argc != 3) { fprintf(stderr, "usage: %s input.bin output.bin\n", argv[0]); return 2; }
  g_in = fopen(argv[1], "rb");
  g_out = fopen(argv[2], "wb");
  if (!g_in || !g_out) { perror("fopen"); return 2; }
#include "cases.inc"
  fclose(g_out);
  return 0;
}

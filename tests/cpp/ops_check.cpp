// Cross-check driver for the element-wise and pooling ops (fpga_sim/ops/*.py): each template
// below is the C++ that an op module's docstring states, written with Xilinx's ap_fixed.h.
// tests/test_ops_gxx.py generates the calls (one instantiation per type combination) into
// cases.inc; raw inputs come from a binary file as int64 and every result goes out as raw bits.
//
// usage: ops_check <input.bin> <output.bin>
#include "ap_fixed.h"
#include "raw_io.h"

// relu.py: clamp in input_t against raw bounds, then one cast
template <class X, class R> static void clip(int n, int has_lo, long long lo, int has_hi, long long hi) {
  X LO = from_raw<X>((u64)lo), HI = from_raw<X>((u64)hi);
  for (int i = 0; i < n; ++i) {
    X v = from_raw<X>(read_u64());
    if (has_lo && v < LO) v = LO;
    if (has_hi && v > HI) v = HI;
    R y = v;
    write_u64(y.bits_to_uint64());
  }
}

// leaky_relu.py: x > 0 ? (R)x : (R)(x * alpha)
template <class X, class A, class R> static void leaky(int n) {
  for (int i = 0; i < n; ++i) {
    X x = from_raw<X>(read_u64());
    A a = from_raw<A>(read_u64());
    R y;
    if (x > 0) y = x; else y = x * a;
    write_u64(y.bits_to_uint64());
  }
}

// mul.py: (R)(x * s)
template <class X, class S, class R> static void mul(int n) {
  for (int i = 0; i < n; ++i) {
    X x = from_raw<X>(read_u64());
    S s = from_raw<S>(read_u64());
    R y = x * s;
    write_u64(y.bits_to_uint64());
  }
}

// batchnorm.py: acc = (ACC)bias; acc = acc + (ACC)(x * scale); (R)acc
template <class X, class S, class B, class ACC, class R> static void bn(int n) {
  for (int i = 0; i < n; ++i) {
    X x = from_raw<X>(read_u64());
    S s = from_raw<S>(read_u64());
    B b = from_raw<B>(read_u64());
    ACC acc = b;
    ACC p = x * s;
    acc = acc + p;
    R y = acc;
    write_u64(y.bits_to_uint64());
  }
}

// add.py (three inputs and a constant): acc = (ACC)B; acc = acc + (ACC)x_k ...; (R)acc
template <class B, class X0, class X1, class X2, class ACC, class R> static void add3(int n) {
  for (int i = 0; i < n; ++i) {
    ACC acc = from_raw<B>(read_u64());
    ACC t0 = from_raw<X0>(read_u64()); acc = acc + t0;
    ACC t1 = from_raw<X1>(read_u64()); acc = acc + t1;
    ACC t2 = from_raw<X2>(read_u64()); acc = acc + t2;
    R y = acc;
    write_u64(y.bits_to_uint64());
  }
}

// avgpool.py: acc = sum of (ACC)x over k inputs; (R)(acc * recip)
template <class X, class ACC, class RC, class R> static void avg(int n, int k) {
  for (int i = 0; i < n; ++i) {
    ACC acc = 0;
    for (int j = 0; j < k; ++j) { ACC t = from_raw<X>(read_u64()); acc = acc + t; }
    RC rc = from_raw<RC>(read_u64());
    R y = acc * rc;
    write_u64(y.bits_to_uint64());
  }
}

// lut.py: index_t = ap_fixed<n, r+1, AP_TRN, AP_SAT>; idx = raw(index_t(x)) + N/2
template <class X, int NB, int R1> static void lutidx(int n) {
  for (int i = 0; i < n; ++i) {
    X x = from_raw<X>(read_u64());
    ap_fixed<NB, R1, AP_TRN, AP_SAT> xi = x;
    ap_uint<NB> bits = xi.range(NB - 1, 0);     // the raw bits of xi
    unsigned idx = (unsigned)(bits ^ (ap_uint<NB>(1) << (NB - 1)));   // flip the sign bit: + N/2
    write_u64((u64)idx);
  }
}

static void cases() {
#include "cases.inc"
}

int main(int argc, char** argv) { return run_cases(argc, argv, cases); }

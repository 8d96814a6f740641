// The input and output of the cross-check drivers (apfixed_check.cpp, ops_check.cpp): 64-bit
// words read from the input file in program order and written to the output file, and
// run_cases, the drivers' main: open the two files named on the command line, run the cases.
#ifndef RAW_IO_H_
#define RAW_IO_H_

#include <cstdio>
#include <cstdlib>

typedef unsigned long long u64;

static FILE* g_in;
static FILE* g_out;

static u64 read_u64() {
  u64 v;
  if (fread(&v, sizeof v, 1, g_in) != 1) { fprintf(stderr, "input file too short\n"); exit(3); }
  return v;
}

static void write_u64(u64 v) { fwrite(&v, sizeof v, 1, g_out); }

// The value of fixed-point type T whose raw bits are `bits`.
template <class T> static T from_raw(u64 bits) {
  T x;
  x.setBits(bits);
  return x;
}

static int run_cases(int argc, char** argv, void (*cases)()) {
  if (argc != 3) { fprintf(stderr, "usage: %s input.bin output.bin\n", argv[0]); return 2; }
  g_in = fopen(argv[1], "rb");
  g_out = fopen(argv[2], "wb");
  if (!g_in || !g_out) { perror("fopen"); return 2; }
  cases();
  fclose(g_out);
  return 0;
}

#endif

// What the x86 GEMM benchmarks (W4A8, W8A8) share: the layer shapes, thread CPU time, the measured
// core clock, and the peak multiply-add rates of one AMD Zen 4 core (this machine;
// docs/benchmarks.md derives them and the Peak/* benchmarks measure them).
#pragma once

#include <algorithm>
#include <cstdint>
#include <ctime>

namespace edgeloop::bench {

// vpdpbusd zmm does 64 u8×s8 multiply-adds and issues once per cycle (512-bit ops run on two
// 256-bit pipes); vpmaddubsw ymm does 32 and issues twice per cycle; vpmaddwd ymm does 16 int16
// multiply-adds and issues twice per cycle.
inline constexpr double kVnniMacsPerCycle = 64 * 1.0;
inline constexpr double kAvx2MacsPerCycle = 32 * 2.0;
inline constexpr double kVpmaddwdMacsPerCycle = 16 * 2.0;

// Thread CPU time in seconds: unlike wall time, not stretched when other work (or `nice`) takes
// the core away.
inline double thread_seconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

// The clock the core runs at, measured: a chain of dependent integer adds retires one per cycle.
// (/proc/cpuinfo's "cpu MHz" is the nominal 2.6 GHz here; the core boosts to ~3.5 GHz.) The
// fastest of 5 runs, measured once per process.
inline double clock_hz() {
  static const double hz = [] {
    double best = 0;
    for (int run = 0; run < 5; ++run) {
      constexpr int64_t kIterations = 25'000'000;  // 4 adds each
      uint64_t v = 0;
      const double start = thread_seconds();
      for (int64_t i = 0; i < kIterations; ++i) asm volatile("add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0" : "+r"(v));
      best = std::max(best, 4.0 * kIterations / (thread_seconds() - start));
    }
    return best;
  }();
  return hz;
}

// Peak loops: 12 independent chains of one instruction (registers 0-11; operands in 14 and 15),
// enough to hide its latency. Written in assembly so that the compiler can neither spill the
// chains nor drop them; their values do not matter.
inline constexpr int kPeakChains = 12;

struct Layer {
  const char* name;
  int64_t m, k, n;  // pixels, input channels, output channels
};
// MobileNetV2 1.0 at 224×224: pointwise expand/project layers at each resolution, then the
// classifier (one image).
inline constexpr Layer kLayers[] = {
    {"56x56_24to144", 56 * 56, 24, 144},  {"56x56_144to24", 56 * 56, 144, 24}, {"28x28_32to192", 28 * 28, 32, 192},
    {"28x28_192to32", 28 * 28, 192, 32},  {"14x14_96to576", 14 * 14, 96, 576}, {"14x14_576to96", 14 * 14, 576, 96},
    {"7x7_160to960", 7 * 7, 160, 960},    {"7x7_960to160", 7 * 7, 960, 160},   {"7x7_320to1280", 7 * 7, 320, 1280},
    {"gemm_1x1280to1000", 1, 1280, 1000},
};

#define EDGELOOP_CHAINS(op, reg)                                                                    \
  op " %%" reg "14, %%" reg "15, %%" reg "0\n\t" op " %%" reg "14, %%" reg "15, %%" reg "1\n\t"     \
  op " %%" reg "14, %%" reg "15, %%" reg "2\n\t" op " %%" reg "14, %%" reg "15, %%" reg "3\n\t"     \
  op " %%" reg "14, %%" reg "15, %%" reg "4\n\t" op " %%" reg "14, %%" reg "15, %%" reg "5\n\t"     \
  op " %%" reg "14, %%" reg "15, %%" reg "6\n\t" op " %%" reg "14, %%" reg "15, %%" reg "7\n\t"     \
  op " %%" reg "14, %%" reg "15, %%" reg "8\n\t" op " %%" reg "14, %%" reg "15, %%" reg "9\n\t"     \
  op " %%" reg "14, %%" reg "15, %%" reg "10\n\t" op " %%" reg "14, %%" reg "15, %%" reg "11\n\t"
#define EDGELOOP_CHAIN_CLOBBERS \
  "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11"

}  // namespace edgeloop::bench

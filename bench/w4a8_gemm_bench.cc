// The x86 W4A8 GEMM kernels (runtime/x86/w4a8_gemm.h) per ISA on the pointwise (1×1 conv)
// layers of MobileNetV2 at 224×224 and its classifier Gemm, one thread. Counters: GOP/s (2 ops
// per multiply-add), core_peak = share of this core's peak int8 multiply-add rate (vpdpbusd zmm),
// isa_peak = share of the peak of the instructions the ISA's kernel multiplies with. The peaks
// and how they are derived: docs/benchmarks.md; the Peak/* benchmarks measure them.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <ctime>
#include <random>
#include <string>
#include <vector>

#include "edgeloop/runtime/x86/cpu_features.h"
#include "edgeloop/runtime/x86/w4a8_gemm.h"

namespace {

using edgeloop::runtime::x86::Isa;
using edgeloop::runtime::x86::isa_name;
using edgeloop::runtime::x86::isa_supported;
using edgeloop::runtime::x86::kAllIsas;

// Peak int8 multiply-adds per cycle of one AMD Zen 4 core (this machine; docs/benchmarks.md):
// vpdpbusd zmm does 64 and issues once per cycle (512-bit ops run on two 256-bit pipes);
// vpmaddubsw ymm does 32 and issues twice per cycle.
constexpr double kVnniMacsPerCycle = 64 * 1.0;
constexpr double kAvx2MacsPerCycle = 32 * 2.0;

// Thread CPU time in seconds: unlike wall time, not stretched when other work (or `nice`) takes
// the core away.
double thread_seconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

// The clock the core runs at, measured: a chain of dependent integer adds retires one per cycle.
// (/proc/cpuinfo's "cpu MHz" is the nominal 2.6 GHz here; the core boosts to ~3.5 GHz.) The
// fastest of 5 runs.
double clock_hz() {
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

struct Layer {
  const char* name;
  int64_t m, k, n;  // pixels, input channels, output channels
};
// MobileNetV2 1.0 at 224×224: pointwise expand/project layers at each resolution, then the
// classifier (one image).
constexpr Layer kLayers[] = {
    {"56x56_24to144", 56 * 56, 24, 144},  {"56x56_144to24", 56 * 56, 144, 24}, {"28x28_32to192", 28 * 28, 32, 192},
    {"28x28_192to32", 28 * 28, 192, 32},  {"14x14_96to576", 14 * 14, 96, 576}, {"14x14_576to96", 14 * 14, 576, 96},
    {"7x7_160to960", 7 * 7, 160, 960},    {"7x7_960to160", 7 * 7, 960, 160},   {"7x7_320to1280", 7 * 7, 320, 1280},
    {"gemm_1x1280to1000", 1, 1280, 1000},
};
constexpr int64_t kGroup = 32;

void BM_W4A8Gemm(benchmark::State& state, Isa isa, Layer layer, bool channel_major) {
  if (!isa_supported(isa)) {
    state.SkipWithError("this CPU cannot run these kernels");
    return;
  }
  std::mt19937 rng(1);
  std::uniform_int_distribution<int> byte(0, 255), x_dist(-128, 127);
  std::vector<std::byte> i4(static_cast<size_t>((layer.n * layer.k + 1) / 2));
  for (std::byte& b : i4) b = static_cast<std::byte>(byte(rng));
  const int64_t groups = (layer.k + kGroup - 1) / kGroup;
  std::vector<float> scales(static_cast<size_t>(layer.n * groups));
  for (float& s : scales) s = std::uniform_real_distribution<float>(0.002f, 0.08f)(rng);
  std::vector<float> bias(static_cast<size_t>(layer.n), 0.25f);
  std::vector<int8_t> x(static_cast<size_t>(layer.m * layer.k));
  for (int8_t& v : x) v = static_cast<int8_t>(x_dist(rng));
  std::vector<int8_t> y(static_cast<size_t>(layer.m * layer.n));
  auto w = edgeloop::runtime::x86::pack_w4a8(i4, scales, layer.n, layer.k, kGroup, isa);
  if (!w) {
    state.SkipWithError(w.error().message.c_str());
    return;
  }
  const edgeloop::runtime::x86::W4A8Quant q{0.05f, -3, 0.5f, 1, bias.data()};
  for (auto _ : state) {
    if (channel_major) edgeloop::runtime::x86::w4a8_gemm(*w, x.data(), layer.m, layer.k, q, y.data(), 1, layer.m);
    else edgeloop::runtime::x86::w4a8_gemm(*w, x.data(), layer.m, layer.k, q, y.data(), layer.n, 1);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  const double macs = static_cast<double>(layer.m * layer.k * layer.n);
  state.counters["GOP/s"] = benchmark::Counter(2 * macs / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  // MACs per second over peak MACs per second.
  state.counters["core_peak"] =
      benchmark::Counter(macs / (kVnniMacsPerCycle * clock_hz()), benchmark::Counter::kIsIterationInvariantRate);
  if (isa != Isa::kPortable)
    state.counters["isa_peak"] =
        benchmark::Counter(macs / ((isa == Isa::kAvx2 ? kAvx2MacsPerCycle : kVnniMacsPerCycle) * clock_hz()),
                           benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(std::to_string(layer.m) + "x" + std::to_string(layer.k) + "x" + std::to_string(layer.n) + " G32");
}

// Peak loops: 12 independent chains of one instruction (registers 0-11; operands in 14 and 15),
// enough to hide its latency. Written in assembly so that the compiler can neither spill the
// chains nor drop them; their values do not matter. The counter instr/cycle is the issue rate at
// the measured clock.
constexpr int kChains = 12;
constexpr int64_t kPeakIterations = 1 << 16;

#define EDGELOOP_CHAINS(op, reg)                                                                    \
  op " %%" reg "14, %%" reg "15, %%" reg "0\n\t" op " %%" reg "14, %%" reg "15, %%" reg "1\n\t"     \
  op " %%" reg "14, %%" reg "15, %%" reg "2\n\t" op " %%" reg "14, %%" reg "15, %%" reg "3\n\t"     \
  op " %%" reg "14, %%" reg "15, %%" reg "4\n\t" op " %%" reg "14, %%" reg "15, %%" reg "5\n\t"     \
  op " %%" reg "14, %%" reg "15, %%" reg "6\n\t" op " %%" reg "14, %%" reg "15, %%" reg "7\n\t"     \
  op " %%" reg "14, %%" reg "15, %%" reg "8\n\t" op " %%" reg "14, %%" reg "15, %%" reg "9\n\t"     \
  op " %%" reg "14, %%" reg "15, %%" reg "10\n\t" op " %%" reg "14, %%" reg "15, %%" reg "11\n\t"
#define EDGELOOP_CHAIN_CLOBBERS \
  "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11"

// vpdpbusd zmm: each chain accumulates into its register (64 u8×s8 multiply-adds).
void vpdpbusd_zmm_loop(int64_t iterations) {
  for (int64_t i = 0; i < iterations; ++i) asm volatile(EDGELOOP_CHAINS("vpdpbusd", "zmm") ::: EDGELOOP_CHAIN_CLOBBERS);
}

// vpmaddubsw ymm with the previous result as the u8 operand (32 u8×s8 products in pairs).
void vpmaddubsw_ymm_loop(int64_t iterations) {
  for (int64_t i = 0; i < iterations; ++i)
    asm volatile(EDGELOOP_CHAINS("vpmaddubsw", "ymm") ::: EDGELOOP_CHAIN_CLOBBERS);
}

void BM_Peak(benchmark::State& state, Isa isa) {
  if (!isa_supported(isa)) {
    state.SkipWithError("this CPU cannot run these instructions");
    return;
  }
  for (auto _ : state) {
    if (isa == Isa::kAvx2) vpmaddubsw_ymm_loop(kPeakIterations);
    else vpdpbusd_zmm_loop(kPeakIterations);
  }
  const double instructions = static_cast<double>(kChains * kPeakIterations);
  const double macs = instructions * (isa == Isa::kAvx2 ? 32 : 64);
  state.counters["GOP/s"] = benchmark::Counter(2 * macs / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["instr/cycle"] =
      benchmark::Counter(instructions / clock_hz(), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GHz"] = clock_hz() / 1e9;
}

[[maybe_unused]] const bool kRegistered = [] {
  for (Isa isa : kAllIsas) {
    if (isa == Isa::kPortable) continue;
    const std::string name = std::string("Peak/") + (isa == Isa::kAvx2 ? "vpmaddubsw_ymm" : "vpdpbusd_zmm");
    benchmark::RegisterBenchmark(name.c_str(), BM_Peak, isa)->Unit(benchmark::kMicrosecond);
  }
  for (const Layer& layer : kLayers)
    for (Isa isa : kAllIsas) {
      const std::string name = std::string("W4A8Gemm/") + layer.name + "/" + std::string(isa_name(isa));
      benchmark::RegisterBenchmark((name + "/nhwc").c_str(), BM_W4A8Gemm, isa, layer, false)
          ->Unit(benchmark::kMicrosecond);
      // NCHW conv output through the transposing store, for two of the layers.
      if (layer.m > 1 && (layer.k == 24 || layer.k == 576))
        benchmark::RegisterBenchmark((name + "/nchw").c_str(), BM_W4A8Gemm, isa, layer, true)
            ->Unit(benchmark::kMicrosecond);
    }
  return true;
}();

}  // namespace

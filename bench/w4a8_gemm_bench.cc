// The x86 W4A8 GEMM kernels (runtime/x86/w4a8_gemm.h) per ISA on the pointwise (1×1 conv)
// layers of MobileNetV2 at 224×224 and its classifier Gemm, one thread. Counters: GOP/s (2 ops
// per multiply-add), core_peak = share of this core's peak int8 multiply-add rate (vpdpbusd zmm),
// isa_peak = share of the peak of the instructions the ISA's kernel multiplies with. The peaks
// and how they are derived: docs/benchmarks.md; the Peak/* benchmarks measure them.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "edgeloop/runtime/x86/cpu_features.h"
#include "edgeloop/runtime/x86/w4a8_gemm.h"
#include "x86_gemm_bench.h"

namespace {

using edgeloop::runtime::x86::Isa;
using edgeloop::runtime::x86::isa_name;
using edgeloop::runtime::x86::isa_supported;
using edgeloop::runtime::x86::kAllIsas;

using edgeloop::bench::clock_hz;
using edgeloop::bench::kAvx2MacsPerCycle;
using edgeloop::bench::kVnniMacsPerCycle;

using edgeloop::bench::kLayers;
using edgeloop::bench::Layer;
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

// The peak loops (x86_gemm_bench.h): the counter instr/cycle is the issue rate at the measured clock.
constexpr int kChains = edgeloop::bench::kPeakChains;
constexpr int64_t kPeakIterations = 1 << 16;

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

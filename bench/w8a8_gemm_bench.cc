// The x86 W8A8 GEMM kernels (runtime/x86/w8a8_gemm.h) per ISA on the same MobileNetV2 layers as
// the W4A8 benchmark (x86_gemm_bench.h), one thread: run both filters in one process to compare
// them on the same clock ('W8A8Gemm|W4A8Gemm|Peak'). Counters: GOP/s (2 ops per multiply-add),
// core_peak = share of this core's peak int8 multiply-add rate (vpdpbusd zmm), isa_peak = share of
// the peak of the instruction the ISA's kernel multiplies with (vpdpbusd zmm for avx512vnni,
// vpmaddwd ymm for avx2, whose int16 pairs give half the multiply-adds of vpmaddubsw).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "edgeloop/runtime/quant_math.h"
#include "edgeloop/runtime/x86/cpu_features.h"
#include "edgeloop/runtime/x86/w8a8_gemm.h"
#include "x86_gemm_bench.h"

namespace {

using edgeloop::bench::clock_hz;
using edgeloop::bench::kLayers;
using edgeloop::bench::kVnniMacsPerCycle;
using edgeloop::bench::kVpmaddwdMacsPerCycle;
using edgeloop::bench::Layer;
using edgeloop::runtime::FixedPointMultiplier;
using edgeloop::runtime::x86::Isa;
using edgeloop::runtime::x86::isa_name;
using edgeloop::runtime::x86::isa_supported;
using edgeloop::runtime::x86::kAllIsas;

void BM_W8A8Gemm(benchmark::State& state, Isa isa, Layer layer, bool channel_major) {
  if (!isa_supported(isa)) {
    state.SkipWithError("this CPU cannot run these kernels");
    return;
  }
  std::mt19937 rng(1);
  std::uniform_int_distribution<int> i8(-128, 127);
  std::vector<int8_t> w(static_cast<size_t>(layer.n * layer.k));
  for (int8_t& v : w) v = static_cast<int8_t>(i8(rng));
  std::vector<int32_t> bias(static_cast<size_t>(layer.n));
  for (int32_t& b : bias) b = std::uniform_int_distribution<int32_t>(-20000, 20000)(rng);
  // Multipliers as a toolchain derives them: x_scale · w_scale[c] / y_scale.
  std::vector<FixedPointMultiplier> mult;
  for (int64_t c = 0; c < layer.n; ++c) {
    const double w_scale = std::uniform_real_distribution<double>(0.002, 0.02)(rng);
    mult.push_back(*edgeloop::runtime::quantize_multiplier(0.05 * w_scale / 2.0));
  }
  std::vector<int8_t> x(static_cast<size_t>(layer.m * layer.k));
  for (int8_t& v : x) v = static_cast<int8_t>(i8(rng));
  std::vector<int8_t> y(static_cast<size_t>(layer.m * layer.n));
  auto packed = edgeloop::runtime::x86::pack_w8a8(w, bias, mult, layer.n, layer.k, isa);
  if (!packed) {
    state.SkipWithError(packed.error().message.c_str());
    return;
  }
  const edgeloop::runtime::x86::W8A8Quant q{-3, 1};
  for (auto _ : state) {
    if (channel_major) edgeloop::runtime::x86::w8a8_gemm(*packed, x.data(), layer.m, layer.k, q, y.data(), 1, layer.m);
    else edgeloop::runtime::x86::w8a8_gemm(*packed, x.data(), layer.m, layer.k, q, y.data(), layer.n, 1);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  const double macs = static_cast<double>(layer.m * layer.k * layer.n);
  state.counters["GOP/s"] = benchmark::Counter(2 * macs / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["core_peak"] =
      benchmark::Counter(macs / (kVnniMacsPerCycle * clock_hz()), benchmark::Counter::kIsIterationInvariantRate);
  if (isa != Isa::kPortable)
    state.counters["isa_peak"] =
        benchmark::Counter(macs / ((isa == Isa::kAvx2 ? kVpmaddwdMacsPerCycle : kVnniMacsPerCycle) * clock_hz()),
                           benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(std::to_string(layer.m) + "x" + std::to_string(layer.k) + "x" + std::to_string(layer.n));
}

// vpmaddwd ymm (16 int16 multiply-adds, in pairs) in 12 independent chains: each chain's result
// is the next multiplicand, so the chains are real dependencies (x86_gemm_bench.h).
constexpr int64_t kPeakIterations = 1 << 16;

void vpmaddwd_ymm_loop(int64_t iterations) {
  for (int64_t i = 0; i < iterations; ++i) asm volatile(EDGELOOP_CHAINS("vpmaddwd", "ymm") ::: EDGELOOP_CHAIN_CLOBBERS);
}

void BM_PeakVpmaddwd(benchmark::State& state) {
  if (!isa_supported(Isa::kAvx2)) {
    state.SkipWithError("this CPU cannot run these instructions");
    return;
  }
  for (auto _ : state) vpmaddwd_ymm_loop(kPeakIterations);
  const double instructions = static_cast<double>(edgeloop::bench::kPeakChains * kPeakIterations);
  state.counters["GOP/s"] = benchmark::Counter(2 * 16 * instructions / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["instr/cycle"] =
      benchmark::Counter(instructions / clock_hz(), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GHz"] = clock_hz() / 1e9;
}

[[maybe_unused]] const bool kRegistered = [] {
  benchmark::RegisterBenchmark("Peak/vpmaddwd_ymm", BM_PeakVpmaddwd)->Unit(benchmark::kMicrosecond);
  for (const Layer& layer : kLayers)
    for (Isa isa : kAllIsas) {
      const std::string name = std::string("W8A8Gemm/") + layer.name + "/" + std::string(isa_name(isa));
      benchmark::RegisterBenchmark((name + "/nhwc").c_str(), BM_W8A8Gemm, isa, layer, false)
          ->Unit(benchmark::kMicrosecond);
      // NCHW conv output through the transposing store, for two of the layers.
      if (layer.m > 1 && (layer.k == 24 || layer.k == 576))
        benchmark::RegisterBenchmark((name + "/nchw").c_str(), BM_W8A8Gemm, isa, layer, true)
            ->Unit(benchmark::kMicrosecond);
    }
  return true;
}();

}  // namespace

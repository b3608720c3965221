// Loading an artifact as a device does: map the file, verify everything, prepare the program.
#include <benchmark/benchmark.h>

#include <filesystem>

#include "edgeloop/model/artifact.h"
#include "edgeloop/model/onnx_import.h"
#include "edgeloop/runtime/golden.h"
#include "edgeloop/runtime/program.h"

namespace {

namespace fs = std::filesystem;

// Imports the committed Fashion-MNIST model once into a temporary .edge file.
const fs::path& fashion_artifact() {
  static const fs::path path = [] {
    fs::path onnx = fs::path(EDGELOOP_SOURCE_DIR) / "examples/fashion_mnist/fashion_cnn.onnx";
    fs::path out = fs::temp_directory_path() / "edgeloop_bench_fashion_cnn.edge";
    auto g = edgeloop::model::import_onnx(onnx);
    if (!g || !edgeloop::runtime::attach_golden(*g) || !edgeloop::model::write_artifact(*g, out)) std::abort();
    return out;
  }();
  return path;
}

void BM_LoadArtifact_MmapVerify(benchmark::State& state) {
  const auto& path = fashion_artifact();
  for (auto _ : state) {
    auto g = edgeloop::model::load_artifact(path);
    if (!g) state.SkipWithError(g.error().message.c_str());
    benchmark::DoNotOptimize(g);
  }
  state.counters["file_bytes"] = static_cast<double>(fs::file_size(path));
}
BENCHMARK(BM_LoadArtifact_MmapVerify)->Unit(benchmark::kMicrosecond);

void BM_LoadProgram_MmapVerifyPrepare(benchmark::State& state) {
  const auto& path = fashion_artifact();
  for (auto _ : state) {
    auto p = edgeloop::runtime::Program::load(path);
    if (!p) state.SkipWithError(p.error().message.c_str());
    benchmark::DoNotOptimize(p);
  }
}
BENCHMARK(BM_LoadProgram_MmapVerifyPrepare)->Unit(benchmark::kMicrosecond);

}  // namespace

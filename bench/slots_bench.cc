// Revert (issue 6): the last-known-good back in one durable state-record write, no download.
#include <benchmark/benchmark.h>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "edgeloop/base/file.h"
#include "edgeloop/base/hash.h"
#include "edgeloop/model/onnx_import.h"
#include "edgeloop/model/artifact.h"
#include "edgeloop/ota/installer.h"
#include "edgeloop/runtime/golden.h"

namespace {

namespace fs = std::filesystem;
using namespace edgeloop;

// The committed Fashion-MNIST CNN at two versions, as .edge bytes with their expected targets entry.
std::pair<SharedBytes, ota::ExpectedArtifact> fashion(const std::string& version) {
  auto g = model::import_onnx(fs::path(EDGELOOP_SOURCE_DIR) / "examples/fashion_mnist/fashion_cnn.onnx");
  if (!g) std::abort();
  g->meta.version = version;
  if (!runtime::attach_golden(*g)) std::abort();
  auto bytes = model::serialize_artifact(*g);
  if (!bytes) std::abort();
  ota::ExpectedArtifact e{bytes->size(), to_hex(sha256(*bytes)), g->meta.name, version, g->meta.variant};
  return {SharedBytes::adopt(std::move(*bytes)), e};
}

// Two trusted models installed, then revert() back and forth: each call swaps active and
// last-known-good with one durable write of the state record (write, fsync, rename, fsync dir).
// `written`: bytes the storage has written so far.
void run_reverts(benchmark::State& state, ota::SlotStorage& storage, const std::function<uint64_t()>& written) {
  auto store = ota::SlotStore::open(storage);
  if (!store) return state.SkipWithError(store.error().message.c_str());
  ota::Installer installer(*store, SystemClock::instance());
  auto [v1, e1] = fashion("1");
  auto [v2, e2] = fashion("2");
  if (!installer.install(v1, e1) || !installer.install(v2, e2) || !installer.mark_good())
    return state.SkipWithError("setup failed");
  std::vector<double> ms;
  uint64_t before = written();
  for (auto _ : state) {
    auto t0 = std::chrono::steady_clock::now();
    auto r = installer.revert();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    if (!r) return state.SkipWithError(r.error().message.c_str());
  }
  std::sort(ms.begin(), ms.end());
  state.counters["p50_ms"] = ms[ms.size() / 2];
  state.counters["p99_ms"] = ms[ms.size() * 99 / 100];
  state.counters["bytes_written_per_revert"] = static_cast<double>(written() - before) / static_cast<double>(ms.size());
  state.counters["bytes_downloaded"] = 0;  // revert has no network path at all
}

void BM_Revert_Filesystem(benchmark::State& state) {
  fs::path dir = fs::temp_directory_path() / ("edgeloop-bench-slots-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  auto storage = ota::DirectoryStorage::open(dir);
  if (!storage) return state.SkipWithError(storage.error().message.c_str());
  // The filesystem storage does not count bytes; the state file's size is what each revert writes.
  run_reverts(state, *storage, [] { return uint64_t{0}; });
  state.counters["bytes_written_per_revert"] = static_cast<double>(fs::file_size(dir / "state.json"));
  fs::remove_all(dir);
}
BENCHMARK(BM_Revert_Filesystem)->Unit(benchmark::kMicrosecond)->Iterations(1000);

// The floor under BM_Revert_Filesystem: one durable write of a state-record-sized file in the
// same folder (its two fsyncs are most of a revert's wall time on a real disk).
void BM_DurableWrite_600Bytes(benchmark::State& state) {
  fs::path dir = fs::temp_directory_path() / ("edgeloop-bench-durable-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::vector<std::byte> data(600, std::byte{'x'});
  std::vector<double> ms;
  for (auto _ : state) {
    auto t0 = std::chrono::steady_clock::now();
    auto r = write_file_durable(dir / "state.json", data);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    if (!r) return state.SkipWithError(r.error().message.c_str());
  }
  std::sort(ms.begin(), ms.end());
  state.counters["p50_ms"] = ms[ms.size() / 2];
  fs::remove_all(dir);
}
BENCHMARK(BM_DurableWrite_600Bytes)->Unit(benchmark::kMicrosecond)->Iterations(1000);

void BM_Revert_Memory(benchmark::State& state) {
  ota::MemoryStorage storage;
  run_reverts(state, storage, [&] { return storage.bytes_written(); });
}
BENCHMARK(BM_Revert_Memory)->Unit(benchmark::kMicrosecond)->Iterations(1000);

}  // namespace

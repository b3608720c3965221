// Revert and recall (issue 6): the last-known-good back in one durable state-record write; a
// recall through the update path downloads nothing (counted by the transport).
#include <benchmark/benchmark.h>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "edgeloop/base/file.h"
#include "edgeloop/base/hash.h"
#include "edgeloop/model/onnx_import.h"
#include "edgeloop/model/artifact.h"
#include "edgeloop/ota/installer.h"
#include "edgeloop/ota/transport.h"
#include "edgeloop/ota/updater.h"
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

// Counts the bytes a transport delivers: what a recall would download if it downloaded anything.
class CountingTransport final : public ota::Transport {
 public:
  explicit CountingTransport(std::unique_ptr<ota::Transport> inner) : inner_(std::move(inner)) {}
  Result<std::vector<std::byte>> fetch(std::string_view path, size_t max_bytes) override {
    auto r = inner_->fetch(path, max_bytes);
    if (r) bytes += r->size();
    return r;
  }
  Status fetch_to(std::string_view path, uint64_t offset, uint64_t max_bytes, const Sink& sink) override {
    return inner_->fetch_to(path, offset, max_bytes, [&](ByteSpan chunk) {
      bytes += chunk.size();
      return sink(chunk);
    });
  }
  std::string describe() const override { return "counting " + inner_->describe(); }
  uint64_t bytes = 0;

 private:
  std::unique_ptr<ota::Transport> inner_;
};

// Two trusted models installed, then `calls` timed: revert() (a pointer flip: one durable write of
// the state record), or a recall as `edgeloop device update` runs it — reconcile() towards the
// last-known-good, and install_target() through a counting transport over a repository holding
// both artifacts if reconcile asked for a download (it never does: bytes_downloaded is what the
// transport delivered). `written`: bytes the storage has written so far.
enum class Call { kRevert, kRecall };
void run_reverts(benchmark::State& state, ota::SlotStorage& storage, const std::function<uint64_t()>& written, Call call,
                 const fs::path& work) {
  auto store = ota::SlotStore::open(storage);
  if (!store) return state.SkipWithError(store.error().message.c_str());
  ota::Installer installer(*store, SystemClock::instance());
  auto [v1, e1] = fashion("1");
  auto [v2, e2] = fashion("2");
  if (!installer.install(v1, e1) || !installer.install(v2, e2) || !installer.mark_good())
    return state.SkipWithError("setup failed");
  // The repository a recall could download from.
  std::map<std::string, ota::TargetInfo> targets;
  fs::create_directories(work / "repo" / "artifacts");
  for (const auto& [bytes, e] : {std::pair{v1, e1}, std::pair{v2, e2}}) {
    ota::TargetInfo t;
    t.length = e.length;
    t.sha256 = e.sha256;
    t.model = e.model;
    t.model_version = e.version;
    t.variant = e.variant;
    if (!write_file_durable(work / "repo" / "artifacts" / (e.sha256 + ".edge"), bytes.span()))
      return state.SkipWithError("cannot write the repository");
    targets[e.sha256] = t;
  }
  CountingTransport transport(ota::make_directory_transport((work / "repo").string()));
  ota::FixedConditions conditions;
  ota::Downloader downloader(SystemClock::instance(), ota::real_sleep(), conditions);

  std::vector<double> ms;
  uint64_t before = written();
  for (auto _ : state) {
    auto t0 = std::chrono::steady_clock::now();
    if (call == Call::kRevert) {
      if (auto r = installer.revert(); !r) return state.SkipWithError(r.error().message.c_str());
    } else {
      const ota::SlotState& s = installer.state();
      const ota::TargetInfo& wanted = targets.at(s.info(*s.last_known_good)->sha256);
      auto action = installer.reconcile({wanted.sha256, wanted.model_version, ""});
      if (!action) return state.SkipWithError(action.error().message.c_str());
      if (*action == ota::ReconcileAction::kNeedsInstall) {
        auto r = ota::install_target(installer, downloader, transport, "artifacts/" + wanted.sha256 + ".edge", wanted,
                                     work / "downloads");
        if (!r) return state.SkipWithError(r.error().message.c_str());
      }
    }
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  state.counters["p50_ms"] = ms[ms.size() / 2];
  state.counters["p99_ms"] = ms[ms.size() * 99 / 100];
  state.counters["bytes_written_per_call"] = static_cast<double>(written() - before) / static_cast<double>(ms.size());
  if (call == Call::kRecall) state.counters["bytes_downloaded"] = static_cast<double>(transport.bytes);
}

fs::path scratch(const std::string& what) {
  fs::path dir = fs::temp_directory_path() / ("edgeloop-bench-" + what + "-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

void on_filesystem(benchmark::State& state, Call call) {
  const fs::path work = scratch("slots");
  auto storage = ota::DirectoryStorage::open(work / "slots");
  if (!storage) return state.SkipWithError(storage.error().message.c_str());
  // The filesystem storage does not count bytes; the state file's size is what each call writes.
  run_reverts(state, *storage, [] { return uint64_t{0}; }, call, work);
  state.counters["bytes_written_per_call"] = static_cast<double>(fs::file_size(work / "slots" / "state.json"));
  fs::remove_all(work);
}
void BM_Revert_Filesystem(benchmark::State& state) { on_filesystem(state, Call::kRevert); }
BENCHMARK(BM_Revert_Filesystem)->Unit(benchmark::kMicrosecond)->Iterations(1000);
void BM_Recall_Filesystem(benchmark::State& state) { on_filesystem(state, Call::kRecall); }
BENCHMARK(BM_Recall_Filesystem)->Unit(benchmark::kMicrosecond)->Iterations(1000);

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

void in_memory(benchmark::State& state, Call call) {
  const fs::path work = scratch("slots-memory");  // the repository and downloads folder only
  ota::MemoryStorage storage;
  run_reverts(state, storage, [&] { return storage.bytes_written(); }, call, work);
  fs::remove_all(work);
}
void BM_Revert_Memory(benchmark::State& state) { in_memory(state, Call::kRevert); }
BENCHMARK(BM_Revert_Memory)->Unit(benchmark::kMicrosecond)->Iterations(1000);
void BM_Recall_Memory(benchmark::State& state) { in_memory(state, Call::kRecall); }
BENCHMARK(BM_Recall_Memory)->Unit(benchmark::kMicrosecond)->Iterations(1000);

}  // namespace

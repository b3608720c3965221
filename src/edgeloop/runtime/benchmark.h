// Benchmark of one artifact on this device, like TFLite's benchmark_model: init time (load +
// verify, prepare), latency percentiles over timed runs after untimed warm-up runs, throughput,
// memory (planned arena, peak RSS) and, optionally, the time of every executed step. Backs
// `edgeloop bench` (docs/benchmarks.md, "edgeloop bench").
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "edgeloop/base/error.h"
#include "edgeloop/runtime/program.h"

namespace edgeloop::runtime {

struct BenchmarkOptions {
  int runs = 100;    // timed runs, >= 1
  int warmup = 10;   // untimed runs before them, >= 0
  LoadOptions load;  // backends (empty: what this CPU supports) and threads, as Program::load takes them
  bool profile = false;  // time every step of every timed run
  // Before timing, run the golden test vector once and compare (runtime/golden.h). A mismatch is
  // an error when true; when false it is reported in BenchmarkResult::golden and timing goes on.
  bool verify = true;
  uint64_t seed = 0x5eed;  // random inputs (random_input) when the artifact has no golden vector
  // Called after each warm-up and timed run: (done, warmup + runs).
  std::function<void(int64_t done, int64_t total)> progress;
};

// Latency summary in milliseconds; percentiles by nearest rank (base/stats.h).
struct LatencyStats {
  double min = 0, p50 = 0, p95 = 0, p99 = 0, mean = 0;
};
LatencyStats latency_stats(std::vector<double> samples_ms);

// One executed step (a reference-kernel node or a backend partition), aggregated over runs.
struct StepProfile {
  std::string step;     // node or partition name (Step::name)
  std::string backend;  // "reference", "xnnpack", ...
  std::string op;       // the node's op, or a partition's ops by count ("Conv×3 Relu×2 Gemm")
  double mean_us = 0;   // mean time per run
  double share = 0;     // of the summed step times, in [0, 1]
};
// What a step is, for the profile table.
struct StepInfo {
  std::string name, backend, op;
};
// Turns per-step total times over `runs` runs into a profile sorted by time, largest first.
// `steps` and `total_us` are parallel; shares sum to 1 unless every total is 0.
std::vector<StepProfile> aggregate_profile(const std::vector<StepInfo>& steps, const std::vector<double>& total_us,
                                           int runs);

enum class GoldenCheck {
  kMatch,     // the golden inputs gave the golden outputs within tolerance
  kNone,      // the artifact has no golden vector: inputs were random
  kMismatch,  // out of tolerance (only returned with verify = false)
};
std::string_view golden_check_name(GoldenCheck g);  // "match", "none", "mismatch"

struct BenchmarkResult {
  std::string model, variant;  // from the artifact's metadata
  uint64_t file_bytes = 0;
  int threads = 1;                    // of the Program's thread pool
  std::vector<std::string> backends;  // in use (Program::backends_used())
  double load_verify_ms = 0;  // map + verify the artifact (model::load_artifact)
  double prepare_ms = 0;      // the rest of Program creation: kernels, memory plan, backends
  double init_ms = 0;         // both
  LatencyStats latency;       // per inference, ms
  int runs = 0, warmup = 0;
  double throughput_per_s = 0;  // 1000 / latency.mean
  size_t arena_bytes = 0;       // Session::arena_bytes()
  size_t peak_rss_bytes = 0;    // of this process so far (getrusage ru_maxrss)
  GoldenCheck golden = GoldenCheck::kNone;
  std::string golden_message;  // why it mismatched
  std::string inputs;          // "golden" or "random"
  std::vector<StepProfile> profile;  // with options.profile
};

// Loads the artifact, checks its golden vector, then times it. Bad options, a file that does not
// load, an unknown backend or (with verify) a golden mismatch are errors.
Result<BenchmarkResult> benchmark(const std::filesystem::path& artifact, const BenchmarkOptions& options = {});

// Peak resident set size of this process in bytes (0 if unknown).
size_t peak_rss_bytes();

}  // namespace edgeloop::runtime

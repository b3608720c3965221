#include "edgeloop/runtime/benchmark.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <numeric>

#include "edgeloop/base/stats.h"
#include "edgeloop/model/artifact.h"
#include "edgeloop/runtime/golden.h"
#include "edgeloop/runtime/program.h"
#include "edgeloop/runtime/session.h"

namespace edgeloop::runtime {

namespace {

using Clock = std::chrono::steady_clock;

double ms_between(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double, std::milli>(b - a).count(); }

// A step's ops: the node's op, or a partition's ops with their counts, most frequent first
// ("Relu×4 Conv×3 Gemm").
std::string step_ops(const model::Graph& g, const Step& step) {
  std::vector<std::pair<std::string, int>> counts;
  for (size_t i : step.nodes) {
    std::string op(model::op_name(g.nodes[i].op));
    auto it = std::find_if(counts.begin(), counts.end(), [&](const auto& c) { return c.first == op; });
    if (it == counts.end()) counts.emplace_back(std::move(op), 1);
    else ++it->second;
  }
  if (counts.size() == 1 && counts[0].second == 1) return counts[0].first;
  std::stable_sort(counts.begin(), counts.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  std::string ops;
  for (const auto& [op, n] : counts) ops += n == 1 ? fmt::format("{}{}", ops.empty() ? "" : " ", op) : fmt::format("{}{}×{}", ops.empty() ? "" : " ", op, n);
  return ops;
}

std::vector<StepInfo> program_steps(const Program& program) {
  const model::Graph& g = program.graph();
  std::vector<StepInfo> steps;
  for (size_t i = 0; i < program.steps().size(); ++i) {
    const Step& s = program.steps()[i];
    std::string op = step_ops(g, s);
    steps.push_back({s.name.empty() ? fmt::format("#{} {}", i, op) : s.name, s.backend, std::move(op)});
  }
  return steps;
}

Status check_options(const BenchmarkOptions& o) {
  if (o.runs < 1) return make_error(ErrorCode::kInvalidArgument, "runs must be at least 1, got {}", o.runs);
  if (o.warmup < 0) return make_error(ErrorCode::kInvalidArgument, "warmup must be 0 or more, got {}", o.warmup);
  if (o.load.threads < 1) return make_error(ErrorCode::kInvalidArgument, "threads must be at least 1, got {}", o.load.threads);
  return ok();
}

}  // namespace

LatencyStats latency_stats(std::vector<double> samples_ms) {
  const Summary s = summarize(std::move(samples_ms));
  return {s.min, s.p50, s.p95, s.p99, s.mean};
}

std::vector<StepProfile> aggregate_profile(const std::vector<StepInfo>& steps, const std::vector<double>& total_us,
                                           int runs) {
  const double sum = std::accumulate(total_us.begin(), total_us.end(), 0.0);
  std::vector<StepProfile> profile;
  for (size_t i = 0; i < steps.size() && i < total_us.size(); ++i)
    profile.push_back({steps[i].name, steps[i].backend, steps[i].op, runs > 0 ? total_us[i] / runs : 0.0,
                       sum > 0 ? total_us[i] / sum : 0.0});
  std::stable_sort(profile.begin(), profile.end(), [](const auto& a, const auto& b) { return a.mean_us > b.mean_us; });
  return profile;
}

std::string_view golden_check_name(GoldenCheck g) {
  switch (g) {
    case GoldenCheck::kMatch: return "match";
    case GoldenCheck::kNone: return "none";
    case GoldenCheck::kMismatch: return "mismatch";
  }
  return "?";
}

size_t peak_rss_bytes() {
  rusage u{};
  if (::getrusage(RUSAGE_SELF, &u) != 0) return 0;
  return static_cast<size_t>(u.ru_maxrss) * 1024;  // Linux reports kilobytes
}

Result<BenchmarkResult> benchmark(const std::filesystem::path& artifact, const BenchmarkOptions& o) {
  EL_CHECK(check_options(o));
  BenchmarkResult r;
  r.runs = o.runs;
  r.warmup = o.warmup;
  std::error_code ec;
  r.file_bytes = std::filesystem::file_size(artifact, ec);
  if (ec) return make_error(ErrorCode::kNotFound, "{}: {}", artifact.string(), ec.message());

  // Init, split as Program::load does it: map + verify, then prepare.
  const auto t0 = Clock::now();
  auto graph = model::load_artifact(artifact);
  if (!graph) return std::unexpected(std::move(graph).error().context(artifact.string()));
  const auto t1 = Clock::now();
  EL_TRY(Program program, Program::from_graph(std::move(graph).value(), o.load));
  const auto t2 = Clock::now();
  r.load_verify_ms = ms_between(t0, t1);
  r.prepare_ms = ms_between(t1, t2);
  r.init_ms = ms_between(t0, t2);

  const model::Graph& g = program.graph();
  r.model = g.meta.name.empty() ? artifact.stem().string() : g.meta.name;
  r.variant = g.meta.variant;
  r.threads = program.threads();
  r.backends = program.backends_used();

  // Inputs: the golden vector's, checked once before timing; else deterministic random data.
  std::vector<model::TensorData> inputs;
  if (g.meta.golden) {
    inputs = g.meta.golden->inputs;
    r.inputs = "golden";
    if (auto st = check_golden(program); st) {
      r.golden = GoldenCheck::kMatch;
    } else if (o.verify) {
      return std::unexpected(std::move(st).error().context(
          fmt::format("{}: the output does not match the golden vector, so timing it would be meaningless "
                      "(--no-verify / BenchmarkOptions::verify = false times it anyway)",
                      artifact.string())));
    } else {
      r.golden = GoldenCheck::kMismatch;
      r.golden_message = st.error().message;
    }
  } else {
    for (size_t k = 0; k < g.inputs.size(); ++k) inputs.push_back(random_input(g.tensors[g.inputs[k]], o.seed + k));
    r.inputs = "random";
    r.golden = GoldenCheck::kNone;
  }

  Session session(program);
  r.arena_bytes = session.arena_bytes();
  const int64_t total_runs = int64_t{o.warmup} + o.runs;
  for (int i = 0; i < o.warmup; ++i) {
    auto out = session.run(inputs);
    if (!out) return std::unexpected(std::move(out).error().context("warm-up run"));
    if (o.progress) o.progress(i + 1, total_runs);
  }

  std::vector<double> samples_ms;
  samples_ms.reserve(static_cast<size_t>(o.runs));
  for (int i = 0; i < o.runs; ++i) {
    const auto start = Clock::now();
    auto out = session.run(inputs);
    const auto end = Clock::now();
    if (!out) return std::unexpected(std::move(out).error().context("timed run"));
    samples_ms.push_back(ms_between(start, end));
    if (o.progress) o.progress(o.warmup + i + 1, total_runs);
  }
  r.latency = latency_stats(std::move(samples_ms));
  r.throughput_per_s = r.latency.mean > 0 ? 1000.0 / r.latency.mean : 0.0;

  // The profile comes from a second program of the same graph with one partition per node, so
  // every op is timed even inside a backend (XNNPACK's runtime times nothing itself); one clock
  // read per step, tens of nanoseconds. The latency above is of the program as it really runs.
  if (o.profile) {
    LoadOptions split = o.load;
    split.partition_per_node = true;
    EL_TRY(Program profiled, Program::from_graph(g, split));
    const std::vector<StepInfo> steps = program_steps(profiled);
    Session ps(profiled);
    std::vector<double> step_us(steps.size(), 0.0);
    Clock::time_point last;
    const StepObserver step_done = [&](size_t step) {
      const auto now = Clock::now();
      if (step < step_us.size()) step_us[step] += std::chrono::duration<double, std::micro>(now - last).count();
      last = now;
    };
    for (int i = 0; i < std::min(o.warmup, 3); ++i)
      if (auto out = ps.run(inputs); !out) return std::unexpected(std::move(out).error().context("profiled warm-up run"));
    for (int i = 0; i < o.runs; ++i) {
      last = Clock::now();
      auto out = ps.run(inputs, step_done);
      if (!out) return std::unexpected(std::move(out).error().context("profiled run"));
    }
    r.profile = aggregate_profile(steps, step_us, o.runs);
  }
  r.peak_rss_bytes = peak_rss_bytes();
  return r;
}

}  // namespace edgeloop::runtime

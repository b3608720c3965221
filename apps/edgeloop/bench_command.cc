// edgeloop bench: init time, latency percentiles, throughput, memory and a per-step profile of one
// artifact on this device (runtime/benchmark.h).
#include <algorithm>

#include "cli.h"
#include "edgeloop/runtime/benchmark.h"

namespace edgeloop::cli {
namespace {

struct BenchArgs {
  std::string path;
  runtime::BenchmarkOptions options;
  RuntimeFlags rt;
  bool json = false, no_verify = false;
};

std::string bytes_str(size_t b) {
  if (b >= (1u << 20)) return fmt::format("{:.2f} MiB", b / 1048576.0);
  if (b >= 1024) return fmt::format("{:.1f} KiB", b / 1024.0);
  return fmt::format("{} B", b);
}

// Fits text into `width` columns (counted in code points, as fmt pads): long step names keep
// their start and end ("xnnpack: /a/Conv … /z/Gemm (13 nodes)"), op lists their start.
std::vector<size_t> code_points(std::string_view s) {  // byte offset of each code point
  std::vector<size_t> at;
  for (size_t i = 0; i < s.size(); ++i)
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) at.push_back(i);
  return at;
}
size_t columns(std::string_view s) { return code_points(s).size(); }
std::string clip_middle(const std::string& s, size_t width) {
  const auto at = code_points(s);
  if (at.size() <= width || width < 3) return s;
  const size_t head = (width - 1) / 2, tail = width - 1 - head;
  return s.substr(0, at[head]) + "…" + s.substr(at[at.size() - tail]);
}
std::string clip_right(const std::string& s, size_t width) {
  const auto at = code_points(s);
  if (at.size() <= width || width < 2) return s;
  return s.substr(0, at[width - 1]) + "…";
}

// Milliseconds with about four significant digits and no exponent.
std::string ms_str(double ms) { return fmt::format("{:.{}f}", ms, ms < 1 ? 4 : ms < 10 ? 3 : ms < 100 ? 2 : 1); }

Json bench_json(const runtime::BenchmarkResult& r) {
  const auto& l = r.latency;
  Json j{{"model", r.model},
         {"variant", r.variant},
         {"file_bytes", r.file_bytes},
         {"threads", r.threads},
         {"backends", r.backends},
         {"init_ms", {{"load_verify", r.load_verify_ms}, {"prepare", r.prepare_ms}, {"total", r.init_ms}}},
         {"latency_ms", {{"min", l.min}, {"p50", l.p50}, {"p95", l.p95}, {"p99", l.p99}, {"mean", l.mean}}},
         {"runs", r.runs},
         {"warmup", r.warmup},
         {"throughput_per_s", r.throughput_per_s},
         {"arena_bytes", r.arena_bytes},
         {"peak_rss_bytes", r.peak_rss_bytes},
         {"inputs", r.inputs},
         {"golden", runtime::golden_check_name(r.golden)}};
  if (!r.golden_message.empty()) j["golden_message"] = r.golden_message;
  j["profile"] = Json::array();
  for (const auto& s : r.profile)
    j["profile"].push_back({{"step", s.step}, {"backend", s.backend}, {"op", s.op}, {"mean_us", s.mean_us}, {"share", s.share}});
  return j;
}

void print_human(const std::string& path, const runtime::BenchmarkResult& r) {
  const auto& l = r.latency;
  fmt::print("{}: {}{}, {}\n", path, r.model, r.variant.empty() ? "" : " (" + r.variant + ")", bytes_str(r.file_bytes));
  fmt::print("  backends    {}; {} thread{}\n", fmt::join(r.backends, ", "), r.threads, r.threads == 1 ? "" : "s");
  switch (r.golden) {
    case runtime::GoldenCheck::kMatch: fmt::print("  golden      output matches the golden vector; timed on its inputs\n"); break;
    case runtime::GoldenCheck::kNone: fmt::print("  golden      none in the artifact; timed on deterministic random inputs\n"); break;
    case runtime::GoldenCheck::kMismatch: fmt::print("  golden      MISMATCH, timed anyway (--no-verify): {}\n", r.golden_message); break;
  }
  fmt::print("  init        {} ms = load+verify {} + prepare {}\n", ms_str(r.init_ms), ms_str(r.load_verify_ms),
             ms_str(r.prepare_ms));
  fmt::print("  latency ms  min {}  p50 {}  p95 {}  p99 {}  mean {}  ({} runs after {} warm-up)\n", ms_str(l.min),
             ms_str(l.p50), ms_str(l.p95), ms_str(l.p99), ms_str(l.mean), r.runs, r.warmup);
  fmt::print("  throughput  {:.1f} inferences/s\n", r.throughput_per_s);
  fmt::print("  memory      arena {}, peak RSS {}\n", bytes_str(r.arena_bytes), bytes_str(r.peak_rss_bytes));
  if (r.profile.empty()) return;
  size_t name_w = 4, op_w = 2, backend_w = 7;
  for (const auto& s : r.profile) {
    name_w = std::max(name_w, columns(s.step));
    op_w = std::max(op_w, columns(s.op));
    backend_w = std::max(backend_w, columns(s.backend));
  }
  name_w = std::min<size_t>(name_w, 60);
  op_w = std::min<size_t>(op_w, 32);
  fmt::print("\n  time per step, mean over {} runs, largest first\n", r.runs);
  fmt::print("  {:<{}}  {:<{}}  {:<{}}  {:>10}  {:>6}  {:>6}\n", "step", name_w, "backend", backend_w, "op", op_w, "mean µs",
             "share", "cum.");
  double cumulative = 0;
  for (const auto& s : r.profile) {
    cumulative += s.share;
    fmt::print("  {:<{}}  {:<{}}  {:<{}}  {:>10.2f}  {:>5.1f}%  {:>5.1f}%\n", clip_middle(s.step, name_w), name_w, s.backend,
               backend_w, clip_right(s.op, op_w), op_w, s.mean_us, 100 * s.share, 100 * cumulative);
  }
}

void run_bench(BenchArgs& a) {
  a.options.load = a.rt.load();
  a.options.verify = !a.no_verify;
  a.options.progress = [](int64_t done, int64_t total) { progress("benchmarking", done, total); };
  auto r = unwrap(runtime::benchmark(a.path, a.options));
  if (a.json) print_json(bench_json(r));
  else print_human(a.path, r);
}

}  // namespace

void add_bench_command(CLI::App& app) {
  auto a = std::make_shared<BenchArgs>();
  auto* b = app.add_subcommand("bench",
                               "Time a model on this device: init, latency percentiles, throughput, memory, per-step profile");
  b->add_option("model", a->path, ".edge file")->required();
  b->add_option("--runs", a->options.runs, "timed inferences; latency percentiles are over these")
      ->check(CLI::Range(1, 100'000'000))
      ->capture_default_str();
  b->add_option("--warmup", a->options.warmup, "untimed inferences before the timed ones (caches, page faults, clocks)")
      ->check(CLI::Range(0, 100'000'000))
      ->capture_default_str();
  add_runtime_flags(b, a->rt);  // --backends, --threads: as every command that runs a model
  b->add_flag("--profile", a->options.profile,
              "also time every step (a reference-kernel node or a backend partition), aggregated over the timed runs");
  b->add_flag("--no-verify", a->no_verify,
              "time the model even if its output does not match the artifact's golden vector (reported as a mismatch)");
  b->add_flag("--json", a->json, "print one JSON object (schema in docs/benchmarks.md)");
  b->footer(
      "Inputs are the artifact's golden vector inputs (checked against its outputs once before timing; a mismatch is "
      "an error unless --no-verify), or deterministic random data when it has none. Progress goes to stderr on a "
      "terminal.");
  b->callback([a] { run_bench(*a); });
}

}  // namespace edgeloop::cli

#include "edgeloop/runtime/benchmark.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <numeric>
#include <random>
#include <string>

#include "edgeloop/model/artifact.h"
#include "edgeloop/model/onnx_import.h"
#include "edgeloop/runtime/golden.h"
#include "testing/graphs.h"

namespace edgeloop::runtime {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("edgeloop_benchmark_test_" + std::to_string(::getpid()));
  TempDir() { fs::create_directories(path); }
  ~TempDir() { fs::remove_all(path); }
};

std::vector<double> shuffled_one_to(int n) {
  std::vector<double> v(n);
  std::iota(v.begin(), v.end(), 1.0);
  std::shuffle(v.begin(), v.end(), std::mt19937(7));
  return v;
}

TEST(Benchmark, PercentilesAreNearestRankOnKnownSamples) {
  // 1..100: the p-th percentile by nearest rank is p itself.
  LatencyStats s = latency_stats(shuffled_one_to(100));
  EXPECT_EQ(s.min, 1);
  EXPECT_EQ(s.p50, 50);
  EXPECT_EQ(s.p95, 95);
  EXPECT_EQ(s.p99, 99);
  EXPECT_DOUBLE_EQ(s.mean, 50.5);

  // 1..10: ranks ceil(5) = 5, ceil(9.5) = 10, ceil(9.9) = 10.
  s = latency_stats(shuffled_one_to(10));
  EXPECT_EQ(s.min, 1);
  EXPECT_EQ(s.p50, 5);
  EXPECT_EQ(s.p95, 10);
  EXPECT_EQ(s.p99, 10);
  EXPECT_DOUBLE_EQ(s.mean, 5.5);

  // One sample is every statistic; one outlier moves the mean and p99 of 100 samples, not p50.
  s = latency_stats({3.25});
  EXPECT_EQ(s.min, 3.25);
  EXPECT_EQ(s.p50, 3.25);
  EXPECT_EQ(s.p99, 3.25);
  EXPECT_EQ(s.mean, 3.25);
  std::vector<double> spiky(100, 1.0);
  spiky[42] = 101.0;
  s = latency_stats(spiky);
  EXPECT_EQ(s.p50, 1.0);
  EXPECT_EQ(s.p99, 1.0);
  EXPECT_DOUBLE_EQ(s.mean, 2.0);
}

TEST(Benchmark, ProfileIsSortedWithMeansPerRunAndSharesSummingToOne) {
  std::vector<StepInfo> steps{{"a", "reference", "Conv"}, {"b", "reference", "Relu"}, {"c", "xnnpack", "Conv+Relu"}};
  auto p = aggregate_profile(steps, {300, 100, 600}, 10);
  ASSERT_EQ(p.size(), 3u);
  EXPECT_EQ(p[0].step, "c");
  EXPECT_EQ(p[0].backend, "xnnpack");
  EXPECT_EQ(p[1].step, "a");
  EXPECT_EQ(p[2].step, "b");
  EXPECT_DOUBLE_EQ(p[0].mean_us, 60);
  EXPECT_DOUBLE_EQ(p[2].mean_us, 10);
  EXPECT_DOUBLE_EQ(p[0].share, 0.6);
  double sum = 0;
  for (const auto& s : p) sum += s.share;
  EXPECT_NEAR(sum, 1.0, 1e-12);
  // Nothing measured: shares are 0, not NaN.
  for (const auto& s : aggregate_profile(steps, {0, 0, 0}, 10)) EXPECT_EQ(s.share, 0);
}

TEST(Benchmark, FashionCnnGivesSanePositiveNumbersAndAGoldenMatch) {
  TempDir dir;
  auto g = model::import_onnx(fs::path(EDGELOOP_SOURCE_DIR) / "examples/fashion_mnist/fashion_cnn.onnx");
  ASSERT_TRUE(g) << g.error().message;
  ASSERT_TRUE(attach_golden(*g));
  const fs::path path = dir.path / "cnn.edge";
  ASSERT_TRUE(model::write_artifact(*g, path));

  BenchmarkOptions o;
  o.runs = 5;
  o.warmup = 1;
  o.profile = true;
  int64_t calls = 0, last_total = 0;
  o.progress = [&](int64_t, int64_t total) {
    ++calls;
    last_total = total;
  };
  auto r = benchmark(path, o);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->golden, GoldenCheck::kMatch);
  EXPECT_EQ(r->inputs, "golden");
  EXPECT_EQ(r->file_bytes, fs::file_size(path));
  EXPECT_EQ(r->runs, 5);
  EXPECT_EQ(r->warmup, 1);
  EXPECT_EQ(calls, 6);
  EXPECT_EQ(last_total, 6);
  EXPECT_GT(r->load_verify_ms, 0);
  EXPECT_GT(r->prepare_ms, 0);
  EXPECT_NEAR(r->init_ms, r->load_verify_ms + r->prepare_ms, 1e-9);
  const auto& l = r->latency;
  EXPECT_GT(l.min, 0);
  EXPECT_LE(l.min, l.p50);
  EXPECT_LE(l.p50, l.p95);
  EXPECT_LE(l.p95, l.p99);
  EXPECT_LE(l.min, l.mean);
  EXPECT_NEAR(r->throughput_per_s, 1000 / l.mean, 1e-9);
  EXPECT_GT(r->arena_bytes, 0u);
  EXPECT_GT(r->peak_rss_bytes, r->arena_bytes);
  ASSERT_FALSE(r->backends.empty());

  // One profile row per node (the profile splits partitions per node), every step's backend
  // listed, shares summing to 1.
  auto program = Program::load(path, o.load);
  ASSERT_TRUE(program) << program.error().message;
  EXPECT_EQ(r->profile.size(), program->graph().nodes.size());
  EXPECT_EQ(r->backends, program->backends_used());
  double share = 0;
  for (const auto& s : r->profile) {
    share += s.share;
    EXPECT_GE(s.mean_us, 0);
    EXPECT_NE(std::find(r->backends.begin(), r->backends.end(), s.backend), r->backends.end()) << s.backend;
    EXPECT_FALSE(s.step.empty());
    EXPECT_FALSE(s.op.empty());
  }
  EXPECT_NEAR(share, 1.0, 1e-9);
  EXPECT_TRUE(std::is_sorted(r->profile.begin(), r->profile.end(), [](auto& a, auto& b) { return a.mean_us > b.mean_us; }));
}

TEST(Benchmark, LoadOptionsChooseTheBackendsAndThreadsThatAreReported) {
  TempDir dir;
  auto g = model::import_onnx(fs::path(EDGELOOP_SOURCE_DIR) / "examples/fashion_mnist/fashion_cnn.onnx");
  ASSERT_TRUE(g) << g.error().message;
  ASSERT_TRUE(attach_golden(*g));
  const fs::path path = dir.path / "cnn.edge";
  ASSERT_TRUE(model::write_artifact(*g, path));

  // Reference kernels only: one step per node, each named after its node with its op.
  BenchmarkOptions o;
  o.runs = 2;
  o.warmup = 0;
  o.profile = true;
  o.load = LoadOptions::reference();
  auto r = benchmark(path, o);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->backends, std::vector<std::string>{"reference"});
  EXPECT_EQ(r->threads, 1);
  ASSERT_EQ(r->profile.size(), g->nodes.size());
  for (const auto& s : r->profile) {
    auto node = std::find_if(g->nodes.begin(), g->nodes.end(), [&](const model::Node& n) { return n.name == s.step; });
    ASSERT_NE(node, g->nodes.end()) << s.step;
    EXPECT_EQ(s.op, model::op_name(node->op));
    EXPECT_EQ(s.backend, "reference");
  }

  // Two threads: the program's pool has them, and the output still matches the golden vector.
  o.load.threads = 2;
  o.load.backends = {};
  r = benchmark(path, o);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->threads, 2);
  EXPECT_EQ(r->golden, GoldenCheck::kMatch);
}

TEST(Benchmark, WithoutAGoldenVectorInputsAreRandomAndNoProfileIsTaken) {
  TempDir dir;
  const fs::path path = dir.path / "mlp.edge";
  ASSERT_TRUE(model::write_artifact(testing::tiny_mlp(), path));
  BenchmarkOptions o;
  o.runs = 3;
  o.warmup = 0;
  auto r = benchmark(path, o);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->golden, GoldenCheck::kNone);
  EXPECT_EQ(golden_check_name(r->golden), "none");
  EXPECT_EQ(r->inputs, "random");
  EXPECT_TRUE(r->profile.empty());
  EXPECT_GT(r->latency.p50, 0);
}

TEST(Benchmark, AGoldenMismatchIsAnErrorUnlessVerifyIsOff) {
  TempDir dir;
  model::Graph g = testing::tiny_mlp();
  ASSERT_TRUE(attach_golden(g));
  std::vector<float> w(g.tensors[1].values<float>().begin(), g.tensors[1].values<float>().end());
  for (float& v : w) v += 0.5f;
  g.tensors[1] = testing::constant_f32("w", {4, 3}, w);
  const fs::path path = dir.path / "tampered.edge";
  ASSERT_TRUE(model::write_artifact(g, path));

  BenchmarkOptions o;
  o.runs = 2;
  auto refused = benchmark(path, o);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("golden"), std::string::npos) << refused.error().message;
  EXPECT_NE(refused.error().message.find("--no-verify"), std::string::npos) << refused.error().message;

  o.verify = false;
  auto timed = benchmark(path, o);
  ASSERT_TRUE(timed) << timed.error().message;
  EXPECT_EQ(timed->golden, GoldenCheck::kMismatch);
  EXPECT_FALSE(timed->golden_message.empty());
  EXPECT_GT(timed->latency.p50, 0);
}

TEST(Benchmark, BadOptionsAndFilesAreRefusedWithWhatIsWrong) {
  TempDir dir;
  const fs::path path = dir.path / "mlp.edge";
  ASSERT_TRUE(model::write_artifact(testing::tiny_mlp(), path));
  auto expect_error = [&](BenchmarkOptions o, const std::string& words, const fs::path& file) {
    auto r = benchmark(file, o);
    ASSERT_FALSE(r) << "expected an error mentioning '" << words << "'";
    EXPECT_NE(r.error().message.find(words), std::string::npos) << r.error().message;
  };
  BenchmarkOptions o;
  o.runs = 0;
  expect_error(o, "runs must be at least 1", path);
  o = {};
  o.load.threads = 0;
  expect_error(o, "threads must be at least 1", path);
  o = {};
  o.warmup = -1;
  expect_error(o, "warmup", path);
  o = {};
  o.load.backends = {"no-such-backend"};
  expect_error(o, "no-such-backend", path);
  expect_error({}, "missing.edge", dir.path / "missing.edge");
}

}  // namespace
}  // namespace edgeloop::runtime

#include "edgeloop/compress/calibration.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <random>

#include <unistd.h>

#include "edgeloop/base/file.h"
#include "edgeloop/compress/dataset.h"
#include "edgeloop/compress/evaluate.h"
#include "edgeloop/model/npy.h"
#include "edgeloop/model/onnx_import.h"
#include "testing/graphs.h"

namespace edgeloop::compress {
namespace {

namespace fs = std::filesystem;

TensorStats stats_of(const std::vector<float>& values) {
  TensorStats s;
  s.name = "t";
  s.add(values);
  return s;
}

double share_inside(const std::vector<float>& values, Range r) {
  auto n = std::count_if(values.begin(), values.end(), [&](float v) { return v >= r.lo && v <= r.hi; });
  return static_cast<double>(n) / static_cast<double>(values.size());
}

// 1M draws of N(0, 1) plus two outliers at ±100.
std::vector<float> gaussian_with_outliers() {
  std::mt19937_64 rng(7);
  std::normal_distribution<float> normal(0.f, 1.f);
  std::vector<float> v(1'000'000);
  for (float& x : v) x = normal(rng);
  v.push_back(100.f);
  v.push_back(-100.f);
  return v;
}

std::vector<float> uniform_pm1(size_t n) {
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng);
  return v;
}

TEST(Calibration, StatisticsOfTheTinyGraphMatchHandComputedValues) {
  const model::Graph g = testing::tiny_mlp();
  auto program = runtime::Program::from_graph(g);
  ASSERT_TRUE(program) << program.error().message;
  const std::vector<std::vector<float>> xs = {{1, 2, 3, 4}, {-1, 0.5f, 2, -3}, {0, -4, 1, 0}};
  std::vector<Sample> samples;
  for (const auto& x : xs) samples.push_back({testing::tensor_f32("x", {1, 4}, x)});
  auto source = CalibrationSource::from_samples(samples, g);
  ASSERT_TRUE(source) << source.error().message;

  // h = x·W, hb = h + b, y = relu(hb), by hand.
  const float w[4][3] = {{1, 0, -1}, {2, 1, 0}, {0, 3, 1}, {-1, 0, 2}};
  const float b[3] = {0.5f, -0.5f, 0.25f};
  std::vector<float> all_x, all_h, all_hb, all_y;
  for (const auto& x : xs) {
    all_x.insert(all_x.end(), x.begin(), x.end());
    for (int j = 0; j < 3; ++j) {
      float h = 0;
      for (int i = 0; i < 4; ++i) h += x[i] * w[i][j];
      all_h.push_back(h);
      all_hb.push_back(h + b[j]);
      all_y.push_back(std::max(h + b[j], 0.f));
    }
  }
  std::vector<std::pair<int64_t, int64_t>> progress;
  auto stats = collect_statistics(*program, *source, [&](int64_t d, int64_t t) { progress.emplace_back(d, t); });
  ASSERT_TRUE(stats) << stats.error().message;
  EXPECT_EQ(stats->samples, 3);
  EXPECT_EQ(progress, (std::vector<std::pair<int64_t, int64_t>>{{1, 3}, {2, 3}, {3, 3}}));
  ASSERT_EQ(stats->tensors.size(), 4u);  // x, h, hb, y: the weights w and b are not activations
  EXPECT_EQ(stats->find("w"), nullptr);
  const std::vector<std::pair<std::string, std::vector<float>*>> want = {
      {"x", &all_x}, {"h", &all_h}, {"hb", &all_hb}, {"y", &all_y}};
  for (size_t i = 0; i < want.size(); ++i) {
    const TensorStats& s = stats->tensors[i];
    const auto& v = *want[i].second;
    EXPECT_EQ(s.name, want[i].first);
    EXPECT_EQ(s.count, static_cast<int64_t>(v.size())) << s.name;
    EXPECT_FLOAT_EQ(s.min, *std::min_element(v.begin(), v.end())) << s.name;
    EXPECT_FLOAT_EQ(s.max, *std::max_element(v.begin(), v.end())) << s.name;
    EXPECT_DOUBLE_EQ(std::accumulate(s.bins.begin(), s.bins.end(), 0.0), static_cast<double>(v.size())) << s.name;
  }
}

TEST(Calibration, HistogramGrowthKeepsEveryValueInItsBin) {
  TensorStats s;
  s.add(std::vector<float>{0.5f, -0.25f});
  const double first = 0.5 * (1 + 1.0 / TensorStats::kBins);  // just above the first absmax
  EXPECT_DOUBLE_EQ(s.edge, first);
  s.add(std::vector<float>{3.9f, 0.f});  // the edge doubles three times
  EXPECT_DOUBLE_EQ(s.edge, 8 * first);
  EXPECT_EQ(s.count, 4);
  EXPECT_FLOAT_EQ(s.min, -0.25f);
  EXPECT_FLOAT_EQ(s.max, 3.9f);
  const double w = s.bin_width();
  for (float v : {0.5f, -0.25f, 3.9f, 0.f}) {
    // After merging, the bin containing v must hold at least one count.
    const auto i = static_cast<int>(std::floor((v + s.edge) / w));
    EXPECT_GE(s.bins[i], 1.0) << v;
  }
  EXPECT_DOUBLE_EQ(std::accumulate(s.bins.begin(), s.bins.end(), 0.0), 4.0);
  // Non-finite values are not counted.
  s.add(std::vector<float>{NAN, INFINITY});
  EXPECT_EQ(s.count, 4);
}

TEST(Calibration, MinMaxIsExact) {
  auto s = stats_of({-0.3f, 1.7f, 0.2f, 2.25f});
  auto r = select_range(s, RangeMethod::kMinMax);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->lo, -0.3f);
  EXPECT_EQ(r->hi, 2.25f);
  EXPECT_EQ(select_range(TensorStats{}, RangeMethod::kMinMax).error().code, ErrorCode::kFailedPrecondition);
}

TEST(Calibration, PercentileOfOneToTenThousand) {
  std::vector<float> v(10000);
  std::iota(v.begin(), v.end(), 1.f);
  auto s = stats_of(v);
  RangeOptions o;
  o.percentile = 99;
  auto r = select_range(s, RangeMethod::kPercentile, o);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_NEAR(r->hi, 9900, 20);  // bin width is 20000/2048 ≈ 9.8
  EXPECT_NEAR(r->lo, 100, 20);
  o.percentile = 100;
  r = select_range(s, RangeMethod::kPercentile, o);
  EXPECT_EQ(r->lo, 1.f);
  EXPECT_EQ(r->hi, 10000.f);
  o.percentile = 30;
  EXPECT_EQ(select_range(s, RangeMethod::kPercentile, o).error().code, ErrorCode::kInvalidArgument);
}

TEST(Calibration, MseAndEntropyClipOutliersButKeepTheMass) {
  const auto v = gaussian_with_outliers();
  auto s = stats_of(v);
  for (RangeMethod m : {RangeMethod::kMse, RangeMethod::kEntropy}) {
    auto r = select_range(s, m);
    ASSERT_TRUE(r) << r.error().message;
    SCOPED_TRACE(std::string(range_method_name(m)));
    EXPECT_LT(r->hi, 0.5f * s.max);
    EXPECT_GT(r->lo, 0.5f * s.min);
    EXPECT_GT(r->hi, 4.f);  // beyond 4σ: all but ~6e-5 of a Gaussian
    EXPECT_LT(r->lo, -4.f);
    EXPECT_GE(share_inside(v, *r), 0.9999);
  }
}

TEST(Calibration, MseAndEntropyLeaveAUniformDistributionNearlyUnclipped) {
  const auto v = uniform_pm1(200'000);
  auto s = stats_of(v);
  for (RangeMethod m : {RangeMethod::kMse, RangeMethod::kEntropy}) {
    auto r = select_range(s, m);
    ASSERT_TRUE(r) << r.error().message;
    SCOPED_TRACE(std::string(range_method_name(m)));
    EXPECT_GE(r->hi, 0.97f * s.max);
    EXPECT_LE(r->lo, 0.97f * s.min);
  }
}

TEST(Calibration, RangeMethodNamesRoundTrip) {
  for (RangeMethod m : {RangeMethod::kMinMax, RangeMethod::kPercentile, RangeMethod::kMse, RangeMethod::kEntropy})
    EXPECT_EQ(parse_range_method(range_method_name(m)), m);
  EXPECT_FALSE(parse_range_method("kl"));
}

TEST(Calibration, AffineParamsFollowTheDocumentedFormulas) {
  // [-1, 3] → scale 4/255, zero point round(1 / (4/255)) = round(63.75) = 64.
  auto u8 = affine_params({-1.f, 3.f}, false);
  EXPECT_FLOAT_EQ(u8.scale, 4.f / 255.f);
  EXPECT_EQ(u8.zero_point, 64);
  EXPECT_EQ(quantize(0.f, u8), 64);
  EXPECT_EQ(dequantize(quantize(0.f, u8), u8), 0.f);  // 0 is exact
  EXPECT_EQ(quantize(-1.f, u8), 0);
  EXPECT_EQ(quantize(3.f, u8), 255);
  EXPECT_EQ(quantize(100.f, u8), 255);  // saturates
  auto s8 = affine_params({-1.f, 3.f}, true);
  EXPECT_EQ(s8.zero_point, -64);
  EXPECT_EQ(s8.qmin, -128);
  EXPECT_EQ(quantize(-1.f, s8), -128);
  // The range is widened to include 0.
  auto pos = affine_params({2.f, 5.f}, false);
  EXPECT_FLOAT_EQ(pos.scale, 5.f / 255.f);
  EXPECT_EQ(pos.zero_point, 0);
  auto neg = affine_params({-4.f, -1.f}, false);
  EXPECT_FLOAT_EQ(neg.scale, 4.f / 255.f);
  EXPECT_EQ(neg.zero_point, 255);
  // Ties round half to even: lo/scale = -2.5 gives zero point 2, not 3.
  auto tie = affine_params({-2.5f, 252.5f}, false);
  EXPECT_FLOAT_EQ(tie.scale, 1.f);
  EXPECT_EQ(tie.zero_point, 2);
  EXPECT_EQ(quantize(0.5f, tie), 2);  // round(0.5) = 0
  EXPECT_EQ(quantize(1.5f, tie), 4);  // round(1.5) = 2
  EXPECT_EQ(quantize(2.5f, tie), 4);  // round(2.5) = 2
  // An empty range still gives a usable scale.
  auto empty = affine_params({0.f, 0.f}, false);
  EXPECT_EQ(empty.scale, 1.f);
  EXPECT_EQ(empty.zero_point, 0);
}

TEST(Calibration, BadSpecsAreRefusedWithWhatWasExpected) {
  const model::Graph g = testing::tiny_mlp();
  for (const char* spec : {"bogus", "random", "random:0", "random:-3", "random:abc", "random:4:2", "fashion-mnist",
                           "fashion-mnist:valid", "fashion-mnist:test:0", ""}) {
    auto s = CalibrationSource::parse(spec, g);
    ASSERT_FALSE(s) << spec;
    EXPECT_EQ(s.error().code, ErrorCode::kInvalidArgument) << spec;
  }
  EXPECT_NE(CalibrationSource::parse("bogus", g).error().message.find("random:N"), std::string::npos);
  auto npz = CalibrationSource::parse("no_such_calib.npz", g);  // read as an .npz, not an unknown spec
  ASSERT_FALSE(npz);
  EXPECT_EQ(npz.error().code, ErrorCode::kIo);
  EXPECT_NE(npz.error().message.find("calibration data 'no_such_calib.npz'"), std::string::npos) << npz.error().message;

  // random:N needs f32 inputs.
  model::Graph ints = g;
  ints.tensors[ints.inputs[0]].dtype = model::DType::kI64;
  auto r = CalibrationSource::parse("random:2", ints);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("f32"), std::string::npos);

  // Explicit samples: empty, wrong shape, wrong dtype.
  EXPECT_FALSE(CalibrationSource::from_samples({}, g));
  auto wrong = CalibrationSource::from_samples({{testing::tensor_f32("x", {1, 3}, {1, 2, 3})}}, g);
  ASSERT_FALSE(wrong);
  EXPECT_NE(wrong.error().message.find("[1,4]"), std::string::npos) << wrong.error().message;
  auto i64 = model::TensorData::zeros("x", model::DType::kI64, {1, 4});
  EXPECT_FALSE(CalibrationSource::from_samples({{i64}}, g));
}

TEST(Calibration, NpyFolderFeedsOneSamplePerFileInNameOrder) {
  const model::Graph g = testing::tiny_mlp();
  const fs::path dir = fs::temp_directory_path() / fmt::format("edgeloop_calib_{}", ::getpid());
  fs::remove_all(dir);
  fs::create_directories(dir);
  auto empty = CalibrationSource::parse(dir.string(), g);
  ASSERT_FALSE(empty);
  EXPECT_NE(empty.error().message.find("no .npy"), std::string::npos);

  ASSERT_TRUE(model::write_npy(testing::tensor_f32("", {1, 4}, {5, 6, 7, 8}), dir / "b.npy"));
  ASSERT_TRUE(model::write_npy(testing::tensor_f32("", {1, 4}, {1, 2, 3, 4}), dir / "a.npy"));
  auto src = CalibrationSource::parse(dir.string(), g);
  ASSERT_TRUE(src) << src.error().message;
  EXPECT_EQ(src->size(), 2);
  auto first = src->sample(0);
  ASSERT_TRUE(first);
  EXPECT_EQ((*first)[0].values<float>()[0], 1.f);  // a.npy
  EXPECT_EQ((*first)[0].name, "x");
  EXPECT_FALSE(src->sample(2));

  // A file of the wrong shape: refused, naming the file and the expected shape.
  ASSERT_TRUE(model::write_npy(testing::tensor_f32("", {4}, {1, 2, 3, 4}), dir / "c.npy"));
  src = CalibrationSource::parse(dir.string(), g);
  ASSERT_TRUE(src);  // the first file is fine
  auto program = runtime::Program::from_graph(g);
  ASSERT_TRUE(program);
  auto stats = collect_statistics(*program, *src);
  ASSERT_FALSE(stats);
  EXPECT_EQ(stats.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(stats.error().message.find("[1,4]"), std::string::npos) << stats.error().message;
  fs::remove_all(dir);
}

std::string npz_fixture(const char* name) { return (fs::path(EDGELOOP_SOURCE_DIR) / "tests/data" / name).string(); }

TEST(Calibration, NpzFeedsTheStackedSamplesOfTheInputsArray) {
  const model::Graph g = testing::tiny_mlp();
  auto program = runtime::Program::from_graph(g);
  ASSERT_TRUE(program);
  // The same three samples as x [3, 1, 4] (stored) and, since x is [1, 4], as x [3, 4] (deflated).
  std::vector<Sample> samples;
  for (int i = 0; i < 3; ++i)
    samples.push_back({testing::tensor_f32("x", {1, 4}, {2.f * i - 2, 2.f * i - 1.5f, 2.f * i - 1, 2.f * i - 0.5f})});
  auto reference = CalibrationSource::from_samples(samples, g);
  ASSERT_TRUE(reference) << reference.error().message;
  auto want = collect_statistics(*program, *reference);
  ASSERT_TRUE(want) << want.error().message;
  for (const char* file : {"calib_x_stored.npz", "calib_x_compressed.npz"}) {
    SCOPED_TRACE(file);
    auto src = CalibrationSource::parse(npz_fixture(file), g);
    ASSERT_TRUE(src) << src.error().message;
    EXPECT_EQ(src->size(), 3);
    EXPECT_EQ(src->description(), npz_fixture(file));
    for (int64_t i = 0; i < 3; ++i) {
      auto s = src->sample(i);
      ASSERT_TRUE(s) << s.error().message;
      ASSERT_EQ(s->size(), 1u);
      EXPECT_EQ((*s)[0].name, "x");
      EXPECT_EQ((*s)[0].shape, (model::Shape{1, 4}));
      EXPECT_EQ((*s)[0].bytes, samples[i][0].bytes) << "sample " << i;
    }
    EXPECT_EQ(src->sample(3).error().code, ErrorCode::kOutOfRange);
    auto stats = collect_statistics(*program, *src);
    ASSERT_TRUE(stats) << stats.error().message;
    ASSERT_EQ(stats->tensors.size(), want->tensors.size());
    for (size_t k = 0; k < want->tensors.size(); ++k) {
      EXPECT_EQ(stats->tensors[k].min, want->tensors[k].min);
      EXPECT_EQ(stats->tensors[k].max, want->tensors[k].max);
      EXPECT_EQ(stats->tensors[k].bins, want->tensors[k].bins);
    }
  }
  // A one-input model takes the archive's only array whatever its name.
  model::Graph renamed = g;
  renamed.tensors[renamed.inputs[0]].name = "image";
  auto only = CalibrationSource::parse(npz_fixture("calib_x_stored.npz"), renamed);
  ASSERT_TRUE(only) << only.error().message;
  EXPECT_EQ((*only->sample(2))[0].name, "image");
  EXPECT_EQ((*only->sample(2))[0].bytes, samples[2][0].bytes);
}

// in0, in1: f32 [1, 3] → Add.
model::Graph two_input_graph() {
  model::Graph g = testing::one_node_graph(model::OpType::kAdd, {{model::DType::kF32, {1, 3}}, {model::DType::kF32, {1, 3}}}, {});
  g.inputs = g.nodes[0].inputs;
  return g;
}

TEST(Calibration, NpzFeedsEachInputTheArrayOfItsName) {
  const model::Graph g = two_input_graph();
  auto src = CalibrationSource::parse(npz_fixture("calib_two_inputs.npz"), g);  // in0 [2, 1, 3], in1 [2, 3]
  ASSERT_TRUE(src) << src.error().message;
  EXPECT_EQ(src->size(), 2);
  auto s = src->sample(1);
  ASSERT_TRUE(s) << s.error().message;
  ASSERT_EQ(s->size(), 2u);
  EXPECT_EQ((*s)[0].name, "in0");
  EXPECT_EQ((*s)[1].name, "in1");
  EXPECT_EQ((*s)[0].shape, (model::Shape{1, 3}));
  EXPECT_EQ((*s)[1].shape, (model::Shape{1, 3}));
  const auto in0 = (*s)[0].values<float>(), in1 = (*s)[1].values<float>();
  EXPECT_EQ(std::vector<float>(in0.begin(), in0.end()), (std::vector<float>{1.25f, 1.5f, 1.75f}));
  EXPECT_EQ(std::vector<float>(in1.begin(), in1.end()), (std::vector<float>{-1.25f, -1.5f, -1.75f}));

  // The inputs in the other order still get the arrays of their names.
  model::Graph swapped = g;
  std::swap(swapped.inputs[0], swapped.inputs[1]);
  auto src2 = CalibrationSource::parse(npz_fixture("calib_two_inputs.npz"), swapped);
  ASSERT_TRUE(src2) << src2.error().message;
  EXPECT_EQ((*src2->sample(0))[0].name, "in1");
  EXPECT_EQ((*src2->sample(0))[0].values<float>()[0], -0.25f);
}

TEST(Calibration, NpzThatDoesNotFitTheModelIsRefusedWithWhatWasExpected) {
  const model::Graph tiny = testing::tiny_mlp();
  auto refused = [](const char* file, const model::Graph& g, const std::string& text) {
    auto r = CalibrationSource::parse(npz_fixture(file), g);
    ASSERT_FALSE(r) << file;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument) << r.error().message;
    EXPECT_NE(r.error().message.find(text), std::string::npos) << r.error().message;
    EXPECT_NE(r.error().message.find(file), std::string::npos) << r.error().message;
  };
  // No array named after the input, and more than one to choose from.
  refused("calib_two_inputs.npz", tiny, "no array 'x' for input 'x' (the archive holds 'in0', 'in1')");
  model::Graph renamed = two_input_graph();
  renamed.tensors[renamed.inputs[1]].name = "mask";
  refused("calib_two_inputs.npz", renamed, "no array 'mask' for input 'mask'");
  // Wrong dtype, wrong shape.
  model::Graph ints = tiny;
  ints.tensors[ints.inputs[0]].dtype = model::DType::kI64;
  refused("calib_x_stored.npz", ints, "array 'x' for input 'x' must be i64, got f32");
  model::Graph wide = tiny;
  wide.tensors[wide.inputs[0]].shape = {1, 5};
  refused("calib_x_stored.npz", wide, "array 'x' for input 'x' [1,5] must be [N,1,5] or [N,5] (N samples), got [3,1,4]");
  model::Graph batch2 = tiny;
  batch2.tensors[batch2.inputs[0]].shape = {2, 4};
  refused("calib_x_compressed.npz", batch2, "must be [N,2,4] (N samples), got [3,4]");
  // Inputs with different sample counts; no samples at all.
  refused("calib_counts_differ.npz", two_input_graph(), "array 'in1' holds 3 samples but 'in0' holds 2");
  refused("calib_empty.npz", tiny, "array 'samples' is empty (0 samples)");

  // A damaged archive: the reader's error, naming the data.
  const fs::path dir = fs::temp_directory_path() / fmt::format("edgeloop_calib_npz_{}", ::getpid());
  fs::create_directories(dir);
  auto bytes = read_file(npz_fixture("calib_x_stored.npz"));
  ASSERT_TRUE(bytes);
  (*bytes)[bytes->size() - 120] ^= std::byte{1};
  ASSERT_TRUE(write_file_durable(dir / "bad.npz", *bytes));
  auto bad = CalibrationSource::parse((dir / "bad.npz").string(), tiny);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kCorrupt);
  EXPECT_NE(bad.error().message.find("bad.npz"), std::string::npos) << bad.error().message;
  EXPECT_NE(bad.error().message.find("CRC-32"), std::string::npos) << bad.error().message;
  fs::remove_all(dir);
}

TEST(Calibration, RandomSamplesAreDeterministicAndInRange) {
  const model::Graph g = testing::tiny_mlp();
  auto a = CalibrationSource::parse("random:5", g), b = CalibrationSource::parse("random:5", g);
  ASSERT_TRUE(a) << a.error().message;
  ASSERT_TRUE(b);
  EXPECT_EQ(a->size(), 5);
  for (int64_t i = 0; i < 5; ++i) {
    auto sa = a->sample(i), sb = b->sample(i);
    ASSERT_TRUE(sa);
    ASSERT_TRUE(sb);
    EXPECT_EQ((*sa)[0].bytes, (*sb)[0].bytes);
    for (float v : (*sa)[0].values<float>()) {
      EXPECT_GE(v, -1.f);
      EXPECT_LT(v, 1.f);
    }
  }
  EXPECT_NE((*a->sample(0))[0].bytes, (*a->sample(1))[0].bytes);
  auto program = runtime::Program::from_graph(g);
  ASSERT_TRUE(program);
  auto s1 = collect_statistics(*program, *a), s2 = collect_statistics(*program, *b);
  ASSERT_TRUE(s1);
  ASSERT_TRUE(s2);
  for (size_t i = 0; i < s1->tensors.size(); ++i) {
    EXPECT_EQ(s1->tensors[i].min, s2->tensors[i].min);
    EXPECT_EQ(s1->tensors[i].max, s2->tensors[i].max);
    EXPECT_EQ(s1->tensors[i].bins, s2->tensors[i].bins);
  }
}

TEST(Calibration, FashionMnistCnnStatisticsAgreeWithEvaluation) {
  if (!fs::exists(fashion_mnist_dir())) GTEST_SKIP() << "Fashion-MNIST is not installed";
  auto g = model::import_onnx(fs::path(EDGELOOP_SOURCE_DIR) / "examples/fashion_mnist/fashion_cnn.onnx");
  ASSERT_TRUE(g) << g.error().message;
  auto program = runtime::Program::from_graph(*g, runtime::LoadOptions::reference());  // the kernels calibration runs
  ASSERT_TRUE(program) << program.error().message;
  constexpr int64_t kImages = 20;
  auto src = CalibrationSource::parse(fmt::format("fashion-mnist:test:{}", kImages), *g);
  ASSERT_TRUE(src) << src.error().message;
  EXPECT_EQ(src->size(), kImages);
  auto stats = collect_statistics(*program, *src);
  ASSERT_TRUE(stats) << stats.error().message;
  EXPECT_GT(stats->tensors.size(), 4u);
  for (const TensorStats& s : stats->tensors) {
    EXPECT_EQ(s.count, kImages * g->tensors[s.tensor].elements()) << s.name;
    EXPECT_LE(s.min, s.max) << s.name;
  }

  // The input's range, from the raw pixels and the model's preprocessing.
  auto data = load_fashion_mnist("test", kImages);
  ASSERT_TRUE(data);
  const model::Tensor& in = g->tensors[g->inputs[0]];
  float scale = 1.f / 255.f, mean = 0.f, stddev = 1.f;
  for (const model::IoSpec& io : g->meta.inputs)
    if (io.name == in.name) {
      scale = io.scale;
      if (!io.mean.empty()) mean = io.mean[0];
      if (!io.std.empty()) stddev = io.std[0];
    }
  auto [pmin, pmax] = std::minmax_element(data->pixels.begin(), data->pixels.end());
  const TensorStats* xs = stats->find(in.name);
  ASSERT_NE(xs, nullptr);
  EXPECT_FLOAT_EQ(xs->min, (static_cast<float>(*pmin) * scale - mean) / stddev);
  EXPECT_FLOAT_EQ(xs->max, (static_cast<float>(*pmax) * scale - mean) / stddev);

  // The output's range equals that of the logits the evaluator sees.
  EvalOptions opts;
  opts.keep_logits = true;
  auto report = evaluate_classifier(*program, *data, opts);
  ASSERT_TRUE(report) << report.error().message;
  const TensorStats* ys = stats->find(g->tensors[g->outputs[0]].name);
  ASSERT_NE(ys, nullptr);
  EXPECT_EQ(ys->min, *std::min_element(report->logits.begin(), report->logits.end()));
  EXPECT_EQ(ys->max, *std::max_element(report->logits.begin(), report->logits.end()));
  for (RangeMethod m : {RangeMethod::kMinMax, RangeMethod::kPercentile, RangeMethod::kMse, RangeMethod::kEntropy}) {
    for (const TensorStats& s : stats->tensors) {
      auto r = select_range(s, m);
      ASSERT_TRUE(r) << s.name;
      EXPECT_LE(r->lo, r->hi) << s.name;
      EXPECT_GE(r->lo, s.min) << s.name;
      EXPECT_LE(r->hi, s.max) << s.name;
    }
  }
}

}  // namespace
}  // namespace edgeloop::compress

// The x86 W8A8 kernels against the stated arithmetic (quant_math.h's requantize, written out here
// as a plain int64 loop) and against the reference W8A8 Gemm kernel (requantize = "fixed_point")
// run through a Session: bit for bit, for every ISA this CPU supports.
#include "runtime/x86/gemm_splits.h"
#include "edgeloop/runtime/x86/w8a8_gemm.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "edgeloop/model/dtype.h"
#include "edgeloop/runtime/program.h"
#include "edgeloop/runtime/quant_math.h"
#include "edgeloop/runtime/session.h"
#include "edgeloop/runtime/x86/cpu_features.h"
#include "testing/graphs.h"

namespace edgeloop::runtime::x86 {
namespace {

using model::DType;

// One W8A8 product: x [m][x_stride] (k used per row), w [n][k], per-channel multipliers.
struct Problem {
  int64_t m = 1, n = 1, k = 1, x_stride = 1;
  std::vector<int8_t> x;
  std::vector<int8_t> w;
  std::vector<int32_t> bias;  // empty: no bias
  // The scales the multipliers come from (for the Session test), and the multipliers.
  float x_scale = 0.05f, y_scale = 0.1f;
  std::vector<float> w_scales;
  std::vector<FixedPointMultiplier> mult;
  int32_t x_zero = 0, y_zero = 0, y_min = -128, y_max = 127;

  W8A8Quant quant() const { return {x_zero, y_zero, y_min, y_max}; }
  // The multipliers exactly as the reference's Requantizer computes them.
  void multipliers_from_scales() {
    mult.clear();
    for (float s : w_scales) {
      auto f = quantize_multiplier(double{x_scale} * double{s} / double{y_scale});
      EXPECT_TRUE(f.has_value());
      mult.push_back(f.value_or(FixedPointMultiplier{}));
    }
  }
};

// The exact accumulator of output (i, j), in int64.
int64_t accumulator(const Problem& p, int64_t i, int64_t j) {
  int64_t acc = p.bias.empty() ? 0 : p.bias[static_cast<size_t>(j)];
  for (int64_t kk = 0; kk < p.k; ++kk)
    acc += (int64_t{p.x[static_cast<size_t>(i * p.x_stride + kk)]} - p.x_zero) * p.w[static_cast<size_t>(j * p.k + kk)];
  return acc;
}

// The oracle, [m][n]: clamp(requantize(acc, M_j) + y_zero, y_min, y_max), from quant_math.h.
std::vector<int8_t> expected(const Problem& p) {
  std::vector<int8_t> y(static_cast<size_t>(p.m * p.n));
  for (int64_t i = 0; i < p.m; ++i)
    for (int64_t j = 0; j < p.n; ++j) {
      const int64_t q = requantize(accumulator(p, i, j), p.mult[static_cast<size_t>(j)]) + p.y_zero;
      y[static_cast<size_t>(i * p.n + j)] = static_cast<int8_t>(std::clamp<int64_t>(q, p.y_min, p.y_max));
    }
  return y;
}


using gemm_test::Layout;
using gemm_test::mismatch;

W8A8Weights pack(const Problem& p, Isa isa) {
  auto w = pack_w8a8(p.w, p.bias, p.mult, p.n, p.k, isa);
  EXPECT_TRUE(w.has_value()) << w.error().message;
  return std::move(*w);
}

// Runs rows [0, m) in the calls given by `splits` (row boundaries), returns y as [m][n].
std::vector<int8_t> run_kernel(const Problem& p, const W8A8Weights& w, Layout layout, std::vector<int64_t> splits = {}) {
  const W8A8Quant q = p.quant();
  return gemm_test::run_in_splits(p.m, p.n, layout, std::move(splits), [&](int64_t a, int64_t rows, int8_t* y, int64_t rs, int64_t cs) {
    w8a8_gemm(w, p.x.data() + a * p.x_stride, rows, p.x_stride, q, y, rs, cs);
  });
}

std::vector<int8_t> run_kernel(const Problem& p, Isa isa, Layout layout, std::vector<int64_t> splits = {}) {
  return run_kernel(p, pack(p, isa), layout, std::move(splits));
}

// y_scale so that the largest real output is `top` output steps: outputs spread over the int8
// range and the largest saturate.
void aim_y_scale(Problem& p, double top = 150) {
  double largest = 0;
  for (int64_t i = 0; i < p.m; ++i)
    for (int64_t j = 0; j < p.n; ++j)
      largest = std::max(largest, std::fabs(static_cast<double>(accumulator(p, i, j)) * p.x_scale *
                                            p.w_scales[static_cast<size_t>(j)]));
  p.y_scale = largest > 0 ? static_cast<float>(largest / top) : 1.f;
  p.multipliers_from_scales();
}

// Random data over the whole int8 range, per-channel scales, int32 bias of the size a real
// toolchain gives (bias_f / (x_scale · w_scale)).
Problem random_problem(int64_t m, int64_t n, int64_t k, uint32_t seed, int64_t x_pad = 0) {
  std::mt19937 rng(seed);
  Problem p;
  p.m = m;
  p.n = n;
  p.k = k;
  p.x_stride = k + x_pad;
  std::uniform_int_distribution<int> i8(-128, 127);
  p.x.resize(static_cast<size_t>(m * p.x_stride));
  for (int8_t& v : p.x) v = static_cast<int8_t>(i8(rng));
  p.w.resize(static_cast<size_t>(n * k));
  for (int8_t& v : p.w) v = static_cast<int8_t>(i8(rng));
  p.w_scales.resize(static_cast<size_t>(n));
  for (float& s : p.w_scales) s = std::uniform_real_distribution<float>(0.002f, 0.08f)(rng);
  p.bias.resize(static_cast<size_t>(n));
  const int bias_range = static_cast<int>(std::min<int64_t>(2000 * k, 1 << 24));
  for (int32_t& b : p.bias) b = std::uniform_int_distribution<int>(-bias_range, bias_range)(rng);
  p.x_zero = i8(rng);
  p.y_zero = i8(rng) / 4;
  aim_y_scale(p);
  return p;
}

// The kernels of one ISA; skipped when this CPU cannot run them.
class W8A8GemmIsa : public ::testing::TestWithParam<Isa> {
 protected:
  void SetUp() override {
    if (!isa_supported(GetParam())) GTEST_SKIP() << "this CPU cannot run the " << isa_name(GetParam()) << " kernels";
  }
  Isa isa() const { return GetParam(); }

  // Both layouts, one call each, against the oracle.
  void expect_exact(const Problem& p, const std::string& what) {
    const std::vector<int8_t> want = expected(p);
    const W8A8Weights w = pack(p, isa());
    for (Layout layout : {Layout::kRowMajor, Layout::kChannelMajor}) {
      EXPECT_EQ(mismatch(want, run_kernel(p, w, layout), p.n), "")
          << what << " m=" << p.m << " n=" << p.n << " k=" << p.k
          << (layout == Layout::kRowMajor ? " row-major" : " channel-major");
    }
  }
};

INSTANTIATE_TEST_SUITE_P(AllIsas, W8A8GemmIsa, ::testing::ValuesIn(kAllIsas),
                         [](const ::testing::TestParamInfo<Isa>& param) { return std::string(isa_name(param.param)); });

TEST_P(W8A8GemmIsa, HandComputedTiesRoundTowardPositiveInfinity) {
  // Multiplier 0.5 = {2^30, 31}: acc −3, −1, 1, 3, 5 → −1.5, −0.5, 0.5, 1.5, 2.5 → −1, 0, 1, 2, 3
  // (ties toward +∞). Channel 1: w = −2 and bias 7, multiplier 0.25: 7 − 2·acc → 13, 9, 5, 1, −3
  // times 0.25 → 3.25, 2.25, 1.25, 0.25, −0.75 → 3, 2, 1, 0, −1. y_zero 10.
  Problem p;
  p.m = 5, p.n = 2, p.k = 1, p.x_stride = 1;
  p.x = {-3, -1, 1, 3, 5};
  p.w = {1, -2};
  p.bias = {0, 7};
  p.mult = {*quantize_multiplier(0.5), *quantize_multiplier(0.25)};
  EXPECT_EQ(p.mult[0], (FixedPointMultiplier{1 << 30, 31}));
  p.y_zero = 10;
  const std::vector<int8_t> want{9, 13, 10, 12, 11, 11, 12, 10, 13, 9};
  EXPECT_EQ(expected(p), want);
  EXPECT_EQ(run_kernel(p, isa(), Layout::kRowMajor), want);
  EXPECT_EQ(run_kernel(p, isa(), Layout::kChannelMajor), want);
}

TEST_P(W8A8GemmIsa, ShapesAtTileAndVectorEdges) {
  struct Shape {
    int64_t m, n, k;
  };
  const Shape shapes[] = {
      {1, 1, 1},      {1, 1, 2},     {1, 1, 3},    {2, 3, 5},      // K below a quad or pair
      {1, 17, 50},    {7, 33, 63},   {9, 47, 65},  {8, 15, 127},   // K, N off the vector width
      {12, 48, 130},  {5, 16, 31},   {4, 31, 4},   {3, 1, 129},    // M off the row tile
      {8, 32, 64},    {16, 64, 256}, {13, 96, 96},                 // exact tiles
      {17, 24, 144},  {11, 144, 24}, {1, 1000, 1280}, {9, 100, 1280},  // MobileNetV2 shapes
      {3, 5, 700},                                                  // scratch on the heap
  };
  for (const Shape& s : shapes)
    for (uint32_t seed = 1; seed <= 2; ++seed)
      expect_exact(random_problem(s.m, s.n, s.k, seed * 1000 + static_cast<uint32_t>(s.k), seed == 2 ? 5 : 0),
                   "seed " + std::to_string(seed));
}

TEST_P(W8A8GemmIsa, RandomShapesAndData) {
  std::mt19937 rng(77);
  for (uint32_t seed = 0; seed < 40; ++seed) {
    const int64_t k = std::uniform_int_distribution<int64_t>(1, 300)(rng);
    const int64_t m = std::uniform_int_distribution<int64_t>(1, 20)(rng);
    const int64_t n = std::uniform_int_distribution<int64_t>(1, 70)(rng);
    expect_exact(random_problem(m, n, k, seed, seed % 3), "seed " + std::to_string(seed));
  }
}

TEST_P(W8A8GemmIsa, ZeroPointsAtTheExtremesAndExtremeWeights) {
  for (int32_t x_zero : {-128, 127})
    for (uint32_t seed = 0; seed < 4; ++seed) {
      Problem p = random_problem(10, 40, 100, 500 + seed);
      p.x_zero = x_zero;
      std::mt19937 rng(seed);
      for (int8_t& v : p.x) v = (rng() % 2) != 0 ? int8_t{-128} : int8_t{127};  // |x − x_zero| up to 255
      for (int8_t& v : p.w) v = (rng() % 2) != 0 ? int8_t{-128} : int8_t{127};
      if (seed == 3) p.w.assign(p.w.size(), int8_t{-128});  // Σw as negative as it gets
      aim_y_scale(p);
      expect_exact(p, "x_zero " + std::to_string(x_zero) + " seed " + std::to_string(seed));
    }
}

TEST_P(W8A8GemmIsa, AccumulatorsAtTheInt32Bound) {
  // K = 65793 weights of −128 and |x − x_zero| = 255: 255 · 128 · 65793 = 2^31 − 128, the largest
  // accumulator the pack-time bound admits, with a bias of ±127 on top (exactly 2^31 − 1). Both
  // polarities of the u8 trick: x = 127 with x_zero = −128 puts the whole sum in Σ x_u8·w
  // (x_u8 = 255), x = −128 with x_zero = 127 in the zero-point correction (x_u8 = 0).
  const int64_t k = 65793;
  for (int8_t x_value : {int8_t{-128}, int8_t{127}}) {
    Problem p;
    p.m = 2, p.n = 3, p.k = k, p.x_stride = k;
    p.x.assign(static_cast<size_t>(p.m * k), x_value);
    p.x_zero = x_value == -128 ? 127 : -128;
    p.w.assign(static_cast<size_t>(p.n * k), int8_t{-128});
    p.bias = {127, -127, 0};
    p.x.back() = static_cast<int8_t>(p.x_zero);  // row 1 one term short
    // 2^31 · m ≈ 100: outputs near ±100, not saturated; one channel at shift 62 ({0, 1} is tested
    // elsewhere) where only the rounding is left.
    p.mult = {*quantize_multiplier(100.0 / 2147483648.0), *quantize_multiplier(77.7 / 2147483648.0),
              FixedPointMultiplier{1 << 30, 62}};
    EXPECT_EQ(std::max(std::abs(accumulator(p, 0, 0)), std::abs(accumulator(p, 0, 1))), int64_t{2147483647})
        << "the case is at the bound";
    expect_exact(p, "x " + std::to_string(x_value));
  }
  // One more −128 (or one more unit of bias) and the bound refuses.
  Problem p;
  p.n = 1, p.k = k + 1;
  p.w.assign(static_cast<size_t>(p.k), int8_t{-128});
  p.mult = {FixedPointMultiplier{1 << 30, 40}};
  auto r = pack_w8a8(p.w, {}, p.mult, 1, p.k, isa());
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kUnsupported);
  const std::vector<int8_t> w(static_cast<size_t>(k), int8_t{-128});
  const std::vector<int32_t> fits{127}, over{128}, over_negative{-128};
  EXPECT_TRUE(pack_w8a8(w, fits, p.mult, 1, k, isa()).has_value());
  EXPECT_FALSE(pack_w8a8(w, over, p.mult, 1, k, isa()).has_value());
  EXPECT_FALSE(pack_w8a8(w, over_negative, p.mult, 1, k, isa()).has_value());
}

TEST_P(W8A8GemmIsa, SaturatedOutputsBothWaysAndNarrowClamps) {
  Problem p = random_problem(9, 37, 70, 21);
  p.y_scale /= 20.f;  // most outputs beyond ±128
  p.multipliers_from_scales();
  const std::vector<int8_t> want = expected(p);
  EXPECT_GT(std::count(want.begin(), want.end(), int8_t{127}), 20);
  EXPECT_GT(std::count(want.begin(), want.end(), int8_t{-128}), 20);
  expect_exact(p, "saturated");
  // A fused ReLU6-like clamp, and a clamp to one value.
  p = random_problem(9, 37, 70, 22);
  p.y_min = p.y_zero;
  p.y_max = p.y_zero + 60;
  expect_exact(p, "narrow clamp");
  p.y_min = p.y_max = -5;
  expect_exact(p, "single-value clamp");
}

TEST_P(W8A8GemmIsa, MultipliersWithEveryShift) {
  // Random multipliers over their whole range, M in [2^30, 2^31) and shift 1 to 62: small shifts
  // (real multipliers up to 2^30) make requantize saturate to int32 before the zero point, large
  // ones leave only the rounding. And {0, 1}, the multiplier of m < 2^-32.
  std::mt19937 rng(11);
  for (uint32_t seed = 0; seed < 6; ++seed) {
    Problem p = random_problem(7, 62, 33, 1100 + seed);
    for (size_t j = 0; j < p.mult.size(); ++j) {
      p.mult[j].multiplier = std::uniform_int_distribution<int32_t>(1 << 30, INT32_MAX)(rng);
      p.mult[j].shift = static_cast<int32_t>(1 + (j + seed) % 62);
    }
    p.mult[5] = FixedPointMultiplier{0, 1};
    p.mult[6] = FixedPointMultiplier{INT32_MAX, 1};
    p.mult[7] = FixedPointMultiplier{1 << 30, 62};
    expect_exact(p, "seed " + std::to_string(seed));
  }
  // Shifts just above log2 |acc|: the outputs are small and their rounding is what is tested.
  Problem p = random_problem(12, 40, 64, 1200);
  for (size_t j = 0; j < p.mult.size(); ++j) {
    p.mult[j].multiplier = std::uniform_int_distribution<int32_t>(1 << 30, INT32_MAX)(rng);
    p.mult[j].shift = static_cast<int32_t>(44 + j % 8);
  }
  const std::vector<int8_t> want = expected(p);
  EXPECT_GE(std::set<int8_t>(want.begin(), want.end()).size(), 5u);
  expect_exact(p, "shifts 44 to 51");
}

TEST_P(W8A8GemmIsa, NullBias) {
  Problem p = random_problem(6, 35, 40, 31);
  p.bias.clear();
  aim_y_scale(p);
  expect_exact(p, "null bias");
}

TEST_P(W8A8GemmIsa, RowRangesSplitAnywhereEqualOneCall) {
  const Problem p = random_problem(23, 45, 77, 51);
  const W8A8Weights w = pack(p, isa());
  const std::vector<int8_t> want = expected(p);
  for (Layout layout : {Layout::kRowMajor, Layout::kChannelMajor}) {
    EXPECT_EQ(mismatch(want, run_kernel(p, w, layout), p.n), "");
    for (int64_t a = 1; a < p.m; ++a) EXPECT_EQ(mismatch(want, run_kernel(p, w, layout, {a}), p.n), "") << "split at " << a;
    EXPECT_EQ(mismatch(want, run_kernel(p, w, layout, {1, 2, 3, 9, 10, 17}), p.n), "");
  }
}

TEST_P(W8A8GemmIsa, ConcurrentCallsOnRowRangesShareNothing) {
  const Problem p = random_problem(200, 50, 96, 61);
  const W8A8Weights w = pack(p, isa());
  const W8A8Quant q = p.quant();
  std::vector<int8_t> y(static_cast<size_t>(p.m * p.n));
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int rep = 0; rep < 20; ++rep) {
        const int64_t a = t * 50;
        w8a8_gemm(w, p.x.data() + a * p.x_stride, 50, p.x_stride, q, y.data() + a * p.n, p.n, 1);
      }
    });
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(mismatch(expected(p), y, p.n), "");
}

TEST_P(W8A8GemmIsa, WritesOnlyItsOutputsThroughAnyStrides) {
  // Output rows 3 bytes apart beyond n, inside a poisoned buffer: the gaps stay untouched.
  const Problem p = random_problem(9, 21, 50, 71);
  const W8A8Weights w = pack(p, isa());
  const int64_t row_stride = p.n + 3;
  std::vector<int8_t> y(static_cast<size_t>(p.m * row_stride + 8), int8_t{0x5a});
  w8a8_gemm(w, p.x.data(), p.m, p.x_stride, p.quant(), y.data(), row_stride, 1);
  const std::vector<int8_t> want = expected(p);
  for (int64_t i = 0; i < p.m; ++i)
    for (int64_t j = 0; j < row_stride; ++j) {
      const int8_t got = y[static_cast<size_t>(i * row_stride + j)];
      if (j < p.n) EXPECT_EQ(got, want[static_cast<size_t>(i * p.n + j)]) << i << ", " << j;
      else EXPECT_EQ(got, 0x5a) << "gap " << i << ", " << j;
    }
  for (size_t i = static_cast<size_t>(p.m * row_stride); i < y.size(); ++i) EXPECT_EQ(y[i], 0x5a);
  // Every output 2 bytes apart in both directions.
  std::vector<int8_t> sparse(static_cast<size_t>(2 * p.m * p.n), int8_t{0x5a});
  w8a8_gemm(w, p.x.data(), p.m, p.x_stride, p.quant(), sparse.data(), 2, 2 * p.m);
  for (int64_t i = 0; i < p.m; ++i)
    for (int64_t j = 0; j < p.n; ++j) {
      EXPECT_EQ(sparse[static_cast<size_t>(2 * i + 2 * p.m * j)], want[static_cast<size_t>(i * p.n + j)]);
      EXPECT_EQ(sparse[static_cast<size_t>(2 * i + 2 * p.m * j + 1)], 0x5a);
    }
}

// The reference W8A8 Gemm through a Session: A i8 [m, k] per tensor, B i8 [n, k] per channel
// (axis 0, zero points 0, transB 1), C i32 [n] (optional), Y i8, requantize "fixed_point".
std::vector<int8_t> run_reference(const Problem& p) {
  model::Graph g;
  std::vector<std::byte> w_bytes(p.w.size());
  std::memcpy(w_bytes.data(), p.w.data(), w_bytes.size());
  const auto a = g.add_tensor({"a", DType::kI8, {p.m, p.k}, {{p.x_scale}, {p.x_zero}}, false, {}});
  const auto b = g.add_tensor({"b", DType::kI8, {p.n, p.k}, {p.w_scales, {}, 0}, true, SharedBytes::adopt(std::move(w_bytes))});
  std::vector<model::TensorId> inputs{a, b};
  if (!p.bias.empty()) {
    std::vector<std::byte> c_bytes(p.bias.size() * sizeof(int32_t));
    std::memcpy(c_bytes.data(), p.bias.data(), c_bytes.size());
    inputs.push_back(g.add_tensor({"c", DType::kI32, {p.n}, {}, true, SharedBytes::adopt(std::move(c_bytes))}));
  }
  const auto y = g.add_tensor({"y", DType::kI8, {p.m, p.n}, {{p.y_scale}, {p.y_zero}}, false, {}});
  model::Attributes attributes = testing::attrs(
      {{"alpha", 1.f}, {"beta", 1.f}, {"transA", int64_t{0}}, {"transB", int64_t{1}}});
  attributes.set("requantize", std::string("fixed_point"));
  g.nodes.push_back({model::OpType::kGemm, "fc", inputs, {y}, std::move(attributes)});
  g.inputs = {a};
  g.outputs = {y};
  auto program = Program::from_graph(std::move(g));
  EXPECT_TRUE(program.has_value()) << program.error().message;
  if (!program) return {};
  Session session(*program);
  model::TensorData input{"a", DType::kI8, {p.m, p.k}, std::vector<std::byte>(static_cast<size_t>(p.m * p.k))};
  std::memcpy(input.bytes.data(), p.x.data(), input.bytes.size());
  auto out = session.run(std::span(&input, 1));
  EXPECT_TRUE(out.has_value()) << out.error().message;
  if (!out) return {};
  const auto values = out->at(0).values<int8_t>();
  return {values.begin(), values.end()};
}

TEST_P(W8A8GemmIsa, MatchesTheReferenceGemmRunThroughASession) {
  struct Case {
    int64_t m, n, k;
    bool bias;
    int32_t x_zero;
  };
  for (const Case& c : {Case{5, 37, 200, true, 3}, Case{9, 33, 67, false, -128}, Case{1, 100, 320, true, 127},
                        Case{4, 16, 4, true, -7}}) {
    Problem p = random_problem(c.m, c.n, c.k, static_cast<uint32_t>(c.k * 31 + c.n));
    if (!c.bias) p.bias.clear();
    p.x_zero = c.x_zero;
    aim_y_scale(p);  // multipliers from x_scale · w_scale[j] / y_scale, as the reference derives them
    const std::vector<int8_t> reference = run_reference(p);
    ASSERT_EQ(mismatch(expected(p), reference, p.n), "") << "the oracle disagrees with the reference kernel";
    if (c.m * c.n >= 100) {
      EXPECT_GE(std::set<int8_t>(reference.begin(), reference.end()).size(), 50u);  // not degenerate
    }
    EXPECT_EQ(mismatch(reference, run_kernel(p, isa(), Layout::kRowMajor), p.n), "") << "m=" << c.m << " n=" << c.n;
    EXPECT_EQ(mismatch(reference, run_kernel(p, isa(), Layout::kChannelMajor), p.n), "") << "m=" << c.m << " n=" << c.n;
  }
}

TEST(W8A8GemmOracle, ComparisonCatchesAnyDifference) {
  // The comparison finds one flipped output, and a kernel fed one wrong weight differs from the
  // oracle: the tests above can fail.
  const Problem p = random_problem(4, 20, 64, 91);
  const std::vector<int8_t> want = expected(p);
  std::vector<int8_t> got = want;
  EXPECT_EQ(mismatch(want, got, p.n), "");
  got[27] = static_cast<int8_t>(got[27] ^ 1);
  EXPECT_EQ(mismatch(want, got, p.n), "1 outputs differ, first at (1, 7): " + std::to_string(got[27]) + " instead of " +
                                          std::to_string(want[27]));
  Problem wrong = p;
  wrong.w[5] = static_cast<int8_t>(wrong.w[5] == 127 ? -128 : 127);  // channel 0
  for (Isa isa : kAllIsas) {
    if (!isa_supported(isa)) continue;
    const std::vector<int8_t> y = run_kernel(wrong, isa, Layout::kRowMajor);
    EXPECT_NE(mismatch(want, y, p.n), "") << isa_name(isa);
    EXPECT_EQ(mismatch(expected(wrong), y, p.n), "") << isa_name(isa);
  }
}

TEST(W8A8Pack, BadSizesAndMultipliersAreRefused) {
  const std::vector<int8_t> w(16, 1);
  const std::vector<int32_t> bias(4, 0);
  const std::vector<FixedPointMultiplier> mult(4, FixedPointMultiplier{1 << 30, 8});
  auto refused = [](const Result<W8A8Weights>& r, ErrorCode code) { return !r.has_value() && r.error().code == code; };
  EXPECT_TRUE(pack_w8a8(w, bias, mult, 4, 4, Isa::kPortable).has_value());
  EXPECT_TRUE(pack_w8a8(w, {}, mult, 4, 4, Isa::kPortable).has_value());
  EXPECT_TRUE(refused(pack_w8a8(w, bias, mult, 0, 4, Isa::kPortable), ErrorCode::kInvalidArgument));
  EXPECT_TRUE(refused(pack_w8a8(w, bias, mult, 4, 0, Isa::kPortable), ErrorCode::kInvalidArgument));
  EXPECT_TRUE(refused(pack_w8a8(w, bias, mult, 4, 5, Isa::kPortable), ErrorCode::kInvalidArgument));  // w short
  EXPECT_TRUE(refused(pack_w8a8(w, std::vector<int32_t>(3), mult, 4, 4, Isa::kPortable), ErrorCode::kInvalidArgument));
  EXPECT_TRUE(refused(pack_w8a8(w, bias, std::vector<FixedPointMultiplier>(5), 4, 4, Isa::kPortable),
                      ErrorCode::kInvalidArgument));
  EXPECT_TRUE(refused(pack_w8a8(w, bias, mult, int64_t{1} << 40, int64_t{1} << 40, Isa::kPortable),
                      ErrorCode::kInvalidArgument));
  for (FixedPointMultiplier bad : {FixedPointMultiplier{1 << 29, 8}, FixedPointMultiplier{-(1 << 30), 8},
                                   FixedPointMultiplier{1 << 30, 0}, FixedPointMultiplier{1 << 30, 63},
                                   FixedPointMultiplier{0, 5}}) {
    std::vector<FixedPointMultiplier> m = mult;
    m[2] = bad;
    auto r = pack_w8a8(w, bias, m, 4, 4, Isa::kPortable);
    EXPECT_TRUE(refused(r, ErrorCode::kInvalidArgument)) << bad.multiplier << " " << bad.shift;
  }
  auto r = pack_w8a8(w, bias, std::vector<FixedPointMultiplier>(3), 4, 4, Isa::kPortable);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("need 4 multipliers; got 3"), std::string::npos) << r.error().message;
}

TEST(W8A8Pack, UnsupportedIsaIsRefused) {
  const std::vector<int8_t> w(16, 1);
  const std::vector<FixedPointMultiplier> mult(4, FixedPointMultiplier{1 << 30, 8});
  bool any = false;
  for (Isa isa : kAllIsas) {
    if (isa_supported(isa)) continue;
    any = true;
    auto r = pack_w8a8(w, {}, mult, 4, 4, isa);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, ErrorCode::kUnsupported);
  }
  if (!any) GTEST_SKIP() << "this CPU runs every ISA's kernels";
}

TEST(W8A8Pack, KnowsItsShapeIsaAndSize) {
  const Problem p = random_problem(1, 40, 100, 3);
  for (Isa isa : kAllIsas) {
    if (!isa_supported(isa)) continue;
    const W8A8Weights w = pack(p, isa);
    EXPECT_EQ(w.isa(), isa);
    EXPECT_EQ(w.n(), 40);
    EXPECT_EQ(w.k(), 100);
    // A byte per weight, channels padded to whole blocks (up to 64), plus 16 bytes of tables per
    // channel, each part rounded to 64 bytes.
    EXPECT_GE(w.packed_bytes(), 40u * 100 + 40 * 16);
    EXPECT_LE(w.packed_bytes(), 64u * 100 + 64 * 16 + 5 * 64);
  }
}

}  // namespace
}  // namespace edgeloop::runtime::x86

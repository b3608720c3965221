// The x86 W4A8 kernels against the stated arithmetic (quant_math.h's w4a8_accumulate and
// w4a8_output, written out here as a plain loop over the IR's int4 layout) and against the
// reference Gemm kernel run through a Session: bit for bit, for every ISA this CPU supports.
#include "runtime/x86/gemm_splits.h"
#include "edgeloop/runtime/x86/w4a8_gemm.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <iostream>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "edgeloop/model/dtype.h"
#include "edgeloop/model/half.h"
#include "edgeloop/runtime/program.h"
#include "edgeloop/runtime/quant_math.h"
#include "edgeloop/runtime/session.h"
#include "edgeloop/runtime/x86/cpu_features.h"
#include "testing/graphs.h"

namespace edgeloop::runtime::x86 {
namespace {

using model::DType;

// One W4A8 product: x [m][x_stride] (k used per row), w [n][k] in [−8, 7], scales [n][groups].
struct Problem {
  int64_t m = 1, n = 1, k = 1, group = 1, x_stride = 1;
  std::vector<int8_t> x;
  std::vector<int8_t> w;
  std::vector<float> scales;
  std::vector<float> bias;  // empty: no bias (null)
  float x_scale = 0.05f, y_scale = 0.1f;
  int32_t x_zero = 0, y_zero = 0;

  int64_t groups() const { return (k + group - 1) / group; }
  // The weights as the IR stores them: packed int4, low nibble first.
  std::vector<std::byte> i4() const {
    std::vector<std::byte> bytes(model::storage_bytes(DType::kI4, n * k), std::byte{0});
    for (int64_t i = 0; i < n * k; ++i) model::store_i4(bytes.data(), i, w[static_cast<size_t>(i)]);
    return bytes;
  }
  W4A8Quant quant() const { return {x_scale, x_zero, y_scale, y_zero, bias.empty() ? nullptr : bias.data()}; }
};

// fma(sum, x_scale, bias) of every output: the value w4a8_output divides by y_scale.
std::vector<float> real_outputs(const Problem& p) {
  const std::vector<std::byte> i4 = p.i4();
  std::vector<float> v(static_cast<size_t>(p.m * p.n));
  for (int64_t i = 0; i < p.m; ++i)
    for (int64_t j = 0; j < p.n; ++j) {
      float sum = 0.f;
      for (int64_t g = 0; g < p.groups(); ++g) {
        int64_t acc = 0;
        for (int64_t kk = g * p.group; kk < std::min(p.k, (g + 1) * p.group); ++kk)
          acc += (p.x[static_cast<size_t>(i * p.x_stride + kk)] - p.x_zero) * int64_t{model::load_i4(i4.data(), j * p.k + kk)};
        sum = w4a8_accumulate(sum, acc, p.scales[static_cast<size_t>(j * p.groups() + g)]);
      }
      v[static_cast<size_t>(i * p.n + j)] = std::fma(sum, p.x_scale, p.bias.empty() ? 0.f : p.bias[static_cast<size_t>(j)]);
    }
  return v;
}

// The oracle, [m][n]: the stated formula, group by group, from quant_math.h.
std::vector<int8_t> expected(const Problem& p) {
  const std::vector<std::byte> i4 = p.i4();
  std::vector<int8_t> y(static_cast<size_t>(p.m * p.n));
  for (int64_t i = 0; i < p.m; ++i)
    for (int64_t j = 0; j < p.n; ++j) {
      float sum = 0.f;
      for (int64_t g = 0; g < p.groups(); ++g) {
        int64_t acc = 0;
        for (int64_t kk = g * p.group; kk < std::min(p.k, (g + 1) * p.group); ++kk)
          acc += (p.x[static_cast<size_t>(i * p.x_stride + kk)] - p.x_zero) * int64_t{model::load_i4(i4.data(), j * p.k + kk)};
        sum = w4a8_accumulate(sum, acc, p.scales[static_cast<size_t>(j * p.groups() + g)]);
      }
      const float bias = p.bias.empty() ? 0.f : p.bias[static_cast<size_t>(j)];
      y[static_cast<size_t>(i * p.n + j)] = w4a8_output(sum, p.x_scale, bias, p.y_scale, p.y_zero);
    }
  return y;
}

// The same formula with a multiply and an add (two roundings) in place of either fused
// multiply-add: what a kernel that does not fuse computes. Tests use it to prove they can tell.
struct Unfused {
  bool accumulate = false, output = false;
};
std::vector<int8_t> expected_unfused(const Problem& p, Unfused u) {
  const std::vector<std::byte> i4 = p.i4();
  std::vector<int8_t> y(static_cast<size_t>(p.m * p.n));
  for (int64_t i = 0; i < p.m; ++i)
    for (int64_t j = 0; j < p.n; ++j) {
      float sum = 0.f;
      for (int64_t g = 0; g < p.groups(); ++g) {
        int64_t acc = 0;
        for (int64_t kk = g * p.group; kk < std::min(p.k, (g + 1) * p.group); ++kk)
          acc += (p.x[static_cast<size_t>(i * p.x_stride + kk)] - p.x_zero) * int64_t{model::load_i4(i4.data(), j * p.k + kk)};
        const float scale = p.scales[static_cast<size_t>(j * p.groups() + g)];
        sum = u.accumulate ? static_cast<float>(acc) * scale + sum : w4a8_accumulate(sum, acc, scale);
      }
      const float bias = p.bias.empty() ? 0.f : p.bias[static_cast<size_t>(j)];
      const float v = u.output ? sum * p.x_scale + bias : std::fma(sum, p.x_scale, bias);
      y[static_cast<size_t>(i * p.n + j)] = static_cast<int8_t>(quantize_real(v, p.y_scale, p.y_zero, {-128, 127}));
    }
  return y;
}


using gemm_test::Layout;
using gemm_test::mismatch;

W4A8Weights pack(const Problem& p, Isa isa) {
  const std::vector<std::byte> i4 = p.i4();
  auto w = pack_w4a8(i4, p.scales, p.n, p.k, p.group, isa);
  EXPECT_TRUE(w.has_value()) << w.error().message;
  return std::move(*w);
}

// Runs rows [0, m) in the calls given by `splits` (row boundaries), returns y as [m][n].
std::vector<int8_t> run_kernel(const Problem& p, const W4A8Weights& w, Layout layout, std::vector<int64_t> splits = {}) {
  const W4A8Quant q = p.quant();
  return gemm_test::run_in_splits(p.m, p.n, layout, std::move(splits), [&](int64_t a, int64_t rows, int8_t* y, int64_t rs, int64_t cs) {
    w4a8_gemm(w, p.x.data() + a * p.x_stride, rows, p.x_stride, q, y, rs, cs);
  });
}

std::vector<int8_t> run_kernel(const Problem& p, Isa isa, Layout layout, std::vector<int64_t> splits = {}) {
  return run_kernel(p, pack(p, isa), layout, std::move(splits));
}

// Random data; y_scale set so that outputs spread over the int8 range and the largest saturate.
// Scales are f16 values (as artifacts store them) or full f32 ones: only with a full mantissa is
// acc_g · scale inexact in f32, which is where a fused multiply-add differs from a multiply and an
// add.
enum class Scales { kF32, kF16 };
Problem random_problem(int64_t m, int64_t n, int64_t k, int64_t group, uint32_t seed, int64_t x_pad = 0,
                       Scales scale_kind = Scales::kF32) {
  std::mt19937 rng(seed);
  Problem p;
  p.m = m;
  p.n = n;
  p.k = k;
  p.group = group;
  p.x_stride = k + x_pad;
  std::uniform_int_distribution<int> x_dist(-128, 127), w_dist(-8, 7), zero_dist(-128, 127);
  std::uniform_real_distribution<float> scale_dist(0.002f, 0.08f), bias_dist(-2.f, 2.f);
  p.x.resize(static_cast<size_t>(m * p.x_stride));
  for (int8_t& v : p.x) v = static_cast<int8_t>(x_dist(rng));
  p.w.resize(static_cast<size_t>(n * k));
  for (int8_t& v : p.w) v = static_cast<int8_t>(w_dist(rng));
  p.scales.resize(static_cast<size_t>(n * p.groups()));
  for (float& s : p.scales) {
    s = scale_dist(rng);
    if (scale_kind == Scales::kF16) s = model::half_to_float(model::float_to_half(s));
  }
  p.bias.resize(static_cast<size_t>(n));
  for (float& b : p.bias) b = bias_dist(rng);
  p.x_zero = zero_dist(rng);
  p.y_zero = zero_dist(rng) / 4;
  float largest = 0.f;
  for (float v : real_outputs(p)) largest = std::max(largest, std::fabs(v));
  p.y_scale = largest > 0.f ? largest / 150.f : 1.f;
  return p;
}

// The kernels of one ISA; skipped when this CPU cannot run them.
class W4A8GemmIsa : public ::testing::TestWithParam<Isa> {
 protected:
  void SetUp() override {
    if (!isa_supported(GetParam())) GTEST_SKIP() << "this CPU cannot run the " << isa_name(GetParam()) << " kernels";
  }
  Isa isa() const { return GetParam(); }

  // Both layouts, one call each, against the oracle.
  void expect_exact(const Problem& p, const std::string& what) {
    const std::vector<int8_t> want = expected(p);
    const W4A8Weights w = pack(p, isa());
    for (Layout layout : {Layout::kRowMajor, Layout::kChannelMajor}) {
      EXPECT_EQ(mismatch(want, run_kernel(p, w, layout), p.n), "")
          << what << " m=" << p.m << " n=" << p.n << " k=" << p.k << " group=" << p.group
          << (layout == Layout::kRowMajor ? " row-major" : " channel-major");
    }
  }
};

INSTANTIATE_TEST_SUITE_P(AllIsas, W4A8GemmIsa, ::testing::ValuesIn(kAllIsas),
                         [](const ::testing::TestParamInfo<Isa>& param) { return std::string(isa_name(param.param)); });

TEST_P(W4A8GemmIsa, HandComputed) {
  // The reference's hand-computed case (quantized_test.cc, W4A8Gemm.HandComputed): rows [1, −1 | 2]
  // and [−8, 7 | 0], scales [0.5, 0.25] and [1, 2], a = [1, 2, 3], bias [0.5, −0.5]: 1.5 → 2 and
  // 5.5 → 6 (ties to even).
  Problem p;
  p.m = 1, p.n = 2, p.k = 3, p.group = 2, p.x_stride = 3;
  p.x = {1, 2, 3};
  p.w = {1, -1, 2, -8, 7, 0};
  p.scales = {0.5f, 0.25f, 1.f, 2.f};
  p.bias = {0.5f, -0.5f};
  p.x_scale = 1.f, p.y_scale = 1.f;
  EXPECT_EQ(expected(p), (std::vector<int8_t>{2, 6}));
  EXPECT_EQ(run_kernel(p, isa(), Layout::kRowMajor), (std::vector<int8_t>{2, 6}));
  EXPECT_EQ(run_kernel(p, isa(), Layout::kChannelMajor), (std::vector<int8_t>{2, 6}));
}

TEST_P(W4A8GemmIsa, ShapesAtTileAndGroupEdges) {
  struct Shape {
    int64_t m, n, k, group;
  };
  const Shape shapes[] = {
      {1, 1, 1, 1},       {1, 1, 3, 32},       // K < G
      {1, 17, 50, 16},                         // K not a multiple of G, N not of the vector width
      {7, 33, 100, 7},    {13, 47, 96, 33},    // G not a multiple of 4 or of the vector width
      {12, 48, 130, 3},   {5, 16, 31, 5},      // groups shorter than a quad: quads straddle groups
      {6, 32, 64, 32},    {8, 64, 200, 64},    // exact tiles
      {3, 31, 45, 45},    {2, 70, 1, 1},       // one group per row; K = 1
      {9, 100, 1280, 32}, {1, 1000, 1280, 32}, // MobileNetV2 classifier shapes
      {25, 15, 24, 32},   {11, 33, 290, 290},  // one short group; one group of 73 quads (> 8)
  };
  for (const Shape& s : shapes)
    for (uint32_t seed = 1; seed <= 3; ++seed)
      expect_exact(random_problem(s.m, s.n, s.k, s.group, seed * 1000 + static_cast<uint32_t>(s.k), seed % 2 == 0 ? 5 : 0,
                                  seed == 3 ? Scales::kF16 : Scales::kF32),
                   "seed " + std::to_string(seed));
}

TEST_P(W4A8GemmIsa, RandomShapesAndData) {
  std::mt19937 rng(77);
  for (uint32_t seed = 0; seed < 40; ++seed) {
    const int64_t k = std::uniform_int_distribution<int64_t>(1, 300)(rng);
    const int64_t group = std::uniform_int_distribution<int64_t>(1, k + 10)(rng);
    const int64_t m = std::uniform_int_distribution<int64_t>(1, 20)(rng);
    const int64_t n = std::uniform_int_distribution<int64_t>(1, 70)(rng);
    expect_exact(random_problem(m, n, k, group, seed, seed % 3), "seed " + std::to_string(seed));
  }
}

TEST_P(W4A8GemmIsa, ZeroPointsAtTheExtremesAndExtremeWeights) {
  for (int32_t x_zero : {-128, 127})
    for (uint32_t seed = 0; seed < 4; ++seed) {
      Problem p = random_problem(10, 40, 100, 32, 500 + seed);
      p.x_zero = x_zero;
      std::mt19937 rng(seed);
      for (int8_t& v : p.x) v = (rng() % 2) != 0 ? int8_t{-128} : int8_t{127};  // |x − x_zero| up to 255
      for (int8_t& v : p.w) v = (rng() % 2) != 0 ? int8_t{-8} : int8_t{7};
      float largest = 0.f;
      for (float v : real_outputs(p)) largest = std::max(largest, std::fabs(v));
      p.y_scale = largest / 150.f;
      expect_exact(p, "x_zero " + std::to_string(x_zero));
    }
}

TEST_P(W4A8GemmIsa, LargeGroupSums) {
  // |x − x_zero| = 255 and w = −8 everywhere: every product is ±2040. Groups of 4096 sum to
  // ±8,355,840 (exact in f32); groups of 65536 to ±133,693,440 and of 2^20 to ±2,139,095,040 (just
  // inside int32), where (float)acc_g rounds: the kernels must round exactly as the oracle does.
  // Both polarities: x = −128 with x_zero = 127 puts the whole sum in the zero-point correction
  // (x_u8 = 0), x = 127 with x_zero = −128 puts it in Σ x_u8·w (x_u8 = 255).
  struct Case {
    int64_t m, n, k, group;
  };
  for (const Case& c : {Case{3, 20, 4096, 4096}, Case{5, 17, 4096, 32}, Case{2, 3, 65536, 65536},
                        Case{2, 2, int64_t{1} << 20, int64_t{1} << 20}})
    for (int8_t x_value : {int8_t{-128}, int8_t{127}}) {
      Problem p = random_problem(c.m, c.n, 8, 8, 3);  // for the bias and zero points; data replaced below
      p.k = p.x_stride = c.k;
      p.group = c.group;
      p.x.assign(static_cast<size_t>(c.m * c.k), x_value);
      p.x_zero = x_value == -128 ? 127 : -128;
      p.w.assign(static_cast<size_t>(c.n * c.k), int8_t{-8});
      for (int64_t j = 0; j < c.n; ++j) p.w[static_cast<size_t>(j * c.k + j % c.k)] = 7;  // channels differ
      std::mt19937 rng(9);
      p.x[rng() % p.x.size()] = 5;
      p.scales.assign(static_cast<size_t>(c.n * p.groups()), 0.f);
      for (float& s : p.scales) s = std::uniform_real_distribution<float>(1e-6f, 1e-4f)(rng);
      float largest = 0.f;
      for (float v : real_outputs(p)) largest = std::max(largest, std::fabs(v));
      p.y_scale = largest / 120.f;
      expect_exact(p, "large group sums, x " + std::to_string(x_value));
    }
}

TEST_P(W4A8GemmIsa, SaturatedOutputsBothWays) {
  Problem p = random_problem(9, 37, 70, 16, 21);
  p.y_scale /= 20.f;  // most outputs beyond ±128
  const std::vector<int8_t> want = expected(p);
  EXPECT_GT(std::count(want.begin(), want.end(), int8_t{127}), 20);
  EXPECT_GT(std::count(want.begin(), want.end(), int8_t{-128}), 20);
  expect_exact(p, "saturated");
}

TEST_P(W4A8GemmIsa, NullBiasNaNAndInfinities) {
  Problem p = random_problem(6, 35, 40, 8, 31);
  p.bias.clear();
  expect_exact(p, "null bias");

  // NaN bias → the zero point; ±inf bias → ±inf → saturated; y_scale 0 → ±inf or 0/0 = NaN.
  p = random_problem(6, 35, 40, 8, 32);
  p.y_zero = 17;
  for (size_t j = 0; j < p.bias.size(); j += 3) p.bias[j] = std::numeric_limits<float>::quiet_NaN();
  for (size_t j = 1; j < p.bias.size(); j += 6) p.bias[j] = std::numeric_limits<float>::infinity();
  for (size_t j = 2; j < p.bias.size(); j += 6) p.bias[j] = -std::numeric_limits<float>::infinity();
  const std::vector<int8_t> want = expected(p);
  EXPECT_EQ(want[0], 17);
  EXPECT_EQ(want[1], 127);
  expect_exact(p, "NaN and infinite bias");
  p.y_scale = 0.f;
  p.bias.assign(p.bias.size(), 0.f);
  p.x.assign(p.x.size(), static_cast<int8_t>(p.x_zero));  // some sums 0: 0 / 0 = NaN
  for (size_t i = 0; i < p.x.size(); i += 7) p.x[i] = static_cast<int8_t>(p.x_zero == 127 ? 0 : p.x_zero + 1);
  expect_exact(p, "y_scale 0");
  // A NaN scale poisons its sums from that group on.
  p = random_problem(6, 35, 40, 8, 33);
  p.scales[3] = std::numeric_limits<float>::quiet_NaN();
  expect_exact(p, "NaN group scale");
}

TEST_P(W4A8GemmIsa, TiesRoundHalfToEven) {
  // Scales 0.5 and y_scale 1: every odd group sum is a tie. Hand-checked: sums −3, −1, 1, 3, 5
  // halve to −1.5, −0.5, 0.5, 1.5, 2.5 → −2, 0, 0, 2, 2.
  Problem p;
  p.m = 5, p.n = 1, p.k = 1, p.group = 1, p.x_stride = 1;
  p.x = {-3, -1, 1, 3, 5};
  p.w = {1};
  p.scales = {0.5f};
  p.x_scale = 1.f, p.y_scale = 1.f;
  EXPECT_EQ(run_kernel(p, isa(), Layout::kRowMajor), (std::vector<int8_t>{-2, 0, 0, 2, 2}));
  p = random_problem(16, 40, 64, 16, 41);
  p.x_scale = 1.f, p.y_scale = 1.f;
  p.x_zero = 0;
  p.bias.assign(p.bias.size(), 0.f);
  for (float& s : p.scales) s = 0.5f;
  for (int8_t& v : p.x) v = static_cast<int8_t>(v / 64);  // small sums, most of them odd
  expect_exact(p, "ties");
}

TEST_P(W4A8GemmIsa, MultiplyAddsAreFused) {
  // A one-ulp difference in the f32 sum changes an output only near a rounding tie, which random
  // data rarely reaches: aim y_scale at one output per case so that its quotient is about 10.5,
  // and count the cases where an unfused multiply-add would round to another integer.
  std::mt19937 rng(5);
  int caught_accumulate = 0, caught_output = 0;
  for (uint32_t seed = 0; seed < 300; ++seed) {
    Problem p = random_problem(6, 32, 64, 16, 9000 + seed);
    p.x_scale = std::uniform_real_distribution<float>(0.01f, 0.1f)(rng);
    const std::vector<float> v = real_outputs(p);
    const float target = v[rng() % v.size()];
    if (target == 0.f) continue;
    p.y_scale = std::fabs(target) / 10.5f;
    const std::vector<int8_t> want = expected(p);
    caught_accumulate += want != expected_unfused(p, {.accumulate = true});
    caught_output += want != expected_unfused(p, {.output = true});
    EXPECT_EQ(mismatch(want, run_kernel(p, isa(), Layout::kRowMajor), p.n), "") << "seed " << seed;
  }
  EXPECT_GE(caught_accumulate, 10) << "too few cases tell fused from unfused group accumulation";
  EXPECT_GE(caught_output, 10) << "too few cases tell a fused from an unfused output multiply-add";
}

TEST_P(W4A8GemmIsa, RowRangesSplitAnywhereEqualOneCall) {
  const Problem p = random_problem(23, 45, 77, 16, 51);
  const W4A8Weights w = pack(p, isa());
  const std::vector<int8_t> want = expected(p);
  for (Layout layout : {Layout::kRowMajor, Layout::kChannelMajor}) {
    EXPECT_EQ(mismatch(want, run_kernel(p, w, layout), p.n), "");
    for (int64_t a = 1; a < p.m; ++a) EXPECT_EQ(mismatch(want, run_kernel(p, w, layout, {a}), p.n), "") << "split at " << a;
    EXPECT_EQ(mismatch(want, run_kernel(p, w, layout, {1, 2, 3, 9, 10, 17}), p.n), "");
  }
}

TEST_P(W4A8GemmIsa, ConcurrentCallsOnRowRangesShareNothing) {
  const Problem p = random_problem(200, 50, 96, 32, 61);
  const W4A8Weights w = pack(p, isa());
  const W4A8Quant q = p.quant();
  std::vector<int8_t> y(static_cast<size_t>(p.m * p.n));
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int rep = 0; rep < 20; ++rep) {
        const int64_t a = t * 50;
        w4a8_gemm(w, p.x.data() + a * p.x_stride, 50, p.x_stride, q, y.data() + a * p.n, p.n, 1);
      }
    });
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(mismatch(expected(p), y, p.n), "");
}

TEST_P(W4A8GemmIsa, WritesOnlyItsOutputsThroughAnyStrides) {
  // Output rows 3 bytes apart beyond n, inside a poisoned buffer: the gaps stay untouched.
  const Problem p = random_problem(7, 21, 50, 16, 71);
  const W4A8Weights w = pack(p, isa());
  const int64_t row_stride = p.n + 3;
  std::vector<int8_t> y(static_cast<size_t>(p.m * row_stride + 8), int8_t{0x5a});
  w4a8_gemm(w, p.x.data(), p.m, p.x_stride, p.quant(), y.data(), row_stride, 1);
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
  w4a8_gemm(w, p.x.data(), p.m, p.x_stride, p.quant(), sparse.data(), 2, 2 * p.m);
  for (int64_t i = 0; i < p.m; ++i)
    for (int64_t j = 0; j < p.n; ++j) {
      EXPECT_EQ(sparse[static_cast<size_t>(2 * i + 2 * p.m * j)], want[static_cast<size_t>(i * p.n + j)]);
      EXPECT_EQ(sparse[static_cast<size_t>(2 * i + 2 * p.m * j + 1)], 0x5a);
    }
}

TEST_P(W4A8GemmIsa, MatchesTheReferenceGemmRunThroughASession) {
  // A one-node W4A8 Gemm (A i8 [m, k], B i4 [n, k] transB with f16 group scales, C f32 [n]),
  // verified and run by the reference runtime; with and without C.
  for (bool with_bias : {true, false}) {
    Problem p = random_problem(5, 37, 200, 32, with_bias ? 81 : 82, 0, Scales::kF16);
    if (!with_bias) p.bias.clear();
    model::Graph g;
    model::QuantParams bq{p.scales, {}, 0, 1, static_cast<int32_t>(p.group), DType::kF16};
    model::Tensor b{"b", DType::kI4, {p.n, p.k}, bq, true, SharedBytes::adopt(p.i4())};
    const auto a = g.add_tensor({"a", DType::kI8, {p.m, p.k}, {{p.x_scale}, {p.x_zero}}, false, {}});
    const auto bi = g.add_tensor(std::move(b));
    std::vector<model::TensorId> inputs{a, bi};
    if (with_bias) inputs.push_back(g.add_tensor(testing::constant_f32("c", {p.n}, p.bias)));
    const auto y = g.add_tensor({"y", DType::kI8, {p.m, p.n}, {{p.y_scale}, {p.y_zero}}, false, {}});
    g.nodes.push_back({model::OpType::kGemm, "fc", inputs, {y},
                       testing::attrs({{"alpha", 1.f}, {"beta", 1.f}, {"transA", int64_t{0}}, {"transB", int64_t{1}}})});
    g.inputs = {a};
    g.outputs = {y};
    auto program = Program::from_graph(std::move(g));
    ASSERT_TRUE(program.has_value()) << program.error().message;
    Session session(*program);
    model::TensorData input{"a", DType::kI8, {p.m, p.k}, std::vector<std::byte>(static_cast<size_t>(p.m * p.k))};
    std::memcpy(input.bytes.data(), p.x.data(), input.bytes.size());
    auto out = session.run(std::span(&input, 1));
    ASSERT_TRUE(out.has_value()) << out.error().message;
    const auto values = out->at(0).values<int8_t>();
    const std::vector<int8_t> reference(values.begin(), values.end());
    ASSERT_EQ(mismatch(expected(p), reference, p.n), "") << "the oracle disagrees with the reference kernel";
    EXPECT_GE(std::set<int8_t>(reference.begin(), reference.end()).size(), 50u);  // not degenerate
    EXPECT_EQ(mismatch(reference, run_kernel(p, isa(), Layout::kRowMajor), p.n), "") << "with bias: " << with_bias;
    EXPECT_EQ(mismatch(reference, run_kernel(p, isa(), Layout::kChannelMajor), p.n), "") << "with bias: " << with_bias;
  }
}

TEST(W4A8GemmOracle, ComparisonCatchesAnyDifference) {
  // The comparison finds one flipped output, and a kernel fed one wrong weight differs from the
  // oracle: the tests above can fail.
  const Problem p = random_problem(4, 20, 64, 16, 91);
  const std::vector<int8_t> want = expected(p);
  std::vector<int8_t> got = want;
  EXPECT_EQ(mismatch(want, got, p.n), "");
  got[27] = static_cast<int8_t>(got[27] ^ 1);
  EXPECT_EQ(mismatch(want, got, p.n), "1 outputs differ, first at (1, 7): " + std::to_string(got[27]) + " instead of " +
                                          std::to_string(want[27]));
  Problem wrong = p;
  wrong.w[5] = static_cast<int8_t>(wrong.w[5] == 7 ? -8 : 7);  // channel 0
  const std::vector<int8_t> y = run_kernel(wrong, best_isa(), Layout::kRowMajor);
  EXPECT_NE(mismatch(want, y, p.n), "");
  EXPECT_EQ(mismatch(expected(wrong), y, p.n), "");
}

TEST(W4A8Pack, BadSizesAreRefused) {
  const std::vector<std::byte> i4(8);
  const std::vector<float> scales(4, 1.f);
  auto refused = [](const Result<W4A8Weights>& r, ErrorCode code) { return !r.has_value() && r.error().code == code; };
  EXPECT_TRUE(pack_w4a8(i4, scales, 4, 4, 4, Isa::kPortable).has_value());
  EXPECT_TRUE(refused(pack_w4a8(i4, scales, 0, 4, 4, Isa::kPortable), ErrorCode::kInvalidArgument));
  EXPECT_TRUE(refused(pack_w4a8(i4, scales, 4, 0, 4, Isa::kPortable), ErrorCode::kInvalidArgument));
  EXPECT_TRUE(refused(pack_w4a8(i4, scales, 4, 4, 0, Isa::kPortable), ErrorCode::kInvalidArgument));
  EXPECT_TRUE(refused(pack_w4a8(i4, scales, 4, 4, -1, Isa::kPortable), ErrorCode::kInvalidArgument));
  EXPECT_TRUE(refused(pack_w4a8(i4, scales, 4, 4, kMaxW4A8Group + 1, Isa::kPortable), ErrorCode::kInvalidArgument));
  EXPECT_TRUE(refused(pack_w4a8(i4, scales, 5, 4, 4, Isa::kPortable), ErrorCode::kInvalidArgument));  // i4 short
  EXPECT_TRUE(refused(pack_w4a8(i4, scales, 4, 4, 2, Isa::kPortable), ErrorCode::kInvalidArgument));  // 8 scales
  EXPECT_TRUE(refused(pack_w4a8(i4, scales, int64_t{1} << 40, int64_t{1} << 40, 4, Isa::kPortable),
                      ErrorCode::kInvalidArgument));
  auto r = pack_w4a8(i4, std::vector<float>(3), 4, 4, 4, Isa::kPortable);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("need 4 scales; got 3"), std::string::npos) << r.error().message;
}

TEST(W4A8Pack, UnsupportedIsaIsRefused) {
  const std::vector<std::byte> i4(8);
  const std::vector<float> scales(4, 1.f);
  bool any = false;
  for (Isa isa : kAllIsas) {
    if (isa_supported(isa)) continue;
    any = true;
    auto r = pack_w4a8(i4, scales, 4, 4, 4, isa);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, ErrorCode::kUnsupported);
  }
  if (!any) GTEST_SKIP() << "this CPU runs every ISA's kernels";
}

TEST(W4A8Pack, KnowsItsShapeIsaAndSize) {
  const Problem p = random_problem(1, 40, 100, 32, 3);
  for (Isa isa : kAllIsas) {
    if (!isa_supported(isa)) continue;
    const W4A8Weights w = pack(p, isa);
    EXPECT_EQ(w.isa(), isa);
    EXPECT_EQ(w.n(), 40);
    EXPECT_EQ(w.k(), 100);
    EXPECT_EQ(w.group(), 32);
    EXPECT_EQ(w.groups(), 4);
    // Nibbles of 40 channels padded to whole blocks, quads of 4 (groups 32, 32, 32, 4), plus
    // scales and sums: about half a byte per weight and 8 bytes per (channel, group).
    EXPECT_GE(w.packed_bytes(), 40u * 100 / 2 + 40 * 4 * 8);
    EXPECT_LE(w.packed_bytes(), 64u * 100 / 2 + 64 * 4 * 8 + 3 * 64);
  }
}

TEST(CpuFeatures, PortableAlwaysRunsAndTheBestIsSupported) {
  EXPECT_TRUE(isa_supported(Isa::kPortable));
  EXPECT_TRUE(isa_supported(best_isa()));
  if (isa_supported(Isa::kAvx512Vnni)) {
    EXPECT_TRUE(isa_supported(Isa::kAvx2));  // VNNI kernels imply AVX2's
  }
  EXPECT_EQ(isa_name(Isa::kPortable), "portable");
  EXPECT_EQ(isa_name(Isa::kAvx2), "avx2");
  EXPECT_EQ(isa_name(Isa::kAvx512Vnni), "avx512vnni");
  std::cout << "best ISA here: " << isa_name(best_isa()) << "\n";
}

}  // namespace
}  // namespace edgeloop::runtime::x86

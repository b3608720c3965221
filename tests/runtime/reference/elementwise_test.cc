// Reference elementwise kernels against hand-computed values and naive loops written here.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

#include "edgeloop/runtime/reference/kernels.h"
#include "testing/graphs.h"

namespace edgeloop::runtime::reference {
namespace {

using model::Attributes;
using model::OpType;
using model::Shape;
using model::TensorData;

const model::QuantParams kPlain;  // present tensors need a (here empty) QuantParams

template <class T>
TensorData tensor(DType dtype, Shape shape, const std::vector<T>& values) {
  TensorData t = TensorData::zeros("t", dtype, std::move(shape));
  EXPECT_EQ(t.bytes.size(), values.size() * sizeof(T)) << "test bug: value count does not match shape";
  if (!values.empty()) std::memcpy(t.bytes.data(), values.data(), std::min(t.bytes.size(), values.size() * sizeof(T)));
  return t;
}
TensorData f32(Shape shape, const std::vector<float>& v) { return tensor(DType::kF32, std::move(shape), v); }

using testing::attrs;

TensorView view(TensorData& t) { return {t.dtype, t.shape, t.bytes.data(), &kPlain}; }

// Runs the reference kernel of `op` on `inputs` into a fresh output of dtype/shape.
Result<TensorData> run(OpType op, std::vector<TensorData> inputs, DType out_dtype, Shape out_shape, Attributes a = {}) {
  model::Node node;
  node.op = op;
  node.name = "n";
  node.attrs = std::move(a);
  std::vector<TensorView> in_views;
  for (TensorData& t : inputs) in_views.push_back(view(t));
  TensorData out = TensorData::zeros("y", out_dtype, std::move(out_shape));
  std::vector<TensorView> out_views{view(out)};
  EL_CHECK(kernel_for(op)(KernelContext{node, in_views, out_views}));
  return out;
}

std::vector<float> run_f32(OpType op, std::vector<TensorData> inputs, Shape out_shape, Attributes a = {}) {
  auto r = run(op, std::move(inputs), DType::kF32, std::move(out_shape), std::move(a));
  EXPECT_TRUE(r.has_value()) << r.error().message;
  if (!r) return {};
  auto v = r->values<float>();
  return {v.begin(), v.end()};
}

template <class T>
std::vector<T> values_of(const Result<TensorData>& r) {
  EXPECT_TRUE(r.has_value()) << r.error().message;
  if (!r) return {};
  auto v = r->values<T>();
  return {v.begin(), v.end()};
}

void expect_near_all(const std::vector<float>& got, const std::vector<double>& want, double rtol = 1e-6, double atol = 1e-7) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_NEAR(got[i], want[i], atol + rtol * std::fabs(want[i])) << "element " << i;
}

std::vector<float> iota_f32(size_t n, float start = 0, float step = 1) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = start + step * static_cast<float>(i);
  return v;
}

// ---- Add, Sub, Mul, Div ------------------------------------------------------------------------

TEST(RefElementwise, AddBroadcastsRank3WithRank2) {
  // [2,3,4] + [3,1]: b[j][0] is added along k.
  std::vector<float> a = iota_f32(24, -5.f, 0.5f);
  std::vector<float> b = {100.f, 200.f, 300.f};
  std::vector<float> got = run_f32(OpType::kAdd, {f32({2, 3, 4}, a), f32({3, 1}, b)}, {2, 3, 4});
  std::vector<float> want(24);
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 4; ++k) want[(i * 3 + j) * 4 + k] = a[(i * 3 + j) * 4 + k] + b[j];
  EXPECT_EQ(got, want);
}

TEST(RefElementwise, AddSmallBroadcastsByHand) {
  EXPECT_EQ(run_f32(OpType::kAdd, {f32({1}, {10}), f32({2, 2}, {1, 2, 3, 4})}, {2, 2}), (std::vector<float>{11, 12, 13, 14}));
  EXPECT_EQ(run_f32(OpType::kAdd, {f32({}, {1.5f}), f32({}, {2.f})}, {}), (std::vector<float>{3.5f}));
  EXPECT_EQ(run_f32(OpType::kAdd, {f32({2, 3}, {1, 2, 3, 4, 5, 6}), f32({}, {10})}, {2, 3}),
            (std::vector<float>{11, 12, 13, 14, 15, 16}));
  // Both sides broadcast: [2,1] + [1,3] is an outer sum.
  EXPECT_EQ(run_f32(OpType::kAdd, {f32({2, 1}, {10, 20}), f32({1, 3}, {1, 2, 3})}, {2, 3}),
            (std::vector<float>{11, 12, 13, 21, 22, 23}));
  // Empty output: nothing to do, nothing read.
  EXPECT_EQ(run_f32(OpType::kAdd, {f32({0, 3}, {}), f32({1, 3}, {1, 2, 3})}, {0, 3}), (std::vector<float>{}));
}

TEST(RefElementwise, SubAndDivKeepOperandOrderUnderBroadcast) {
  // [3] - [2,3]: the broadcast operand is the first one.
  EXPECT_EQ(run_f32(OpType::kSub, {f32({3}, {10, 20, 30}), f32({2, 3}, {1, 2, 3, 4, 5, 6})}, {2, 3}),
            (std::vector<float>{9, 18, 27, 6, 15, 24}));
  EXPECT_EQ(run_f32(OpType::kDiv, {f32({2, 1}, {12, 24}), f32({3}, {1, 2, 4})}, {2, 3}),
            (std::vector<float>{12, 6, 3, 24, 12, 6}));
  EXPECT_EQ(run_f32(OpType::kMul, {f32({2, 2}, {1, 2, 3, 4}), f32({2, 1}, {-1, 10})}, {2, 2}),
            (std::vector<float>{-1, -2, 30, 40}));
}

TEST(RefElementwise, FloatDivisionByZeroIsIeee) {
  std::vector<float> got = run_f32(OpType::kDiv, {f32({3}, {1, -1, 0}), f32({1}, {0})}, {3});
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0], std::numeric_limits<float>::infinity());
  EXPECT_EQ(got[1], -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(got[2]));
}

TEST(RefElementwise, IntegerArithmeticBroadcastsAndWrapsOnOverflow) {
  const int32_t kMax = std::numeric_limits<int32_t>::max(), kMin = std::numeric_limits<int32_t>::min();
  auto add = run(OpType::kAdd, {tensor<int32_t>(DType::kI32, {2, 2}, {1, 2, kMax, kMin}), tensor<int32_t>(DType::kI32, {2}, {1, -1})},
                 DType::kI32, {2, 2});
  EXPECT_EQ(values_of<int32_t>(add), (std::vector<int32_t>{2, 1, kMin, kMax}));
  auto mul = run(OpType::kMul, {tensor<int64_t>(DType::kI64, {3}, {int64_t{1} << 40, std::numeric_limits<int64_t>::max(), -7}),
                                tensor<int64_t>(DType::kI64, {}, {2})},
                 DType::kI64, {3});
  EXPECT_EQ(values_of<int64_t>(mul), (std::vector<int64_t>{int64_t{1} << 41, -2, -14}));
  auto sub = run(OpType::kSub, {tensor<int64_t>(DType::kI64, {1}, {5}), tensor<int64_t>(DType::kI64, {2, 1}, {7, -3})},
                 DType::kI64, {2, 1});
  EXPECT_EQ(values_of<int64_t>(sub), (std::vector<int64_t>{-2, 8}));
}

TEST(RefElementwise, IntegerDivisionTruncatesTowardZero) {
  const int32_t kMin = std::numeric_limits<int32_t>::min();
  auto r = run(OpType::kDiv,
               {tensor<int32_t>(DType::kI32, {6}, {7, -7, 7, -7, kMin, 0}), tensor<int32_t>(DType::kI32, {6}, {2, 2, -2, -2, -1, 5})},
               DType::kI32, {6});
  EXPECT_EQ(values_of<int32_t>(r), (std::vector<int32_t>{3, -3, -3, 3, kMin, 0}));
  auto r64 = run(OpType::kDiv, {tensor<int64_t>(DType::kI64, {2, 2}, {9, -9, 100, -1}), tensor<int64_t>(DType::kI64, {2}, {4, -3})},
                 DType::kI64, {2, 2});
  EXPECT_EQ(values_of<int64_t>(r64), (std::vector<int64_t>{2, 3, 25, 0}));
}

TEST(RefElementwise, IntegerDivisionByZeroFailsTheRun) {
  auto r = run(OpType::kDiv, {tensor<int32_t>(DType::kI32, {3}, {1, 2, 3}), tensor<int32_t>(DType::kI32, {3}, {1, 0, 1})},
               DType::kI32, {3});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(r.error().message.find("division by zero"), std::string::npos) << r.error().message;
  auto r64 = run(OpType::kDiv, {tensor<int64_t>(DType::kI64, {2, 2}, {1, 2, 3, 4}), tensor<int64_t>(DType::kI64, {}, {0})},
                 DType::kI64, {2, 2});
  ASSERT_FALSE(r64.has_value());
  EXPECT_EQ(r64.error().code, ErrorCode::kInvalidArgument);
}

// ---- Activations -------------------------------------------------------------------------------

TEST(RefElementwise, ReluAndLeakyRelu) {
  const float nan = std::nanf("");
  std::vector<float> relu = run_f32(OpType::kRelu, {f32({2, 2}, {-1.5f, 0.f, 2.f, nan})}, {2, 2});
  ASSERT_EQ(relu.size(), 4u);
  EXPECT_EQ(relu[0], 0.f);
  EXPECT_EQ(relu[1], 0.f);
  EXPECT_EQ(relu[2], 2.f);
  EXPECT_TRUE(std::isnan(relu[3]));
  EXPECT_EQ(run_f32(OpType::kRelu, {f32({}, {-3.f})}, {}), (std::vector<float>{0.f}));
  EXPECT_EQ(run_f32(OpType::kLeakyRelu, {f32({3}, {-2.f, 0.f, 3.f})}, {3}, attrs({{"alpha", 0.25f}})),
            (std::vector<float>{-0.5f, 0.f, 3.f}));
}

TEST(RefElementwise, PReluBroadcastsSlope) {
  std::vector<float> x = {-1, 2, -3, 4, -5, 6};
  EXPECT_EQ(run_f32(OpType::kPRelu, {f32({2, 3}, x), f32({3}, {0.5f, 0.25f, 2.f})}, {2, 3}),
            (std::vector<float>{-0.5f, 2, -6, 4, -1.25f, 6}));
  EXPECT_EQ(run_f32(OpType::kPRelu, {f32({2, 3}, x), f32({2, 1}, {0.5f, 2.f})}, {2, 3}),
            (std::vector<float>{-0.5f, 2, -1.5f, 4, -10, 6}));
  EXPECT_EQ(run_f32(OpType::kPRelu, {f32({2, 3}, x), f32({}, {0.1f})}, {2, 3}),
            (std::vector<float>{-1 * 0.1f, 2, -3 * 0.1f, 4, -5 * 0.1f, 6}));
}

TEST(RefElementwise, Clip) {
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> x = {-inf, -2.f, -0.5f, 0.5f, 2.f, inf};
  EXPECT_EQ(run_f32(OpType::kClip, {f32({6}, x)}, {6}, attrs({{"min", -1.f}, {"max", 1.f}})),
            (std::vector<float>{-1, -1, -0.5f, 0.5f, 1, 1}));
  EXPECT_EQ(run_f32(OpType::kClip, {f32({6}, x)}, {6}, attrs({{"max", 0.f}})),
            (std::vector<float>{-inf, -2.f, -0.5f, 0, 0, 0}));
  EXPECT_EQ(run_f32(OpType::kClip, {f32({6}, x)}, {6}), x);
  // min > max: every value becomes max (numpy.clip, later ONNX docs).
  EXPECT_EQ(run_f32(OpType::kClip, {f32({3}, {-5, 0, 5})}, {3}, attrs({{"min", 2.f}, {"max", 1.f}})),
            (std::vector<float>{1, 1, 1}));
  std::vector<float> n = run_f32(OpType::kClip, {f32({1}, {std::nanf("")})}, {1}, attrs({{"min", 0.f}, {"max", 6.f}}));
  ASSERT_EQ(n.size(), 1u);
  EXPECT_TRUE(std::isnan(n[0]));
}

TEST(RefElementwise, SigmoidAndTanhMatchTheirDefinitions) {
  std::vector<float> x = {-100.f, -20.f, -3.f, -1.f, -1e-3f, 0.f, 1e-3f, 1.f, 3.f, 20.f, 100.f};
  std::vector<double> sig, th;
  for (float v : x) {
    const double d = v;
    sig.push_back(1.0 / (1.0 + std::exp(-d)));
    th.push_back((std::exp(d) - std::exp(-d)) / (std::exp(d) + std::exp(-d)));
  }
  const Shape s = {static_cast<int64_t>(x.size())};
  expect_near_all(run_f32(OpType::kSigmoid, {f32(s, x)}, s), sig, 1e-6, 1e-45);
  expect_near_all(run_f32(OpType::kTanh, {f32(s, x)}, s), th, 1e-6, 1e-12);
}

TEST(RefElementwise, HardSigmoidAndHardSwishByHand) {
  expect_near_all(run_f32(OpType::kHardSigmoid, {f32({6}, {-3.f, -2.5f, 0.f, 1.f, 2.5f, 3.f})}, {6},
                          attrs({{"alpha", 0.2f}, {"beta", 0.5f}})),
                  {0, 0, 0.5, 0.7, 1, 1});
  // y = x * clamp(x/6 + 1/2, 0, 1)
  expect_near_all(run_f32(OpType::kHardSwish, {f32({8}, {-4.f, -3.f, -1.f, 0.f, 1.f, 2.f, 3.f, 4.f})}, {8}),
                  {0, 0, -1.0 / 3, 0, 2.0 / 3, 2.0 * 5 / 6, 3, 4});
}

// ---- Softmax, LogSoftmax -----------------------------------------------------------------------

// Naive softmax over groups of elements: exp(x) / sum exp(x), no max subtraction (inputs small).
// group_of(i) names the group of element i.
template <class GroupOf>
std::pair<std::vector<double>, std::vector<double>> naive_softmax(const std::vector<float>& x, size_t groups, GroupOf group_of) {
  std::vector<double> sums(groups, 0.0);
  for (size_t i = 0; i < x.size(); ++i) sums[group_of(i)] += std::exp(static_cast<double>(x[i]));
  std::vector<double> soft(x.size()), log_soft(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    soft[i] = std::exp(static_cast<double>(x[i])) / sums[group_of(i)];
    log_soft[i] = static_cast<double>(x[i]) - std::log(sums[group_of(i)]);
  }
  return {soft, log_soft};
}

struct SoftmaxCase {
  int64_t axis;
  int64_t coerce_2d;
  size_t groups;
  size_t (*group_of)(size_t);  // index into [2,3,4] row-major -> group
};

TEST(RefElementwise, SoftmaxAndLogSoftmaxAlongInnerAndOuterAxesBothSemantics) {
  // x[i][j][k], flat index f = 12i + 4j + k.
  const SoftmaxCase cases[] = {
      {2, 0, 6, [](size_t f) { return f / 4; }},                    // over k
      {1, 0, 8, [](size_t f) { return (f / 12) * 4 + f % 4; }},     // over j, per (i, k)
      {0, 0, 12, [](size_t f) { return f % 12; }},                  // over i, per (j, k)
      {2, 1, 6, [](size_t f) { return f / 4; }},                    // coerce_2d at the last axis = over k
      {1, 1, 2, [](size_t f) { return f / 12; }},                   // over (j, k) flattened, per i
      {0, 1, 1, [](size_t) { return size_t{0}; }},                  // over everything
  };
  std::vector<float> x(24);
  for (size_t f = 0; f < 24; ++f) x[f] = std::sin(static_cast<float>(f) * 1.7f) * 3.f;
  for (const auto& c : cases) {
    auto [soft, log_soft] = naive_softmax(x, c.groups, c.group_of);
    const Attributes a = attrs({{"axis", c.axis}, {"coerce_2d", c.coerce_2d}});
    SCOPED_TRACE(::testing::Message() << "axis " << c.axis << " coerce_2d " << c.coerce_2d);
    expect_near_all(run_f32(OpType::kSoftmax, {f32({2, 3, 4}, x)}, {2, 3, 4}, a), soft, 1e-6, 1e-9);
    expect_near_all(run_f32(OpType::kLogSoftmax, {f32({2, 3, 4}, x)}, {2, 3, 4}, a), log_soft, 1e-6, 1e-6);
  }
}

TEST(RefElementwise, SoftmaxIsStableForLargeInputs) {
  // Shifting by a constant changes nothing; exp(1000) would overflow without the max subtraction.
  const Attributes a = attrs({{"axis", int64_t{1}}, {"coerce_2d", int64_t{0}}});
  expect_near_all(run_f32(OpType::kSoftmax, {f32({2, 3}, {1000, 1001, 1002, -1000, -1001, -1002})}, {2, 3}, a),
                  {0.09003057317038046, 0.24472847105479764, 0.6652409557748219, 0.6652409557748219,
                   0.24472847105479764, 0.09003057317038046});
  expect_near_all(run_f32(OpType::kLogSoftmax, {f32({1, 3}, {1000, 1001, 1002})}, {1, 3}, a),
                  {-2.4076059644443806, -1.4076059644443806, -0.40760596444438063});
}

// ---- ReduceMean --------------------------------------------------------------------------------

TEST(RefElementwise, ReduceMeanOverSeveralAxes) {
  // x[i][j][k] = 12i + 4j + k, shape [2,3,4].
  const TensorData x = f32({2, 3, 4}, iota_f32(24));
  auto mean = [&](std::vector<int64_t> axes, int64_t keepdims, Shape out) {
    return run_f32(OpType::kReduceMean, {x}, std::move(out), attrs({{"axes", axes}, {"keepdims", keepdims}}));
  };
  // Over i and k: 6 + 4j + 1.5.
  EXPECT_EQ(mean({0, 2}, 1, {1, 3, 1}), (std::vector<float>{7.5f, 11.5f, 15.5f}));
  EXPECT_EQ(mean({0, 2}, 0, {3}), (std::vector<float>{7.5f, 11.5f, 15.5f}));
  // Over j: 12i + 4 + k.
  EXPECT_EQ(mean({1}, 0, {2, 4}), (std::vector<float>{4, 5, 6, 7, 16, 17, 18, 19}));
  EXPECT_EQ(mean({1}, 1, {2, 1, 4}), (std::vector<float>{4, 5, 6, 7, 16, 17, 18, 19}));
  // Over k: 12i + 4j + 1.5.
  EXPECT_EQ(mean({2}, 0, {2, 3}), (std::vector<float>{1.5f, 5.5f, 9.5f, 13.5f, 17.5f, 21.5f}));
  // Over i: 6 + 4j + k.
  EXPECT_EQ(mean({0}, 1, {1, 3, 4}), (std::vector<float>{6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17}));
  // Everything.
  EXPECT_EQ(mean({}, 0, {}), (std::vector<float>{11.5f}));
  EXPECT_EQ(mean({}, 1, {1, 1, 1}), (std::vector<float>{11.5f}));
  EXPECT_EQ(mean({0, 1, 2}, 0, {}), (std::vector<float>{11.5f}));
}

TEST(RefElementwise, ReduceMeanMatchesANaiveLoopOnRank4) {
  const Shape s = {3, 2, 5, 2};
  std::vector<float> v(60);
  for (size_t i = 0; i < v.size(); ++i) v[i] = std::cos(static_cast<float>(i)) * 10.f;
  // Axes {1, 3}: out[a][c] = mean over b, d of v[a][b][c][d].
  std::vector<double> want(15, 0.0);
  for (int a = 0; a < 3; ++a)
    for (int b = 0; b < 2; ++b)
      for (int c = 0; c < 5; ++c)
        for (int d = 0; d < 2; ++d) want[a * 5 + c] += v[((a * 2 + b) * 5 + c) * 2 + d] / 4.0;
  expect_near_all(run_f32(OpType::kReduceMean, {f32(s, v)}, {3, 5},
                          attrs({{"axes", std::vector<int64_t>{1, 3}}, {"keepdims", int64_t{0}}})),
                  want);
}

// ---- Cast --------------------------------------------------------------------------------------

template <class To, class From>
std::vector<To> cast(DType from, DType to, const std::vector<From>& x) {
  const Shape s = {static_cast<int64_t>(x.size())};
  return values_of<To>(run(OpType::kCast, {tensor(from, s, x)}, to, s, attrs({{"to", std::string(model::dtype_name(to))}})));
}

TEST(RefElementwise, CastFloatToIntegersTruncatesAndSaturates) {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::nanf("");
  const int32_t kMax = std::numeric_limits<int32_t>::max(), kMin = std::numeric_limits<int32_t>::min();
  EXPECT_EQ((cast<int32_t, float>(DType::kF32, DType::kI32, {2.7f, -2.7f, 0.5f, -0.5f, 1e10f, -1e10f, nan, inf, -inf, 2147483520.f})),
            (std::vector<int32_t>{2, -2, 0, 0, kMax, kMin, 0, kMax, kMin, 2147483520}));
  EXPECT_EQ((cast<uint8_t, float>(DType::kF32, DType::kU8, {-1.f, 255.9f, 256.f, 3.9f, -0.9f})),
            (std::vector<uint8_t>{0, 255, 255, 3, 0}));
  EXPECT_EQ((cast<int8_t, float>(DType::kF32, DType::kI8, {127.5f, -128.9f, -129.f, 128.f, -7.9f})),
            (std::vector<int8_t>{127, -128, -128, 127, -7}));
  EXPECT_EQ((cast<int64_t, float>(DType::kF32, DType::kI64, {9.3e18f, -9.3e18f, 0x1p62f, -0x1p63f})),
            (std::vector<int64_t>{std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::min(), int64_t{1} << 62,
                                  std::numeric_limits<int64_t>::min()}));
}

TEST(RefElementwise, CastToAndFromBool) {
  EXPECT_EQ((cast<uint8_t, float>(DType::kF32, DType::kBool, {0.f, -0.f, 0.1f, std::nanf(""), -INFINITY, 1e-45f})),
            (std::vector<uint8_t>{0, 0, 1, 1, 1, 1}));
  // Any non-zero byte reads as true and converts to 1.
  EXPECT_EQ((cast<float, uint8_t>(DType::kBool, DType::kF32, {0, 1, 2, 255})), (std::vector<float>{0, 1, 1, 1}));
  EXPECT_EQ((cast<int64_t, uint8_t>(DType::kBool, DType::kI64, {0, 1, 7})), (std::vector<int64_t>{0, 1, 1}));
  EXPECT_EQ((cast<uint8_t, uint8_t>(DType::kBool, DType::kBool, {0, 1, 7})), (std::vector<uint8_t>{0, 1, 1}));
  EXPECT_EQ((cast<uint8_t, int32_t>(DType::kI32, DType::kBool, {0, 36, -1, 256})), (std::vector<uint8_t>{0, 1, 1, 1}));
  EXPECT_EQ((cast<uint8_t, uint16_t>(DType::kF16, DType::kBool, {0x8000, 0x0001, 0x0000})), (std::vector<uint8_t>{0, 1, 0}));
}

TEST(RefElementwise, CastBetweenIntegersWrapsModulo) {
  EXPECT_EQ((cast<uint8_t, int32_t>(DType::kI32, DType::kU8, {300, -1, 255, 256})), (std::vector<uint8_t>{44, 255, 255, 0}));
  EXPECT_EQ((cast<int8_t, int32_t>(DType::kI32, DType::kI8, {200, -129, 127})), (std::vector<int8_t>{-56, 127, 127}));
  EXPECT_EQ((cast<int32_t, int64_t>(DType::kI64, DType::kI32, {(int64_t{1} << 32) + 5, -1, int64_t{1} << 31})),
            (std::vector<int32_t>{5, -1, std::numeric_limits<int32_t>::min()}));
  EXPECT_EQ((cast<int8_t, uint8_t>(DType::kU8, DType::kI8, {200, 5})), (std::vector<int8_t>{-56, 5}));
  EXPECT_EQ((cast<uint8_t, int8_t>(DType::kI8, DType::kU8, {-1, -128, 3})), (std::vector<uint8_t>{255, 128, 3}));
  EXPECT_EQ((cast<int64_t, int8_t>(DType::kI8, DType::kI64, {-5, 127})), (std::vector<int64_t>{-5, 127}));
}

TEST(RefElementwise, CastIntegersToFloatRoundToNearest) {
  EXPECT_EQ((cast<float, int32_t>(DType::kI32, DType::kF32, {16777217, 16777219, -3})), (std::vector<float>{16777216.f, 16777220.f, -3.f}));
  EXPECT_EQ((cast<float, uint8_t>(DType::kU8, DType::kF32, {255, 0})), (std::vector<float>{255.f, 0.f}));
  EXPECT_EQ((cast<float, int64_t>(DType::kI64, DType::kF32, {int64_t{1} << 40})), (std::vector<float>{0x1p40f}));
}

TEST(RefElementwise, CastFloat16BothWays) {
  // f32 -> f16: exact, largest finite, halfway to 2^16 (ties to even: infinity), tiny values.
  std::vector<uint16_t> h = cast<uint16_t, float>(DType::kF32, DType::kF16,
                                                  {1.f, -2.f, 65504.f, 65520.f, 0x1p-24f, 0x1p-25f, 1e-10f, 2049.f, INFINITY});
  EXPECT_EQ(h, (std::vector<uint16_t>{0x3c00, 0xc000, 0x7bff, 0x7c00, 0x0001, 0x0000, 0x0000, 0x6800, 0x7c00}));
  std::vector<uint16_t> hn = cast<uint16_t, float>(DType::kF32, DType::kF16, {std::nanf("")});
  ASSERT_EQ(hn.size(), 1u);
  EXPECT_EQ(hn[0] & 0x7c00, 0x7c00);
  EXPECT_NE(hn[0] & 0x03ff, 0);
  // f16 -> f32: 1, smallest subnormal, -inf, 20, -5.5.
  EXPECT_EQ((cast<float, uint16_t>(DType::kF16, DType::kF32, {0x3c00, 0x0001, 0xfc00, 0x4d00, 0xc580})),
            (std::vector<float>{1.f, 0x1p-24f, -INFINITY, 20.f, -5.5f}));
  // f16 -> integers goes through the exact value: 20 and -5.5 truncate to 20 and -5; inf saturates.
  EXPECT_EQ((cast<int32_t, uint16_t>(DType::kF16, DType::kI32, {0x4d00, 0xc580, 0x7c00})),
            (std::vector<int32_t>{20, -5, std::numeric_limits<int32_t>::max()}));
  // Integers -> f16: 65504 exact, 65520 to infinity, 2049 ties to even 2048, -3 exact.
  EXPECT_EQ((cast<uint16_t, int32_t>(DType::kI32, DType::kF16, {65504, 65520, 2049, -3})),
            (std::vector<uint16_t>{0x7bff, 0x7c00, 0x6800, 0xc200}));
  EXPECT_EQ((cast<uint16_t, uint8_t>(DType::kBool, DType::kF16, {0, 9})), (std::vector<uint16_t>{0x0000, 0x3c00}));
  EXPECT_EQ((cast<uint16_t, uint16_t>(DType::kF16, DType::kF16, {0x3555, 0x8001})), (std::vector<uint16_t>{0x3555, 0x8001}));
}

TEST(RefElementwise, CastIdentityAndScalar) {
  EXPECT_EQ((cast<float, float>(DType::kF32, DType::kF32, {1.25f, -0.f})), (std::vector<float>{1.25f, -0.f}));
  auto r = run(OpType::kCast, {f32({}, {-3.9f})}, DType::kI64, {}, attrs({{"to", std::string("i64")}}));
  EXPECT_EQ(values_of<int64_t>(r), (std::vector<int64_t>{-3}));
}

}  // namespace
}  // namespace edgeloop::runtime::reference

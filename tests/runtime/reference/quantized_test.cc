// Reference kernels of the quantized forms (docs/ops.md; arithmetic in docs/quantization.md,
// "Arithmetic of quantized kernels") against hand-computed values and independent loops written
// here. Every case is a one-node graph that shape inference must accept before the kernel runs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "edgeloop/model/artifact.h"
#include "edgeloop/model/half.h"
#include "edgeloop/model/shape_inference.h"
#include "edgeloop/runtime/program.h"
#include "edgeloop/runtime/quant_math.h"
#include "edgeloop/runtime/reference/kernels.h"
#include "edgeloop/runtime/session.h"
#include "testing/graphs.h"

namespace edgeloop::runtime::reference {
namespace {

using model::OpType;
using model::QuantParams;
using model::Shape;
using testing::attrs;
using Ints = std::vector<int64_t>;

template <class T>
constexpr DType dtype_of() {
  if constexpr (std::is_same_v<T, float>) return DType::kF32;
  else if constexpr (std::is_same_v<T, uint8_t>) return DType::kU8;
  else if constexpr (std::is_same_v<T, int8_t>) return DType::kI8;
  else return DType::kI32;
}

// A tensor for a test graph: a graph input, or a constant (weights) when `constant`.
struct Value {
  DType dtype = DType::kF32;
  Shape shape;
  std::vector<std::byte> bytes;
  QuantParams quant;
  bool constant = false;

  template <class T>
  static Value of(Shape shape, const std::vector<T>& values, QuantParams quant = {}, bool constant = false) {
    Value v{dtype_of<T>(), std::move(shape), std::vector<std::byte>(values.size() * sizeof(T)), std::move(quant), constant};
    EXPECT_EQ(static_cast<int64_t>(values.size()), model::num_elements(v.shape)) << "test bug: values vs shape";
    if (!values.empty()) std::memcpy(v.bytes.data(), values.data(), v.bytes.size());
    return v;
  }
  // Packed int4 weights (constant).
  static Value i4(Shape shape, const std::vector<int8_t>& values, QuantParams quant) {
    Value v{DType::kI4, std::move(shape), {}, std::move(quant), true};
    EXPECT_EQ(static_cast<int64_t>(values.size()), model::num_elements(v.shape)) << "test bug: values vs shape";
    v.bytes.assign(model::storage_bytes(DType::kI4, static_cast<int64_t>(values.size())), std::byte{0});
    for (size_t i = 0; i < values.size(); ++i) model::store_i4(v.bytes.data(), static_cast<int64_t>(i), values[i]);
    return v;
  }
  template <class T>
  std::vector<T> as() const {
    std::vector<T> out(bytes.size() / sizeof(T));
    if (!out.empty()) std::memcpy(out.data(), bytes.data(), bytes.size());
    return out;
  }
};

// One node reading `inputs` (nullptr: an absent optional input) and writing 'y', declared
// `out_dtype` with `out_quant`: shape inference must accept it; then the reference kernel runs.
Result<Value> run(OpType op, model::Attributes a, const std::vector<const Value*>& inputs, DType out_dtype,
                  QuantParams out_quant = {}) {
  model::Graph g;
  model::Node n{op, "n", {}, {}, std::move(a)};
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Value* v = inputs[i];
    if (v == nullptr) {
      n.inputs.push_back(model::kNoTensor);
      continue;
    }
    model::Tensor t{"in" + std::to_string(i), v->dtype, v->shape, v->quant, v->constant, {}};
    if (v->constant) t.data = SharedBytes::adopt(v->bytes);
    n.inputs.push_back(g.add_tensor(std::move(t)));
  }
  n.outputs.push_back(g.add_tensor({"y", out_dtype, {}, std::move(out_quant), false, {}}));
  g.nodes.push_back(std::move(n));
  EL_CHECK(model::infer_node(g, 0));
  const model::Tensor& yt = g.tensors[g.nodes[0].outputs[0]];
  Value y{yt.dtype, yt.shape, std::vector<std::byte>(yt.byte_size(), std::byte{0x7b}), yt.quant};  // poisoned
  std::vector<TensorView> in_views;
  for (const Value* v : inputs)
    in_views.push_back(v != nullptr ? TensorView{v->dtype, v->shape, const_cast<std::byte*>(v->bytes.data()), &v->quant}
                                    : TensorView{});
  std::vector<TensorView> out_views{{y.dtype, y.shape, y.bytes.data(), &y.quant}};
  EL_CHECK(kernel_for(op)(KernelContext{g.nodes[0], in_views, out_views}));
  return y;
}

template <class T>
std::vector<T> run_values(OpType op, model::Attributes a, const std::vector<const Value*>& inputs, DType out_dtype,
                          QuantParams out_quant = {}) {
  auto y = run(op, std::move(a), inputs, out_dtype, std::move(out_quant));
  EXPECT_TRUE(y.has_value()) << y.error().message;
  return y ? y->as<T>() : std::vector<T>{};
}

template <class T>
std::vector<T> random_ints(size_t n, uint32_t seed, int lo = std::numeric_limits<T>::min(),
                           int hi = std::numeric_limits<T>::max()) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> dist(lo, hi);
  std::vector<T> v(n);
  for (T& x : v) x = static_cast<T>(dist(rng));
  return v;
}

std::vector<float> random_floats(size_t n, uint32_t seed, float lo, float hi) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// Scales that are exactly f16 values (the INT4 toolchain's group scales).
std::vector<float> random_f16_scales(size_t n, uint32_t seed) {
  std::vector<float> v = random_floats(n, seed, 0.002f, 0.08f);
  for (float& s : v) s = model::half_to_float(model::float_to_half(s));
  return v;
}

QuantParams per_tensor(float scale, int32_t zero_point) { return {{scale}, {zero_point}}; }
QuantParams per_channel(std::vector<float> scales, int32_t axis) { return {std::move(scales), {}, axis}; }
QuantParams per_group(std::vector<float> scales, int32_t block_size, DType scale_dtype = DType::kF32) {
  return {std::move(scales), {}, 0, 1, block_size, scale_dtype};
}

model::Attributes conv_attrs(const Ints& strides, const Ints& pads, const Ints& dilations, int64_t group,
                             const char* requantize = nullptr) {
  model::Attributes a = attrs({{"strides", strides}, {"pads", pads}, {"dilations", dilations}, {"group", group}});
  if (requantize != nullptr) a.set("requantize", std::string(requantize));
  return a;
}

model::Attributes gemm_attrs(int64_t trans_b, const char* requantize = nullptr) {
  model::Attributes a = attrs({{"alpha", 1.f}, {"beta", 1.f}, {"transA", int64_t{0}}, {"transB", trans_b}});
  if (requantize != nullptr) a.set("requantize", std::string(requantize));
  return a;
}

// The stated fixed-point requantization, written out here: (acc·M + 2^(shift−1)) >> shift, + zero
// point, clamped. |acc| < 2^31 in these tests, so int64 is exact.
int fixed_point_output(int64_t acc, double m, int32_t zero_point, int lo, int hi) {
  auto f = quantize_multiplier(m);
  EXPECT_TRUE(f.has_value());
  const int64_t r = (acc * f->multiplier + (int64_t{1} << (f->shift - 1))) >> f->shift;
  return static_cast<int>(std::clamp<int64_t>(r + zero_point, lo, hi));
}

// ---- W8A8 Conv ----

TEST(W8A8Conv, FixedPointTiesRoundTowardPositiveInfinityFloatTiesToEven) {
  // y = x · (1 · 1 / 2): acc · 0.5 for acc = 1, 3, 5, −1, −3, −5, 100, −100.
  Value x = Value::of<int8_t>({1, 1, 1, 8}, {1, 3, 5, -1, -3, -5, 100, -100}, per_tensor(1.f, 0));
  Value w = Value::of<int8_t>({1, 1, 1, 1}, {1}, per_tensor(1.f, 0), true);
  const auto a = [](const char* r) { return conv_attrs({1, 1}, {0, 0, 0, 0}, {1, 1}, 1, r); };
  EXPECT_EQ(run_values<int8_t>(OpType::kConv, a("fixed_point"), {&x, &w}, DType::kI8, per_tensor(2.f, 0)),
            (std::vector<int8_t>{1, 2, 3, 0, -1, -2, 50, -50}));
  EXPECT_EQ(run_values<int8_t>(OpType::kConv, a("float"), {&x, &w}, DType::kI8, per_tensor(2.f, 0)),
            (std::vector<int8_t>{0, 2, 2, 0, -2, -2, 50, -50}));
  EXPECT_EQ(run_values<int8_t>(OpType::kConv, a(nullptr), {&x, &w}, DType::kI8, per_tensor(2.f, 0)),
            (std::vector<int8_t>{0, 2, 2, 0, -2, -2, 50, -50}));
  // Zero point 100 and saturation: 50 + 100 → 127.
  EXPECT_EQ(run_values<int8_t>(OpType::kConv, a("fixed_point"), {&x, &w}, DType::kI8, per_tensor(2.f, 100)),
            (std::vector<int8_t>{101, 102, 103, 100, 99, 98, 127, 50}));
  // An i32 bias joins the accumulator before requantization: acc + 2 for 1 → 1.5 → 2.
  Value b = Value::of<int32_t>({1}, {2}, {}, true);
  EXPECT_EQ(run_values<int8_t>(OpType::kConv, a("fixed_point"), {&x, &w, &b}, DType::kI8, per_tensor(2.f, 0)),
            (std::vector<int8_t>{2, 3, 4, 1, 0, -1, 51, -49}));
  // u8 output with zero point 128.
  EXPECT_EQ(run_values<uint8_t>(OpType::kConv, a("fixed_point"), {&x, &w}, DType::kU8, per_tensor(2.f, 128)),
            (std::vector<uint8_t>{129, 130, 131, 128, 127, 126, 178, 78}));
}

TEST(W8A8Conv, PerChannelDepthwiseFixedPointMatchesAStraightforwardLoop) {
  const int64_t batch = 2, channels = 4, in_h = 7, in_w = 6;
  const int64_t stride_h = 2, stride_w = 1, dil_h = 1, dil_w = 2, pad_t = 1, pad_l = 0, pad_b = 1, pad_r = 2;
  const int64_t out_h = (in_h + pad_t + pad_b - (2 * dil_h + 1)) / stride_h + 1;
  const int64_t out_w = (in_w + pad_l + pad_r - (2 * dil_w + 1)) / stride_w + 1;
  const QuantParams xq = per_tensor(0.05f, -5), yq = per_tensor(0.1f, 3);
  const std::vector<float> w_scales{0.01f, 0.02f, 0.004f, 0.03f};
  const auto xs = random_ints<int8_t>(batch * channels * in_h * in_w, 41);
  const auto ws = random_ints<int8_t>(channels * 9, 42);
  const auto bs = random_ints<int32_t>(channels, 43, -2000, 2000);

  std::vector<int8_t> expected;
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t oh = 0; oh < out_h; ++oh)
        for (int64_t ow = 0; ow < out_w; ++ow) {
          int64_t acc = bs[c];
          for (int64_t kh = 0; kh < 3; ++kh)
            for (int64_t kw = 0; kw < 3; ++kw) {
              const int64_t ih = oh * stride_h - pad_t + kh * dil_h, iw = ow * stride_w - pad_l + kw * dil_w;
              if (ih < 0 || ih >= in_h || iw < 0 || iw >= in_w) continue;
              acc += (xs[((n * channels + c) * in_h + ih) * in_w + iw] - xq.zero_points[0]) * int64_t{ws[c * 9 + kh * 3 + kw]};
            }
          const double m = double{xq.scales[0]} * double{w_scales[c]} / double{yq.scales[0]};
          expected.push_back(static_cast<int8_t>(fixed_point_output(acc, m, yq.zero_points[0], -128, 127)));
        }

  Value x = Value::of<int8_t>({batch, channels, in_h, in_w}, xs, xq);
  Value w = Value::of<int8_t>({channels, 1, 3, 3}, ws, per_channel(w_scales, 0), true);
  Value b = Value::of<int32_t>({channels}, bs, {}, true);
  auto y = run(OpType::kConv, conv_attrs({stride_h, stride_w}, {pad_t, pad_l, pad_b, pad_r}, {dil_h, dil_w}, channels, "fixed_point"),
               {&x, &w, &b}, DType::kI8, yq);
  ASSERT_TRUE(y.has_value()) << y.error().message;
  EXPECT_EQ(y->shape, (Shape{batch, channels, out_h, out_w}));
  EXPECT_EQ(y->as<int8_t>(), expected);
}

// Fixed-point and float requantization of the same accumulators differ by at most one step.
template <class T>
void expect_within_one_lsb(const std::vector<T>& fixed, const std::vector<T>& floating, double max_differing) {
  ASSERT_EQ(fixed.size(), floating.size());
  ASSERT_FALSE(fixed.empty());
  size_t differing = 0;
  for (size_t i = 0; i < fixed.size(); ++i) {
    EXPECT_LE(std::abs(int{fixed[i]} - int{floating[i]}), 1) << "at " << i;
    differing += fixed[i] != floating[i];
  }
  // Only ties and near-ties differ.
  EXPECT_LE(static_cast<double>(differing), max_differing * static_cast<double>(fixed.size()));
}

TEST(W8A8Conv, FixedPointAgreesWithFloatWithinOneLsb) {
  const auto xs = random_ints<uint8_t>(2 * 6 * 9 * 9, 51);
  const auto ws = random_ints<int8_t>(8 * 3 * 3 * 3, 52);
  const auto bs = random_ints<int32_t>(8, 53, -3000, 3000);
  Value x = Value::of<uint8_t>({2, 6, 9, 9}, xs, per_tensor(0.02f, 128));
  std::vector<float> w_scales = random_floats(8, 54, 0.001f, 0.01f);
  Value w = Value::of<int8_t>({8, 3, 3, 3}, ws, per_channel(w_scales, 0), true);
  Value b = Value::of<int32_t>({8}, bs, {}, true);
  for (DType out : {DType::kU8, DType::kI8}) {
    const QuantParams yq = per_tensor(0.03f, out == DType::kU8 ? 120 : -7);
    const auto a = [](const char* r) { return conv_attrs({1, 2}, {1, 1, 1, 0}, {1, 1}, 2, r); };
    auto fixed = run(OpType::kConv, a("fixed_point"), {&x, &w, &b}, out, yq);
    auto floating = run(OpType::kConv, a("float"), {&x, &w, &b}, out, yq);
    ASSERT_TRUE(fixed && floating);
    if (out == DType::kU8) expect_within_one_lsb(fixed->as<uint8_t>(), floating->as<uint8_t>(), 0.02);
    else expect_within_one_lsb(fixed->as<int8_t>(), floating->as<int8_t>(), 0.02);
  }
}

// ---- W8A8 Gemm and MatMul ----

TEST(W8A8Gemm, HandComputedPerChannelWithBias) {
  // a − 1 = [[1, 2, 3], [−1, 0, −2]]; B rows (output channels) [1, 0, −1] and [2, 2, 2]; C [10, 0].
  // acc = [[−2 + 10, 12], [1 + 10, −6]]; multipliers 1 · 1 / 2 = 0.5 and 1 · 0.5 / 2 = 0.25:
  // [[4, 3], [5.5, −1.5]] → fixed point [[4, 3], [6, −1]], float (ties to even) [[4, 3], [6, −2]].
  Value a = Value::of<int8_t>({2, 3}, {2, 3, 4, 0, 1, -1}, per_tensor(1.f, 1));
  Value b_nk = Value::of<int8_t>({2, 3}, {1, 0, -1, 2, 2, 2}, per_channel({1.f, 0.5f}, 0), true);
  Value b_kn = Value::of<int8_t>({3, 2}, {1, 2, 0, 2, -1, 2}, per_channel({1.f, 0.5f}, 1), true);
  Value c = Value::of<int32_t>({2}, {10, 0}, {}, true);
  const QuantParams yq = per_tensor(2.f, 0);
  EXPECT_EQ(run_values<int8_t>(OpType::kGemm, gemm_attrs(1, "fixed_point"), {&a, &b_nk, &c}, DType::kI8, yq),
            (std::vector<int8_t>{4, 3, 6, -1}));
  EXPECT_EQ(run_values<int8_t>(OpType::kGemm, gemm_attrs(0, "fixed_point"), {&a, &b_kn, &c}, DType::kI8, yq),
            (std::vector<int8_t>{4, 3, 6, -1}));
  EXPECT_EQ(run_values<int8_t>(OpType::kGemm, gemm_attrs(1, "float"), {&a, &b_nk, &c}, DType::kI8, yq),
            (std::vector<int8_t>{4, 3, 6, -2}));
  EXPECT_EQ(run_values<int8_t>(OpType::kGemm, gemm_attrs(1), {&a, &b_nk, &c}, DType::kI8, yq),
            (std::vector<int8_t>{4, 3, 6, -2}));
  // Without C: [[−2, 12], [1, −6]] · [0.5, 0.25] → [[−1, 3], [1 (0.5 up), −1 (−1.5 up)]].
  EXPECT_EQ(run_values<int8_t>(OpType::kGemm, gemm_attrs(1, "fixed_point"), {&a, &b_nk}, DType::kI8, yq),
            (std::vector<int8_t>{-1, 3, 1, -1}));
}

TEST(W8A8Gemm, FixedPointMatchesAStraightforwardLoopAndFloatWithinOneLsb) {
  const int64_t m = 3, k = 37, n = 5;
  const QuantParams aq = per_tensor(0.03f, 120), yq = per_tensor(0.05f, -4);
  const std::vector<float> b_scales = random_floats(n, 61, 0.002f, 0.02f);
  const auto as = random_ints<uint8_t>(m * k, 62);
  const auto bs = random_ints<int8_t>(n * k, 63);
  const auto cs = random_ints<int32_t>(n, 64, -5000, 5000);
  std::vector<int8_t> expected;
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      int64_t acc = cs[j];
      for (int64_t p = 0; p < k; ++p) acc += (int64_t{as[i * k + p]} - 120) * bs[j * k + p];
      expected.push_back(static_cast<int8_t>(
          fixed_point_output(acc, double{aq.scales[0]} * double{b_scales[j]} / double{yq.scales[0]}, -4, -128, 127)));
    }
  Value a = Value::of<uint8_t>({m, k}, as, aq);
  Value b = Value::of<int8_t>({n, k}, bs, per_channel(b_scales, 0), true);
  Value c = Value::of<int32_t>({n}, cs, {}, true);
  const auto fixed = run_values<int8_t>(OpType::kGemm, gemm_attrs(1, "fixed_point"), {&a, &b, &c}, DType::kI8, yq);
  EXPECT_EQ(fixed, expected);
  const auto floating = run_values<int8_t>(OpType::kGemm, gemm_attrs(1, "float"), {&a, &b, &c}, DType::kI8, yq);
  expect_within_one_lsb(fixed, floating, 0.1);
}

TEST(W8A8MatMul, FixedPointTiesAndAgreementWithFloat) {
  Value a = Value::of<int8_t>({4, 1}, {1, 3, -1, -3}, per_tensor(1.f, 0));
  Value b = Value::of<int8_t>({1, 1}, {1}, per_tensor(1.f, 0), true);
  auto a_fixed = attrs({{"requantize", std::string("fixed_point")}});
  EXPECT_EQ(run_values<int8_t>(OpType::kMatMul, a_fixed, {&a, &b}, DType::kI8, per_tensor(2.f, 0)),
            (std::vector<int8_t>{1, 2, 0, -1}));
  EXPECT_EQ(run_values<int8_t>(OpType::kMatMul, {}, {&a, &b}, DType::kI8, per_tensor(2.f, 0)),
            (std::vector<int8_t>{0, 2, 0, -2}));

  Value ar = Value::of<int8_t>({2, 3, 20}, random_ints<int8_t>(120, 71), per_tensor(0.04f, -3));
  Value br = Value::of<int8_t>({20, 6}, random_ints<int8_t>(120, 72), per_channel(random_floats(6, 73, 0.005f, 0.02f), 1), true);
  const QuantParams yq = per_tensor(0.08f, 2);
  const auto fixed = run_values<int8_t>(OpType::kMatMul, a_fixed, {&ar, &br}, DType::kI8, yq);
  const auto floating = run_values<int8_t>(OpType::kMatMul, attrs({{"requantize", std::string("float")}}), {&ar, &br}, DType::kI8, yq);
  expect_within_one_lsb(fixed, floating, 0.1);
}

TEST(W8A8Products, LongReductionsStayExactBeyondInt32) {
  // 70000 terms of (0 − 255)·(0 − 255) = 65025: acc = 4 551 750 000 > 2^31, times 2^-27 = 33.91 → 34.
  // An int32 accumulator would wrap to 256 782 704 (→ 2).
  const int64_t k = 70000;
  const QuantParams q = per_tensor(1.f, 255), yq = per_tensor(134217728.f, 0);
  std::vector<uint8_t> xs(2 * k);
  for (int64_t c = 0; c < k; ++c) xs[c * 2] = 0, xs[c * 2 + 1] = 255;  // position 1 sums to 0
  Value x = Value::of<uint8_t>({1, k, 1, 2}, xs, q);
  Value w = Value::of<uint8_t>({1, k, 1, 1}, std::vector<uint8_t>(k, 0), q, true);
  for (const char* r : {"fixed_point", "float"})
    EXPECT_EQ(run_values<int8_t>(OpType::kConv, conv_attrs({1, 1}, {0, 0, 0, 0}, {1, 1}, 1, r), {&x, &w}, DType::kI8, yq),
              (std::vector<int8_t>{34, 0}))
        << r;
  Value a = Value::of<uint8_t>({1, k}, std::vector<uint8_t>(k, 0), q);
  Value b_nk = Value::of<uint8_t>({1, k}, std::vector<uint8_t>(k, 0), q, true);
  EXPECT_EQ(run_values<int8_t>(OpType::kGemm, gemm_attrs(1, "fixed_point"), {&a, &b_nk}, DType::kI8, yq),
            (std::vector<int8_t>{34}));
  Value b_kn = Value::of<uint8_t>({k, 1}, std::vector<uint8_t>(k, 0), q, true);
  EXPECT_EQ(run_values<int8_t>(OpType::kGemm, gemm_attrs(0, "fixed_point"), {&a, &b_kn}, DType::kI8, yq),
            (std::vector<int8_t>{34}));
  EXPECT_EQ(run_values<int8_t>(OpType::kMatMul, attrs({{"requantize", std::string("fixed_point")}}), {&a, &b_kn},
                               DType::kI8, yq),
            (std::vector<int8_t>{34}));
}

// ---- W4A8 Conv and Gemm ----

// The W4A8 formula, written out here: group sums in row order → f32 fma chain → fma with the
// input scale and bias → f32 division by the output scale, nearbyint, + zero point, clamp.
int8_t w4a8_expected(const std::vector<int64_t>& group_sums, const float* scales, float x_scale, float bias,
                     float y_scale, int32_t y_zero) {
  float sum = 0.f;
  for (size_t g = 0; g < group_sums.size(); ++g) sum = std::fma(static_cast<float>(group_sums[g]), scales[g], sum);
  const float v = std::fma(sum, x_scale, bias);
  const float q = std::nearbyint(v / y_scale) + static_cast<float>(y_zero);
  return static_cast<int8_t>(std::clamp(q, -128.f, 127.f));
}

TEST(W4A8Conv, HandComputedOneByOne) {
  // x − 1: channel 0 [2, −2], channel 1 [4, 0]; W = [3, −2], one weight per group, scales
  // [0.25, 2]. Position 0: sums [6, −8] → 6·0.25 = 1.5, then −8·2 + 1.5 = −14.5; v = −14.5·0.5 + 0.5
  // = −6.75; v / 0.5 = −13.5 → −14 (even) + 3 = −11. Position 1: sums [−6, 0] → −1.5; v = −0.25;
  // −0.5 → 0 (even) + 3 = 3.
  Value x = Value::of<int8_t>({1, 2, 1, 2}, {3, -1, 5, 1}, per_tensor(0.5f, 1));
  Value w = Value::i4({1, 2, 1, 1}, {3, -2}, per_group({0.25f, 2.f}, 1, DType::kF16));
  Value b = Value::of<float>({1}, {0.5f}, {}, true);
  EXPECT_EQ(run_values<int8_t>(OpType::kConv, conv_attrs({1, 1}, {0, 0, 0, 0}, {1, 1}, 1), {&x, &w, &b}, DType::kI8,
                               per_tensor(0.5f, 3)),
            (std::vector<int8_t>{-11, 3}));
  // "fixed_point" is accepted and changes nothing; without B the bias is 0: −7.25 → −14.5 → −14,
  // −0.75 → −1.5 → −2.
  EXPECT_EQ(run_values<int8_t>(OpType::kConv, conv_attrs({1, 1}, {0, 0, 0, 0}, {1, 1}, 1, "fixed_point"), {&x, &w},
                               DType::kI8, per_tensor(0.5f, 3)),
            (std::vector<int8_t>{-11, 1}));
}

TEST(W4A8Conv, GroupedPaddedConvMatchesTheStatedFormula) {
  // Rows of 2 channels × 3 × 3 = 18 weights in groups of 8, 8 and 2 (the last one shorter).
  const int64_t batch = 2, channels = 4, maps = 6, group = 2, cg = 2, in_h = 6, in_w = 5, block = 8;
  const int64_t stride_h = 1, stride_w = 2, pad_t = 1, pad_l = 1, pad_b = 0, pad_r = 1;
  const int64_t out_h = (in_h + pad_t + pad_b - 3) / stride_h + 1, out_w = (in_w + pad_l + pad_r - 3) / stride_w + 1;
  const int64_t row = cg * 9, groups = 3;
  const QuantParams xq = per_tensor(0.04f, -3), yq = per_tensor(0.2f, -1);
  const auto xs = random_ints<int8_t>(batch * channels * in_h * in_w, 81);
  const auto ws = random_ints<int8_t>(maps * row, 82, -8, 7);
  const auto scales = random_f16_scales(maps * groups, 83);
  const auto bias = random_floats(maps, 84, -1.f, 1.f);

  std::vector<int8_t> expected;
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t m = 0; m < maps; ++m)
      for (int64_t oh = 0; oh < out_h; ++oh)
        for (int64_t ow = 0; ow < out_w; ++ow) {
          std::vector<int64_t> sums(groups, 0);
          for (int64_t cl = 0; cl < cg; ++cl)
            for (int64_t kh = 0; kh < 3; ++kh)
              for (int64_t kw = 0; kw < 3; ++kw) {
                const int64_t ih = oh * stride_h - pad_t + kh, iw = ow * stride_w - pad_l + kw;
                if (ih < 0 || ih >= in_h || iw < 0 || iw >= in_w) continue;
                const int64_t k = (cl * 3 + kh) * 3 + kw;
                const int64_t ci = (m / (maps / group)) * cg + cl;
                sums[k / block] += (xs[((n * channels + ci) * in_h + ih) * in_w + iw] + 3) * int64_t{ws[m * row + k]};
              }
          expected.push_back(w4a8_expected(sums, &scales[m * groups], 0.04f, bias[m], 0.2f, -1));
        }

  Value x = Value::of<int8_t>({batch, channels, in_h, in_w}, xs, xq);
  Value w = Value::i4({maps, cg, 3, 3}, ws, per_group(scales, block, DType::kF16));
  Value b = Value::of<float>({maps}, bias, {}, true);
  auto y = run(OpType::kConv, conv_attrs({stride_h, stride_w}, {pad_t, pad_l, pad_b, pad_r}, {1, 1}, group), {&x, &w, &b},
               DType::kI8, yq);
  ASSERT_TRUE(y.has_value()) << y.error().message;
  EXPECT_EQ(y->shape, (Shape{batch, maps, out_h, out_w}));
  EXPECT_EQ(y->as<int8_t>(), expected);
  // The outputs are not all saturated or equal: the test would notice a wrong formula.
  const auto values = y->as<int8_t>();
  EXPECT_GT(std::count_if(values.begin(), values.end(), [](int8_t v) { return v > -128 && v < 127; }), 50);
}

TEST(W4A8Gemm, HandComputed) {
  // Rows [1, −1 | 2] and [−8, 7 | 0] (groups of 2), scales [0.5, 0.25] and [1, 2]; a = [1, 2, 3].
  // Row 0: sums [−1, 6] → −0.5, then 6·0.25 − 0.5 = 1; v = 1·1 + 0.5 = 1.5 → 2 (even).
  // Row 1: sums [6, 0] → 6; v = 6 − 0.5 = 5.5 → 6 (even).
  Value a = Value::of<int8_t>({1, 3}, {1, 2, 3}, per_tensor(1.f, 0));
  Value b = Value::i4({2, 3}, {1, -1, 2, -8, 7, 0}, per_group({0.5f, 0.25f, 1.f, 2.f}, 2));
  Value c = Value::of<float>({2}, {0.5f, -0.5f}, {}, true);
  EXPECT_EQ(run_values<int8_t>(OpType::kGemm, gemm_attrs(1), {&a, &b, &c}, DType::kI8, per_tensor(1.f, 0)),
            (std::vector<int8_t>{2, 6}));
}

TEST(W4A8Gemm, MatchesTheStatedFormula) {
  const int64_t m = 3, k = 50, n = 7, block = 16, groups = 4;  // groups of 16, 16, 16, 2
  const auto as = random_ints<int8_t>(m * k, 91);
  const auto bs = random_ints<int8_t>(n * k, 92, -8, 7);
  const auto scales = random_floats(n * groups, 93, 0.001f, 0.05f);
  const auto cs = random_floats(n, 94, -2.f, 2.f);
  const QuantParams aq = per_tensor(0.05f, 4), yq = per_tensor(0.15f, 2);
  std::vector<int8_t> expected;
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      std::vector<int64_t> sums(groups, 0);
      for (int64_t p = 0; p < k; ++p) sums[p / block] += (as[i * k + p] - 4) * int64_t{bs[j * k + p]};
      expected.push_back(w4a8_expected(sums, &scales[j * groups], 0.05f, cs[j], 0.15f, 2));
    }
  Value a = Value::of<int8_t>({m, k}, as, aq);
  Value b = Value::i4({n, k}, bs, per_group(scales, block));
  Value c = Value::of<float>({n}, cs, {}, true);
  const auto y = run_values<int8_t>(OpType::kGemm, gemm_attrs(1, "fixed_point"), {&a, &b, &c}, DType::kI8, yq);
  EXPECT_EQ(y, expected);
  EXPECT_GT(std::count_if(y.begin(), y.end(), [](int8_t v) { return v > -128 && v < 127; }), 10);
}

// ---- quantized Add, GlobalAveragePool, Relu, Clip ----

TEST(QuantizedAdd, HandComputedTiesAndSaturation) {
  // a − 2 at scale 0.5 plus b + 1 at scale 0.25: the fixed-point path is exact here (2·max scale =
  // 1, so a' = (a − 2)·2^19, b' = (b + 1)·2^18), leaving one rounding of the real sum, ties up.
  // Real sums: 2.75, 0.5, −0.5, −1.5, 0.5, 85, 94.25, −96.75.
  Value a = Value::of<int8_t>({8}, {5, 3, 1, -1, 2, 122, 127, -128}, per_tensor(0.5f, 2));
  Value b = Value::of<int8_t>({8}, {4, -1, -1, -1, 1, 99, 126, -128}, per_tensor(0.25f, -1));
  EXPECT_EQ(run_values<int8_t>(OpType::kAdd, {}, {&a, &b}, DType::kI8, per_tensor(1.f, 3)),
            (std::vector<int8_t>{6, 4, 3, 2, 4, 88, 97, -94}));
  // Scale 0.25: 4 × the real sums, saturated.
  EXPECT_EQ(run_values<int8_t>(OpType::kAdd, {}, {&a, &b}, DType::kI8, per_tensor(0.25f, 0)),
            (std::vector<int8_t>{11, 2, -2, -6, 2, 127, 127, -128}));
}

// round(real / scale) + zero point, saturated: what the quantized ops approximate.
template <class T>
int real_to_quantized(double real, const QuantParams& q) {
  const double v = std::nearbyint(real / q.scales[0]) + q.zero_points[0];
  return static_cast<int>(std::clamp<double>(v, std::numeric_limits<T>::min(), std::numeric_limits<T>::max()));
}

template <class T>
void check_add_within_one_lsb(QuantParams aq, QuantParams bq, QuantParams yq) {
  const Shape a_shape{2, 3, 4}, b_shape{3, 1};
  const auto as = random_ints<T>(24, 101), bs = random_ints<T>(3, 102);
  Value a = Value::of<T>(a_shape, as, aq);
  Value b = Value::of<T>(b_shape, bs, bq);
  auto y = run(OpType::kAdd, {}, {&a, &b}, dtype_of<T>(), yq);
  ASSERT_TRUE(y.has_value()) << y.error().message;
  ASSERT_EQ(y->shape, a_shape);
  const auto ys = y->template as<T>();
  int unsaturated = 0;
  for (int64_t i = 0; i < 24; ++i) {
    const int64_t row = (i / 4) % 3;  // b [3, 1] broadcasts along the last axis
    const double real = double{aq.scales[0]} * (as[i] - aq.zero_points[0]) + double{bq.scales[0]} * (bs[row] - bq.zero_points[0]);
    const int expected = real_to_quantized<T>(real, yq);
    EXPECT_LE(std::abs(int{ys[i]} - expected), 1) << "at " << i << " real " << real;
    unsaturated += ys[i] != std::numeric_limits<T>::min() && ys[i] != std::numeric_limits<T>::max();
  }
  EXPECT_GT(unsaturated, 12);
}

TEST(QuantizedAdd, BroadcastWithinOneLsbOfTheRealSum) {
  check_add_within_one_lsb<int8_t>(per_tensor(0.07f, -5), per_tensor(0.02f, 10), per_tensor(0.09f, 4));
  check_add_within_one_lsb<int8_t>(per_tensor(0.013f, 0), per_tensor(0.3f, -20), per_tensor(0.31f, -3));
  check_add_within_one_lsb<uint8_t>(per_tensor(0.05f, 128), per_tensor(0.05f, 120), per_tensor(0.1f, 128));
}

TEST(QuantizedGlobalAveragePool, HandComputedTies) {
  // Plane sums of x − 1: 10, −8, 24; multiplier 1 / (4 · 4): 0.625 → 1, −0.5 → 0, 1.5 → 2; + (−2).
  Value x = Value::of<int8_t>({1, 3, 2, 2}, {2, 3, 4, 5, -1, -1, -1, -1, 7, 7, 7, 7}, per_tensor(1.f, 1));
  EXPECT_EQ(run_values<int8_t>(OpType::kGlobalAveragePool, {}, {&x}, DType::kI8, per_tensor(4.f, -2)),
            (std::vector<int8_t>{-1, -2, 0}));
}

TEST(QuantizedGlobalAveragePool, WithinOneLsbOfTheRealMean) {
  const QuantParams xq = per_tensor(0.1f, 100), yq = per_tensor(0.05f, 30);
  const auto xs = random_ints<uint8_t>(2 * 5 * 49, 111, 60, 200);
  Value x = Value::of<uint8_t>({2, 5, 7, 7}, xs, xq);
  auto y = run(OpType::kGlobalAveragePool, {}, {&x}, DType::kU8, yq);
  ASSERT_TRUE(y.has_value()) << y.error().message;
  ASSERT_EQ(y->shape, (Shape{2, 5, 1, 1}));
  const auto ys = y->as<uint8_t>();
  for (int p = 0; p < 10; ++p) {
    double sum = 0;
    for (int i = 0; i < 49; ++i) sum += xs[p * 49 + i] - 100;
    const int expected = real_to_quantized<uint8_t>(0.1 * sum / 49, yq);
    EXPECT_LE(std::abs(int{ys[p]} - expected), 1) << "plane " << p;
    EXPECT_GT(ys[p], 0);
    EXPECT_LT(ys[p], 255);
  }
}

TEST(QuantizedRelu, ClampsAtTheZeroPoint) {
  Value x = Value::of<int8_t>({6}, {-128, -5, 2, 3, 4, 127}, per_tensor(0.1f, 3));
  EXPECT_EQ(run_values<int8_t>(OpType::kRelu, {}, {&x}, DType::kI8, x.quant), (std::vector<int8_t>{3, 3, 3, 3, 4, 127}));
  Value u = Value::of<uint8_t>({5}, {0, 127, 128, 200, 255}, per_tensor(0.1f, 128));
  EXPECT_EQ(run_values<uint8_t>(OpType::kRelu, {}, {&u}, DType::kU8, u.quant),
            (std::vector<uint8_t>{128, 128, 128, 200, 255}));
}

TEST(QuantizedClip, BoundsAreQuantizedWithTheInputsParametersTiesToEven) {
  // Scale 0.5, zero point 10: q(0.25) = round(0.5) + 10 = 10, q(0.75) = round(1.5) + 10 = 12.
  Value x = Value::of<int8_t>({7}, {-128, 9, 10, 11, 12, 13, 127}, per_tensor(0.5f, 10));
  EXPECT_EQ(run_values<int8_t>(OpType::kClip, attrs({{"min", 0.25f}, {"max", 0.75f}}), {&x}, DType::kI8, x.quant),
            (std::vector<int8_t>{10, 10, 10, 11, 12, 12, 12}));
  // Only a lower bound; an upper bound beyond the range saturates to 127.
  EXPECT_EQ(run_values<int8_t>(OpType::kClip, attrs({{"min", 0.f}}), {&x}, DType::kI8, x.quant),
            (std::vector<int8_t>{10, 10, 10, 11, 12, 13, 127}));
  EXPECT_EQ(run_values<int8_t>(OpType::kClip, attrs({{"min", -1000.f}, {"max", 1000.f}}), {&x}, DType::kI8, x.quant),
            (std::vector<int8_t>{-128, 9, 10, 11, 12, 13, 127}));
  // ReLU6 at scale 0.05, zero point −128: q(0) = −128, q(6) = 120 − 128 = −8.
  Value r = Value::of<int8_t>({5}, {-128, -10, -8, -7, 127}, per_tensor(0.05f, -128));
  EXPECT_EQ(run_values<int8_t>(OpType::kClip, attrs({{"min", 0.f}, {"max", 6.f}}), {&r}, DType::kI8, r.quant),
            (std::vector<int8_t>{-128, -10, -8, -8, -8}));
  Value u = Value::of<uint8_t>({4}, {0, 50, 100, 255}, per_tensor(0.1f, 50));
  EXPECT_EQ(run_values<uint8_t>(OpType::kClip, attrs({{"min", -2.f}, {"max", 3.f}}), {&u}, DType::kU8, u.quant),
            (std::vector<uint8_t>{30, 50, 80, 80}));
}

// ---- weight-only forms: dequantized or widened weights feed float ops ----

TEST(DequantizeLinearI4, PerGroupPerChannelAndPerTensor) {
  // Rows of 5 in groups of 2, 2, 1; f16 scales.
  Value grouped = Value::i4({2, 5}, {-8, 7, 1, -1, 3, 0, 2, -3, 4, 5},
                            per_group({0.5f, 0.25f, 2.f, 1.f, 0.125f, 4.f}, 2, DType::kF16));
  grouped.constant = false;  // DequantizeLinear takes i4 activations too
  EXPECT_EQ(run_values<float>(OpType::kDequantizeLinear, {}, {&grouped}, DType::kF32),
            (std::vector<float>{-4, 3.5, 0.25, -0.25, 6, 0, 2, -0.375, 0.5, 20}));
  Value channels = Value::i4({2, 3}, {3, -8, 7, 0, 1, -2}, {{2.f, 0.5f}, {1, -1}, 0});
  EXPECT_EQ(run_values<float>(OpType::kDequantizeLinear, {}, {&channels}, DType::kF32),
            (std::vector<float>{4, -18, 12, 0.5, 1, -0.5}));
  Value odd = Value::i4({5}, {7, -8, 0, 1, -1}, per_tensor(0.5f, 0));  // 3 bytes, the last half used
  EXPECT_EQ(run_values<float>(OpType::kDequantizeLinear, {}, {&odd}, DType::kF32),
            (std::vector<float>{3.5, -4, 0, 0.5, -0.5}));
}

// A whole graph through verify_graph and a Session, as the toolchain emits it.
std::vector<float> run_graph(model::Graph g, const model::TensorData& input) {
  auto program = Program::from_graph(std::move(g));
  EXPECT_TRUE(program.has_value()) << program.error().message;
  if (!program) return {};
  Session session(*program);
  auto out = session.run(std::span(&input, 1));
  EXPECT_TRUE(out.has_value()) << out.error().message;
  if (!out) return {};
  auto v = out->at(0).values<float>();
  return {v.begin(), v.end()};
}

model::Tensor constant_of(const std::string& name, const Value& v) {
  return {name, v.dtype, v.shape, v.quant, true, SharedBytes::adopt(v.bytes)};
}

TEST(WeightOnlyForms, W4A32DequantizedI4WeightsFeedAFloatGemm) {
  // W i4 [2, 3] per group of 2 → f32 → Gemm(transB) → y = x · Wᵀ + C.
  model::Graph g;
  const Value wq = Value::i4({2, 3}, {1, -2, 3, 7, -8, 0}, per_group({0.5f, 2.f, 0.25f, 1.f}, 2, DType::kF16));
  auto x = g.add_tensor({"x", DType::kF32, {1, 3}, {}, false, {}});
  auto w = g.add_tensor(constant_of("w", wq));
  auto wf = g.add_tensor({"w_f32", DType::kF32, {2, 3}, {}, false, {}});
  auto c = g.add_tensor(testing::constant_f32("c", {2}, {0.25f, -1.f}));
  auto y = g.add_tensor({"y", DType::kF32, {1, 2}, {}, false, {}});
  g.nodes.push_back({OpType::kDequantizeLinear, "dq", {w}, {wf}, {}});
  g.nodes.push_back({OpType::kGemm, "fc", {x, wf, c}, {y}, gemm_attrs(1)});
  g.inputs = {x};
  g.outputs = {y};
  // W as f32: [[0.5, −1, 6], [1.75, −2, 0]]; x = [2, 1, −1]: [1 − 1 − 6 + 0.25, 3.5 − 2 − 1].
  EXPECT_EQ(run_graph(std::move(g), testing::tensor_f32("x", {1, 3}, {2, 1, -1})), (std::vector<float>{-5.75f, 0.5f}));
}

TEST(WeightOnlyForms, Fp16WeightsCastToF32FeedAFloatConv) {
  model::Graph g;
  // W f16 [1, 2, 1, 1] = [1.5, −0.25].
  model::Tensor wh{"w", DType::kF16, {1, 2, 1, 1}, {}, true, {}};
  std::vector<uint16_t> bits{model::float_to_half(1.5f), model::float_to_half(-0.25f)};
  std::vector<std::byte> bytes(4);
  std::memcpy(bytes.data(), bits.data(), 4);
  wh.data = SharedBytes::adopt(std::move(bytes));
  auto x = g.add_tensor({"x", DType::kF32, {1, 2, 1, 2}, {}, false, {}});
  auto w = g.add_tensor(std::move(wh));
  auto wf = g.add_tensor({"w_f32", DType::kF32, {1, 2, 1, 1}, {}, false, {}});
  auto y = g.add_tensor({"y", DType::kF32, {1, 1, 1, 2}, {}, false, {}});
  g.nodes.push_back({OpType::kCast, "cast", {w}, {wf}, attrs({{"to", std::string("f32")}})});
  g.nodes.push_back({OpType::kConv, "conv", {x, wf}, {y}, conv_attrs({1, 1}, {0, 0, 0, 0}, {1, 1}, 1)});
  g.inputs = {x};
  g.outputs = {y};
  // y = 1.5 · x[0] − 0.25 · x[1] per position: x channel 0 [2, 4], channel 1 [4, −8].
  EXPECT_EQ(run_graph(std::move(g), testing::tensor_f32("x", {1, 2, 1, 2}, {2, 4, 4, -8})), (std::vector<float>{2, 8}));
}

TEST(QuantizedGraph, ChainRoundTripsThroughTheArtifactAndMatchesTheKernels) {
  // x → Conv W8A8 fixed point → Relu → Add(relu, conv) → GlobalAveragePool → Reshape → Gemm W4A8
  // → DequantizeLinear → y f32: every form through verify_graph, serialization and a Session.
  const QuantParams xq = per_tensor(0.05f, -3), cq = per_tensor(0.08f, -10), aq = per_tensor(0.1f, -20),
                    pq = per_tensor(0.04f, -50), gq = per_tensor(0.02f, 1);
  const Value x = Value::of<int8_t>({1, 3, 6, 6}, random_ints<int8_t>(108, 121), xq);
  const Value w = Value::of<int8_t>({4, 3, 3, 3}, random_ints<int8_t>(108, 122), per_channel({0.01f, 0.02f, 0.015f, 0.005f}, 0), true);
  const Value b = Value::of<int32_t>({4}, random_ints<int32_t>(4, 123, -500, 500), {}, true);
  const Value wg = Value::i4({5, 4}, random_ints<int8_t>(20, 124, -8, 7), per_group(random_f16_scales(10, 125), 2, DType::kF16));
  const Value cg = Value::of<float>({5}, random_floats(5, 126, -0.5f, 0.5f), {}, true);
  const model::Attributes conv = conv_attrs({1, 1}, {1, 1, 1, 1}, {1, 1}, 1, "fixed_point");

  // Expected: the kernels one by one (each through shape inference).
  auto c1 = run(OpType::kConv, conv, {&x, &w, &b}, DType::kI8, cq);
  ASSERT_TRUE(c1.has_value()) << c1.error().message;
  auto r1 = run(OpType::kRelu, {}, {&*c1}, DType::kI8, cq);
  ASSERT_TRUE(r1.has_value()) << r1.error().message;
  auto a1 = run(OpType::kAdd, {}, {&*r1, &*c1}, DType::kI8, aq);
  ASSERT_TRUE(a1.has_value()) << a1.error().message;
  auto p1 = run(OpType::kGlobalAveragePool, {}, {&*a1}, DType::kI8, pq);
  ASSERT_TRUE(p1.has_value()) << p1.error().message;
  Value flat = *p1;
  flat.shape = {1, 4};
  auto g1 = run(OpType::kGemm, gemm_attrs(1), {&flat, &wg, &cg}, DType::kI8, gq);
  ASSERT_TRUE(g1.has_value()) << g1.error().message;
  auto expected = run(OpType::kDequantizeLinear, {}, {&*g1}, DType::kF32);
  ASSERT_TRUE(expected.has_value()) << expected.error().message;

  model::Graph g;
  auto tensor = [&](const std::string& name, DType dtype, QuantParams q) {
    return g.add_tensor({name, dtype, {}, std::move(q), false, {}});
  };
  const auto xi = g.add_tensor({"x", DType::kI8, x.shape, xq, false, {}});
  const auto wi = g.add_tensor(constant_of("w", w)), bi = g.add_tensor(constant_of("b", b));
  const auto wgi = g.add_tensor(constant_of("wg", wg)), cgi = g.add_tensor(constant_of("cg", cg));
  const auto t_conv = tensor("conv", DType::kI8, cq), t_relu = tensor("relu", DType::kI8, cq);
  const auto t_add = tensor("add", DType::kI8, aq), t_pool = tensor("pool", DType::kI8, pq);
  const auto t_flat = tensor("flat", DType::kI8, pq), t_fc = tensor("fc", DType::kI8, gq);
  const auto yi = tensor("y", DType::kF32, {});
  g.nodes = {{OpType::kConv, "conv", {xi, wi, bi}, {t_conv}, conv},
             {OpType::kRelu, "relu", {t_conv}, {t_relu}, {}},
             {OpType::kAdd, "add", {t_relu, t_conv}, {t_add}, {}},
             {OpType::kGlobalAveragePool, "pool", {t_add}, {t_pool}, {}},
             {OpType::kReshape, "flatten", {t_pool}, {t_flat}, attrs({{"shape", Ints{1, 4}}})},
             {OpType::kGemm, "fc", {t_flat, wgi, cgi}, {t_fc}, gemm_attrs(1)},
             {OpType::kDequantizeLinear, "dq", {t_fc}, {yi}, {}}};
  g.inputs = {xi};
  g.outputs = {yi};
  g.meta.name = "quantized-chain";
  g.meta.version = "1";
  for (size_t i = 0; i < g.nodes.size(); ++i) ASSERT_TRUE(model::infer_node(g, i).has_value()) << g.nodes[i].name;
  auto bytes = model::serialize_artifact(g);
  ASSERT_TRUE(bytes.has_value()) << bytes.error().message;
  auto program = Program::load(SharedBytes::adopt(std::move(*bytes)));
  ASSERT_TRUE(program.has_value()) << program.error().message;
  Session session(*program);
  model::TensorData input{"x", DType::kI8, x.shape, x.bytes};
  auto out = session.run(std::span(&input, 1));
  ASSERT_TRUE(out.has_value()) << out.error().message;
  EXPECT_EQ(out->at(0).shape, (Shape{1, 5}));
  EXPECT_EQ(out->at(0).bytes, expected->bytes);
  const auto ys = expected->as<float>();  // not a degenerate (saturated or constant) chain
  EXPECT_GE(std::set<float>(ys.begin(), ys.end()).size(), 4u);
  const auto pooled = p1->as<int8_t>();
  EXPECT_GE(std::set<int8_t>(pooled.begin(), pooled.end()).size(), 3u);
}

}  // namespace
}  // namespace edgeloop::runtime::reference

// Reference kernels of the data ops against hand-computed values, the ONNX documentation's
// examples, and naive loops written here.
#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <numeric>

#include "edgeloop/model/shape_inference.h"
#include "edgeloop/runtime/reference/kernels.h"
#include "testing/graphs.h"

namespace edgeloop::runtime::reference {
namespace {

using model::Attributes;
using model::OpType;
using model::QuantParams;
using model::Shape;
using Ints = std::vector<int64_t>;
using Floats = std::vector<float>;

struct Value {
  DType dtype = DType::kF32;
  Shape shape;
  std::vector<std::byte> bytes;
  QuantParams quant;

  template <class T>
  static Value of(DType dtype, Shape shape, const std::vector<T>& values, QuantParams quant = {}) {
    Value v{dtype, std::move(shape), std::vector<std::byte>(values.size() * sizeof(T)), std::move(quant)};
    if (!values.empty()) std::memcpy(v.bytes.data(), values.data(), v.bytes.size());
    return v;
  }
  static Value f32(Shape shape, const std::vector<float>& values) { return of(DType::kF32, std::move(shape), values); }
  template <class T>
  std::vector<T> as() const {
    std::vector<T> out(bytes.size() / sizeof(T));
    if (!out.empty()) std::memcpy(out.data(), bytes.data(), bytes.size());
    return out;
  }
};

using testing::attrs;

// Infers the node's output shapes, then runs the reference kernel on `inputs`. Outputs carry the
// first input's quantization (what the data ops require).
Result<std::vector<Value>> run(OpType op, Attributes attributes, std::vector<Value> inputs, size_t num_outputs = 1) {
  std::vector<testing::TensorSpec> specs;
  for (const Value& v : inputs) specs.push_back({v.dtype, v.shape, v.quant});
  model::Graph g = testing::one_node_graph(op, specs, std::move(attributes), num_outputs, inputs[0].quant);
  EL_CHECK(model::infer_node(g, 0));

  std::vector<Value> outputs;
  for (model::TensorId id : g.nodes[0].outputs) {
    const model::Tensor& t = g.tensors[id];
    // Poison the output so that an element the kernel forgets to write shows.
    outputs.push_back({t.dtype, t.shape, std::vector<std::byte>(t.byte_size(), std::byte{0x7b}), t.quant});
  }
  std::vector<TensorView> in_views, out_views;
  for (const Value& v : inputs) in_views.push_back({v.dtype, v.shape, const_cast<std::byte*>(v.bytes.data()), &v.quant});
  for (Value& v : outputs) out_views.push_back({v.dtype, v.shape, v.bytes.data(), &v.quant});
  EL_CHECK(kernel_for(op)(KernelContext{g.nodes[0], in_views, out_views}));
  return outputs;
}

Value run1(OpType op, Attributes attributes, std::vector<Value> inputs) {
  auto out = run(op, std::move(attributes), std::move(inputs));
  EXPECT_TRUE(out.has_value()) << out.error().message;
  return out.has_value() ? out->at(0) : Value{};
}

std::vector<float> iota_f(size_t n, float start = 0.f) {
  std::vector<float> v(n);
  std::iota(v.begin(), v.end(), start);
  return v;
}
template <class T>
std::vector<T> iota_t(size_t n, T start = 0) {
  std::vector<T> v(n);
  std::iota(v.begin(), v.end(), start);
  return v;
}

void expect_floats_near(const std::vector<float>& got, const std::vector<float>& want, float tol = 1e-5f) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], tol * std::max(1.f, std::abs(want[i]))) << "at " << i;
}

// Row-major offset of a coordinate (the tests' own, independent of the kernels').
int64_t offset(const Shape& shape, const Ints& index) {
  int64_t off = 0;
  for (size_t d = 0; d < shape.size(); ++d) off = off * shape[d] + index[d];
  return off;
}

// ---- Reshape ----

TEST(DataKernels, ReshapeCopiesBytesUnchanged) {
  const std::vector<int64_t> values = iota_t<int64_t>(24, -5);
  Value y = run1(OpType::kReshape, attrs({{"shape", Ints{4, 6}}}), {Value::of(DType::kI64, {2, 3, 4}, values)});
  EXPECT_EQ(y.shape, (Shape{4, 6}));
  EXPECT_EQ(y.as<int64_t>(), values);
}

// ---- Transpose ----

TEST(DataKernels, TransposeRank3AllPermutations) {
  const Shape in_shape{2, 3, 4};
  const std::vector<float> x = iota_f(24);
  Ints perm{0, 1, 2};
  do {
    Value y = run1(OpType::kTranspose, attrs({{"perm", perm}}), {Value::f32(in_shape, x)});
    const Shape out_shape{in_shape[perm[0]], in_shape[perm[1]], in_shape[perm[2]]};
    ASSERT_EQ(y.shape, out_shape);
    std::vector<float> want;
    for (int64_t a = 0; a < out_shape[0]; ++a)
      for (int64_t b = 0; b < out_shape[1]; ++b)
        for (int64_t c = 0; c < out_shape[2]; ++c) {
          Ints src(3);
          src[perm[0]] = a;
          src[perm[1]] = b;
          src[perm[2]] = c;
          want.push_back(x[offset(in_shape, src)]);
        }
    EXPECT_EQ(y.as<float>(), want) << "perm " << perm[0] << perm[1] << perm[2];
  } while (std::next_permutation(perm.begin(), perm.end()));
}

TEST(DataKernels, TransposeRank4NchwToNhwcOnBytesOfEverySize) {
  // NCHW [1,2,2,3] -> NHWC [1,2,3,2], written out by hand: out[n][h][w][c] = in[n][c][h][w].
  const std::vector<uint8_t> x{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
  const std::vector<uint8_t> want{0, 6, 1, 7, 2, 8, 3, 9, 4, 10, 5, 11};
  Value y = run1(OpType::kTranspose, attrs({{"perm", Ints{0, 2, 3, 1}}}), {Value::of(DType::kU8, {1, 2, 2, 3}, x)});
  EXPECT_EQ(y.shape, (Shape{1, 2, 3, 2}));
  EXPECT_EQ(y.as<uint8_t>(), want);
  // The same permutation on 2- and 8-byte elements.
  const std::vector<uint16_t> x16(x.begin(), x.end());
  EXPECT_EQ(run1(OpType::kTranspose, attrs({{"perm", Ints{0, 2, 3, 1}}}), {Value::of(DType::kF16, {1, 2, 2, 3}, x16)}).as<uint16_t>(),
            std::vector<uint16_t>(want.begin(), want.end()));
  const std::vector<int64_t> x64(x.begin(), x.end());
  EXPECT_EQ(run1(OpType::kTranspose, attrs({{"perm", Ints{0, 2, 3, 1}}}), {Value::of(DType::kI64, {1, 2, 2, 3}, x64)}).as<int64_t>(),
            std::vector<int64_t>(want.begin(), want.end()));
}

TEST(DataKernels, TransposeRank4AgainstNaiveLoop) {
  const Shape in_shape{2, 3, 4, 5};
  const std::vector<float> x = iota_f(120);
  const Ints perm{3, 1, 0, 2};
  Value y = run1(OpType::kTranspose, attrs({{"perm", perm}}), {Value::f32(in_shape, x)});
  const Shape out_shape{5, 3, 2, 4};
  ASSERT_EQ(y.shape, out_shape);
  const std::vector<float> got = y.as<float>();
  for (int64_t a = 0; a < 5; ++a)
    for (int64_t b = 0; b < 3; ++b)
      for (int64_t c = 0; c < 2; ++c)
        for (int64_t d = 0; d < 4; ++d)
          EXPECT_EQ(got[offset(out_shape, {a, b, c, d})], x[offset(in_shape, {c, b, d, a})]);
}

// ---- Concat / Split ----

TEST(DataKernels, ConcatAndSplitAlongEachAxisOfRank3) {
  const Shape a_shape{2, 3, 4};
  for (int64_t axis = 0; axis < 3; ++axis) {
    Shape b_shape = a_shape;
    b_shape[axis] = 2;
    const std::vector<int32_t> a = iota_t<int32_t>(24, 0);
    const std::vector<int32_t> b = iota_t<int32_t>(static_cast<size_t>(model::num_elements(b_shape)), 1000);
    auto out = run(OpType::kConcat, attrs({{"axis", axis}}), {Value::of(DType::kI32, a_shape, a), Value::of(DType::kI32, b_shape, b)});
    ASSERT_TRUE(out.has_value()) << out.error().message;
    const Value& y = out->at(0);
    Shape y_shape = a_shape;
    y_shape[axis] += 2;
    ASSERT_EQ(y.shape, y_shape);
    // Naive: each output coordinate comes from a or from b shifted back along the axis.
    std::vector<int32_t> want;
    for (int64_t i = 0; i < y_shape[0]; ++i)
      for (int64_t j = 0; j < y_shape[1]; ++j)
        for (int64_t k = 0; k < y_shape[2]; ++k) {
          Ints idx{i, j, k};
          if (idx[axis] < a_shape[axis]) {
            want.push_back(a[offset(a_shape, idx)]);
          } else {
            idx[axis] -= a_shape[axis];
            want.push_back(b[offset(b_shape, idx)]);
          }
        }
    EXPECT_EQ(y.as<int32_t>(), want) << "axis " << axis;

    // Split undoes it.
    auto parts = run(OpType::kSplit, attrs({{"axis", axis}, {"split", Ints{a_shape[axis], 2}}}), {y}, 2);
    ASSERT_TRUE(parts.has_value()) << parts.error().message;
    EXPECT_EQ(parts->at(0).shape, a_shape);
    EXPECT_EQ(parts->at(0).as<int32_t>(), a) << "axis " << axis;
    EXPECT_EQ(parts->at(1).shape, b_shape);
    EXPECT_EQ(parts->at(1).as<int32_t>(), b) << "axis " << axis;
  }
}

TEST(DataKernels, SplitHandComputedWithAnEmptyPart) {
  // [[1,2,3],[4,5,6]] split along axis 1 into sizes 1, 0, 2.
  auto parts = run(OpType::kSplit, attrs({{"axis", int64_t{1}}, {"split", Ints{1, 0, 2}}}), {Value::f32({2, 3}, {1, 2, 3, 4, 5, 6})}, 3);
  ASSERT_TRUE(parts.has_value()) << parts.error().message;
  EXPECT_EQ(parts->at(0).as<float>(), (Floats{1, 4}));
  EXPECT_EQ(parts->at(1).shape, (Shape{2, 0}));
  EXPECT_EQ(parts->at(2).as<float>(), (Floats{2, 3, 5, 6}));
}

// ---- Slice ----

TEST(DataKernels, SliceWithNegativeStepsAgainstNaiveLoop) {
  const Shape in_shape{5, 4, 6};
  const std::vector<float> x = iota_f(120);
  const Ints starts{4, 0, 5}, ends{-1, 4, 0}, steps{-2, 3, -1};  // extents 3, 2, 5
  Value y = run1(OpType::kSlice, attrs({{"starts", starts}, {"ends", ends}, {"steps", steps}}), {Value::f32(in_shape, x)});
  ASSERT_EQ(y.shape, (Shape{3, 2, 5}));
  std::vector<float> want;
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 0; j < 2; ++j)
      for (int64_t k = 0; k < 5; ++k)
        want.push_back(x[offset(in_shape, {starts[0] + i * steps[0], starts[1] + j * steps[1], starts[2] + k * steps[2]})]);
  EXPECT_EQ(y.as<float>(), want);
}

TEST(DataKernels, SliceHandComputed) {
  // ONNX doc example 1: data [[1,2,3,4],[5,6,7,8]], rows 1..2, columns 0..3 step 2 -> [[5, 7]].
  Value y = run1(OpType::kSlice, attrs({{"starts", Ints{1, 0}}, {"ends", Ints{2, 3}}, {"steps", Ints{1, 2}}}),
                 {Value::f32({2, 4}, {1, 2, 3, 4, 5, 6, 7, 8})});
  EXPECT_EQ(y.shape, (Shape{1, 2}));
  EXPECT_EQ(y.as<float>(), (Floats{5, 7}));
  // Reverse a u8 vector.
  y = run1(OpType::kSlice, attrs({{"starts", Ints{3}}, {"ends", Ints{-1}}, {"steps", Ints{-1}}}),
           {Value::of<uint8_t>(DType::kU8, {4}, {10, 20, 30, 40})});
  EXPECT_EQ(y.as<uint8_t>(), (std::vector<uint8_t>{40, 30, 20, 10}));
  // An empty result.
  y = run1(OpType::kSlice, attrs({{"starts", Ints{2}}, {"ends", Ints{2}}, {"steps", Ints{1}}}), {Value::f32({4}, {1, 2, 3, 4})});
  EXPECT_EQ(y.shape, (Shape{0}));
}

// ---- Pad ----

Attributes pad_attrs(const char* mode, Ints pads, float value = 0.f) {
  return attrs({{"mode", std::string(mode)}, {"pads", std::move(pads)}, {"value", value}});
}

TEST(DataKernels, Pad1dModesHandComputed) {
  const Value x = Value::f32({3}, {1, 2, 3});
  EXPECT_EQ(run1(OpType::kPad, pad_attrs("constant", {2, 2}, 9), {x}).as<float>(), (Floats{9, 9, 1, 2, 3, 9, 9}));
  EXPECT_EQ(run1(OpType::kPad, pad_attrs("reflect", {2, 2}), {x}).as<float>(), (Floats{3, 2, 1, 2, 3, 2, 1}));
  EXPECT_EQ(run1(OpType::kPad, pad_attrs("edge", {2, 2}), {x}).as<float>(), (Floats{1, 1, 1, 2, 3, 3, 3}));
  // Reflecting further than the axis is long bounces back and forth (numpy's 'reflect').
  EXPECT_EQ(run1(OpType::kPad, pad_attrs("reflect", {5, 5}), {x}).as<float>(),
            (Floats{2, 1, 2, 3, 2, 1, 2, 3, 2, 1, 2, 3, 2}));
}

TEST(DataKernels, PadNegativePadsCropFirst) {
  const Value x = Value::f32({5}, {1, 2, 3, 4, 5});
  EXPECT_EQ(run1(OpType::kPad, pad_attrs("constant", {-1, -2}), {x}).as<float>(), (Floats{2, 3}));
  // Crop one at the front, then reflect two at the end of what is left: [2,3,4,5] -> [2,3,4,5,4,3].
  EXPECT_EQ(run1(OpType::kPad, pad_attrs("reflect", {-1, 2}), {x}).as<float>(), (Floats{2, 3, 4, 5, 4, 3}));
  // Crop two at the end, then edge-pad one at the front: [1,2,3] -> [1,1,2,3].
  EXPECT_EQ(run1(OpType::kPad, pad_attrs("edge", {1, -2}), {x}).as<float>(), (Floats{1, 1, 2, 3}));
}

TEST(DataKernels, Pad2dOnnxDocExamples) {
  // ONNX Pad docs: data [[1.0, 1.2], [2.3, 3.4], [4.5, 5.7]], pads [0, 2, 0, 0].
  const Value x = Value::f32({3, 2}, {1.0f, 1.2f, 2.3f, 3.4f, 4.5f, 5.7f});
  Value y = run1(OpType::kPad, pad_attrs("constant", {0, 2, 0, 0}), {x});
  EXPECT_EQ(y.shape, (Shape{3, 4}));
  EXPECT_EQ(y.as<float>(), (Floats{0, 0, 1.0f, 1.2f, 0, 0, 2.3f, 3.4f, 0, 0, 4.5f, 5.7f}));
  EXPECT_EQ(run1(OpType::kPad, pad_attrs("reflect", {0, 2, 0, 0}), {x}).as<float>(),
            (Floats{1.0f, 1.2f, 1.0f, 1.2f, 2.3f, 3.4f, 2.3f, 3.4f, 4.5f, 5.7f, 4.5f, 5.7f}));
  EXPECT_EQ(run1(OpType::kPad, pad_attrs("edge", {0, 2, 0, 0}), {x}).as<float>(),
            (Floats{1.0f, 1.0f, 1.0f, 1.2f, 2.3f, 2.3f, 2.3f, 3.4f, 4.5f, 4.5f, 4.5f, 5.7f}));
}

TEST(DataKernels, Pad3dReflectAgainstNaiveLoop) {
  const Shape in_shape{2, 3, 4};
  const std::vector<float> x = iota_f(24);
  const Ints pads{1, 2, -1, 0, 1, 3};  // begins 1, 2, -1; ends 0, 1, 3
  Value y = run1(OpType::kPad, pad_attrs("reflect", pads), {Value::f32(in_shape, x)});
  const Shape out_shape{3, 6, 6};
  ASSERT_EQ(y.shape, out_shape);
  // Naive reflect within the kept window [lo, hi) of each axis.
  auto reflect = [](int64_t i, int64_t lo, int64_t hi) {
    while (i < lo || i >= hi) i = i < lo ? 2 * lo - i : 2 * (hi - 1) - i;
    return i;
  };
  const std::vector<float> got = y.as<float>();
  for (int64_t a = 0; a < 3; ++a)
    for (int64_t b = 0; b < 6; ++b)
      for (int64_t c = 0; c < 6; ++c) {
        const int64_t i = reflect(a - 1, 0, 2), j = reflect(b - 2, 0, 3), k = reflect(c + 1, 1, 4);
        EXPECT_EQ(got[offset(out_shape, {a, b, c})], x[offset(in_shape, {i, j, k})]) << a << "," << b << "," << c;
      }
}

TEST(DataKernels, PadConstantIsConvertedToTheDtype) {
  EXPECT_EQ(run1(OpType::kPad, pad_attrs("constant", {1, 1}, -7), {Value::of<int64_t>(DType::kI64, {2}, {5, 6})}).as<int64_t>(),
            (std::vector<int64_t>{-7, 5, 6, -7}));
  EXPECT_EQ(run1(OpType::kPad, pad_attrs("constant", {0, 1}, 1), {Value::of<uint8_t>(DType::kBool, {1}, {0})}).as<uint8_t>(),
            (std::vector<uint8_t>{0, 1}));
  // f16 bits: 1.5 = 0x3e00, -2 = 0xc000, 65520 rounds to infinity 0x7c00, 1e-8 underflows to 0.
  const std::pair<float, int> f16_cases[] = {{1.5f, 0x3e00}, {-2.f, 0xc000}, {65520.f, 0x7c00}, {1e-8f, 0}, {5.9604645e-8f, 1}};
  for (auto [value, bits] : f16_cases)
    EXPECT_EQ(run1(OpType::kPad, pad_attrs("constant", {1, 0}, value), {Value::of<uint16_t>(DType::kF16, {1}, {0x1234})}).as<uint16_t>(),
              (std::vector<uint16_t>{static_cast<uint16_t>(bits), 0x1234}))
        << value;
  // A quantized tensor pads with the quantized value: round(1.0 / 0.5) + 3 = 5; 1000 saturates.
  const QuantParams q{{0.5f}, {3}};
  EXPECT_EQ(run1(OpType::kPad, pad_attrs("constant", {1, 0}, 1.f), {Value::of<uint8_t>(DType::kU8, {1}, {9}, q)}).as<uint8_t>(),
            (std::vector<uint8_t>{5, 9}));
  EXPECT_EQ(run1(OpType::kPad, pad_attrs("constant", {1, 0}, 1000.f), {Value::of<uint8_t>(DType::kU8, {1}, {9}, q)}).as<uint8_t>(),
            (std::vector<uint8_t>{255, 9}));
}

// ---- Resize ----

Attributes resize_attrs(const char* mode, const char* ctm, Floats scales, Ints sizes, const char* nearest_mode = "round_prefer_floor",
                        float cubic_a = -0.75f, int64_t exclude_outside = 0) {
  return attrs({{"mode", std::string(mode)},
                {"coordinate_transformation_mode", std::string(ctm)},
                {"nearest_mode", std::string(nearest_mode)},
                {"scales", std::move(scales)},
                {"sizes", std::move(sizes)},
                {"cubic_coeff_a", cubic_a},
                {"exclude_outside", exclude_outside},
                {"extrapolation_value", 0.f}});
}

TEST(DataKernels, ResizeNearestOnnxDocExamples) {
  // test_resize_upsample_scales_nearest: [[1,2],[3,4]] scales [1,1,2,3].
  Value y = run1(OpType::kResize, resize_attrs("nearest", "half_pixel", {1, 1, 2, 3}, {1, 1, 4, 6}),
                 {Value::f32({1, 1, 2, 2}, {1, 2, 3, 4})});
  EXPECT_EQ(y.as<float>(), (Floats{1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 3, 3, 3, 4, 4, 4}));
  // test_resize_downsample_scales_nearest: [[1,2,3,4],[5,6,7,8]] scales 0.6 -> [[1, 3]].
  y = run1(OpType::kResize, resize_attrs("nearest", "half_pixel", {1, 1, 0.6f, 0.6f}, {1, 1, 1, 2}),
           {Value::f32({1, 1, 2, 4}, {1, 2, 3, 4, 5, 6, 7, 8})});
  EXPECT_EQ(y.as<float>(), (Floats{1, 3}));
}

TEST(DataKernels, ResizeNearestModesHandComputed) {
  const Value x = Value::f32({4}, {10, 20, 30, 40});
  // asymmetric, scale 2: x_original = 0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5 (ties at .5).
  const std::pair<const char*, Floats> asymmetric[] = {
      {"round_prefer_floor", {10, 10, 20, 20, 30, 30, 40, 40}},
      {"round_prefer_ceil", {10, 20, 20, 30, 30, 40, 40, 40}},
      {"floor", {10, 10, 20, 20, 30, 30, 40, 40}},
      {"ceil", {10, 20, 20, 30, 30, 40, 40, 40}},
  };
  for (const auto& [mode, want] : asymmetric)
    EXPECT_EQ(run1(OpType::kResize, resize_attrs("nearest", "asymmetric", {2}, {8}, mode), {x}).as<float>(), want) << mode;
  // half_pixel, scale 2: x_original = -0.25, 0.25, 0.75, ..., 3.25 (no ties; outside clamps).
  const std::pair<const char*, Floats> half_pixel[] = {
      {"round_prefer_floor", {10, 10, 20, 20, 30, 30, 40, 40}},
      {"round_prefer_ceil", {10, 10, 20, 20, 30, 30, 40, 40}},
      {"floor", {10, 10, 10, 20, 20, 30, 30, 40}},
      {"ceil", {10, 20, 20, 30, 30, 40, 40, 40}},
  };
  for (const auto& [mode, want] : half_pixel)
    EXPECT_EQ(run1(OpType::kResize, resize_attrs("nearest", "half_pixel", {2}, {8}, mode), {x}).as<float>(), want) << mode;
  // tf_half_pixel_for_nn, 4 -> 2: x_original = (x + 0.5) * 2 = 1, 3.
  EXPECT_EQ(run1(OpType::kResize, resize_attrs("nearest", "tf_half_pixel_for_nn", {0.5f}, {2}), {x}).as<float>(), (Floats{20, 40}));
  // align_corners, 4 -> 3: x_original = 0, 1.5, 3; 1.5 rounds down with round_prefer_floor.
  EXPECT_EQ(run1(OpType::kResize, resize_attrs("nearest", "align_corners", {0.75f}, {3}), {x}).as<float>(), (Floats{10, 20, 40}));
}

TEST(DataKernels, ResizeNearestFromSizesKeepsExactTies) {
  // 6 -> 7 with half_pixel: x_original = (x + 0.5) * 6/7 - 0.5; x = 3 gives exactly 2.5, which
  // round_prefer_floor sends to 2. The importer stores the scale as float(7/6), which is not
  // exactly 7/6; the tie must still be a tie. Others: -0.07, 0.79, 1.64, 3.36, 4.21, 5.07.
  const Value x = Value::f32({6}, {0, 1, 2, 3, 4, 5});
  EXPECT_EQ(run1(OpType::kResize, resize_attrs("nearest", "half_pixel", {static_cast<float>(7.0 / 6.0)}, {7}), {x}).as<float>(),
            (Floats{0, 1, 2, 2, 3, 4, 5}));
  EXPECT_EQ(run1(OpType::kResize, resize_attrs("nearest", "half_pixel", {static_cast<float>(7.0 / 6.0)}, {7}, "round_prefer_ceil"), {x})
                .as<float>(),
            (Floats{0, 1, 2, 3, 3, 4, 5}));
}

TEST(DataKernels, ResizeNearestMovesBytesOfAnyDtype) {
  const QuantParams q{{0.1f}, {128}};
  Value y = run1(OpType::kResize, resize_attrs("nearest", "asymmetric", {1, 2, 2}, {1, 4, 4}),
                 {Value::of<uint8_t>(DType::kU8, {1, 2, 2}, {1, 2, 3, 4}, q)});
  EXPECT_EQ(y.as<uint8_t>(), (std::vector<uint8_t>{1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4}));
}

TEST(DataKernels, ResizeLinearOnnxDocExamples) {
  // test_resize_upsample_scales_linear (half_pixel).
  Value y = run1(OpType::kResize, resize_attrs("linear", "half_pixel", {1, 1, 2, 2}, {1, 1, 4, 4}),
                 {Value::f32({1, 1, 2, 2}, {1, 2, 3, 4})});
  expect_floats_near(y.as<float>(), {1, 1.25f, 1.75f, 2, 1.5f, 1.75f, 2.25f, 2.5f, 2.5f, 2.75f, 3.25f, 3.5f, 3, 3.25f, 3.75f, 4});
  // test_resize_upsample_scales_linear_align_corners.
  y = run1(OpType::kResize, resize_attrs("linear", "align_corners", {1, 1, 2, 2}, {1, 1, 4, 4}), {Value::f32({1, 1, 2, 2}, {1, 2, 3, 4})});
  expect_floats_near(y.as<float>(), {1, 1.333333f, 1.666667f, 2, 1.666667f, 2, 2.333333f, 2.666667f, 2.333333f, 2.666667f, 3, 3.333333f,
                                     3, 3.333333f, 3.666667f, 4});
  // test_resize_downsample_scales_linear_align_corners: the resized length is 4 * 0.6 = 2.4,
  // not 2, so x = 1 maps to 1 * 3 / 1.4 = 2.142857 -> 3.142857.
  y = run1(OpType::kResize, resize_attrs("linear", "align_corners", {1, 1, 0.6f, 0.6f}, {1, 1, 1, 2}),
           {Value::f32({1, 1, 2, 4}, {1, 2, 3, 4, 5, 6, 7, 8})});
  expect_floats_near(y.as<float>(), {1, 3.142857f});
  // test_resize_downsample_scales_linear: x_original = (x + 0.5) / 0.6 - 0.5 = 0.333, 2 (row 0.333).
  y = run1(OpType::kResize, resize_attrs("linear", "half_pixel", {1, 1, 0.6f, 0.6f}, {1, 1, 1, 2}),
           {Value::f32({1, 1, 2, 4}, {1, 2, 3, 4, 5, 6, 7, 8})});
  expect_floats_near(y.as<float>(), {2.6666667f, 4.3333333f});
}

TEST(DataKernels, ResizeLinearPytorchHalfPixelToLengthOne) {
  // pytorch_half_pixel maps every coordinate to 0 when the resized length is 1.
  Value y = run1(OpType::kResize, resize_attrs("linear", "pytorch_half_pixel", {0.25f}, {1}), {Value::f32({4}, {1, 2, 3, 4})});
  EXPECT_EQ(y.as<float>(), (Floats{1}));
  // half_pixel does not: x_original = 0.5 / 0.25 - 0.5 = 1.5.
  y = run1(OpType::kResize, resize_attrs("linear", "half_pixel", {0.25f}, {1}), {Value::f32({4}, {1, 2, 3, 4})});
  EXPECT_EQ(y.as<float>(), (Floats{2.5f}));
}

TEST(DataKernels, ResizeCubicOnnxDocExamples) {
  const Value x = Value::f32({1, 1, 4, 4}, iota_f(16, 1));
  // test_resize_upsample_scales_cubic (A = -0.75, half_pixel).
  Value y = run1(OpType::kResize, resize_attrs("cubic", "half_pixel", {1, 1, 2, 2}, {1, 1, 8, 8}), {x});
  expect_floats_near(
      y.as<float>(),
      {0.47265625f, 0.76953125f, 1.24609375f, 1.875f,     2.28125f,   2.91015625f, 3.38671875f, 3.68359375f, 1.66015625f, 1.95703125f,
       2.43359375f, 3.0625f,     3.46875f,    4.09765625f, 4.57421875f, 4.87109375f, 3.56640625f, 3.86328125f, 4.33984375f, 4.96875f,
       5.375f,      6.00390625f, 6.48046875f, 6.77734375f, 6.08203125f, 6.37890625f, 6.85546875f, 7.484375f,   7.890625f,   8.51953125f,
       8.99609375f, 9.29296875f, 7.70703125f, 8.00390625f, 8.48046875f, 9.109375f,   9.515625f,   10.14453125f, 10.62109375f, 10.91796875f,
       10.22265625f, 10.51953125f, 10.99609375f, 11.625f,   12.03125f,   12.66015625f, 13.13671875f, 13.43359375f, 12.12890625f,
       12.42578125f, 12.90234375f, 13.53125f,   13.9375f,    14.56640625f, 15.04296875f, 15.33984375f, 13.31640625f, 13.61328125f,
       14.08984375f, 14.71875f,   15.125f,     15.75390625f, 16.23046875f, 16.52734375f});
  // test_resize_downsample_scales_cubic_A_n0p5_exclude_outside.
  y = run1(OpType::kResize, resize_attrs("cubic", "half_pixel", {1, 1, 0.8f, 0.8f}, {1, 1, 3, 3}, "round_prefer_floor", -0.5f, 1), {x});
  expect_floats_near(y.as<float>(), {1.3681267f, 2.6695013f, 4.0133367f, 6.573625f, 7.875f, 9.218835f, 11.948966f, 13.250341f, 14.594176f});
  // test_resize_downsample_sizes_cubic: sizes 3x3, the importer's scale float(3/4) = 0.75.
  y = run1(OpType::kResize, resize_attrs("cubic", "half_pixel", {1, 1, 0.75f, 0.75f}, {1, 1, 3, 3}), {x});
  expect_floats_near(y.as<float>(), {1.630787f, 3.0046296f, 4.3784723f, 7.126157f, 8.5f, 9.873842f, 12.621528f, 13.99537f, 15.369213f});
}

TEST(DataKernels, ResizeCubicOneAxisAgainstNaiveKeysKernel) {
  // Resize along the last axis only; the first axis (scale 1) must pass through untouched.
  const std::vector<float> x{0.5f, -1.f, 2.f, 4.f, 3.f, 1.f, 7.f, 0.f, -2.f, 5.f};
  const double a = -0.5;
  auto w = [a](double d) {  // Keys' kernel as a function of distance
    d = std::abs(d);
    if (d <= 1) return ((a + 2) * d - (a + 3)) * d * d + 1;
    if (d < 2) return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a;
    return 0.0;
  };
  Value y = run1(OpType::kResize, resize_attrs("cubic", "asymmetric", {1, 1.5f}, {2, 7}, "round_prefer_floor", -0.5f), {Value::f32({2, 5}, x)});
  std::vector<float> want;
  for (int row = 0; row < 2; ++row)
    for (int o = 0; o < 7; ++o) {
      const double xo = o / 1.5;
      const int base = static_cast<int>(std::floor(xo));
      double sum = 0;
      for (int k = base - 1; k <= base + 2; ++k) sum += w(xo - k) * x[row * 5 + std::clamp(k, 0, 4)];
      want.push_back(static_cast<float>(sum));
    }
  expect_floats_near(y.as<float>(), want);
}

// ---- Gather ----

TEST(DataKernels, GatherAxis0WithNegativeIndices) {
  // data [[1,2],[3,4],[5,6]], indices [[-1, 0], [1, -3]] along axis 0.
  Value y = run1(OpType::kGather, attrs({{"axis", int64_t{0}}}),
                 {Value::f32({3, 2}, {1, 2, 3, 4, 5, 6}), Value::of<int64_t>(DType::kI64, {2, 2}, {-1, 0, 1, -3})});
  EXPECT_EQ(y.shape, (Shape{2, 2, 2}));
  EXPECT_EQ(y.as<float>(), (Floats{5, 6, 1, 2, 3, 4, 1, 2}));
}

TEST(DataKernels, GatherAxis1WithInt32IndicesAgainstNaiveLoop) {
  const Shape data_shape{2, 4, 3};
  const std::vector<int64_t> data = iota_t<int64_t>(24, 100);
  const std::vector<int32_t> idx{3, -4, 1, -1, 0};
  Value y = run1(OpType::kGather, attrs({{"axis", int64_t{1}}}), {Value::of(DType::kI64, data_shape, data), Value::of(DType::kI32, {5}, idx)});
  ASSERT_EQ(y.shape, (Shape{2, 5, 3}));
  std::vector<int64_t> want;
  for (int64_t i = 0; i < 2; ++i)
    for (int32_t j : idx)
      for (int64_t k = 0; k < 3; ++k) want.push_back(data[offset(data_shape, {i, j < 0 ? j + 4 : j, k})]);
  EXPECT_EQ(y.as<int64_t>(), want);
}

TEST(DataKernels, GatherScalarIndexDropsTheAxis) {
  Value y = run1(OpType::kGather, attrs({{"axis", int64_t{1}}}),
                 {Value::f32({2, 3}, {1, 2, 3, 4, 5, 6}), Value::of<int64_t>(DType::kI64, {}, {-2})});
  EXPECT_EQ(y.shape, (Shape{2}));
  EXPECT_EQ(y.as<float>(), (Floats{2, 5}));
}

TEST(DataKernels, GatherOutOfRangeIndexFailsTheRun) {
  for (int64_t bad : {3, -4, 1000000}) {
    auto out = run(OpType::kGather, attrs({{"axis", int64_t{0}}}),
                   {Value::f32({3, 2}, {1, 2, 3, 4, 5, 6}), Value::of<int64_t>(DType::kI64, {2}, {0, bad})});
    ASSERT_FALSE(out.has_value()) << bad;
    EXPECT_EQ(out.error().code, ErrorCode::kOutOfRange);
    EXPECT_NE(out.error().message.find("out of range for axis 0 of size 3"), std::string::npos) << out.error().message;
  }
  auto out = run(OpType::kGather, attrs({{"axis", int64_t{0}}}),
                 {Value::f32({3, 2}, {1, 2, 3, 4, 5, 6}), Value::of<int32_t>(DType::kI32, {1}, {-2147483647 - 1})});
  ASSERT_FALSE(out.has_value());
  EXPECT_EQ(out.error().code, ErrorCode::kOutOfRange);
}

}  // namespace
}  // namespace edgeloop::runtime::reference

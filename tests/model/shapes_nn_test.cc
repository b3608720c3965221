// Shape inference of the nn ops: output dtypes and shapes, and refusals with the right code.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "edgeloop/model/shape_inference.h"

namespace edgeloop::model {
namespace {

using Ints = std::vector<int64_t>;

// One node in a graph of its own.
class OneNode {
 public:
  explicit OneNode(OpType op) { node_.op = op, node_.name = "n"; }

  OneNode& input(Shape shape, DType dtype = DType::kF32, QuantParams quant = {}) {
    node_.inputs.push_back(add("in" + std::to_string(node_.inputs.size()), dtype, std::move(shape), std::move(quant)));
    return *this;
  }
  // A constant input (weights); shape inference does not read its data.
  OneNode& constant_input(Shape shape, DType dtype, QuantParams quant = {}) {
    input(std::move(shape), dtype, std::move(quant));
    constants_.push_back(node_.inputs.back());
    return *this;
  }
  OneNode& absent_input() {
    node_.inputs.push_back(kNoTensor);
    return *this;
  }
  // An output as the importer declares it: dtype and quantization known, shape to be inferred.
  OneNode& output(DType dtype = DType::kF32, QuantParams quant = {}) {
    node_.outputs.push_back(add("out" + std::to_string(node_.outputs.size()), dtype, {}, std::move(quant)));
    return *this;
  }
  OneNode& attr(std::string name, AttrValue value) {
    node_.attrs.set(std::move(name), std::move(value));
    return *this;
  }
  OneNode& erase_attr(const std::string& name) {
    Attributes kept;
    for (const auto& [n, v] : node_.attrs.items())
      if (n != name) kept.set(n, v);
    node_.attrs = kept;
    return *this;
  }

  Status infer() {
    for (TensorId id : constants_) graph_.tensors[id].constant = true;
    graph_.nodes = {node_};
    return infer_node(graph_, 0);
  }
  const Tensor& out(size_t i = 0) const { return graph_.tensors[node_.outputs[i]]; }

 private:
  TensorId add(std::string name, DType dtype, Shape shape, QuantParams quant) {
    Tensor t;
    t.name = std::move(name);
    t.dtype = dtype;
    t.shape = std::move(shape);
    t.quant = std::move(quant);
    return graph_.add_tensor(std::move(t));
  }
  Graph graph_;
  Node node_;
  std::vector<TensorId> constants_;
};

QuantParams per_tensor(float scale, int32_t zero_point) { return {{scale}, {zero_point}}; }
QuantParams per_channel(int32_t axis, size_t channels) {
  return {std::vector<float>(channels, 0.5f), std::vector<int32_t>(channels, 0), axis};
}
// Per group along rows of `shape` (axis 0, block axis 1) with f16-exact scales.
QuantParams per_group(const Shape& shape, int32_t block_size, DType scale_dtype = DType::kF16) {
  const GroupLayout l = group_layout(shape, block_size);
  return {std::vector<float>(static_cast<size_t>(l.rows * l.groups), 0.25f), {}, 0, 1, block_size, scale_dtype};
}

void expect_shape(OneNode& n, const Shape& shape, DType dtype = DType::kF32) {
  auto s = n.infer();
  ASSERT_TRUE(s.has_value()) << s.error().message;
  EXPECT_EQ(n.out().shape, shape);
  EXPECT_EQ(n.out().dtype, dtype);
}

void expect_refused(OneNode& n, ErrorCode code, const std::string& mentions) {
  auto s = n.infer();
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code, code) << s.error().message;
  EXPECT_NE(s.error().message.find(mentions), std::string::npos) << s.error().message;
}

// ---- Conv ----

OneNode conv2d(Shape x, Shape w, Ints strides = {1, 1}, Ints pads = {0, 0, 0, 0}, Ints dilations = {1, 1},
               int64_t group = 1) {
  OneNode n(OpType::kConv);
  n.input(std::move(x)).input(std::move(w)).output();
  n.attr("strides", strides).attr("pads", pads).attr("dilations", dilations).attr("group", group);
  return n;
}

TEST(ShapesConv, SamePaddingKeepsTheSpatialSize) {
  auto n = conv2d({1, 3, 32, 32}, {8, 3, 3, 3}, {1, 1}, {1, 1, 1, 1});
  expect_shape(n, {1, 8, 32, 32});
}

TEST(ShapesConv, StridesDilationsAndAsymmetricPads) {
  auto strided = conv2d({2, 3, 7, 7}, {4, 3, 3, 3}, {2, 2});
  expect_shape(strided, {2, 4, 3, 3});  // (7-3)/2+1
  auto dilated = conv2d({1, 3, 7, 9}, {4, 3, 3, 3}, {1, 1}, {0, 0, 0, 0}, {2, 3});
  expect_shape(dilated, {1, 4, 3, 3});  // spans 5 and 7
  // ONNX test_conv_with_strides_and_asymmetric_padding.
  auto asym = conv2d({1, 1, 7, 5}, {1, 1, 3, 3}, {2, 2}, {1, 0, 1, 0});
  expect_shape(asym, {1, 1, 4, 2});
  // The window does not fit: the floor drops the partial last step.
  auto partial = conv2d({1, 1, 8, 8}, {1, 1, 3, 3}, {3, 3});
  expect_shape(partial, {1, 1, 2, 2});
}

TEST(ShapesConv, OneAndThreeSpatialDims) {
  OneNode c1(OpType::kConv);
  c1.input({1, 2, 10}).input({5, 2, 3}).absent_input().output();
  c1.attr("strides", Ints{2}).attr("pads", Ints{1, 2}).attr("dilations", Ints{1}).attr("group", int64_t{1});
  expect_shape(c1, {1, 5, 6});  // (10+3-3)/2+1
  OneNode c3(OpType::kConv);
  c3.input({1, 2, 5, 6, 7}).input({4, 2, 3, 3, 3}).input({4}).output();
  c3.attr("strides", Ints{1, 2, 1}).attr("pads", Ints{0, 0, 1, 0, 0, 1}).attr("dilations", Ints{1, 1, 2});
  c3.attr("group", int64_t{1});
  expect_shape(c3, {1, 4, 3, 2, 5});
}

TEST(ShapesConv, GroupsAndDepthwise) {
  auto grouped = conv2d({1, 6, 5, 5}, {4, 3, 3, 3}, {1, 1}, {0, 0, 0, 0}, {1, 1}, 2);
  expect_shape(grouped, {1, 4, 3, 3});
  auto depthwise = conv2d({1, 8, 10, 10}, {8, 1, 3, 3}, {1, 1}, {1, 1, 1, 1}, {1, 1}, 8);
  expect_shape(depthwise, {1, 8, 10, 10});
  auto multiplier = conv2d({1, 8, 10, 10}, {16, 1, 3, 3}, {1, 1}, {0, 0, 0, 0}, {1, 1}, 8);
  expect_shape(multiplier, {1, 16, 8, 8});
}

TEST(ShapesConv, RefusesInconsistentGroupsAndShapes) {
  auto wrong_w_channels = conv2d({1, 8, 10, 10}, {8, 2, 3, 3}, {1, 1}, {0, 0, 0, 0}, {1, 1}, 8);
  expect_refused(wrong_w_channels, ErrorCode::kInvalidArgument, "input channels per group");
  auto indivisible = conv2d({1, 8, 10, 10}, {6, 3, 3, 3}, {1, 1}, {0, 0, 0, 0}, {1, 1}, 3);
  expect_refused(indivisible, ErrorCode::kInvalidArgument, "group 3");
  auto zero_group = conv2d({1, 8, 10, 10}, {8, 8, 3, 3}, {1, 1}, {0, 0, 0, 0}, {1, 1}, 0);
  expect_refused(zero_group, ErrorCode::kInvalidArgument, "'group'");
  auto rank_mismatch = conv2d({1, 3, 10, 10}, {8, 3, 3});
  expect_refused(rank_mismatch, ErrorCode::kInvalidArgument, "expected rank 4");
  auto too_big = conv2d({1, 3, 2, 2}, {8, 3, 3, 3});
  expect_refused(too_big, ErrorCode::kInvalidArgument, "window spans 3");
  OneNode bias(OpType::kConv);
  bias.input({1, 3, 5, 5}).input({8, 3, 3, 3}).input({3}).output();
  bias.attr("strides", Ints{1, 1}).attr("pads", Ints{0, 0, 0, 0}).attr("dilations", Ints{1, 1}).attr("group", int64_t{1});
  expect_refused(bias, ErrorCode::kInvalidArgument, "expected [8]");
}

TEST(ShapesConv, RefusesBadAttributes) {
  auto missing = conv2d({1, 3, 8, 8}, {4, 3, 3, 3});
  missing.erase_attr("dilations");
  expect_refused(missing, ErrorCode::kInvalidArgument, "'dilations' is missing");
  auto wrong_length = conv2d({1, 3, 8, 8}, {4, 3, 3, 3}, {1, 1}, {1, 1});
  expect_refused(wrong_length, ErrorCode::kInvalidArgument, "'pads' has 2 values, expected 4");
  auto zero_stride = conv2d({1, 3, 8, 8}, {4, 3, 3, 3}, {0, 1});
  expect_refused(zero_stride, ErrorCode::kInvalidArgument, "'strides' has value 0");
  auto negative_pad = conv2d({1, 3, 8, 8}, {4, 3, 3, 3}, {1, 1}, {0, -1, 0, 0});
  expect_refused(negative_pad, ErrorCode::kInvalidArgument, "'pads' has value -1");
  auto wrong_type = conv2d({1, 3, 8, 8}, {4, 3, 3, 3});
  wrong_type.attr("group", 1.f);
  expect_refused(wrong_type, ErrorCode::kInvalidArgument, "'group' must be an int");
  auto auto_pad = conv2d({1, 3, 8, 8}, {4, 3, 3, 3});
  auto_pad.attr("auto_pad", std::string("SAME_UPPER"));
  expect_refused(auto_pad, ErrorCode::kUnsupported, "auto_pad");
  auto kernel_shape = conv2d({1, 3, 8, 8}, {4, 3, 3, 3});
  kernel_shape.attr("kernel_shape", Ints{5, 5});
  expect_refused(kernel_shape, ErrorCode::kInvalidArgument, "kernel_shape");
}

TEST(ShapesConv, RefusesUnsupportedRanksAndDtypes) {
  OneNode four_spatial(OpType::kConv);
  four_spatial.input({1, 1, 3, 3, 3, 3}).input({1, 1, 1, 1, 1, 1}).output();
  expect_refused(four_spatial, ErrorCode::kUnsupported, "4 spatial dims");
  auto no_spatial = conv2d({1, 3}, {4, 3});
  expect_refused(no_spatial, ErrorCode::kInvalidArgument, "at least one spatial dim");
  OneNode f16(OpType::kConv);
  f16.input({1, 3, 8, 8}, DType::kF16).input({4, 3, 3, 3}).output();
  f16.attr("strides", Ints{1, 1}).attr("pads", Ints{0, 0, 0, 0}).attr("dilations", Ints{1, 1}).attr("group", int64_t{1});
  expect_refused(f16, ErrorCode::kUnsupported, "dtype f16");
  OneNode unquantized(OpType::kConv);
  unquantized.input({1, 3, 8, 8}, DType::kU8).input({4, 3, 3, 3}, DType::kI8, per_tensor(0.5f, 0)).output(DType::kU8);
  unquantized.attr("strides", Ints{1, 1}).attr("pads", Ints{0, 0, 0, 0}).attr("dilations", Ints{1, 1});
  unquantized.attr("group", int64_t{1});
  expect_refused(unquantized, ErrorCode::kInvalidArgument, "without quantization parameters");
}

OneNode quantized_conv(QuantParams w_quant, DType y_dtype, QuantParams y_quant) {
  OneNode n(OpType::kConv);
  n.input({1, 3, 8, 8}, DType::kU8, per_tensor(0.1f, 128))
      .input({4, 3, 3, 3}, DType::kI8, std::move(w_quant))
      .input({4}, DType::kI32)
      .output(y_dtype, std::move(y_quant));
  n.attr("strides", Ints{1, 1}).attr("pads", Ints{1, 1, 1, 1}).attr("dilations", Ints{1, 1}).attr("group", int64_t{1});
  return n;
}

TEST(ShapesConv, QuantizedFormTakesTheDeclaredOutputDtype) {
  auto per_tensor_w = quantized_conv(per_tensor(0.02f, 0), DType::kI8, per_tensor(0.2f, -3));
  expect_shape(per_tensor_w, {1, 4, 8, 8}, DType::kI8);
  auto per_channel_w = quantized_conv(per_channel(0, 4), DType::kU8, per_tensor(0.2f, 7));
  expect_shape(per_channel_w, {1, 4, 8, 8}, DType::kU8);
}

TEST(ShapesConv, QuantizedFormRefusesOtherQuantizations) {
  auto wrong_axis = quantized_conv(per_channel(1, 3), DType::kU8, per_tensor(0.2f, 0));
  expect_refused(wrong_axis, ErrorCode::kUnsupported, "per channel along axis 1");
  QuantParams blocked{std::vector<float>(12, 1.f), {}, 0, 1, 1};
  auto block_wise = quantized_conv(blocked, DType::kU8, per_tensor(0.2f, 0));
  expect_refused(block_wise, ErrorCode::kUnsupported, "block-wise");
  auto wrong_count = quantized_conv(per_channel(0, 5), DType::kU8, per_tensor(0.2f, 0));
  expect_refused(wrong_count, ErrorCode::kInvalidArgument, "5 quantization scales, expected 4");
  auto float_output = quantized_conv(per_tensor(0.02f, 0), DType::kF32, {});
  expect_refused(float_output, ErrorCode::kInvalidArgument, "must be declared u8 or i8");
  auto per_channel_output = quantized_conv(per_tensor(0.02f, 0), DType::kU8, per_channel(1, 4));
  expect_refused(per_channel_output, ErrorCode::kUnsupported, "per channel along axis 1");
  OneNode with_zp(OpType::kConv);
  with_zp.input({1, 3, 8, 8}, DType::kU8, per_tensor(0.1f, 128))
      .input({4, 3, 3, 3}, DType::kI8, per_tensor(0.02f, 0))
      .input({4}, DType::kI32, per_tensor(0.002f, 5))
      .output(DType::kU8, per_tensor(0.2f, 0));
  with_zp.attr("strides", Ints{1, 1}).attr("pads", Ints{1, 1, 1, 1}).attr("dilations", Ints{1, 1});
  with_zp.attr("group", int64_t{1});
  expect_refused(with_zp, ErrorCode::kUnsupported, "zero point 0");
}

// The W8A8 Conv of the quantization toolchain: i8 activations, symmetric per-channel i8 weights.
OneNode w8a8_conv(DType y_dtype = DType::kI8, QuantParams y_quant = per_tensor(0.2f, -3)) {
  OneNode n(OpType::kConv);
  n.input({1, 3, 8, 8}, DType::kI8, per_tensor(0.1f, -2))
      .constant_input({4, 3, 3, 3}, DType::kI8, per_channel(0, 4))
      .constant_input({4}, DType::kI32)
      .output(y_dtype, std::move(y_quant));
  n.attr("strides", Ints{1, 1}).attr("pads", Ints{1, 1, 1, 1}).attr("dilations", Ints{1, 1}).attr("group", int64_t{1});
  return n;
}

TEST(ShapesConv, RequantizeAttributeIsFloatOrFixedPoint) {
  for (const char* value : {"float", "fixed_point"}) {
    auto n = w8a8_conv();
    n.attr("requantize", std::string(value));
    expect_shape(n, {1, 4, 8, 8}, DType::kI8);
  }
  auto other = w8a8_conv();
  other.attr("requantize", std::string("rndnu"));
  expect_refused(other, ErrorCode::kInvalidArgument, "'requantize' is 'rndnu'; expected \"float\" or \"fixed_point\"");
  auto not_a_string = w8a8_conv();
  not_a_string.attr("requantize", int64_t{1});
  expect_refused(not_a_string, ErrorCode::kInvalidArgument, "'requantize' must be a string");
  auto on_float = conv2d({1, 3, 8, 8}, {4, 3, 3, 3});
  on_float.attr("requantize", std::string("fixed_point"));
  expect_refused(on_float, ErrorCode::kInvalidArgument, "applies only to the quantized forms");
}

TEST(ShapesConv, FixedPointRefusesAMultiplierOfTwoToThe30) {
  // 0.1 · 0.5 / y_scale ≥ 2^30 cannot be represented with a shift ≥ 1.
  auto huge = w8a8_conv(DType::kI8, per_tensor(0.05f / 1073741824.f, 0));
  huge.attr("requantize", std::string("fixed_point"));
  expect_refused(huge, ErrorCode::kUnsupported, "too large for requantize \"fixed_point\"");
  auto same_with_float = w8a8_conv(DType::kI8, per_tensor(0.05f / 1073741824.f, 0));
  expect_shape(same_with_float, {1, 4, 8, 8}, DType::kI8);
}

TEST(ShapesConv, W8A8RefusesPerGroupWeightsAndAFloatBias) {
  OneNode grouped(OpType::kConv);
  grouped.input({1, 3, 8, 8}, DType::kI8, per_tensor(0.1f, 0))
      .constant_input({4, 3, 3, 3}, DType::kI8, per_group({4, 3, 3, 3}, 9))
      .output(DType::kI8, per_tensor(0.2f, 0));
  grouped.attr("strides", Ints{1, 1}).attr("pads", Ints{1, 1, 1, 1}).attr("dilations", Ints{1, 1});
  grouped.attr("group", int64_t{1});
  expect_refused(grouped, ErrorCode::kUnsupported, "block-wise");
  OneNode float_bias(OpType::kConv);
  float_bias.input({1, 3, 8, 8}, DType::kI8, per_tensor(0.1f, 0))
      .constant_input({4, 3, 3, 3}, DType::kI8, per_channel(0, 4))
      .constant_input({4}, DType::kF32)
      .output(DType::kI8, per_tensor(0.2f, 0));
  float_bias.attr("strides", Ints{1, 1}).attr("pads", Ints{1, 1, 1, 1}).attr("dilations", Ints{1, 1});
  float_bias.attr("group", int64_t{1});
  expect_refused(float_bias, ErrorCode::kUnsupported, "input 2 'in2' has dtype f32, supported: i32");
}

// The W4A8 Conv: i8 activations, i4 per-group constant weights (rows of 3 · 3 · 3 = 27 in groups
// of 8: the last group has 3), f32 bias.
struct W4A8ConvSpec {
  DType x_dtype = DType::kI8;
  QuantParams w_quant = per_group({4, 3, 3, 3}, 8);
  bool w_constant = true;
  std::optional<DType> bias = DType::kF32;
  DType y_dtype = DType::kI8;
  const char* requantize = nullptr;
};

OneNode w4a8_conv(const W4A8ConvSpec& s) {
  OneNode n(OpType::kConv);
  n.input({1, 3, 8, 8}, s.x_dtype, per_tensor(0.1f, s.x_dtype == DType::kU8 ? 128 : 0));
  if (s.w_constant) n.constant_input({4, 3, 3, 3}, DType::kI4, s.w_quant);
  else n.input({4, 3, 3, 3}, DType::kI4, s.w_quant);
  if (s.bias) n.constant_input({4}, *s.bias);
  n.output(s.y_dtype, per_tensor(0.2f, 0));
  n.attr("strides", Ints{1, 1}).attr("pads", Ints{1, 1, 1, 1}).attr("dilations", Ints{1, 1}).attr("group", int64_t{1});
  if (s.requantize != nullptr) n.attr("requantize", std::string(s.requantize));
  return n;
}

TEST(ShapesConv, W4A8FormAcceptsPerGroupI4Weights) {
  auto plain = w4a8_conv({});
  expect_shape(plain, {1, 4, 8, 8}, DType::kI8);
  auto fixed_point = w4a8_conv({.requantize = "fixed_point"});
  expect_shape(fixed_point, {1, 4, 8, 8}, DType::kI8);
  auto f32_scales = w4a8_conv({.w_quant = per_group({4, 3, 3, 3}, 32, DType::kF32), .bias = std::nullopt});
  expect_shape(f32_scales, {1, 4, 8, 8}, DType::kI8);
}

TEST(ShapesConv, W4A8FormRefusals) {
  auto not_constant = w4a8_conv({.w_constant = false});
  expect_refused(not_constant, ErrorCode::kUnsupported, "must be a constant");
  auto per_channel_w = w4a8_conv({.w_quant = per_channel(0, 4)});
  expect_refused(per_channel_w, ErrorCode::kUnsupported, "needs per-group quantization");
  QuantParams with_zp = per_group({4, 3, 3, 3}, 8);
  with_zp.zero_points.assign(with_zp.scales.size(), 0);
  with_zp.zero_points[5] = 1;
  auto nonzero_zp = w4a8_conv({.w_quant = with_zp});
  expect_refused(nonzero_zp, ErrorCode::kUnsupported, "needs zero points 0");
  QuantParams wrong_count = per_group({4, 3, 3, 3}, 8);
  wrong_count.scales.pop_back();
  auto bad_scales = w4a8_conv({.w_quant = wrong_count});
  expect_refused(bad_scales, ErrorCode::kInvalidArgument, "15 quantization scales, expected 16");
  auto u8_input = w4a8_conv({.x_dtype = DType::kU8});
  expect_refused(u8_input, ErrorCode::kUnsupported, "the W4A8 form (i4 W) needs i8");
  auto i32_bias = w4a8_conv({.bias = DType::kI32});
  expect_refused(i32_bias, ErrorCode::kUnsupported, "takes an f32 bias");
  auto u8_output = w4a8_conv({.y_dtype = DType::kU8});
  expect_refused(u8_output, ErrorCode::kInvalidArgument, "must be declared i8");
  auto float_requantize = w4a8_conv({.requantize = "float"});
  expect_refused(float_requantize, ErrorCode::kInvalidArgument, "one arithmetic");
  OneNode float_x(OpType::kConv);  // W4A32 is DequantizeLinear → float Conv, never i4 W with f32 X
  float_x.input({1, 3, 8, 8}).constant_input({4, 3, 3, 3}, DType::kI4, per_group({4, 3, 3, 3}, 8)).output();
  float_x.attr("strides", Ints{1, 1}).attr("pads", Ints{1, 1, 1, 1}).attr("dilations", Ints{1, 1});
  float_x.attr("group", int64_t{1});
  expect_refused(float_x, ErrorCode::kUnsupported, "dtype i4, supported: f32");
}

// ---- ConvTranspose ----

OneNode conv_transpose2d(Shape x, Shape w, Ints strides, Ints pads, Ints output_padding, int64_t group = 1,
                         Ints dilations = {1, 1}) {
  OneNode n(OpType::kConvTranspose);
  n.input(std::move(x)).input(std::move(w)).output();
  n.attr("strides", strides).attr("pads", pads).attr("dilations", dilations).attr("group", group);
  n.attr("output_padding", output_padding);
  return n;
}

TEST(ShapesConvTranspose, StrideOutputPaddingPadsAndDilations) {
  // stride * (in - 1) + output_padding + ((k - 1) * dilation + 1) - pads
  auto plain = conv_transpose2d({1, 1, 3, 3}, {1, 2, 3, 3}, {1, 1}, {0, 0, 0, 0}, {0, 0});
  expect_shape(plain, {1, 2, 5, 5});
  auto strided = conv_transpose2d({1, 1, 3, 3}, {1, 2, 3, 3}, {3, 2}, {0, 0, 0, 0}, {1, 1});
  expect_shape(strided, {1, 2, 10, 8});
  auto padded = conv_transpose2d({1, 1, 3, 3}, {1, 2, 3, 3}, {3, 2}, {1, 2, 1, 2}, {0, 0});
  expect_shape(padded, {1, 2, 7, 3});
  auto dilated = conv_transpose2d({1, 1, 3, 3}, {1, 1, 2, 2}, {1, 1}, {0, 0, 0, 0}, {0, 0}, 1, {2, 2});
  expect_shape(dilated, {1, 1, 5, 5});
  auto grouped = conv_transpose2d({2, 4, 5, 5}, {4, 3, 3, 3}, {2, 2}, {1, 1, 1, 1}, {1, 1}, 2);
  expect_shape(grouped, {2, 6, 10, 10});
}

TEST(ShapesConvTranspose, RefusesInconsistentShapesAndAttributes) {
  auto wrong_w = conv_transpose2d({1, 4, 5, 5}, {2, 3, 3, 3}, {1, 1}, {0, 0, 0, 0}, {0, 0});
  expect_refused(wrong_w, ErrorCode::kInvalidArgument, "(C, M/group, kernel...)");
  auto empty = conv_transpose2d({1, 1, 2, 2}, {1, 1, 2, 2}, {1, 1}, {2, 2, 1, 1}, {0, 0});
  expect_refused(empty, ErrorCode::kInvalidArgument, "output extent of 0");
  auto output_shape = conv_transpose2d({1, 1, 3, 3}, {1, 2, 3, 3}, {3, 2}, {0, 0, 0, 0}, {0, 0});
  output_shape.attr("output_shape", Ints{10, 8});
  expect_refused(output_shape, ErrorCode::kUnsupported, "output_shape");
  auto missing = conv_transpose2d({1, 1, 3, 3}, {1, 2, 3, 3}, {1, 1}, {0, 0, 0, 0}, {0, 0});
  missing.erase_attr("output_padding");
  expect_refused(missing, ErrorCode::kInvalidArgument, "'output_padding' is missing");
  OneNode quantized(OpType::kConvTranspose);
  quantized.input({1, 1, 3, 3}, DType::kU8, per_tensor(1.f, 0)).input({1, 1, 3, 3}, DType::kU8, per_tensor(1.f, 0));
  quantized.output(DType::kU8, per_tensor(1.f, 0));
  quantized.attr("strides", Ints{1, 1}).attr("pads", Ints{0, 0, 0, 0}).attr("dilations", Ints{1, 1});
  quantized.attr("group", int64_t{1}).attr("output_padding", Ints{0, 0});
  expect_refused(quantized, ErrorCode::kUnsupported, "dtype u8");
}

// ---- Gemm and MatMul ----

OneNode gemm(Shape a, Shape b, std::optional<Shape> c, int64_t trans_a = 0, int64_t trans_b = 0) {
  OneNode n(OpType::kGemm);
  n.input(std::move(a)).input(std::move(b));
  if (c) n.input(std::move(*c));
  n.output();
  n.attr("alpha", 1.f).attr("beta", 1.f).attr("transA", trans_a).attr("transB", trans_b);
  return n;
}

TEST(ShapesGemm, TransposeFlagsAndBroadcastC) {
  auto plain = gemm({3, 5}, {5, 4}, std::nullopt);
  expect_shape(plain, {3, 4});
  auto trans = gemm({5, 3}, {4, 5}, Shape{4}, 1, 1);
  expect_shape(trans, {3, 4});
  for (const Shape& c : {Shape{}, Shape{1}, Shape{3, 1}, Shape{1, 4}, Shape{3, 4}}) {
    auto n = gemm({3, 5}, {5, 4}, c);
    expect_shape(n, {3, 4});
  }
}

TEST(ShapesGemm, RefusesMismatchesAndBadFlags) {
  auto inner = gemm({3, 5}, {4, 5}, std::nullopt);
  expect_refused(inner, ErrorCode::kInvalidArgument, "inner dim: 5 vs 4");
  auto c_rows = gemm({3, 5}, {5, 4}, Shape{3});
  expect_refused(c_rows, ErrorCode::kInvalidArgument, "does not broadcast");
  auto c_rank = gemm({3, 5}, {5, 4}, Shape{1, 3, 4});
  expect_refused(c_rank, ErrorCode::kInvalidArgument, "does not broadcast");
  auto flag = gemm({3, 5}, {5, 4}, std::nullopt, 2);
  expect_refused(flag, ErrorCode::kInvalidArgument, "'transA' is 2");
  auto vector = gemm({5}, {5, 4}, std::nullopt);
  expect_refused(vector, ErrorCode::kInvalidArgument, "must both be matrices");
  auto alpha = gemm({3, 5}, {5, 4}, std::nullopt);
  alpha.erase_attr("alpha");
  expect_refused(alpha, ErrorCode::kInvalidArgument, "'alpha' is missing");
}

struct QGemmSpec {
  DType a_dtype = DType::kI8;
  DType b_dtype = DType::kI8;
  QuantParams b_quant = per_channel(0, 6);  // B [N = 6, K = 5], transB = 1
  int64_t trans_a = 0, trans_b = 1;
  float alpha = 1.f, beta = 1.f;
  std::optional<Shape> c = Shape{6};
  DType c_dtype = DType::kI32;
  DType y_dtype = DType::kI8;
  const char* requantize = nullptr;
};

OneNode quantized_gemm(const QGemmSpec& s) {
  OneNode n(OpType::kGemm);
  n.input(s.trans_a ? Shape{5, 3} : Shape{3, 5}, s.a_dtype, per_tensor(0.1f, 0))
      .constant_input(s.trans_b ? Shape{6, 5} : Shape{5, 6}, s.b_dtype, s.b_quant);
  if (s.c) n.constant_input(*s.c, s.c_dtype);
  n.output(s.y_dtype, per_tensor(0.3f, 1));
  n.attr("alpha", s.alpha).attr("beta", s.beta).attr("transA", s.trans_a).attr("transB", s.trans_b);
  if (s.requantize != nullptr) n.attr("requantize", std::string(s.requantize));
  return n;
}

TEST(ShapesGemm, W8A8FormsPerChannelAlongTheOutputAxis) {
  auto trans = quantized_gemm({.requantize = "fixed_point"});
  expect_shape(trans, {3, 6}, DType::kI8);
  auto plain = quantized_gemm({.b_quant = per_channel(1, 6), .trans_b = 0, .y_dtype = DType::kU8});
  expect_shape(plain, {3, 6}, DType::kU8);
  auto per_tensor_b = quantized_gemm({.a_dtype = DType::kU8, .b_quant = per_tensor(0.5f, 0), .c = std::nullopt});
  expect_shape(per_tensor_b, {3, 6}, DType::kI8);
}

TEST(ShapesGemm, W8A8Refusals) {
  auto along_k = quantized_gemm({.b_quant = per_channel(1, 5)});
  expect_refused(along_k, ErrorCode::kUnsupported, "per tensor or per channel along axis 0");
  auto along_k_plain = quantized_gemm({.b_quant = per_channel(0, 5), .trans_b = 0});
  expect_refused(along_k_plain, ErrorCode::kUnsupported, "per tensor or per channel along axis 1");
  auto trans_a = quantized_gemm({.trans_a = 1});
  expect_refused(trans_a, ErrorCode::kUnsupported, "transA = 0");
  auto alpha = quantized_gemm({.alpha = 2.f});
  expect_refused(alpha, ErrorCode::kUnsupported, "alpha = 1 and beta = 1");
  auto beta = quantized_gemm({.beta = 0.f});
  expect_refused(beta, ErrorCode::kUnsupported, "alpha = 1 and beta = 1");
  auto c_matrix = quantized_gemm({.c = Shape{3, 6}});
  expect_refused(c_matrix, ErrorCode::kInvalidArgument, "needs [6]");
  auto c_float = quantized_gemm({.c_dtype = DType::kF32});
  expect_refused(c_float, ErrorCode::kUnsupported, "dtype f32, supported: i32");
  auto float_out = quantized_gemm({.y_dtype = DType::kF32});
  expect_refused(float_out, ErrorCode::kInvalidArgument, "must be declared u8 or i8");
  auto requantize = quantized_gemm({.requantize = "double"});
  expect_refused(requantize, ErrorCode::kInvalidArgument, "expected \"float\" or \"fixed_point\"");
  auto float_a = gemm({3, 5}, {5, 4}, std::nullopt);
  float_a.attr("requantize", std::string("float"));
  expect_refused(float_a, ErrorCode::kInvalidArgument, "applies only to the quantized forms");
}

TEST(ShapesGemm, W4A8FormNeedsTransBAndAFloatBias) {
  auto ok_form = quantized_gemm({.b_dtype = DType::kI4, .b_quant = per_group({6, 5}, 4), .c_dtype = DType::kF32});
  expect_shape(ok_form, {3, 6}, DType::kI8);
  auto no_c = quantized_gemm({.b_dtype = DType::kI4, .b_quant = per_group({6, 5}, 4), .c = std::nullopt});
  expect_shape(no_c, {3, 6}, DType::kI8);
  auto plain = quantized_gemm({.b_dtype = DType::kI4, .b_quant = per_group({5, 6}, 4), .trans_b = 0, .c_dtype = DType::kF32});
  expect_refused(plain, ErrorCode::kUnsupported, "needs transB = 1");
  auto i32_c = quantized_gemm({.b_dtype = DType::kI4, .b_quant = per_group({6, 5}, 4)});
  expect_refused(i32_c, ErrorCode::kUnsupported, "takes an f32 bias");
  auto per_channel_b = quantized_gemm({.b_dtype = DType::kI4, .c_dtype = DType::kF32});
  expect_refused(per_channel_b, ErrorCode::kUnsupported, "needs per-group quantization");
}

OneNode matmul(Shape a, Shape b) {
  OneNode n(OpType::kMatMul);
  n.input(std::move(a)).input(std::move(b)).output();
  return n;
}

TEST(ShapesMatMul, NumpyBatchBroadcastAndVectorPromotion) {
  const std::vector<std::pair<std::pair<Shape, Shape>, Shape>> cases = {
      {{{2, 3}, {3, 4}}, {2, 4}},
      {{{2, 1, 3, 4}, {5, 4, 6}}, {2, 5, 3, 6}},
      {{{7, 3, 4}, {4, 2}}, {7, 3, 2}},
      {{{3}, {3}}, {}},
      {{{3}, {2, 3, 4}}, {2, 4}},
      {{{2, 3, 4}, {4}}, {2, 3}},
      {{{1, 3}, {3, 1}}, {1, 1}},
  };
  for (const auto& [inputs, expected] : cases) {
    auto n = matmul(inputs.first, inputs.second);
    SCOPED_TRACE(shape_str(inputs.first) + " x " + shape_str(inputs.second));
    expect_shape(n, expected);
  }
}

TEST(ShapesMatMul, RefusesMismatches) {
  auto inner = matmul({2, 3}, {4, 5});
  expect_refused(inner, ErrorCode::kInvalidArgument, "inner dim: 3 vs 4");
  auto batch = matmul({2, 3, 4}, {3, 4, 5});
  expect_refused(batch, ErrorCode::kInvalidArgument, "do not broadcast");
  auto scalar = matmul({}, {3});
  expect_refused(scalar, ErrorCode::kInvalidArgument, "rank >= 1");
  OneNode mixed(OpType::kMatMul);
  mixed.input({2, 3}).input({3, 4}, DType::kI8, per_tensor(1.f, 0)).output();
  expect_refused(mixed, ErrorCode::kUnsupported, "dtype i8");
}

TEST(ShapesMatMul, QuantizedPerTensorOrPerColumn) {
  OneNode per_column(OpType::kMatMul);
  per_column.input({2, 5, 3}, DType::kU8, per_tensor(0.1f, 128))
      .input({3, 6}, DType::kI8, per_channel(1, 6))
      .output(DType::kI8, per_tensor(0.3f, 1));
  expect_shape(per_column, {2, 5, 6}, DType::kI8);
  OneNode per_row(OpType::kMatMul);
  per_row.input({2, 3}, DType::kU8, per_tensor(0.1f, 128))
      .input({3, 6}, DType::kI8, per_channel(0, 3))
      .output(DType::kU8, per_tensor(0.3f, 1));
  expect_refused(per_row, ErrorCode::kUnsupported, "per tensor or per channel along axis 1");
  OneNode per_row_a(OpType::kMatMul);
  per_row_a.input({2, 3}, DType::kU8, per_channel(0, 2))
      .input({3, 6}, DType::kI8, per_tensor(0.1f, 0))
      .output(DType::kU8, per_tensor(0.3f, 1));
  expect_refused(per_row_a, ErrorCode::kUnsupported, "supported: per tensor");
  OneNode vector_b(OpType::kMatMul);
  vector_b.input({2, 3}, DType::kU8, per_tensor(0.1f, 128))
      .input({3}, DType::kI8, per_channel(0, 3))
      .output(DType::kU8, per_tensor(0.3f, 1));
  expect_refused(vector_b, ErrorCode::kUnsupported, "supported: per tensor");
  OneNode no_output_quant(OpType::kMatMul);
  no_output_quant.input({2, 3}, DType::kU8, per_tensor(0.1f, 128))
      .input({3, 6}, DType::kI8, per_tensor(0.1f, 0))
      .output(DType::kU8);
  expect_refused(no_output_quant, ErrorCode::kInvalidArgument, "without quantization parameters");
}

TEST(ShapesMatMul, QuantizedRequantizeAttributeAndNoInt4) {
  for (const char* value : {"float", "fixed_point"}) {
    OneNode n(OpType::kMatMul);
    n.input({2, 3}, DType::kI8, per_tensor(0.1f, 0)).input({3, 6}, DType::kI8, per_channel(1, 6)).output(DType::kI8, per_tensor(0.3f, 1));
    n.attr("requantize", std::string(value));
    expect_shape(n, {2, 6}, DType::kI8);
  }
  OneNode other(OpType::kMatMul);
  other.input({2, 3}, DType::kI8, per_tensor(0.1f, 0)).input({3, 6}, DType::kI8, per_channel(1, 6)).output(DType::kI8, per_tensor(0.3f, 1));
  other.attr("requantize", std::string("fixed"));
  expect_refused(other, ErrorCode::kInvalidArgument, "'requantize' is 'fixed'");
  OneNode int4(OpType::kMatMul);
  int4.input({2, 3}, DType::kI8, per_tensor(0.1f, 0))
      .constant_input({3, 6}, DType::kI4, per_group({3, 6}, 2))
      .output(DType::kI8, per_tensor(0.3f, 1));
  expect_refused(int4, ErrorCode::kUnsupported, "dtype i4, supported: u8, i8");
}

// ---- pools ----

OneNode pool(OpType op, Shape x, Ints kernel, Ints strides, Ints pads, int64_t ceil_mode = 0,
             DType dtype = DType::kF32) {
  OneNode n(op);
  n.input(std::move(x), dtype).output(dtype);
  n.attr("kernel_shape", kernel).attr("strides", strides).attr("pads", pads).attr("ceil_mode", ceil_mode);
  if (op == OpType::kMaxPool) n.attr("dilations", Ints(kernel.size(), 1));
  if (op == OpType::kAveragePool) n.attr("count_include_pad", int64_t{0});
  return n;
}

TEST(ShapesPool, FloorAndCeilMode) {
  for (OpType op : {OpType::kMaxPool, OpType::kAveragePool}) {
    auto floor_mode = pool(op, {1, 1, 4, 4}, {3, 3}, {2, 2}, {0, 0, 0, 0});
    expect_shape(floor_mode, {1, 1, 1, 1});
    auto ceil_mode = pool(op, {1, 1, 4, 4}, {3, 3}, {2, 2}, {0, 0, 0, 0}, 1);
    expect_shape(ceil_mode, {1, 1, 2, 2});
    // ceil((4 + 0 + 1 - 2) / 2) + 1 = 3, but the third window would start at 4, in the end
    // padding, so ceil_mode drops it.
    auto dropped = pool(op, {1, 1, 4}, {2}, {2}, {0, 1}, 1);
    expect_shape(dropped, {1, 1, 2});
    // ceil((4 + 1 + 1 - 3) / 2) + 1 = 3; the third window starts at 3, inside: kept.
    auto kept = pool(op, {1, 1, 4}, {3}, {2}, {1, 1}, 1);
    expect_shape(kept, {1, 1, 3});
  }
}

TEST(ShapesPool, PadsStridesDilationsAndRanks) {
  auto padded = pool(OpType::kAveragePool, {2, 3, 28, 28}, {3, 3}, {1, 1}, {2, 2, 2, 2});
  expect_shape(padded, {2, 3, 30, 30});
  auto d1 = pool(OpType::kMaxPool, {1, 3, 32}, {2}, {1}, {0, 0});
  expect_shape(d1, {1, 3, 31});
  auto d3 = pool(OpType::kMaxPool, {1, 3, 32, 32, 32}, {2, 2, 2}, {2, 2, 2}, {0, 0, 0, 0, 0, 0});
  expect_shape(d3, {1, 3, 16, 16, 16});
  auto dilated = pool(OpType::kMaxPool, {1, 1, 4, 4}, {2, 2}, {1, 1}, {0, 0, 0, 0});
  dilated.attr("dilations", Ints{2, 2});
  expect_shape(dilated, {1, 1, 2, 2});
}

TEST(ShapesPool, MaxPoolOnQuantizedTensorsKeepsTheirParameters) {
  OneNode same(OpType::kMaxPool);
  same.input({1, 2, 4, 4}, DType::kI8, per_tensor(0.1f, -5)).output(DType::kI8, per_tensor(0.1f, -5));
  same.attr("kernel_shape", Ints{2, 2}).attr("strides", Ints{2, 2}).attr("pads", Ints{0, 0, 0, 0});
  same.attr("ceil_mode", int64_t{0}).attr("dilations", Ints{1, 1});
  expect_shape(same, {1, 2, 2, 2}, DType::kI8);
  auto plain_u8 = pool(OpType::kMaxPool, {1, 1, 5, 5}, {2, 2}, {1, 1}, {0, 0, 0, 0}, 0, DType::kU8);
  expect_shape(plain_u8, {1, 1, 4, 4}, DType::kU8);
  OneNode requantizing(OpType::kMaxPool);
  requantizing.input({1, 2, 4, 4}, DType::kU8, per_tensor(0.1f, 3)).output(DType::kU8, per_tensor(0.2f, 3));
  requantizing.attr("kernel_shape", Ints{2, 2}).attr("strides", Ints{2, 2}).attr("pads", Ints{0, 0, 0, 0});
  requantizing.attr("ceil_mode", int64_t{0}).attr("dilations", Ints{1, 1});
  expect_refused(requantizing, ErrorCode::kUnsupported, "same quantization parameters");
}

TEST(ShapesPool, RefusesBadAttributesAndDtypes) {
  auto big_pad = pool(OpType::kMaxPool, {1, 1, 5, 5}, {2, 2}, {1, 1}, {2, 0, 0, 0});
  expect_refused(big_pad, ErrorCode::kUnsupported, "smaller than kernel_shape");
  auto ceil_two = pool(OpType::kMaxPool, {1, 1, 5, 5}, {2, 2}, {1, 1}, {0, 0, 0, 0}, 2);
  expect_refused(ceil_two, ErrorCode::kInvalidArgument, "'ceil_mode' is 2");
  auto kernel_length = pool(OpType::kAveragePool, {1, 1, 5, 5}, {2}, {1, 1}, {0, 0, 0, 0});
  expect_refused(kernel_length, ErrorCode::kInvalidArgument, "'kernel_shape' has 1 values, expected 2");
  auto no_count = pool(OpType::kAveragePool, {1, 1, 5, 5}, {2, 2}, {1, 1}, {0, 0, 0, 0});
  no_count.erase_attr("count_include_pad");
  expect_refused(no_count, ErrorCode::kInvalidArgument, "'count_include_pad' is missing");
  auto avg_dilation = pool(OpType::kAveragePool, {1, 1, 5, 5}, {2, 2}, {1, 1}, {0, 0, 0, 0});
  avg_dilation.attr("dilations", Ints{2, 2});
  expect_refused(avg_dilation, ErrorCode::kUnsupported, "'dilations'");
  auto avg_u8 = pool(OpType::kAveragePool, {1, 1, 5, 5}, {2, 2}, {1, 1}, {0, 0, 0, 0}, 0, DType::kU8);
  expect_refused(avg_u8, ErrorCode::kUnsupported, "dtype u8");
  auto max_i32 = pool(OpType::kMaxPool, {1, 1, 5, 5}, {2, 2}, {1, 1}, {0, 0, 0, 0}, 0, DType::kI32);
  expect_refused(max_i32, ErrorCode::kUnsupported, "dtype i32");
  auto auto_pad = pool(OpType::kMaxPool, {1, 1, 5, 5}, {2, 2}, {1, 1}, {0, 0, 0, 0});
  auto_pad.attr("auto_pad", std::string("SAME_LOWER"));
  expect_refused(auto_pad, ErrorCode::kUnsupported, "auto_pad");
  auto indices = pool(OpType::kMaxPool, {1, 1, 5, 5}, {2, 2}, {1, 1}, {0, 0, 0, 0});
  indices.output(DType::kI64);
  expect_refused(indices, ErrorCode::kUnsupported, "Indices");
}

TEST(ShapesGlobalPool, ReducesEverySpatialDim) {
  for (OpType op : {OpType::kGlobalAveragePool, OpType::kGlobalMaxPool}) {
    OneNode d2(op);
    d2.input({2, 3, 5, 7}).output();
    expect_shape(d2, {2, 3, 1, 1});
    OneNode d3(op);
    d3.input({1, 4, 2, 3, 4}).output();
    expect_shape(d3, {1, 4, 1, 1, 1});
    OneNode matrix(op);
    matrix.input({2, 3}).output();
    expect_refused(matrix, ErrorCode::kInvalidArgument, "expected (N, C, D1, ...)");
    OneNode u8(op);
    u8.input({2, 3, 4}, DType::kU8).output();
    expect_refused(u8, ErrorCode::kUnsupported, "dtype u8");
  }
}

// ---- BatchNormalization ----

OneNode batch_norm(Shape x, int64_t channels) {
  OneNode n(OpType::kBatchNormalization);
  n.input(std::move(x));
  for (int i = 0; i < 4; ++i) n.input({channels});
  n.output().attr("epsilon", 1e-5f);
  return n;
}

TEST(ShapesGlobalPool, QuantizedAverageTakesTheDeclaredParameters) {
  for (DType t : {DType::kI8, DType::kU8}) {
    OneNode n(OpType::kGlobalAveragePool);
    n.input({2, 3, 5, 7}, t, per_tensor(0.1f, 0)).output(t, per_tensor(0.05f, 3));
    expect_shape(n, {2, 3, 1, 1}, t);
  }
  OneNode other_dtype(OpType::kGlobalAveragePool);
  other_dtype.input({2, 3, 5, 7}, DType::kI8, per_tensor(0.1f, 0)).output(DType::kU8, per_tensor(0.05f, 3));
  expect_refused(other_dtype, ErrorCode::kInvalidArgument, "declared u8");
  OneNode no_output_quant(OpType::kGlobalAveragePool);
  no_output_quant.input({2, 3, 5, 7}, DType::kI8, per_tensor(0.1f, 0)).output(DType::kI8);
  expect_refused(no_output_quant, ErrorCode::kInvalidArgument, "without quantization parameters");
  OneNode per_channel_x(OpType::kGlobalAveragePool);
  per_channel_x.input({2, 3, 5, 7}, DType::kI8, per_channel(1, 3)).output(DType::kI8, per_tensor(0.05f, 3));
  expect_refused(per_channel_x, ErrorCode::kUnsupported, "supported: per tensor");
  OneNode huge(OpType::kGlobalAveragePool);
  huge.input({1, 1, 2, 2}, DType::kI8, per_tensor(1e10f, 0)).output(DType::kI8, per_tensor(1e-10f, 0));
  expect_refused(huge, ErrorCode::kUnsupported, "must be below 2^30");
  OneNode max_pool(OpType::kGlobalMaxPool);
  max_pool.input({2, 3, 5, 7}, DType::kI8, per_tensor(0.1f, 0)).output(DType::kI8, per_tensor(0.1f, 0));
  expect_refused(max_pool, ErrorCode::kUnsupported, "dtype i8");
}

TEST(ShapesBatchNormalization, OutputIsShapedLikeX) {
  auto n = batch_norm({2, 3, 4, 4}, 3);
  expect_shape(n, {2, 3, 4, 4});
  auto nc = batch_norm({5, 3}, 3);
  expect_shape(nc, {5, 3});
}

TEST(ShapesBatchNormalization, RefusesTrainingModeAndMismatches) {
  auto wrong_channels = batch_norm({2, 3, 4, 4}, 4);
  expect_refused(wrong_channels, ErrorCode::kInvalidArgument, "expected [3]");
  auto training = batch_norm({2, 3, 4, 4}, 3);
  training.attr("training_mode", int64_t{1});
  expect_refused(training, ErrorCode::kUnsupported, "training_mode");
  auto running_stats = batch_norm({2, 3, 4, 4}, 3);
  running_stats.output().output();
  expect_refused(running_stats, ErrorCode::kUnsupported, "training mode");
  auto no_epsilon = batch_norm({2, 3, 4, 4}, 3);
  no_epsilon.erase_attr("epsilon");
  expect_refused(no_epsilon, ErrorCode::kInvalidArgument, "'epsilon' is missing");
  auto negative_epsilon = batch_norm({2, 3, 4, 4}, 3);
  negative_epsilon.attr("epsilon", -1.f);
  expect_refused(negative_epsilon, ErrorCode::kInvalidArgument, "'epsilon'");
}

// ---- QuantizeLinear and DequantizeLinear ----

TEST(ShapesQuantize, OutputDtypeAndQuantizationAreDeclaredOnY) {
  OneNode u8(OpType::kQuantizeLinear);
  u8.input({2, 3}).output(DType::kU8, per_tensor(0.5f, 128));
  expect_shape(u8, {2, 3}, DType::kU8);
  OneNode per_axis(OpType::kQuantizeLinear);
  per_axis.input({1, 3, 2, 2}).output(DType::kI8, per_channel(1, 3));
  expect_shape(per_axis, {1, 3, 2, 2}, DType::kI8);

  OneNode float_output(OpType::kQuantizeLinear);
  float_output.input({2, 3}).output(DType::kF32);
  expect_refused(float_output, ErrorCode::kUnsupported, "declared f32");
  OneNode i32_output(OpType::kQuantizeLinear);
  i32_output.input({2, 3}).output(DType::kI32, per_tensor(1.f, 0));
  expect_refused(i32_output, ErrorCode::kUnsupported, "declared i32");
  OneNode no_quant(OpType::kQuantizeLinear);
  no_quant.input({2, 3}).output(DType::kU8);
  expect_refused(no_quant, ErrorCode::kInvalidArgument, "without quantization parameters");
  OneNode wrong_count(OpType::kQuantizeLinear);
  wrong_count.input({2, 3}).output(DType::kU8, per_channel(1, 2));
  expect_refused(wrong_count, ErrorCode::kInvalidArgument, "2 quantization scales, expected 3");
  OneNode integer_input(OpType::kQuantizeLinear);
  integer_input.input({2, 3}, DType::kI32).output(DType::kU8, per_tensor(1.f, 0));
  expect_refused(integer_input, ErrorCode::kUnsupported, "dtype i32");
}

TEST(ShapesDequantize, ReadsTheInputsQuantization) {
  for (DType dtype : {DType::kU8, DType::kI8, DType::kI32}) {
    OneNode n(OpType::kDequantizeLinear);
    n.input({4, 5}, dtype, per_channel(0, 4)).output();
    expect_shape(n, {4, 5});
  }
  OneNode no_quant(OpType::kDequantizeLinear);
  no_quant.input({4, 5}, DType::kU8).output();
  expect_refused(no_quant, ErrorCode::kInvalidArgument, "without quantization parameters");
  OneNode float_input(OpType::kDequantizeLinear);
  float_input.input({4, 5}).output();
  expect_refused(float_input, ErrorCode::kUnsupported, "dtype f32");
  OneNode out_of_range_zp(OpType::kDequantizeLinear);
  out_of_range_zp.input({4, 5}, DType::kI8, per_tensor(1.f, 200)).output();
  expect_refused(out_of_range_zp, ErrorCode::kInvalidArgument, "zero point 200 out of range");
  OneNode arity(OpType::kDequantizeLinear);
  arity.input({4, 5}, DType::kU8, per_tensor(1.f, 0)).input({1}).output();
  expect_refused(arity, ErrorCode::kInvalidArgument, "has 2 inputs");
}

TEST(ShapesDequantize, Int4PerGroupPerChannelAndPerTensor) {
  for (DType scale_dtype : {DType::kF16, DType::kF32}) {
    OneNode grouped(OpType::kDequantizeLinear);
    grouped.constant_input({8, 3, 3, 3}, DType::kI4, per_group({8, 3, 3, 3}, 16, scale_dtype)).output();
    expect_shape(grouped, {8, 3, 3, 3});
  }
  OneNode channels(OpType::kDequantizeLinear);
  channels.constant_input({8, 5}, DType::kI4, per_channel(0, 8)).output();
  expect_shape(channels, {8, 5});
  OneNode tensor(OpType::kDequantizeLinear);
  tensor.input({7}, DType::kI4, per_tensor(0.5f, -8)).output();
  expect_shape(tensor, {7});
  OneNode out_of_range(OpType::kDequantizeLinear);
  out_of_range.input({7}, DType::kI4, per_tensor(0.5f, 8)).output();
  expect_refused(out_of_range, ErrorCode::kInvalidArgument, "zero point 8 out of range for i4");
  QuantParams not_f16 = per_group({8, 5}, 2);
  not_f16.scales[3] = 0.1f;
  OneNode bad_scale(OpType::kDequantizeLinear);
  bad_scale.constant_input({8, 5}, DType::kI4, not_f16).output();
  expect_refused(bad_scale, ErrorCode::kInvalidArgument, "declared f16 but is not an f16 value");
}

}  // namespace
}  // namespace edgeloop::model

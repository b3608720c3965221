// Shape inference of the data ops and the ONNX parameter canonicalization (data_params.h).
#include <gtest/gtest.h>

#include <limits>

#include "edgeloop/model/shape_inference.h"
#include "edgeloop/model/shapes/data_params.h"
#include "testing/graphs.h"

namespace edgeloop::model {
namespace {

using Ints = std::vector<int64_t>;
using Floats = std::vector<float>;
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();

using In = testing::TensorSpec;
using testing::attrs;

Graph one_node(OpType op, std::vector<In> inputs, Attributes attributes, size_t outputs = 1, QuantParams out_quant = {}) {
  return testing::one_node_graph(op, inputs, std::move(attributes), outputs, out_quant);
}

// Runs inference and returns the output shapes, or the error.
Result<std::vector<Shape>> infer(Graph g) {
  EL_CHECK(infer_node(g, 0));
  std::vector<Shape> shapes;
  for (TensorId id : g.nodes[0].outputs) shapes.push_back(g.tensors[id].shape);
  return shapes;
}

Result<Shape> infer1(Graph g) {
  EL_TRY(auto shapes, infer(std::move(g)));
  return shapes.at(0);
}

template <class T>
void expect_error(const Result<T>& r, ErrorCode code, std::string_view needle = {}) {
  ASSERT_FALSE(r.has_value()) << "expected an error containing '" << needle << "'";
  EXPECT_EQ(r.error().code, code) << r.error().message;
  EXPECT_NE(r.error().message.find(needle), std::string::npos) << r.error().message;
}

// ---- Reshape ----

TEST(ShapesData, ReshapeKeepsDtypeAndTakesTheResolvedShape) {
  Graph g = one_node(OpType::kReshape, {{DType::kU8, {2, 3, 4}}}, attrs({{"shape", Ints{4, 6}}}));
  ASSERT_TRUE(infer_node(g, 0).has_value());
  EXPECT_EQ(g.tensors[1].shape, (Shape{4, 6}));
  EXPECT_EQ(g.tensors[1].dtype, DType::kU8);
}

TEST(ShapesData, ReshapeRefusesUnresolvedOrMismatchedShapes) {
  expect_error(infer1(one_node(OpType::kReshape, {{DType::kF32, {2, 3, 4}}}, attrs({{"shape", Ints{4, 5}}}))),
               ErrorCode::kInvalidArgument, "20 elements");
  expect_error(infer1(one_node(OpType::kReshape, {{DType::kF32, {2, 3, 4}}}, attrs({{"shape", Ints{-1, 6}}}))),
               ErrorCode::kInvalidArgument, "fully resolved");
  expect_error(infer1(one_node(OpType::kReshape, {{DType::kF32, {2, 3, 4}}}, {})), ErrorCode::kInvalidArgument,
               "'shape'");
  expect_error(infer1(one_node(OpType::kReshape, {{DType::kF32, {2, 3, 4}}}, attrs({{"shape", Floats{24}}}))),
               ErrorCode::kInvalidArgument, "list of ints");
  expect_error(infer1(one_node(OpType::kReshape, {{DType::kI4, {2, 4}}}, attrs({{"shape", Ints{8}}}))),
               ErrorCode::kUnsupported, "i4");
}

// ---- Transpose ----

TEST(ShapesData, TransposePermutesDimsOnRank3And4) {
  EXPECT_EQ(infer1(one_node(OpType::kTranspose, {{DType::kF32, {2, 3, 4}}}, attrs({{"perm", Ints{2, 0, 1}}}))).value(),
            (Shape{4, 2, 3}));
  EXPECT_EQ(infer1(one_node(OpType::kTranspose, {{DType::kI64, {1, 3, 5, 7}}}, attrs({{"perm", Ints{0, 2, 3, 1}}}))).value(),
            (Shape{1, 5, 7, 3}));
  EXPECT_EQ(infer1(one_node(OpType::kTranspose, {{DType::kF32, {}}}, attrs({{"perm", Ints{}}}))).value(), (Shape{}));
}

TEST(ShapesData, TransposeRefusesNonPermutations) {
  expect_error(infer1(one_node(OpType::kTranspose, {{DType::kF32, {2, 3, 4}}}, attrs({{"perm", Ints{0, 0, 1}}}))),
               ErrorCode::kInvalidArgument, "not a permutation");
  expect_error(infer1(one_node(OpType::kTranspose, {{DType::kF32, {2, 3, 4}}}, attrs({{"perm", Ints{0, 1, 3}}}))),
               ErrorCode::kInvalidArgument, "not a permutation");
  expect_error(infer1(one_node(OpType::kTranspose, {{DType::kF32, {2, 3, 4}}}, attrs({{"perm", Ints{1, 0}}}))),
               ErrorCode::kInvalidArgument, "rank 3");
}

// ---- Concat / Split ----

TEST(ShapesData, ConcatAlongEachAxis) {
  for (int64_t axis = 0; axis < 3; ++axis) {
    Shape a{2, 3, 4}, b{2, 3, 4}, expected{2, 3, 4};
    b[axis] = 5;
    expected[axis] += 5 + 1;
    Shape c = a;
    c[axis] = 1;
    auto out = infer1(one_node(OpType::kConcat, {{DType::kF32, a}, {DType::kF32, b}, {DType::kF32, c}},
                               attrs({{"axis", axis}})));
    ASSERT_TRUE(out.has_value()) << out.error().message;
    EXPECT_EQ(*out, expected) << "axis " << axis;
  }
}

TEST(ShapesData, ConcatRefusesMismatchedInputs) {
  expect_error(infer1(one_node(OpType::kConcat, {{DType::kF32, {2, 3}}, {DType::kF32, {3, 3}}}, attrs({{"axis", int64_t{1}}}))),
               ErrorCode::kInvalidArgument, "outside axis 1");
  expect_error(infer1(one_node(OpType::kConcat, {{DType::kF32, {2, 3}}, {DType::kF32, {2, 3, 1}}}, attrs({{"axis", int64_t{1}}}))),
               ErrorCode::kInvalidArgument, "does not match");
  expect_error(infer1(one_node(OpType::kConcat, {{DType::kF32, {2, 3}}, {DType::kI32, {2, 3}}}, attrs({{"axis", int64_t{0}}}))),
               ErrorCode::kInvalidArgument, "dtype i32");
  expect_error(infer1(one_node(OpType::kConcat, {{DType::kF32, {2, 3}}}, attrs({{"axis", int64_t{-1}}}))),
               ErrorCode::kInvalidArgument, "axis");
  expect_error(infer1(one_node(OpType::kConcat, {{DType::kF32, {2, 3}}}, attrs({{"axis", int64_t{2}}}))),
               ErrorCode::kInvalidArgument, "axis");
}

TEST(ShapesData, SplitGivesOneOutputPerSize) {
  auto out = infer(one_node(OpType::kSplit, {{DType::kF32, {6, 4}}}, attrs({{"axis", int64_t{0}}, {"split", Ints{1, 2, 3}}}), 3));
  ASSERT_TRUE(out.has_value()) << out.error().message;
  EXPECT_EQ(*out, (std::vector<Shape>{{1, 4}, {2, 4}, {3, 4}}));
  out = infer(one_node(OpType::kSplit, {{DType::kF32, {6, 4}}}, attrs({{"axis", int64_t{1}}, {"split", Ints{4, 0}}}), 2));
  ASSERT_TRUE(out.has_value()) << out.error().message;
  EXPECT_EQ(*out, (std::vector<Shape>{{6, 4}, {6, 0}}));
}

TEST(ShapesData, SplitRefusesSizesThatDoNotAddUp) {
  expect_error(infer(one_node(OpType::kSplit, {{DType::kF32, {6, 4}}}, attrs({{"axis", int64_t{0}}, {"split", Ints{1, 2}}}), 2)),
               ErrorCode::kInvalidArgument, "sums to 3");
  expect_error(infer(one_node(OpType::kSplit, {{DType::kF32, {6, 4}}}, attrs({{"axis", int64_t{0}}, {"split", Ints{3, 3}}}), 3)),
               ErrorCode::kInvalidArgument, "3 outputs");
  expect_error(infer(one_node(OpType::kSplit, {{DType::kF32, {6, 4}}}, attrs({{"axis", int64_t{0}}, {"split", Ints{7, -1}}}), 2)),
               ErrorCode::kInvalidArgument, "negative");
}

// ---- Slice ----

Attributes slice_attrs(Ints starts, Ints ends, Ints steps) {
  return attrs({{"starts", std::move(starts)}, {"ends", std::move(ends)}, {"steps", std::move(steps)}});
}

TEST(ShapesData, SliceExtentIsCeilOfSpanOverStep) {
  // axis 0: 4, 2, 0 (end -1 = before index 0) -> 3; axis 1: 0, 3 -> 2; axis 2: 3 -> 1 (4 - 3 = 1 < 2)
  EXPECT_EQ(infer1(one_node(OpType::kSlice, {{DType::kF32, {5, 4, 4}}}, slice_attrs({4, 0, 3}, {-1, 4, 4}, {-2, 3, 2}))).value(),
            (Shape{3, 2, 1}));
  // Empty slices: start == end, and a step pointing away from end.
  EXPECT_EQ(infer1(one_node(OpType::kSlice, {{DType::kF32, {5, 4}}}, slice_attrs({2, 1}, {2, 3}, {1, -1}))).value(),
            (Shape{0, 0}));
  // Full reverse.
  EXPECT_EQ(infer1(one_node(OpType::kSlice, {{DType::kF32, {5}}}, slice_attrs({4}, {-1}, {-1}))).value(), (Shape{5}));
}

TEST(ShapesData, SliceRefusesZeroStepsAndUnclampedBounds) {
  expect_error(infer1(one_node(OpType::kSlice, {{DType::kF32, {5}}}, slice_attrs({0}, {5}, {0}))), ErrorCode::kInvalidArgument,
               "'steps' has 0");
  expect_error(infer1(one_node(OpType::kSlice, {{DType::kF32, {5}}}, slice_attrs({0}, {6}, {1}))), ErrorCode::kInvalidArgument,
               "'ends' = 6");
  expect_error(infer1(one_node(OpType::kSlice, {{DType::kF32, {5}}}, slice_attrs({5}, {0}, {-1}))), ErrorCode::kInvalidArgument,
               "'starts' = 5");
  expect_error(infer1(one_node(OpType::kSlice, {{DType::kF32, {5}}}, slice_attrs({-1}, {3}, {1}))), ErrorCode::kInvalidArgument,
               "'starts' = -1");
  expect_error(infer1(one_node(OpType::kSlice, {{DType::kF32, {5, 2}}}, slice_attrs({0}, {3}, {1}))), ErrorCode::kInvalidArgument,
               "one entry per dim");
}

// ---- Pad ----

Attributes pad_attrs(const char* mode, Ints pads, float value = 0.f) {
  return attrs({{"mode", std::string(mode)}, {"pads", std::move(pads)}, {"value", value}});
}

TEST(ShapesData, PadAddsBeginsAndEndsAndCropsNegativePads) {
  EXPECT_EQ(infer1(one_node(OpType::kPad, {{DType::kF32, {2, 3}}}, pad_attrs("constant", {1, -1, 0, 2}))).value(),
            (Shape{3, 4}));
  EXPECT_EQ(infer1(one_node(OpType::kPad, {{DType::kF32, {2, 3}}}, pad_attrs("reflect", {0, 2, 0, 2}))).value(), (Shape{2, 7}));
  EXPECT_EQ(infer1(one_node(OpType::kPad, {{DType::kU8, {4}}}, pad_attrs("edge", {-4, 0}))).value(), (Shape{0}));
  EXPECT_EQ(infer1(one_node(OpType::kPad, {{DType::kI32, {4}}}, pad_attrs("constant", {1, 1}, -7.f))).value(), (Shape{6}));
}

TEST(ShapesData, PadRefusesUnknownModesAndImpossiblePads) {
  expect_error(infer1(one_node(OpType::kPad, {{DType::kF32, {2, 3}}}, pad_attrs("wrap", {0, 1, 0, 1}))), ErrorCode::kUnsupported,
               "mode 'wrap'");
  expect_error(infer1(one_node(OpType::kPad, {{DType::kF32, {2, 3}}}, pad_attrs("constant", {0, 1}))),
               ErrorCode::kInvalidArgument, "2 x rank");
  expect_error(infer1(one_node(OpType::kPad, {{DType::kF32, {2}}}, pad_attrs("constant", {-2, -1}))),
               ErrorCode::kInvalidArgument, "crops 3");
  expect_error(infer1(one_node(OpType::kPad, {{DType::kF32, {2}}}, pad_attrs("reflect", {-2, 1}))),
               ErrorCode::kInvalidArgument, "no values are left");
  expect_error(infer1(one_node(OpType::kPad, {{DType::kU8, {2}}}, pad_attrs("constant", {1, 1}, 0.5f))),
               ErrorCode::kInvalidArgument, "not a u8 value");
  expect_error(infer1(one_node(OpType::kPad, {{DType::kI8, {2}}}, pad_attrs("constant", {1, 1}, 200.f))),
               ErrorCode::kInvalidArgument, "not a i8 value");
  expect_error(infer1(one_node(OpType::kPad, {{DType::kI4, {2}}}, pad_attrs("constant", {1, 1}))), ErrorCode::kUnsupported,
               "i4");
}

// ---- Resize ----

Attributes resize_attrs(const char* mode, const char* ctm, Floats scales, Ints sizes) {
  return attrs({{"mode", std::string(mode)},
                {"coordinate_transformation_mode", std::string(ctm)},
                {"nearest_mode", std::string("round_prefer_floor")},
                {"scales", std::move(scales)},
                {"sizes", std::move(sizes)},
                {"cubic_coeff_a", -0.75f},
                {"exclude_outside", int64_t{0}},
                {"extrapolation_value", 0.f}});
}

TEST(ShapesData, ResizeOutputIsSizes) {
  EXPECT_EQ(infer1(one_node(OpType::kResize, {{DType::kF32, {1, 1, 2, 4}}},
                            resize_attrs("linear", "align_corners", {1, 1, 0.6f, 0.6f}, {1, 1, 1, 2})))
                .value(),
            (Shape{1, 1, 1, 2}));
  // sizes given: the importer stores scale = size / dim, here 7/6 rounded to float.
  EXPECT_EQ(infer1(one_node(OpType::kResize, {{DType::kF32, {6}}},
                            resize_attrs("cubic", "half_pixel", {static_cast<float>(7.0 / 6.0)}, {7})))
                .value(),
            (Shape{7}));
  // nearest moves bytes, so it takes any dtype with whole-byte elements.
  EXPECT_EQ(infer1(one_node(OpType::kResize, {{DType::kU8, {1, 2, 2}}}, resize_attrs("nearest", "asymmetric", {1, 2, 3}, {1, 4, 6})))
                .value(),
            (Shape{1, 4, 6}));
}

TEST(ShapesData, ResizeRefusesUnsupportedModesAndInconsistentSizes) {
  expect_error(infer1(one_node(OpType::kResize, {{DType::kF32, {1, 4}}},
                               resize_attrs("linear", "tf_crop_and_resize", {1, 1}, {1, 4}))),
               ErrorCode::kUnsupported, "coordinate_transformation_mode tf_crop_and_resize");
  expect_error(infer1(one_node(OpType::kResize, {{DType::kF32, {1, 4}}}, resize_attrs("area", "half_pixel", {1, 1}, {1, 4}))),
               ErrorCode::kUnsupported, "mode 'area'");
  expect_error(infer1(one_node(OpType::kResize, {{DType::kU8, {1, 4}}}, resize_attrs("linear", "half_pixel", {1, 2}, {1, 8}))),
               ErrorCode::kUnsupported, "f32 input only");
  expect_error(infer1(one_node(OpType::kResize, {{DType::kF32, {1, 4}}}, resize_attrs("linear", "half_pixel", {1, 2}, {1, 9}))),
               ErrorCode::kInvalidArgument, "does not match");
  expect_error(infer1(one_node(OpType::kResize, {{DType::kF32, {1, 4}}}, resize_attrs("linear", "half_pixel", {1, 0}, {1, 0}))),
               ErrorCode::kInvalidArgument, "> 0");
  expect_error(infer1(one_node(OpType::kResize, {{DType::kF32, {1, 4}}}, resize_attrs("linear", "half_pixel", {2}, {2}))),
               ErrorCode::kInvalidArgument, "one entry per dim");
  Attributes a = resize_attrs("nearest", "half_pixel", {1, 2}, {1, 8});
  a.set("nearest_mode", std::string("round_half_even"));
  expect_error(infer1(one_node(OpType::kResize, {{DType::kF32, {1, 4}}}, a)), ErrorCode::kUnsupported,
               "nearest_mode 'round_half_even'");
}

// ---- Gather ----

TEST(ShapesData, GatherReplacesTheAxisByTheIndicesShape) {
  EXPECT_EQ(infer1(one_node(OpType::kGather, {{DType::kF32, {5, 4, 3}}, {DType::kI64, {2, 2}}}, attrs({{"axis", int64_t{0}}})))
                .value(),
            (Shape{2, 2, 4, 3}));
  EXPECT_EQ(infer1(one_node(OpType::kGather, {{DType::kF32, {5, 4, 3}}, {DType::kI32, {2, 2}}}, attrs({{"axis", int64_t{1}}})))
                .value(),
            (Shape{5, 2, 2, 3}));
  EXPECT_EQ(infer1(one_node(OpType::kGather, {{DType::kBool, {5, 4, 3}}, {DType::kI64, {}}}, attrs({{"axis", int64_t{2}}})))
                .value(),
            (Shape{5, 4}));
}

TEST(ShapesData, GatherRefusesNonIntegerIndices) {
  expect_error(infer1(one_node(OpType::kGather, {{DType::kF32, {5, 4}}, {DType::kF32, {2}}}, attrs({{"axis", int64_t{0}}}))),
               ErrorCode::kUnsupported, "supported: i32, i64");
  expect_error(infer1(one_node(OpType::kGather, {{DType::kF32, {5, 4}}, {DType::kI64, {2}}}, attrs({{"axis", int64_t{2}}}))),
               ErrorCode::kInvalidArgument, "axis");
}

// ---- Quantized tensors ----

TEST(ShapesData, QuantizedDataOpsNeedTheSameQuantizationOnTheOutput) {
  QuantParams q{{0.5f}, {3}};
  Attributes perm = attrs({{"perm", Ints{1, 0}}});
  EXPECT_TRUE(infer1(one_node(OpType::kTranspose, {{DType::kU8, {2, 3}, q}}, perm, 1, q)).has_value());
  expect_error(infer1(one_node(OpType::kTranspose, {{DType::kU8, {2, 3}, q}}, perm, 1, {})), ErrorCode::kUnsupported,
               "input's quantization");
  QuantParams other{{0.25f}, {3}};
  expect_error(infer1(one_node(OpType::kConcat, {{DType::kU8, {2, 3}, q}, {DType::kU8, {2, 3}, other}}, attrs({{"axis", int64_t{0}}}), 1, q)),
               ErrorCode::kUnsupported, "quantized differently");
  QuantParams per_channel{{0.5f, 0.25f}, {}, 0};
  expect_error(infer1(one_node(OpType::kTranspose, {{DType::kI8, {2, 3}, per_channel}}, perm, 1, per_channel)),
               ErrorCode::kUnsupported, "per-tensor");
}

// ---- data_params.h: ONNX parameters to canonical attributes ----

TEST(DataParams, ResolveReshapeCopiesZerosAndInfersMinusOne) {
  EXPECT_EQ(resolve_reshape({2, 3, 4}, Ints{0, -1}).value(), (Shape{2, 12}));
  EXPECT_EQ(resolve_reshape({2, 3, 4}, Ints{-1}).value(), (Shape{24}));
  EXPECT_EQ(resolve_reshape({2, 3, 4}, Ints{4, 0, 2}).value(), (Shape{4, 3, 2}));
  EXPECT_EQ(resolve_reshape({0, 3}, Ints{3, 0}, /*allowzero=*/true).value(), (Shape{3, 0}));
  expect_error(resolve_reshape({2, 3, 4}, Ints{-1, -1}), ErrorCode::kInvalidArgument, "more than one -1");
  expect_error(resolve_reshape({2, 3, 4}, Ints{5, -1}), ErrorCode::kInvalidArgument, "cannot infer");
  expect_error(resolve_reshape({2, 3, 4}, Ints{0, -1}, true), ErrorCode::kInvalidArgument, "both 0 and -1");
  expect_error(resolve_reshape({2, 3, 4}, Ints{0, 0, 0, 0}), ErrorCode::kInvalidArgument, "rank 3");
  expect_error(resolve_reshape({2, 3, 4}, Ints{5, 5}), ErrorCode::kInvalidArgument, "cannot reshape");
}

TEST(DataParams, ResolveFlattenSqueezeUnsqueeze) {
  EXPECT_EQ(resolve_flatten({2, 3, 4, 5}, 2).value(), (Shape{6, 20}));
  EXPECT_EQ(resolve_flatten({2, 3, 4, 5}, 0).value(), (Shape{1, 120}));
  EXPECT_EQ(resolve_flatten({2, 3, 4, 5}, 4).value(), (Shape{120, 1}));
  EXPECT_EQ(resolve_flatten({2, 3, 4, 5}, -1).value(), (Shape{24, 5}));
  expect_error(resolve_flatten({2, 3}, 3), ErrorCode::kInvalidArgument, "out of range");

  EXPECT_EQ(resolve_squeeze({1, 3, 1, 5}, Ints{}).value(), (Shape{3, 5}));
  EXPECT_EQ(resolve_squeeze({1, 3, 1, 5}, Ints{-2}).value(), (Shape{1, 3, 5}));
  expect_error(resolve_squeeze({1, 3, 1, 5}, Ints{1}), ErrorCode::kInvalidArgument, "not 1");
  expect_error(resolve_squeeze({1, 3, 1, 5}, Ints{0, -4}), ErrorCode::kInvalidArgument, "repeated");

  EXPECT_EQ(resolve_unsqueeze({3, 4, 5}, Ints{2, 0}).value(), (Shape{1, 3, 1, 4, 5}));
  EXPECT_EQ(resolve_unsqueeze({3, 4, 5}, Ints{-1}).value(), (Shape{3, 4, 5, 1}));
  EXPECT_EQ(resolve_unsqueeze({}, Ints{0}).value(), (Shape{1}));
  expect_error(resolve_unsqueeze({3}, Ints{2}), ErrorCode::kInvalidArgument, "out of range");
}

TEST(DataParams, ResolveSplit) {
  auto p = resolve_split({2, 6}, -1, Ints{}, 3).value();
  EXPECT_EQ(p.axis, 1);
  EXPECT_EQ(p.split, (Ints{2, 2, 2}));
  EXPECT_EQ(resolve_split({2, 6}, 1, Ints{1, 5}, 2).value().split, (Ints{1, 5}));
  expect_error(resolve_split({2, 7}, 1, Ints{}, 3), ErrorCode::kInvalidArgument, "equal parts");
  expect_error(resolve_split({2, 6}, 1, Ints{1, 4}, 2), ErrorCode::kInvalidArgument, "sum");
  expect_error(resolve_split({2, 6}, 1, Ints{1, 5}, 3), ErrorCode::kInvalidArgument, "3 outputs");
}

TEST(DataParams, ResolveSliceClampsAsOnnxDoes) {
  // Negative start counts from the end; INT64_MAX means "to the end".
  auto p = resolve_slice({10}, Ints{-3}, Ints{kMax}).value();
  EXPECT_EQ(p.starts, (Ints{7}));
  EXPECT_EQ(p.ends, (Ints{10}));
  EXPECT_EQ(p.steps, (Ints{1}));
  EXPECT_EQ(slice_output_shape(p), (Shape{3}));

  // Reverse the whole axis: start clamps to dim-1, INT64_MIN end to -1 ("before index 0").
  p = resolve_slice({10}, Ints{kMax}, Ints{kMin}, Ints{0}, Ints{-1}).value();
  EXPECT_EQ(p.starts, (Ints{9}));
  EXPECT_EQ(p.ends, (Ints{-1}));
  EXPECT_EQ(slice_output_shape(p), (Shape{10}));

  // ONNX clamps a start below the axis to 0 even for negative steps (numpy would give nothing).
  p = resolve_slice({5}, Ints{-6}, Ints{kMin}, Ints{}, Ints{-2}).value();
  EXPECT_EQ(p.starts, (Ints{0}));
  EXPECT_EQ(p.ends, (Ints{-1}));
  EXPECT_EQ(slice_output_shape(p), (Shape{1}));

  // Axes in any order, negative; untouched axes take everything.
  p = resolve_slice({4, 5, 6}, Ints{1, -2}, Ints{1000, 0}, Ints{-1, 0}, Ints{2, -1}).value();
  EXPECT_EQ(p.starts, (Ints{2, 0, 1}));
  EXPECT_EQ(p.ends, (Ints{0, 5, 6}));
  EXPECT_EQ(p.steps, (Ints{-1, 1, 2}));
  EXPECT_EQ(slice_output_shape(p), (Shape{2, 5, 3}));

  // An empty axis with a negative step gives an empty slice.
  p = resolve_slice({0}, Ints{0}, Ints{kMin}, Ints{}, Ints{-1}).value();
  EXPECT_EQ(slice_output_shape(p), (Shape{0}));

  expect_error(resolve_slice({4}, Ints{0}, Ints{4}, Ints{}, Ints{0}), ErrorCode::kInvalidArgument, "step");
  expect_error(resolve_slice({4, 4}, Ints{0, 0}, Ints{4, 4}, Ints{1, -1}), ErrorCode::kInvalidArgument, "repeated");
  expect_error(resolve_slice({4}, Ints{0, 0}, Ints{4}), ErrorCode::kInvalidArgument, "ends");
  expect_error(resolve_slice({4}, Ints{0}, Ints{4}, Ints{1}), ErrorCode::kInvalidArgument, "out of range");
}

TEST(DataParams, ResolvedSliceIsAcceptedByShapeInference) {
  const SliceParams p = resolve_slice({5, 4}, Ints{-1, kMax}, Ints{kMin, -5}, Ints{}, Ints{-2, -1}).value();
  auto out = infer1(one_node(OpType::kSlice, {{DType::kF32, {5, 4}}}, slice_attrs(p.starts, p.ends, p.steps)));
  ASSERT_TRUE(out.has_value()) << out.error().message;
  EXPECT_EQ(*out, (Shape{3, 4}));
}

TEST(DataParams, ResolveResizeFromScalesOrSizes) {
  auto p = resolve_resize({1, 1, 2, 4}, Floats{1, 1, 0.6f, 0.6f}, Ints{}).value();
  EXPECT_EQ(p.sizes, (Ints{1, 1, 1, 2}));  // floor(2 * 0.6), floor(4 * 0.6)
  EXPECT_EQ(p.scales, (Floats{1, 1, 0.6f, 0.6f}));
  p = resolve_resize({1, 1, 2, 2}, Floats{}, Ints{1, 1, 7, 8}).value();
  EXPECT_EQ(p.sizes, (Ints{1, 1, 7, 8}));
  EXPECT_EQ(p.scales, (Floats{1, 1, 3.5f, 4.f}));
  expect_error(resolve_resize({2}, Floats{2}, Ints{4}), ErrorCode::kInvalidArgument, "exactly one");
  expect_error(resolve_resize({2}, Floats{}, Ints{}), ErrorCode::kInvalidArgument, "exactly one");
  expect_error(resolve_resize({2}, Floats{0}, Ints{}), ErrorCode::kInvalidArgument, "> 0");
  expect_error(resolve_resize({2, 2}, Floats{2}, Ints{}), ErrorCode::kInvalidArgument, "rank 2");
  expect_error(resolve_resize({2}, Floats{}, Ints{-1}), ErrorCode::kInvalidArgument, "negative");
}

TEST(DataParams, ResolvedResizeIsAcceptedByShapeInference) {
  // Scales that do not come out even in float (10/3 * 3 may not be exactly 10).
  for (int64_t size = 1; size < 40; ++size) {
    const ResizeParams p = resolve_resize({3}, Floats{}, Ints{size}).value();
    EXPECT_TRUE(infer1(one_node(OpType::kResize, {{DType::kF32, {3}}}, resize_attrs("linear", "half_pixel", p.scales, p.sizes)))
                    .has_value())
        << size;
  }
}

}  // namespace
}  // namespace edgeloop::model

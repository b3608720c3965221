// Shape inference of the elementwise ops: output dtypes and shapes, and refusals.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "edgeloop/model/shape_inference.h"
#include "testing/graphs.h"

namespace edgeloop::model {
namespace {

// A graph with some input tensors and one node reading them.
struct OneNode {
  Graph graph;

  TensorId input(DType dtype, Shape shape, QuantParams quant = {}) {
    Tensor t;
    t.name = "in" + std::to_string(graph.tensors.size());
    t.dtype = dtype;
    t.shape = std::move(shape);
    t.quant = std::move(quant);
    return graph.add_tensor(std::move(t));
  }
  Status infer(OpType op, std::vector<TensorId> inputs, Attributes attrs = {}, size_t outputs = 1) {
    return infer_declared(op, std::move(inputs), DType::kF32, {}, std::move(attrs), outputs);
  }
  // The output declared with a dtype and quantization, as a producer of quantized graphs does.
  Status infer_declared(OpType op, std::vector<TensorId> inputs, DType out_dtype, QuantParams out_quant,
                        Attributes attrs = {}, size_t outputs = 1) {
    Node node;
    node.op = op;
    node.name = "n";
    node.inputs = std::move(inputs);
    node.attrs = std::move(attrs);
    for (size_t i = 0; i < outputs; ++i) {
      Tensor t;
      t.name = "out" + std::to_string(i);
      t.dtype = out_dtype;
      t.quant = out_quant;
      t.shape = {999};  // must be overwritten
      node.outputs.push_back(graph.add_tensor(std::move(t)));
    }
    graph.nodes.push_back(std::move(node));
    return infer_node(graph, graph.nodes.size() - 1);
  }
  const Tensor& out() const { return graph.tensors[graph.nodes.back().outputs[0]]; }
};

using testing::attrs;

ErrorCode code_of(const Status& s) { return s.error().code; }

QuantParams per_tensor() {
  QuantParams q;
  q.scales = {0.5f};
  return q;
}
QuantParams per_tensor(float scale, int32_t zero_point) { return {{scale}, {zero_point}}; }

void expect_refused(const Status& s, ErrorCode code, const std::string& mentions) {
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code, code) << s.error().message;
  EXPECT_NE(s.error().message.find(mentions), std::string::npos) << s.error().message;
}

// ---- Add, Sub, Mul, Div ------------------------------------------------------------------------

struct BroadcastCase {
  Shape a, b, out;
};

TEST(ShapesElementwise, ArithmeticBroadcastsMultidirectionally) {
  const BroadcastCase cases[] = {
      {{2, 3, 4}, {3, 1}, {2, 3, 4}},
      {{3, 1}, {2, 3, 4}, {2, 3, 4}},
      {{1}, {2, 2}, {2, 2}},
      {{}, {}, {}},
      {{}, {2, 3}, {2, 3}},
      {{2, 1}, {1, 3}, {2, 3}},
      {{5}, {5}, {5}},
      {{0, 3}, {1, 3}, {0, 3}},
      {{1, 1, 1}, {7}, {1, 1, 7}},
  };
  for (OpType op : {OpType::kAdd, OpType::kSub, OpType::kMul, OpType::kDiv}) {
    for (const auto& c : cases) {
      OneNode g;
      TensorId a = g.input(DType::kF32, c.a), b = g.input(DType::kF32, c.b);
      ASSERT_TRUE(g.infer(op, {a, b}).has_value()) << op_name(op) << shape_str(c.a) << shape_str(c.b);
      EXPECT_EQ(g.out().shape, c.out) << op_name(op) << shape_str(c.a) << shape_str(c.b);
      EXPECT_EQ(g.out().dtype, DType::kF32);
    }
  }
}

TEST(ShapesElementwise, ArithmeticKeepsIntegerDtypes) {
  for (DType t : {DType::kI32, DType::kI64}) {
    OneNode g;
    TensorId a = g.input(t, {2, 3}), b = g.input(t, {3});
    ASSERT_TRUE(g.infer(OpType::kDiv, {a, b}).has_value());
    EXPECT_EQ(g.out().dtype, t);
    EXPECT_EQ(g.out().shape, (Shape{2, 3}));
  }
}

TEST(ShapesElementwise, ArithmeticRefusesShapesThatDoNotBroadcast) {
  OneNode g;
  TensorId a = g.input(DType::kF32, {2, 3}), b = g.input(DType::kF32, {4, 3});
  auto s = g.infer(OpType::kAdd, {a, b});
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(code_of(s), ErrorCode::kInvalidArgument);
  EXPECT_NE(s.error().message.find("do not broadcast"), std::string::npos) << s.error().message;
}

TEST(ShapesElementwise, ArithmeticRefusesMixedDtypes) {
  OneNode g;
  TensorId a = g.input(DType::kF32, {2}), b = g.input(DType::kI32, {2});
  auto s = g.infer(OpType::kMul, {a, b});
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(code_of(s), ErrorCode::kInvalidArgument);
}

TEST(ShapesElementwise, ArithmeticRefusesUnsupportedDtypesAndQuantizedInputs) {
  for (DType t : {DType::kU8, DType::kI8, DType::kF16, DType::kBool}) {
    OneNode g;
    TensorId a = g.input(t, {2}), b = g.input(t, {2});
    auto s = g.infer(OpType::kAdd, {a, b});
    ASSERT_FALSE(s.has_value()) << dtype_name(t);
    EXPECT_EQ(code_of(s), ErrorCode::kUnsupported);
    EXPECT_NE(s.error().message.find(std::string(dtype_name(t))), std::string::npos) << s.error().message;
  }
  OneNode g;
  TensorId a = g.input(DType::kI32, {2}, per_tensor()), b = g.input(DType::kI32, {2});
  auto s = g.infer(OpType::kAdd, {a, b});
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(code_of(s), ErrorCode::kUnsupported);
  EXPECT_NE(s.error().message.find("quantized"), std::string::npos) << s.error().message;
}

TEST(ShapesElementwise, ArithmeticRefusesWrongArity) {
  OneNode g;
  TensorId a = g.input(DType::kF32, {2});
  EXPECT_EQ(code_of(g.infer(OpType::kAdd, {a})), ErrorCode::kInvalidArgument);
  OneNode g3;
  TensorId x = g3.input(DType::kF32, {2});
  EXPECT_EQ(code_of(g3.infer(OpType::kSub, {x, x, x})), ErrorCode::kInvalidArgument);
  OneNode g2;
  TensorId y = g2.input(DType::kF32, {2});
  EXPECT_EQ(code_of(g2.infer(OpType::kSub, {y, y}, {}, 2)), ErrorCode::kInvalidArgument);
}

// ---- Activations -------------------------------------------------------------------------------

TEST(ShapesElementwise, UnaryActivationsKeepShape) {
  for (OpType op : {OpType::kRelu, OpType::kSigmoid, OpType::kTanh, OpType::kHardSwish}) {
    for (const Shape& shape : {Shape{}, Shape{3}, Shape{2, 0, 5}, Shape{1, 3, 8, 8}}) {
      OneNode g;
      TensorId x = g.input(DType::kF32, shape);
      ASSERT_TRUE(g.infer(op, {x}).has_value()) << op_name(op);
      EXPECT_EQ(g.out().shape, shape);
      EXPECT_EQ(g.out().dtype, DType::kF32);
    }
    OneNode g;
    TensorId x = g.input(DType::kI32, {3});
    auto s = g.infer(op, {x});
    ASSERT_FALSE(s.has_value());
    EXPECT_EQ(code_of(s), ErrorCode::kUnsupported);
  }
}

TEST(ShapesElementwise, LeakyReluAndHardSigmoidNeedFiniteFloatAttributes) {
  {
    OneNode g;
    TensorId x = g.input(DType::kF32, {4});
    ASSERT_TRUE(g.infer(OpType::kLeakyRelu, {x}, attrs({{"alpha", 0.01f}})).has_value());
    EXPECT_EQ(g.out().shape, (Shape{4}));
  }
  {
    OneNode g;
    TensorId x = g.input(DType::kF32, {4});
    auto s = g.infer(OpType::kLeakyRelu, {x});
    ASSERT_FALSE(s.has_value());
    EXPECT_EQ(code_of(s), ErrorCode::kInvalidArgument);
    EXPECT_NE(s.error().message.find("alpha"), std::string::npos);
  }
  {
    OneNode g;
    TensorId x = g.input(DType::kF32, {4});
    EXPECT_EQ(code_of(g.infer(OpType::kLeakyRelu, {x}, attrs({{"alpha", int64_t{1}}}))), ErrorCode::kInvalidArgument);
  }
  {
    OneNode g;
    TensorId x = g.input(DType::kF32, {4});
    EXPECT_EQ(code_of(g.infer(OpType::kLeakyRelu, {x}, attrs({{"alpha", std::nanf("")}}))), ErrorCode::kInvalidArgument);
  }
  {
    OneNode g;
    TensorId x = g.input(DType::kF32, {2, 2});
    ASSERT_TRUE(g.infer(OpType::kHardSigmoid, {x}, attrs({{"alpha", 0.2f}, {"beta", 0.5f}})).has_value());
    EXPECT_EQ(g.out().shape, (Shape{2, 2}));
  }
  {
    OneNode g;
    TensorId x = g.input(DType::kF32, {2, 2});
    auto s = g.infer(OpType::kHardSigmoid, {x}, attrs({{"alpha", 0.2f}}));
    ASSERT_FALSE(s.has_value());
    EXPECT_NE(s.error().message.find("beta"), std::string::npos);
  }
}

TEST(ShapesElementwise, PReluSlopeBroadcastsOnlyToX) {
  for (const Shape& slope : {Shape{3, 1}, Shape{4}, Shape{2, 3, 4}, Shape{1}, Shape{}, Shape{1, 3, 4}}) {
    OneNode g;
    TensorId x = g.input(DType::kF32, {2, 3, 4}), s = g.input(DType::kF32, slope);
    ASSERT_TRUE(g.infer(OpType::kPRelu, {x, s}).has_value()) << shape_str(slope);
    EXPECT_EQ(g.out().shape, (Shape{2, 3, 4}));
  }
  // [1,2,3,4] would broadcast the output to rank 4; [2,1] to [2,3,2]... neither is X's shape.
  for (const Shape& slope : {Shape{5}, Shape{1, 2, 3, 4}, Shape{3, 2}, Shape{2, 3, 4, 1}}) {
    OneNode g;
    TensorId x = g.input(DType::kF32, {2, 3, 4}), s = g.input(DType::kF32, slope);
    auto st = g.infer(OpType::kPRelu, {x, s});
    ASSERT_FALSE(st.has_value()) << shape_str(slope);
    EXPECT_EQ(code_of(st), ErrorCode::kInvalidArgument);
  }
  OneNode g;
  TensorId x = g.input(DType::kF32, {2, 3}), s = g.input(DType::kI32, {3});
  EXPECT_EQ(code_of(g.infer(OpType::kPRelu, {x, s})), ErrorCode::kUnsupported);
}

TEST(ShapesElementwise, ClipBoundsAreOptionalFloats) {
  const Attributes ok_cases[] = {{}, attrs({{"min", 0.f}}), attrs({{"max", 6.f}}), attrs({{"min", -1.f}, {"max", 1.f}}),
                                 attrs({{"min", -std::numeric_limits<float>::infinity()}})};
  for (const Attributes& a : ok_cases) {
    OneNode g;
    TensorId x = g.input(DType::kF32, {3, 2});
    ASSERT_TRUE(g.infer(OpType::kClip, {x}, a).has_value());
    EXPECT_EQ(g.out().shape, (Shape{3, 2}));
  }
  for (const Attributes& a : {attrs({{"min", std::nanf("")}}), attrs({{"max", int64_t{6}}})}) {
    OneNode g;
    TensorId x = g.input(DType::kF32, {3});
    EXPECT_EQ(code_of(g.infer(OpType::kClip, {x}, a)), ErrorCode::kInvalidArgument);
  }
  OneNode g;
  TensorId x = g.input(DType::kI8, {3});
  EXPECT_EQ(code_of(g.infer(OpType::kClip, {x})), ErrorCode::kUnsupported);
}

// ---- Softmax, LogSoftmax -----------------------------------------------------------------------

// ---- quantized Add, Relu, Clip -----------------------------------------------------------------

TEST(ShapesElementwise, QuantizedAddBroadcastsAndTakesTheDeclaredParameters) {
  for (DType t : {DType::kI8, DType::kU8}) {
    OneNode g;
    TensorId a = g.input(t, {2, 3}, per_tensor(0.1f, 0)), b = g.input(t, {3}, per_tensor(0.2f, 5));
    auto s = g.infer_declared(OpType::kAdd, {a, b}, t, per_tensor(0.3f, 7));
    ASSERT_TRUE(s.has_value()) << s.error().message;
    EXPECT_EQ(g.out().shape, (Shape{2, 3}));
    EXPECT_EQ(g.out().dtype, t);
  }
}

TEST(ShapesElementwise, QuantizedAddRefusals) {
  auto add = [](DType ta, QuantParams qa, DType tb, QuantParams qb, DType ty, QuantParams qy) {
    OneNode g;
    TensorId a = g.input(ta, {2, 3}, std::move(qa)), b = g.input(tb, {2, 3}, std::move(qb));
    return g.infer_declared(OpType::kAdd, {a, b}, ty, std::move(qy));
  };
  const QuantParams q = per_tensor(0.1f, 0);
  expect_refused(add(DType::kF32, {}, DType::kI8, q, DType::kI8, q), ErrorCode::kInvalidArgument, "mix dtypes");
  expect_refused(add(DType::kI8, q, DType::kF32, {}, DType::kF32, {}), ErrorCode::kInvalidArgument, "mix dtypes");
  expect_refused(add(DType::kI8, q, DType::kU8, q, DType::kI8, q), ErrorCode::kInvalidArgument, "mix dtypes");
  expect_refused(add(DType::kI8, {}, DType::kI8, q, DType::kI8, q), ErrorCode::kUnsupported, "without quantization parameters");
  expect_refused(add(DType::kI8, q, DType::kI8, {{0.1f, 0.2f}, {}, 0}, DType::kI8, q), ErrorCode::kUnsupported,
                 "per channel");
  expect_refused(add(DType::kI8, q, DType::kI8, q, DType::kF32, {}), ErrorCode::kInvalidArgument, "declared f32");
  expect_refused(add(DType::kI8, q, DType::kI8, q, DType::kI8, {}), ErrorCode::kUnsupported, "output 'out0' has dtype i8 without");
  expect_refused(add(DType::kI8, q, DType::kI8, q, DType::kI8, {{0.1f, 0.1f}, {}, 1}), ErrorCode::kUnsupported, "per channel");
  expect_refused(add(DType::kI8, q, DType::kI8, q, DType::kI8, per_tensor(1e-18f, 0)), ErrorCode::kUnsupported, "too small");
  // The other arithmetic ops have no quantized form.
  OneNode g;
  TensorId a = g.input(DType::kI8, {2}, q), b = g.input(DType::kI8, {2}, q);
  expect_refused(g.infer_declared(OpType::kMul, {a, b}, DType::kI8, q), ErrorCode::kUnsupported, "dtype i8");
}

TEST(ShapesElementwise, QuantizedReluAndClipKeepTheInputsParameters) {
  const QuantParams q = per_tensor(0.05f, -128);
  for (OpType op : {OpType::kRelu, OpType::kClip}) {
    SCOPED_TRACE(op_name(op));
    const Attributes a = op == OpType::kClip ? attrs({{"min", 0.f}, {"max", 6.f}}) : Attributes{};
    for (DType t : {DType::kI8, DType::kU8}) {
      OneNode g;
      const QuantParams qt = per_tensor(0.05f, t == DType::kU8 ? 0 : -128);
      TensorId x = g.input(t, {1, 4, 2}, qt);
      auto s = g.infer_declared(op, {x}, t, qt, a);
      ASSERT_TRUE(s.has_value()) << s.error().message;
      EXPECT_EQ(g.out().dtype, t);
      EXPECT_EQ(g.out().shape, (Shape{1, 4, 2}));
    }
    OneNode other_scale;
    TensorId x = other_scale.input(DType::kI8, {4}, q);
    expect_refused(other_scale.infer_declared(op, {x}, DType::kI8, per_tensor(0.1f, -128), a), ErrorCode::kUnsupported,
                   "same quantization parameters");
    OneNode other_zero;
    x = other_zero.input(DType::kI8, {4}, q);
    expect_refused(other_zero.infer_declared(op, {x}, DType::kI8, per_tensor(0.05f, 0), a), ErrorCode::kUnsupported,
                   "same quantization parameters");
    OneNode per_channel;
    x = per_channel.input(DType::kI8, {2, 2}, {{0.1f, 0.2f}, {}, 0});
    expect_refused(per_channel.infer_declared(op, {x}, DType::kI8, {{0.1f, 0.2f}, {}, 0}, a), ErrorCode::kUnsupported,
                   "per channel");
  }
}

TEST(ShapesElementwise, SoftmaxValidatesAxisAndCoerce2d) {
  for (OpType op : {OpType::kSoftmax, OpType::kLogSoftmax}) {
    for (int64_t axis : {0, 1, 2}) {
      for (int64_t coerce : {0, 1}) {
        OneNode g;
        TensorId x = g.input(DType::kF32, {2, 3, 4});
        ASSERT_TRUE(g.infer(op, {x}, attrs({{"axis", axis}, {"coerce_2d", coerce}})).has_value());
        EXPECT_EQ(g.out().shape, (Shape{2, 3, 4}));
        EXPECT_EQ(g.out().dtype, DType::kF32);
      }
    }
    const Attributes bad[] = {
        attrs({{"axis", int64_t{3}}, {"coerce_2d", int64_t{0}}}),   // out of range
        attrs({{"axis", int64_t{-1}}, {"coerce_2d", int64_t{0}}}),  // stored non-negative
        attrs({{"axis", int64_t{1}}}),                              // coerce_2d missing
        attrs({{"coerce_2d", int64_t{0}}}),                         // axis missing
        attrs({{"axis", int64_t{1}}, {"coerce_2d", int64_t{2}}}),   // not a flag
        attrs({{"axis", 1.f}, {"coerce_2d", int64_t{0}}}),          // wrong type
    };
    for (const Attributes& a : bad) {
      OneNode g;
      TensorId x = g.input(DType::kF32, {2, 3, 4});
      EXPECT_EQ(code_of(g.infer(op, {x}, a)), ErrorCode::kInvalidArgument);
    }
    OneNode g;
    TensorId x = g.input(DType::kF32, {});
    EXPECT_EQ(code_of(g.infer(op, {x}, attrs({{"axis", int64_t{0}}, {"coerce_2d", int64_t{0}}}))),
              ErrorCode::kInvalidArgument);
  }
}

// ---- ReduceMean --------------------------------------------------------------------------------

struct ReduceCase {
  std::vector<int64_t> axes;
  int64_t keepdims;
  Shape out;
};

TEST(ShapesElementwise, ReduceMeanShapes) {
  const ReduceCase cases[] = {
      {{0, 2}, 1, {1, 3, 1}}, {{0, 2}, 0, {3}},       {{1}, 0, {2, 4}},          {{1}, 1, {2, 1, 4}},
      {{}, 0, {}},            {{}, 1, {1, 1, 1}},     {{0, 1, 2}, 0, {}},        {{2}, 0, {2, 3}},
  };
  for (const auto& c : cases) {
    OneNode g;
    TensorId x = g.input(DType::kF32, {2, 3, 4});
    ASSERT_TRUE(g.infer(OpType::kReduceMean, {x}, attrs({{"axes", c.axes}, {"keepdims", c.keepdims}})).has_value())
        << shape_str(c.axes);
    EXPECT_EQ(g.out().shape, c.out) << shape_str(c.axes) << " keepdims " << c.keepdims;
  }
}

TEST(ShapesElementwise, ReduceMeanRefusesMalformedAxes) {
  const Attributes bad[] = {
      attrs({{"axes", std::vector<int64_t>{2, 0}}, {"keepdims", int64_t{1}}}),  // unsorted
      attrs({{"axes", std::vector<int64_t>{1, 1}}, {"keepdims", int64_t{1}}}),  // duplicate
      attrs({{"axes", std::vector<int64_t>{3}}, {"keepdims", int64_t{1}}}),     // out of range
      attrs({{"axes", std::vector<int64_t>{-1}}, {"keepdims", int64_t{1}}}),    // stored non-negative
      attrs({{"keepdims", int64_t{1}}}),                                        // axes missing
      attrs({{"axes", std::vector<int64_t>{0}}}),                               // keepdims missing
      attrs({{"axes", std::vector<int64_t>{0}}, {"keepdims", int64_t{3}}}),
  };
  for (const Attributes& a : bad) {
    OneNode g;
    TensorId x = g.input(DType::kF32, {2, 3, 4});
    EXPECT_EQ(code_of(g.infer(OpType::kReduceMean, {x}, a)), ErrorCode::kInvalidArgument);
  }
  OneNode g;
  TensorId x = g.input(DType::kI32, {2, 3, 4});
  EXPECT_EQ(code_of(g.infer(OpType::kReduceMean, {x}, attrs({{"axes", std::vector<int64_t>{0}}, {"keepdims", int64_t{1}}}))),
            ErrorCode::kUnsupported);
}

// ---- Cast --------------------------------------------------------------------------------------

TEST(ShapesElementwise, CastConvertsAmongAllSupportedDtypes) {
  const DType all[] = {DType::kF32, DType::kF16, DType::kI8, DType::kU8, DType::kI32, DType::kI64, DType::kBool};
  for (DType from : all) {
    for (DType to : all) {
      OneNode g;
      TensorId x = g.input(from, {2, 5});
      ASSERT_TRUE(g.infer(OpType::kCast, {x}, attrs({{"to", std::string(dtype_name(to))}})).has_value())
          << dtype_name(from) << " -> " << dtype_name(to);
      EXPECT_EQ(g.out().dtype, to);
      EXPECT_EQ(g.out().shape, (Shape{2, 5}));
    }
  }
}

TEST(ShapesElementwise, CastRefusals) {
  {
    OneNode g;
    TensorId x = g.input(DType::kF32, {2});
    auto s = g.infer(OpType::kCast, {x}, attrs({{"to", std::string("i4")}}));
    ASSERT_FALSE(s.has_value());
    EXPECT_EQ(code_of(s), ErrorCode::kUnsupported);
    EXPECT_NE(s.error().message.find("i4"), std::string::npos);
  }
  for (const Attributes& a : {attrs({{"to", std::string("float")}}), attrs({{"to", int64_t{1}}}), Attributes{}}) {
    OneNode g;
    TensorId x = g.input(DType::kF32, {2});
    EXPECT_EQ(code_of(g.infer(OpType::kCast, {x}, a)), ErrorCode::kInvalidArgument);
  }
  {
    OneNode g;
    TensorId x = g.input(DType::kI4, {2});
    EXPECT_EQ(code_of(g.infer(OpType::kCast, {x}, attrs({{"to", std::string("f32")}}))), ErrorCode::kUnsupported);
  }
  {
    OneNode g;
    TensorId x = g.input(DType::kU8, {2}, per_tensor());
    EXPECT_EQ(code_of(g.infer(OpType::kCast, {x}, attrs({{"to", std::string("f32")}}))), ErrorCode::kUnsupported);
  }
}

}  // namespace
}  // namespace edgeloop::model

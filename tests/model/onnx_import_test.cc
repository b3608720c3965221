#include "edgeloop/model/onnx_import.h"
#include "edgeloop/model/shapes/data_params.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "edgeloop/model/onnx/fold.h"
#include "edgeloop/model/onnx/params.h"
#include "edgeloop/model/onnx/tensor.h"
#include "edgeloop/model/shape_inference.h"

namespace edgeloop::model {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

// ---------------------------------------------------------------------------------------------
// Building ONNX models in C++.

class OnnxModel {
 public:
  explicit OnnxModel(int opset = 13) {
    m_.set_ir_version(7);
    m_.set_producer_name("unit-test");
    m_.set_producer_version("0.1");
    auto* op = m_.add_opset_import();
    op->set_domain("");
    op->set_version(opset);
    m_.mutable_graph()->set_name("test_graph");
  }

  // dims: -1 = a symbolic dim named "N".
  OnnxModel& input(const std::string& name, std::vector<int64_t> dims, int elem = onnx::TensorProto::FLOAT) {
    auto* vi = m_.mutable_graph()->add_input();
    vi->set_name(name);
    auto* tt = vi->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(elem);
    auto* shape = tt->mutable_shape();
    for (int64_t d : dims) {
      auto* dim = shape->add_dim();
      if (d < 0) dim->set_dim_param("N");
      else dim->set_dim_value(d);
    }
    return *this;
  }
  OnnxModel& output(const std::string& name) {
    m_.mutable_graph()->add_output()->set_name(name);
    return *this;
  }
  onnx::TensorProto& init_f32(const std::string& name, std::vector<int64_t> dims, const std::vector<float>& v) {
    auto* t = m_.mutable_graph()->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    for (int64_t d : dims) t->add_dims(d);
    for (float x : v) t->add_float_data(x);
    return *t;
  }
  onnx::TensorProto& init_i64(const std::string& name, std::vector<int64_t> dims, const std::vector<int64_t>& v) {
    auto* t = m_.mutable_graph()->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::INT64);
    for (int64_t d : dims) t->add_dims(d);
    for (int64_t x : v) t->add_int64_data(x);
    return *t;
  }
  // A scalar or 1-D uint8/int8/int32 initializer through int32_data.
  onnx::TensorProto& init_i32s(const std::string& name, int type, std::vector<int64_t> dims, const std::vector<int>& v) {
    auto* t = m_.mutable_graph()->add_initializer();
    t->set_name(name);
    t->set_data_type(type);
    for (int64_t d : dims) t->add_dims(d);
    for (int x : v) t->add_int32_data(x);
    return *t;
  }
  onnx::NodeProto& node(const std::string& op, std::vector<std::string> inputs, std::vector<std::string> outputs,
                        const std::string& name = "") {
    auto* n = m_.mutable_graph()->add_node();
    n->set_op_type(op);
    n->set_name(name);
    for (auto& i : inputs) n->add_input(i);
    for (auto& o : outputs) n->add_output(o);
    return *n;
  }
  onnx::ModelProto& proto() { return m_; }
  std::string bytes() const { return m_.SerializeAsString(); }
  Result<Graph> import(const ImportOptions& options = {}) const {
    const std::string b = bytes();
    return import_onnx_bytes(as_bytes(b), options);
  }

 private:
  onnx::ModelProto m_;
};

void attr(onnx::NodeProto& n, const std::string& name, int64_t v) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(v);
}
void attr(onnx::NodeProto& n, const std::string& name, float v) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(v);
}
void attr(onnx::NodeProto& n, const std::string& name, const std::string& v) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::STRING);
  a->set_s(v);
}
void attr(onnx::NodeProto& n, const std::string& name, std::vector<int64_t> v) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t x : v) a->add_ints(x);
}
void attr_floats(onnx::NodeProto& n, const std::string& name, std::vector<float> v) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::FLOATS);
  for (float x : v) a->add_floats(x);
}

const Node* find_node(const Graph& g, OpType op) {
  for (const Node& n : g.nodes)
    if (n.op == op) return &n;
  return nullptr;
}
const Tensor& tensor(const Graph& g, std::string_view name) {
  auto id = g.find_tensor(name);
  EXPECT_TRUE(id.has_value()) << "no tensor " << name;
  return g.tensors.at(id.value_or(0));
}
std::vector<std::string> names_of(const Graph& g, const std::vector<TensorId>& ids) {
  std::vector<std::string> out;
  for (TensorId id : ids) out.push_back(g.tensors[id].name);
  return out;
}

#define ASSERT_IMPORTED(result) ASSERT_TRUE((result).has_value()) << (result).error().message

// ---------------------------------------------------------------------------------------------
// Parameter math (no shape functions involved).

TEST(OnnxParams, SameUpperPutsTheOddPixelAtTheEnd) {
  // in 5, kernel 2, stride 2: out 3, total padding (3-1)*2+2-5 = 1.
  const std::vector<int64_t> in{5, 5}, k{2, 2}, s{2, 2}, d{1, 1};
  auto upper = onnx_import::resolve_auto_pad("SAME_UPPER", in, k, s, d, {});
  ASSERT_TRUE(upper.has_value());
  EXPECT_THAT(*upper, ElementsAre(0, 0, 1, 1));
  auto lower = onnx_import::resolve_auto_pad("SAME_LOWER", in, k, s, d, {});
  ASSERT_TRUE(lower.has_value());
  EXPECT_THAT(*lower, ElementsAre(1, 1, 0, 0));
  auto valid = onnx_import::resolve_auto_pad("VALID", in, k, s, d, {1, 1, 1, 1});
  EXPECT_THAT(*valid, ElementsAre(0, 0, 0, 0));
  // 3x3 stride 1 dilation 2: extent 5, total 4 → 2 each side.
  auto dil = onnx_import::resolve_auto_pad("SAME_UPPER", std::vector<int64_t>{7}, std::vector<int64_t>{3},
                                           std::vector<int64_t>{1}, std::vector<int64_t>{2}, {});
  EXPECT_THAT(*dil, ElementsAre(2, 2));
  EXPECT_FALSE(onnx_import::resolve_auto_pad("SAME_MIDDLE", in, k, s, d, {}).has_value());
}

TEST(OnnxParams, ConvTransposeOutputShapeBecomesPadsAndOutputPadding) {
  // The ONNX test test_convtranspose_output_shape: in 3x3, kernel 3, strides [3,2], output [10,8].
  // Full output: 3*2+3 = 9 rows (one short of 10 → output_padding 1), 2*2+3 = 7 cols (one short).
  auto p = onnx_import::resolve_conv_transpose_pads("NOTSET", std::vector<int64_t>{3, 3}, std::vector<int64_t>{3, 3},
                                                    std::vector<int64_t>{3, 2}, std::vector<int64_t>{1, 1}, {}, {},
                                                    std::vector<int64_t>{10, 8});
  ASSERT_TRUE(p.has_value()) << p.error().message;
  EXPECT_THAT(p->pads, ElementsAre(0, 0, 0, 0));
  EXPECT_THAT(p->output_padding, ElementsAre(1, 1));
  // SAME_UPPER, stride 2, in 3, kernel 3: target 6, full 7, total 1 → cropped at the end.
  auto same = onnx_import::resolve_conv_transpose_pads("SAME_UPPER", std::vector<int64_t>{3}, std::vector<int64_t>{3},
                                                       std::vector<int64_t>{2}, std::vector<int64_t>{1}, {}, {}, {});
  ASSERT_TRUE(same.has_value());
  EXPECT_THAT(same->pads, ElementsAre(0, 1));
}

TEST(OnnxParams, SliceExtentNeverOverflows) {
  // Shared with shape inference (shapes/data_params.h), which hostile .edge files also reach.
  EXPECT_EQ(slice_extent(0, 10, 3), 4);
  EXPECT_EQ(slice_extent(9, -1, -1), 10);
  EXPECT_EQ(slice_extent(9, -1, -4), 3);
  EXPECT_EQ(slice_extent(5, 2, 1), 0);
  EXPECT_EQ(slice_extent(2, 5, -1), 0);
  EXPECT_EQ(slice_extent(0, 5, INT64_MAX), 1);
  EXPECT_EQ(slice_extent(4, -1, INT64_MIN), 1);
}

// ---------------------------------------------------------------------------------------------
// Tensors and the constant-folding evaluator.

TEST(OnnxTensor, TypedFieldsAndRawDataDecode) {
  onnx::TensorProto t;
  t.set_data_type(onnx::TensorProto::INT8);
  t.add_dims(3);
  for (int v : {-2, 0, 127}) t.add_int32_data(v);
  auto d = onnx_import::tensor_data_from_proto(t);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->dtype, DType::kI8);
  EXPECT_THAT(d->values<int8_t>(), ElementsAre(-2, 0, 127));

  onnx::TensorProto r;
  r.set_data_type(onnx::TensorProto::FLOAT);
  r.add_dims(2);
  const float v[2] = {1.5f, -2.f};
  r.set_raw_data(std::string(reinterpret_cast<const char*>(v), sizeof v));
  auto f = onnx_import::tensor_from_proto(r);
  ASSERT_TRUE(f.has_value());
  EXPECT_THAT(f->values<float>(), ElementsAre(1.5f, -2.f));

  r.add_dims(2);  // [2,2] but only 8 bytes
  auto bad = onnx_import::tensor_from_proto(r);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, ErrorCode::kCorrupt);

  // 2^61 + 1 int64s: the byte count (2^64 + 8) wraps around to 8, the size of this raw_data; a
  // short buffer must not pass for a huge tensor.
  onnx::TensorProto wrap;
  wrap.set_data_type(onnx::TensorProto::INT64);
  wrap.add_dims((int64_t{1} << 61) + 1);
  wrap.set_raw_data(std::string(8, '\0'));
  auto wrapped = onnx_import::tensor_from_proto(wrap);
  ASSERT_FALSE(wrapped.has_value());
  EXPECT_EQ(wrapped.error().code, ErrorCode::kCorrupt);

  onnx::TensorProto dbl;
  dbl.set_data_type(onnx::TensorProto::DOUBLE);
  dbl.add_double_data(1.0);
  dbl.add_dims(1);
  auto refused = onnx_import::tensor_from_proto(dbl);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ErrorCode::kUnsupported);
  EXPECT_THAT(refused.error().message, HasSubstr("double"));
}

TEST(OnnxFold, GatherConcatCastAndArithmetic) {
  using onnx_import::fold;
  using onnx_import::make_constant;
  const std::vector<int64_t> dims{1, 3, 224, 224};
  Tensor shape = make_constant<int64_t>("s", DType::kI64, {4}, std::span<const int64_t>(dims));
  const std::vector<int64_t> idx{0, -1};
  Tensor index = make_constant<int64_t>("i", DType::kI64, {2}, std::span<const int64_t>(idx));
  Attributes axis0;
  axis0.set("axis", int64_t{0});
  std::vector<const Tensor*> ins{&shape, &index};
  auto g = fold(OpType::kGather, axis0, ins, 1);
  ASSERT_TRUE(g.has_value() && g->has_value());
  EXPECT_THAT((**g)[0].values<int64_t>(), ElementsAre(1, 224));

  std::vector<const Tensor*> cat{&(**g)[0], &index};
  auto c = fold(OpType::kConcat, axis0, cat, 1);
  ASSERT_TRUE(c.has_value() && c->has_value());
  EXPECT_THAT((**c)[0].values<int64_t>(), ElementsAre(1, 224, 0, -1));

  Attributes to;
  to.set("to", std::string("f32"));
  std::vector<const Tensor*> one{&(**c)[0]};
  auto f = fold(OpType::kCast, to, one, 1);
  ASSERT_TRUE(f.has_value() && f->has_value());
  EXPECT_THAT((**f)[0].values<float>(), ElementsAre(1.f, 224.f, 0.f, -1.f));

  // Broadcast [2,1] * [3] = [2,3]; integer division truncates; division by zero is an error.
  const std::vector<int64_t> a{6, -7}, b{1, 2, 3};
  Tensor ta = make_constant<int64_t>("a", DType::kI64, {2, 1}, std::span<const int64_t>(a));
  Tensor tb = make_constant<int64_t>("b", DType::kI64, {3}, std::span<const int64_t>(b));
  std::vector<const Tensor*> ab{&ta, &tb};
  auto div = fold(OpType::kDiv, {}, ab, 1);
  ASSERT_TRUE(div.has_value() && div->has_value());
  EXPECT_EQ((**div)[0].shape, (Shape{2, 3}));
  EXPECT_THAT((**div)[0].values<int64_t>(), ElementsAre(6, 3, 2, -7, -3, -2));
  const std::vector<int64_t> zero{0};
  Tensor tz = make_constant<int64_t>("z", DType::kI64, {1}, std::span<const int64_t>(zero));
  std::vector<const Tensor*> az{&ta, &tz};
  EXPECT_FALSE(fold(OpType::kDiv, {}, az, 1).has_value());

  // Ops the evaluator does not know stay nodes.
  auto relu = fold(OpType::kRelu, {}, one, 1);
  ASSERT_TRUE(relu.has_value());
  EXPECT_FALSE(relu->has_value());
}

TEST(OnnxFold, SliceAndTransposeMoveTheRightElements) {
  using onnx_import::fold;
  std::vector<float> v(12);
  for (int i = 0; i < 12; ++i) v[i] = static_cast<float>(i);
  Tensor x = onnx_import::make_constant<float>("x", DType::kF32, {3, 4}, std::span<const float>(v));
  Attributes s;
  s.set("starts", std::vector<int64_t>{2, 1});
  s.set("ends", std::vector<int64_t>{-1, 4});
  s.set("steps", std::vector<int64_t>{-1, 2});
  std::vector<const Tensor*> ins{&x};
  auto r = fold(OpType::kSlice, s, ins, 1);
  ASSERT_TRUE(r.has_value() && r->has_value());
  EXPECT_EQ((**r)[0].shape, (Shape{3, 2}));
  EXPECT_THAT((**r)[0].values<float>(), ElementsAre(9, 11, 5, 7, 1, 3));
  Attributes p;
  p.set("perm", std::vector<int64_t>{1, 0});
  auto t = fold(OpType::kTranspose, p, ins, 1);
  ASSERT_TRUE(t.has_value() && t->has_value());
  EXPECT_THAT((**t)[0].values<float>(), ElementsAre(0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11));
}

// ---------------------------------------------------------------------------------------------
// Whole-model refusals (no shape functions involved).

TEST(OnnxImport, GarbageBytesAreCorrupt) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 50; ++trial) {
    std::string junk(static_cast<size_t>(rng() % 300), '\0');
    for (char& c : junk) c = static_cast<char>(rng());
    auto r = import_onnx_bytes(as_bytes(junk));
    ASSERT_FALSE(r.has_value());
    EXPECT_TRUE(r.error().code == ErrorCode::kCorrupt || r.error().code == ErrorCode::kUnsupported)
        << r.error().message;
  }
  auto empty = import_onnx_bytes({});
  ASSERT_FALSE(empty.has_value());
  EXPECT_EQ(empty.error().code, ErrorCode::kCorrupt);

  OnnxModel m;
  m.input("x", {1, 4}).output("x");
  std::string b = m.bytes();
  b.resize(b.size() - 3);  // truncated
  auto cut = import_onnx_bytes(as_bytes(b));
  ASSERT_FALSE(cut.has_value());
  EXPECT_EQ(cut.error().code, ErrorCode::kCorrupt);
  EXPECT_THAT(cut.error().message, HasSubstr("not a valid ONNX model"));
}

TEST(OnnxImport, MutatedModelsNeverCrash) {
  OnnxModel m;
  m.input("x", {1, 3, 8, 8});
  m.init_f32("w", {4, 3, 3, 3}, std::vector<float>(108, 0.5f));
  m.init_i64("shape", {2}, {1, -1});
  auto& conv = m.node("Conv", {"x", "w"}, {"c"});
  attr(conv, "auto_pad", std::string("SAME_UPPER"));
  m.node("Relu", {"c"}, {"r"});
  m.node("Reshape", {"r", "shape"}, {"y"});
  m.output("y");
  const std::string good = m.bytes();
  std::mt19937 rng(11);
  for (int trial = 0; trial < 300; ++trial) {
    std::string b = good;
    for (int k = 0; k < 1 + trial % 4; ++k) b[rng() % b.size()] = static_cast<char>(rng());
    auto r = import_onnx_bytes(as_bytes(b));
    if (r) {
      EXPECT_TRUE(verify_graph(*r).has_value());
    }
  }
}

TEST(OnnxImport, HostileParametersAreBoundedOrRefused) {
  // A Slice step of INT64_MAX takes one element: stored bounded by the dim, no overflow later.
  OnnxModel m(13);
  m.input("x", {10});
  m.init_i64("starts", {1}, {2});
  m.init_i64("ends", {1}, {INT64_MAX});
  m.init_i64("axes", {1}, {0});
  m.init_i64("steps", {1}, {INT64_MAX});
  m.node("Slice", {"x", "starts", "ends", "axes", "steps"}, {"y"});
  m.output("y");
  auto g = m.import();
  ASSERT_IMPORTED(g);
  EXPECT_THAT(find_node(*g, OpType::kSlice)->attrs.get_ints("steps"), ElementsAre(10));
  EXPECT_EQ(tensor(*g, "y").shape, (Shape{1}));

  // Absurd window parameters and constant sizes are refused with a reason, not computed.
  OnnxModel w(13);
  w.input("x", {1, 1, 4, 4});
  auto& pool = w.node("MaxPool", {"x"}, {"p"}, "pool");
  attr(pool, "kernel_shape", std::vector<int64_t>{2, 2});
  attr(pool, "strides", std::vector<int64_t>{int64_t{1} << 40, 1});
  w.init_i64("big", {2}, {int64_t{1} << 31, int64_t{1} << 31});
  w.node("ConstantOfShape", {"big"}, {"c"}, "fill");
  w.output("p").output("c");
  auto r = w.import();
  ASSERT_FALSE(r.has_value());
  EXPECT_THAT(r.error().message, HasSubstr("node 'pool' (MaxPool): kernel [2,2], strides [1099511627776,1]"));
  EXPECT_THAT(r.error().message, HasSubstr("node 'fill' (ConstantOfShape): shape [2147483648,2147483648] is invalid "
                                           "(negative, or more than 2^59 elements)"));
}

TEST(OnnxImport, OpsetsOutsideSixToSeventeenAreRefused) {
  for (int opset : {5, 18}) {
    OnnxModel m(opset);
    m.input("x", {1}).output("x");
    auto r = m.import();
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, ErrorCode::kUnsupported);
    EXPECT_THAT(r.error().message, HasSubstr(fmt::format("opset {}", opset)));
  }
}

TEST(OnnxImport, SymbolicDimsNeedAnInputShape) {
  OnnxModel m;
  m.input("images", {-1, 3, 8, 8}).output("images");
  auto r = m.import();
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_THAT(r.error().message, HasSubstr("input 'images'"));
  EXPECT_THAT(r.error().message, HasSubstr("[N,3,8,8]"));
  EXPECT_THAT(r.error().message, HasSubstr("--input-shape images=1,3,8,8"));

  ImportOptions o;
  o.input_shapes["images"] = {2, 3, 8, 8};
  auto fixed = m.import(o);
  ASSERT_IMPORTED(fixed);
  EXPECT_EQ(fixed->tensors[fixed->inputs[0]].shape, (Shape{2, 3, 8, 8}));

  ImportOptions wrong;
  wrong.input_shapes["image"] = {2, 3, 8, 8};
  auto typo = m.import(wrong);
  ASSERT_FALSE(typo.has_value());
  EXPECT_THAT(typo.error().message, HasSubstr("'image', which is not a graph input"));
}

TEST(OnnxImport, EveryRefusedNodeIsListedOnce) {
  OnnxModel m;
  m.input("x", {1, 4});
  m.node("Erf", {"x"}, {"a"}, "erf1");
  m.node("Relu", {"a"}, {"b"}, "after_erf");  // depends on a refused node: not listed again
  m.node("Mod", {"x", "x"}, {"c"});             // unnamed: named <op>_<index>
  auto& custom = m.node("FancyOp", {"x"}, {"d"}, "custom1");
  custom.set_domain("com.example");
  m.output("b").output("c").output("d");
  auto r = m.import();
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kUnsupported);
  const std::string& msg = r.error().message;
  EXPECT_THAT(msg, HasSubstr("model: 3 nodes cannot be imported:\n"));
  EXPECT_THAT(msg, HasSubstr("\n  node 'erf1' (Erf): operator not supported"));
  EXPECT_THAT(msg, HasSubstr("\n  node 'Mod_2' (Mod): operator not supported"));
  EXPECT_THAT(msg, HasSubstr("\n  node 'custom1' (FancyOp): domain 'com.example' is not supported"));
  EXPECT_THAT(msg, Not(HasSubstr("after_erf")));
  EXPECT_THAT(msg, HasSubstr("(1 later node that depends on these was not checked)"));
  EXPECT_THAT(msg, HasSubstr("supported ONNX operators: "));
}

TEST(OnnxImport, ParameterInputsMustBeConstant) {
  OnnxModel m;
  m.input("x", {2, 6}).input("target", {2}, onnx::TensorProto::INT64);
  m.node("Reshape", {"x", "target"}, {"y"}, "reshape1");
  m.output("y");
  auto r = m.import();
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kUnsupported);
  EXPECT_THAT(r.error().message,
              HasSubstr("node 'reshape1' (Reshape): input 'shape' must be a constant known at import, but 'target' "
                        "is a graph input"));
}

TEST(OnnxImport, ExternalDataAndDoubleInitializersAreRefused) {
  OnnxModel m;
  m.input("x", {2});
  auto& w = m.init_f32("w", {2}, {});
  w.set_data_location(onnx::TensorProto::EXTERNAL);
  auto* kv = w.add_external_data();
  kv->set_key("location");
  kv->set_value("weights.bin");
  auto* d = m.proto().mutable_graph()->add_initializer();
  d->set_name("d");
  d->set_data_type(onnx::TensorProto::DOUBLE);
  d->add_dims(2);
  d->add_double_data(1);
  d->add_double_data(2);
  m.node("Add", {"x", "w"}, {"y"});
  m.node("Add", {"x", "d"}, {"z"});
  m.output("y").output("z");
  auto r = m.import();
  ASSERT_FALSE(r.has_value());
  EXPECT_THAT(r.error().message, HasSubstr("2 initializers cannot be imported"));
  EXPECT_THAT(r.error().message, HasSubstr("initializer 'w': its data is stored outside the model (external data "
                                           "file 'weights.bin')"));
  EXPECT_THAT(r.error().message, HasSubstr("initializer 'd': dtype double (f64) is not supported"));
}

TEST(OnnxImport, DoubleConstantsFoldOnlyThroughCast) {
  // PyTorch without constant folding: Constant(double 0.1) → Cast(float) → Clip's min.
  OnnxModel m(13);
  m.input("x", {1, 4});
  auto& k = m.node("Constant", {}, {"lo64"});
  auto* a = k.add_attribute();
  a->set_name("value");
  a->set_type(onnx::AttributeProto::TENSOR);
  a->mutable_t()->set_data_type(onnx::TensorProto::DOUBLE);
  a->mutable_t()->add_double_data(0.1);
  auto& cast = m.node("Cast", {"lo64"}, {"lo"});
  attr(cast, "to", int64_t{onnx::TensorProto::FLOAT});
  auto* d = m.proto().mutable_graph()->add_initializer();
  d->set_name("hi64");
  d->set_data_type(onnx::TensorProto::DOUBLE);
  d->add_double_data(2.5);
  auto& cast2 = m.node("Cast", {"hi64"}, {"hi"});
  attr(cast2, "to", int64_t{onnx::TensorProto::FLOAT});
  m.node("Clip", {"x", "lo", "hi"}, {"y"});
  m.output("y");
  auto g = m.import();
  ASSERT_IMPORTED(g);
  const Node* clip = find_node(*g, OpType::kClip);
  ASSERT_NE(clip, nullptr);
  EXPECT_FLOAT_EQ(clip->attrs.get_float("min"), 0.1f);
  EXPECT_FLOAT_EQ(clip->attrs.get_float("max"), 2.5f);

  m.node("Add", {"lo64", "lo64"}, {"z"}, "add64");
  m.output("z");
  auto refused = m.import();
  ASSERT_FALSE(refused.has_value());
  EXPECT_THAT(refused.error().message, HasSubstr("node 'add64' (Add): input 'lo64' has dtype double (f64)"));
}

TEST(OnnxImport, DanglingInputIsReported) {
  OnnxModel m;
  m.input("x", {2});
  m.node("Relu", {"nowhere"}, {"y"}, "r");
  m.output("y");
  auto r = m.import();
  ASSERT_FALSE(r.has_value());
  EXPECT_THAT(r.error().message, HasSubstr("node 'r' (Relu): input 'nowhere' is not a graph input, an initializer"));
}

TEST(OnnxImport, MetadataAndInputSpecs) {
  OnnxModel m;
  m.input("img", {1, 3, 4, 4}).input("vec", {1, 5});
  m.init_f32("unused_in_inputs", {1}, {1.f});
  m.input("unused_in_inputs", {1});  // an initializer listed as input is a constant, not an input
  m.output("img").output("vec");
  auto g = m.import();
  ASSERT_IMPORTED(g);
  EXPECT_EQ(g->meta.name, "test_graph");
  EXPECT_EQ(g->meta.version, "1");
  EXPECT_EQ(g->meta.variant, "fp32");
  EXPECT_EQ(g->meta.producer, "edgeloop-import (from unit-test 0.1)");
  ASSERT_EQ(g->meta.inputs.size(), 2u);
  EXPECT_EQ(g->meta.inputs[0].name, "img");
  EXPECT_EQ(g->meta.inputs[0].layout, "NCHW");
  EXPECT_EQ(g->meta.inputs[1].layout, "");
  EXPECT_THAT(names_of(*g, g->inputs), ElementsAre("img", "vec"));
  EXPECT_FALSE(g->meta.golden.has_value());

  ImportOptions o;
  o.name = "custom";
  o.version = "7";
  auto named = m.import(o);
  ASSERT_IMPORTED(named);
  EXPECT_EQ(named->meta.name, "custom");
  EXPECT_EQ(named->meta.version, "7");
}

TEST(OnnxImport, MetadataPropsGivePreprocessingAndLabels) {
  OnnxModel m;
  m.input("img", {1, 3, 2, 2}).input("aux", {1, 4});
  m.output("img").output("aux");
  auto prop = [&](const std::string& k, const std::string& v) {
    auto* p = m.proto().add_metadata_props();
    p->set_key(k);
    p->set_value(v);
  };
  prop("edgeloop.input.scale", "0.00392156862745098");
  prop("edgeloop.input.img.mean", "0.485, 0.456, 0.406");
  prop("edgeloop.input.img.std", "0.229,0.224,0.225");
  prop("edgeloop.labels", "cat,dog");
  prop("other.key", "ignored");
  auto g = m.import();
  ASSERT_IMPORTED(g);
  ASSERT_EQ(g->meta.inputs.size(), 2u);
  const IoSpec& img = g->meta.inputs[0];
  EXPECT_FLOAT_EQ(img.scale, 1.f / 255.f);
  EXPECT_THAT(img.mean, ElementsAre(0.485f, 0.456f, 0.406f));
  EXPECT_THAT(img.std, ElementsAre(0.229f, 0.224f, 0.225f));
  const IoSpec& aux = g->meta.inputs[1];
  EXPECT_FLOAT_EQ(aux.scale, 1.f / 255.f);  // the unnamed key applies to every input
  EXPECT_TRUE(aux.mean.empty());
  EXPECT_THAT(g->meta.labels, ElementsAre("cat", "dog"));

  prop("edgeloop.input.aux.mean", "1,2");  // two values for an input with 4 channels
  auto bad = m.import();
  ASSERT_FALSE(bad.has_value());
  EXPECT_THAT(bad.error().message, HasSubstr("'edgeloop.input.aux.mean' has 2 values; input 'aux' [1,4] needs 1 or "
                                             "one per channel (4)"));
}

TEST(OnnxImport, FileNameGivesLabelAndDefaultName) {
  OnnxModel m;
  m.proto().mutable_graph()->clear_name();
  m.input("x", {3}).output("x");
  const auto path = std::filesystem::temp_directory_path() / "edgeloop_onnx_import_test_net.onnx";
  {
    std::ofstream f(path, std::ios::binary);
    f << m.bytes();
  }
  auto g = import_onnx(path);
  ASSERT_IMPORTED(g);
  EXPECT_EQ(g->meta.name, "edgeloop_onnx_import_test_net");
  std::filesystem::remove(path);
  auto missing = import_onnx(path);
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
}

TEST(OnnxImport, ConstantsFoldIntoGraphOutputsWithTheirNames) {
  // Shape of an input, Gather, Add and Cast: all folded, the output is a named constant.
  OnnxModel m;
  m.input("x", {2, 3, 5});
  m.init_i64("idx", {1}, {2});
  m.init_i64("one", {}, {1});
  m.node("Shape", {"x"}, {"s"});
  m.node("Gather", {"s", "idx"}, {"g"});
  m.node("Add", {"g", "one"}, {"a"});
  auto& cast = m.node("Cast", {"a"}, {"out"});
  attr(cast, "to", int64_t{onnx::TensorProto::INT32});
  m.output("out");
  auto g = m.import();
  ASSERT_IMPORTED(g);
  EXPECT_TRUE(g->nodes.empty());
  const Tensor& out = tensor(*g, "out");
  EXPECT_TRUE(out.constant);
  EXPECT_EQ(out.dtype, DType::kI32);
  EXPECT_THAT(out.values<int32_t>(), ElementsAre(6));
  EXPECT_EQ(g->tensors[g->outputs[0]].name, "out");
}

TEST(OnnxImport, BindableInputsBecomeConstantsOnlyWhereNeeded) {
  // Unsqueeze-13 takes axes as an input; the test harness binds it. `x` is data and stays an input.
  OnnxModel m;
  m.input("x", {3}).input("axes", {1}, onnx::TensorProto::INT64).input("y0", {3});
  m.node("Unsqueeze", {"x", "axes"}, {"y"});
  m.output("y").output("y0");
  ImportOptions o;
  TensorData axes{"axes", DType::kI64, {1}, {}};
  axes.bytes.resize(8);
  store_le<int64_t>(axes.bytes.data(), 0);
  o.bindable_inputs.push_back(axes);
  TensorData y0 = TensorData::zeros("y0", DType::kF32, {3});
  o.bindable_inputs.push_back(y0);
  auto g = m.import(o);
  ASSERT_IMPORTED(g);  // needs Reshape's shape function
  EXPECT_THAT(names_of(*g, g->inputs), ElementsAre("x", "y0"));
  const Node* r = find_node(*g, OpType::kReshape);
  ASSERT_NE(r, nullptr);
  EXPECT_THAT(r->attrs.get_ints("shape"), ElementsAre(1, 3));
}

// ---------------------------------------------------------------------------------------------
// Canonical rewrites (need the shape functions of the ops involved).

TEST(OnnxImport, ConvAutoPadSameUpperBecomesExplicitPads) {
  OnnxModel m(11);
  m.input("x", {1, 2, 5, 5});
  m.init_f32("w", {4, 2, 2, 2}, std::vector<float>(32, 1.f));
  auto& conv = m.node("Conv", {"x", "w"}, {"y"}, "conv");
  attr(conv, "auto_pad", std::string("SAME_UPPER"));
  attr(conv, "strides", std::vector<int64_t>{2, 2});
  m.output("y");
  auto g = m.import();
  ASSERT_IMPORTED(g);
  const Node* c = find_node(*g, OpType::kConv);
  ASSERT_NE(c, nullptr);
  EXPECT_FALSE(c->attrs.has("auto_pad"));
  EXPECT_THAT(c->attrs.get_ints("pads"), ElementsAre(0, 0, 1, 1));
  EXPECT_THAT(c->attrs.get_ints("strides"), ElementsAre(2, 2));
  EXPECT_THAT(c->attrs.get_ints("dilations"), ElementsAre(1, 1));
  EXPECT_EQ(c->attrs.get_int("group", -1), 1);
  EXPECT_EQ(tensor(*g, "y").shape, (Shape{1, 4, 3, 3}));
}

TEST(OnnxImport, PoolDefaultsAreFilled) {
  OnnxModel m(9);
  m.input("x", {1, 1, 4, 4});
  auto& mp = m.node("MaxPool", {"x"}, {"y"});
  attr(mp, "kernel_shape", std::vector<int64_t>{2, 2});
  auto& ap = m.node("AveragePool", {"x"}, {"z"});
  attr(ap, "kernel_shape", std::vector<int64_t>{3, 3});
  attr(ap, "auto_pad", std::string("SAME_LOWER"));
  m.output("y").output("z");
  auto g = m.import();
  ASSERT_IMPORTED(g);
  const Node* mx = find_node(*g, OpType::kMaxPool);
  ASSERT_NE(mx, nullptr);
  EXPECT_THAT(mx->attrs.get_ints("strides"), ElementsAre(1, 1));
  EXPECT_THAT(mx->attrs.get_ints("dilations"), ElementsAre(1, 1));
  EXPECT_THAT(mx->attrs.get_ints("pads"), ElementsAre(0, 0, 0, 0));
  EXPECT_EQ(mx->attrs.get_int("ceil_mode", -1), 0);
  const Node* av = find_node(*g, OpType::kAveragePool);
  ASSERT_NE(av, nullptr);
  EXPECT_THAT(av->attrs.get_ints("pads"), ElementsAre(1, 1, 1, 1));
  EXPECT_EQ(av->attrs.get_int("count_include_pad", -1), 0);
}

TEST(OnnxImport, FlattenSqueezeUnsqueezeBecomeReshape) {
  OnnxModel m(11);
  m.input("x", {2, 3, 4, 1});
  auto& fl = m.node("Flatten", {"x"}, {"f"});
  attr(fl, "axis", int64_t{-2});
  auto& sq = m.node("Squeeze", {"x"}, {"s"});
  attr(sq, "axes", std::vector<int64_t>{-1});
  auto& un = m.node("Unsqueeze", {"s"}, {"u"});
  attr(un, "axes", std::vector<int64_t>{0, -1});
  m.output("f").output("u");
  auto g = m.import();
  ASSERT_IMPORTED(g);
  ASSERT_EQ(g->nodes.size(), 3u);
  for (const Node& n : g->nodes) EXPECT_EQ(n.op, OpType::kReshape);
  EXPECT_THAT(g->nodes[0].attrs.get_ints("shape"), ElementsAre(6, 4));
  EXPECT_THAT(g->nodes[1].attrs.get_ints("shape"), ElementsAre(2, 3, 4));
  EXPECT_THAT(g->nodes[2].attrs.get_ints("shape"), ElementsAre(1, 2, 3, 4, 1));
}

TEST(OnnxImport, SliceParamsResolvedPerDim) {
  for (int opset : {9, 13}) {
    OnnxModel m(opset);
    m.input("x", {20, 10, 5});
    if (opset >= 10) {
      m.init_i64("starts", {2}, {-4, 1});
      m.init_i64("ends", {2}, {1000, 8});
      m.init_i64("axes", {2}, {0, 2});
      m.init_i64("steps", {2}, {1, 3});
      m.node("Slice", {"x", "starts", "ends", "axes", "steps"}, {"y"});
    } else {
      auto& s = m.node("Slice", {"x"}, {"y"});
      attr(s, "starts", std::vector<int64_t>{-4, 1});
      attr(s, "ends", std::vector<int64_t>{1000, 8});
      attr(s, "axes", std::vector<int64_t>{0, 2});
    }
    m.output("y");
    auto g = m.import();
    ASSERT_IMPORTED(g);
    const Node* s = find_node(*g, OpType::kSlice);
    ASSERT_NE(s, nullptr);
    EXPECT_THAT(s->attrs.get_ints("starts"), ElementsAre(16, 0, 1));
    EXPECT_THAT(s->attrs.get_ints("ends"), ElementsAre(20, 10, 5));
    EXPECT_THAT(s->attrs.get_ints("steps"), ElementsAre(1, 1, opset >= 10 ? 3 : 1));
    EXPECT_EQ(tensor(*g, "y").shape, (Shape{4, 10, opset >= 10 ? 2 : 4}));
  }
}

TEST(OnnxImport, SoftmaxCoerce2dFollowsTheOpset) {
  for (int opset : {11, 13}) {
    OnnxModel m(opset);
    m.input("x", {2, 3, 4});
    m.node("Softmax", {"x"}, {"y"});
    m.node("LogSoftmax", {"x"}, {"z"});
    m.output("y").output("z");
    auto g = m.import();
    ASSERT_IMPORTED(g);
    for (OpType op : {OpType::kSoftmax, OpType::kLogSoftmax}) {
      const Node* n = find_node(*g, op);
      ASSERT_NE(n, nullptr);
      EXPECT_EQ(n->attrs.get_int("coerce_2d", -1), opset < 13 ? 1 : 0);
      EXPECT_EQ(n->attrs.get_int("axis", -1), opset < 13 ? 1 : 2);  // default axis, stored non-negative
    }
  }
}

TEST(OnnxImport, UpsampleBecomesResize) {
  for (int opset : {7, 9}) {
    OnnxModel m(opset);
    m.input("x", {1, 2, 3, 4});
    auto& up = opset < 9 ? m.node("Upsample", {"x"}, {"y"}) : m.node("Upsample", {"x", "scales"}, {"y"});
    if (opset < 9) attr_floats(up, "scales", {1, 1, 2, 1.5f});
    else m.init_f32("scales", {4}, {1, 1, 2, 1.5f});
    attr(up, "mode", std::string("nearest"));
    m.output("y");
    auto g = m.import();
    ASSERT_IMPORTED(g);
    const Node* r = find_node(*g, OpType::kResize);
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(r->attrs.get_string("mode"), "nearest");
    EXPECT_EQ(r->attrs.get_string("coordinate_transformation_mode"), "asymmetric");
    EXPECT_EQ(r->attrs.get_string("nearest_mode"), "floor");
    EXPECT_THAT(r->attrs.get_floats("scales"), ElementsAre(1.f, 1.f, 2.f, 1.5f));
    EXPECT_THAT(r->attrs.get_ints("sizes"), ElementsAre(1, 2, 6, 6));
    EXPECT_EQ(tensor(*g, "y").shape, (Shape{1, 2, 6, 6}));
    EXPECT_FLOAT_EQ(r->attrs.get_float("cubic_coeff_a"), -0.75f);
  }
}

TEST(OnnxImport, ResizeSizesGiveScales) {
  OnnxModel m(13);
  m.input("x", {1, 1, 4, 4});
  m.init_i64("sizes", {4}, {1, 1, 2, 8});
  auto& r = m.node("Resize", {"x", "", "", "sizes"}, {"y"});
  attr(r, "mode", std::string("linear"));
  m.output("y");
  auto g = m.import();
  ASSERT_IMPORTED(g);
  const Node* n = find_node(*g, OpType::kResize);
  ASSERT_NE(n, nullptr);
  EXPECT_EQ(n->attrs.get_string("coordinate_transformation_mode"), "half_pixel");
  EXPECT_EQ(n->attrs.get_string("nearest_mode"), "round_prefer_floor");
  EXPECT_THAT(n->attrs.get_floats("scales"), ElementsAre(1.f, 1.f, 0.5f, 2.f));
  EXPECT_THAT(n->attrs.get_ints("sizes"), ElementsAre(1, 1, 2, 8));
}

TEST(OnnxImport, IdentityAndDropoutAreRemovedKeepingOutputNames) {
  OnnxModel m(13);
  m.input("x", {1, 4});
  m.node("Relu", {"x"}, {"r"}, "relu");
  m.node("Identity", {"r"}, {"i"});
  m.node("Dropout", {"i"}, {"out"});        // a graph output: the Relu's tensor takes its name
  m.node("Identity", {"x"}, {"passthrough"});  // a graph input cannot be renamed: copied
  m.node("Sigmoid", {"i"}, {"s"});
  m.output("out").output("passthrough").output("s");
  auto g = m.import();
  ASSERT_IMPORTED(g);
  EXPECT_THAT(names_of(*g, g->outputs), ElementsAre("out", "passthrough", "s"));
  EXPECT_EQ(find_node(*g, OpType::kRelu)->outputs, std::vector<TensorId>{g->outputs[0]});
  EXPECT_EQ(find_node(*g, OpType::kSigmoid)->inputs, std::vector<TensorId>{g->outputs[0]});
  const Node* copy = find_node(*g, OpType::kReshape);
  ASSERT_NE(copy, nullptr);
  EXPECT_EQ(copy->inputs, std::vector<TensorId>{g->inputs[0]});
  EXPECT_EQ(g->nodes.size(), 3u);  // Relu, Sigmoid, the copy
}

TEST(OnnxImport, ShapeArithmeticChainFoldsIntoOneReshape) {
  // x[2,3,4,5] → Shape → Gather(0) → Unsqueeze → Concat(-1) → Reshape: flatten to [2, 60].
  OnnxModel m(13);
  m.input("x", {2, 3, 4, 5});
  m.init_i64("zero", {}, {0});
  m.init_i64("axes0", {1}, {0});
  m.init_i64("minus1", {1}, {-1});
  m.node("Shape", {"x"}, {"shape"});
  auto& gather = m.node("Gather", {"shape", "zero"}, {"batch"});
  attr(gather, "axis", int64_t{0});
  m.node("Unsqueeze", {"batch", "axes0"}, {"batch1"});
  auto& cat = m.node("Concat", {"batch1", "minus1"}, {"target"});
  attr(cat, "axis", int64_t{0});
  m.node("Reshape", {"x", "target"}, {"y"}, "flatten");
  m.output("y");
  auto g = m.import();
  ASSERT_IMPORTED(g);
  ASSERT_EQ(g->nodes.size(), 1u);
  EXPECT_EQ(g->nodes[0].op, OpType::kReshape);
  EXPECT_EQ(g->nodes[0].name, "flatten");
  EXPECT_THAT(g->nodes[0].attrs.get_ints("shape"), ElementsAre(2, 60));
  EXPECT_EQ(g->nodes[0].inputs.size(), 1u);
  EXPECT_EQ(g->tensors.size(), 2u);  // x and y: every folded constant is pruned
}

TEST(OnnxImport, BatchNormFoldsIntoConvWeightsAndBias) {
  OnnxModel m(9);
  m.input("x", {1, 2, 3, 3});
  // W [2 out, 2 in, 1, 1], bias [2]; BN per output channel.
  const std::vector<float> w{1.f, 2.f, -1.f, 0.5f};
  const std::vector<float> bias{0.1f, -0.2f};
  const std::vector<float> scale{2.f, 0.5f}, beta{1.f, -1.f}, mean{0.5f, -0.25f}, var{4.f, 0.25f};
  const float eps = 1e-3f;
  m.init_f32("w", {2, 2, 1, 1}, w);
  m.init_f32("b", {2}, bias);
  m.init_f32("scale", {2}, scale);
  m.init_f32("beta", {2}, beta);
  m.init_f32("mean", {2}, mean);
  m.init_f32("var", {2}, var);
  m.node("Conv", {"x", "w", "b"}, {"c"}, "conv");
  auto& bn = m.node("BatchNormalization", {"c", "scale", "beta", "mean", "var"}, {"y"}, "bn");
  attr(bn, "epsilon", eps);
  m.output("y");
  auto g = m.import();
  ASSERT_IMPORTED(g);
  ASSERT_EQ(g->nodes.size(), 1u);
  const Node& conv = g->nodes[0];
  EXPECT_EQ(conv.op, OpType::kConv);
  EXPECT_EQ(g->tensors[conv.outputs[0]].name, "y");
  ASSERT_EQ(conv.inputs.size(), 3u);
  const auto wf = g->tensors[conv.inputs[1]].values<float>();
  const auto bf = g->tensors[conv.inputs[2]].values<float>();
  // By hand: s0 = 2/sqrt(4.001) = 0.99987502, s1 = 0.5/sqrt(0.251) = 0.99800598.
  const float s0 = 0.99987502f, s1 = 0.99800598f;
  ASSERT_EQ(wf.size(), 4u);
  EXPECT_NEAR(wf[0], 1.f * s0, 1e-6);
  EXPECT_NEAR(wf[1], 2.f * s0, 1e-6);
  EXPECT_NEAR(wf[2], -1.f * s1, 1e-6);
  EXPECT_NEAR(wf[3], 0.5f * s1, 1e-6);
  ASSERT_EQ(bf.size(), 2u);
  EXPECT_NEAR(bf[0], 0.60004999f, 1e-6);   // (0.1 - 0.5) * s0 + 1
  EXPECT_NEAR(bf[1], -0.95009970f, 1e-6);  // (-0.2 + 0.25) * s1 - 1
}

TEST(OnnxImport, BatchNormStaysWhenTheConvOutputIsShared) {
  OnnxModel m(9);
  m.input("x", {1, 1, 2, 2});
  m.init_f32("w", {1, 1, 1, 1}, {2.f});
  for (const char* p : {"scale", "beta", "mean", "var"}) m.init_f32(p, {1}, {1.f});
  m.node("Conv", {"x", "w"}, {"c"});
  m.node("BatchNormalization", {"c", "scale", "beta", "mean", "var"}, {"y"});
  m.node("Relu", {"c"}, {"r"});
  m.output("y").output("r");
  auto g = m.import();
  ASSERT_IMPORTED(g);
  EXPECT_NE(find_node(*g, OpType::kBatchNormalization), nullptr);
  EXPECT_FLOAT_EQ(find_node(*g, OpType::kBatchNormalization)->attrs.get_float("epsilon"), 1e-5f);
}

TEST(OnnxImport, QLinearConvMovesQuantParamsOntoTensors) {
  OnnxModel m(13);
  m.input("x", {1, 2, 4, 4}, onnx::TensorProto::UINT8);
  m.init_f32("x_scale", {}, {0.5f});
  m.init_i32s("x_zp", onnx::TensorProto::UINT8, {}, {128});
  m.init_i32s("w", onnx::TensorProto::INT8, {3, 2, 1, 1}, {1, -1, 2, -2, 3, -3});
  m.init_f32("w_scale", {3}, {0.1f, 0.2f, 0.4f});
  m.init_i32s("w_zp", onnx::TensorProto::INT8, {3}, {0, 0, 0});
  m.init_f32("y_scale", {}, {0.25f});
  m.init_i32s("y_zp", onnx::TensorProto::UINT8, {}, {10});
  m.init_i32s("bias", onnx::TensorProto::INT32, {3}, {100, -100, 7});
  m.node("QLinearConv", {"x", "x_scale", "x_zp", "w", "w_scale", "w_zp", "y_scale", "y_zp", "bias"}, {"y"}, "qconv");
  m.output("y");
  auto g = m.import();
  ASSERT_IMPORTED(g);
  ASSERT_EQ(g->nodes.size(), 1u);
  const Node& conv = g->nodes[0];
  EXPECT_EQ(conv.op, OpType::kConv);
  ASSERT_EQ(conv.inputs.size(), 3u);
  const Tensor& x = g->tensors[conv.inputs[0]];
  EXPECT_EQ(x.dtype, DType::kU8);
  EXPECT_THAT(x.quant.scales, ElementsAre(0.5f));
  EXPECT_THAT(x.quant.zero_points, ElementsAre(128));
  EXPECT_EQ(x.quant.axis, -1);
  const Tensor& w = g->tensors[conv.inputs[1]];
  EXPECT_THAT(w.quant.scales, ElementsAre(0.1f, 0.2f, 0.4f));
  EXPECT_TRUE(w.quant.zero_points.empty());
  EXPECT_EQ(w.quant.axis, 0);
  const Tensor& b = g->tensors[conv.inputs[2]];
  EXPECT_EQ(b.dtype, DType::kI32);
  EXPECT_THAT(b.quant.scales, ElementsAre(0.05f, 0.1f, 0.2f));
  EXPECT_EQ(b.quant.axis, 0);
  const Tensor& y = g->tensors[conv.outputs[0]];
  EXPECT_EQ(y.name, "y");
  EXPECT_EQ(y.dtype, DType::kU8);
  EXPECT_THAT(y.quant.scales, ElementsAre(0.25f));
  EXPECT_THAT(y.quant.zero_points, ElementsAre(10));
  EXPECT_EQ(y.shape, (Shape{1, 3, 4, 4}));
  // Scale/zero-point initializers became tensor properties and are gone from the graph.
  EXPECT_FALSE(g->find_tensor("x_scale").has_value());
}

TEST(OnnxImport, ConflictingQuantParamsRefuseTheSecondNode) {
  OnnxModel m(13);
  m.input("q", {4}, onnx::TensorProto::UINT8);
  m.init_f32("s1", {}, {0.5f});
  m.init_f32("s2", {}, {0.25f});
  m.node("DequantizeLinear", {"q", "s1"}, {"a"}, "dq1");
  m.node("DequantizeLinear", {"q", "s2"}, {"b"}, "dq2");
  m.output("a").output("b");
  auto g = m.import();
  ASSERT_FALSE(g.has_value());
  EXPECT_THAT(g.error().message, HasSubstr("1 node cannot be imported"));
  EXPECT_THAT(g.error().message, HasSubstr("node 'dq2' (DequantizeLinear): tensor 'q' already has quantization "
                                           "parameters (scale 0.5 zero point 0)"));
}

TEST(OnnxImport, QuantParamsFollowValuesThroughDataMovement) {
  // u8 input → Reshape → Transpose → DequantizeLinear: the parameters set by the Dequantize reach
  // back to the graph input, as the data-movement ops pass quantized values through unchanged.
  OnnxModel m(13);
  m.input("q", {2, 3}, onnx::TensorProto::UINT8);
  m.init_i64("shape", {2}, {3, 2});
  m.init_f32("s", {}, {0.5f});
  m.init_i32s("zp", onnx::TensorProto::UINT8, {}, {3});
  m.node("Reshape", {"q", "shape"}, {"r"});
  m.node("Transpose", {"r"}, {"t"});
  m.node("DequantizeLinear", {"t", "s", "zp"}, {"y"});
  m.output("y");
  auto g = m.import();
  ASSERT_IMPORTED(g);
  for (const char* name : {"q", "r", "t"}) {
    const Tensor& t = tensor(*g, name);
    EXPECT_THAT(t.quant.scales, ElementsAre(0.5f)) << name;
    EXPECT_THAT(t.quant.zero_points, ElementsAre(3)) << name;
  }

  // Two different parameter sets meeting through a Reshape: the second node is refused.
  OnnxModel c(13);
  c.input("x", {2, 3});
  c.init_i64("shape", {1}, {6});
  c.init_f32("s1", {}, {0.5f});
  c.init_f32("s2", {}, {0.25f});
  c.node("QuantizeLinear", {"x", "s1"}, {"q"});
  c.node("Reshape", {"q", "shape"}, {"r"});
  c.node("DequantizeLinear", {"r", "s2"}, {"y"}, "dq");
  c.output("y");
  auto refused = c.import();
  ASSERT_FALSE(refused.has_value());
  EXPECT_THAT(refused.error().message, HasSubstr("node 'dq' (DequantizeLinear): tensor 'r' already has quantization "
                                                 "parameters (scale 0.5 zero point 0)"));
}

TEST(OnnxImport, QuantizeLinearPutsParamsOnItsOutput) {
  OnnxModel m(13);
  m.input("x", {1, 3});
  m.init_f32("s", {}, {0.02f});
  m.init_i32s("zp", onnx::TensorProto::INT8, {}, {-3});
  m.node("QuantizeLinear", {"x", "s", "zp"}, {"q"});
  m.output("q");
  auto g = m.import();
  ASSERT_IMPORTED(g);
  const Tensor& q = tensor(*g, "q");
  EXPECT_EQ(q.dtype, DType::kI8);
  EXPECT_THAT(q.quant.scales, ElementsAre(0.02f));
  EXPECT_THAT(q.quant.zero_points, ElementsAre(-3));
}

TEST(OnnxImport, ClipAndPadParamsFromInputsAndAttributes) {
  for (int opset : {6, 11}) {
    OnnxModel m(opset);
    m.input("x", {1, 2});
    if (opset >= 11) {
      m.init_f32("lo", {}, {0.f});
      m.init_i64("pads", {4}, {0, 1, 0, 2});
      m.node("Clip", {"x", "lo"}, {"c"});
      auto& p = m.node("Pad", {"c", "pads"}, {"y"});
      attr(p, "mode", std::string("edge"));
    } else {
      auto& c = m.node("Clip", {"x"}, {"c"});
      attr(c, "min", 0.f);
      auto& p = m.node("Pad", {"c"}, {"y"});
      attr(p, "pads", std::vector<int64_t>{0, 1, 0, 2});
      attr(p, "mode", std::string("edge"));
    }
    m.output("y");
    auto g = m.import();
    ASSERT_IMPORTED(g);
    const Node* clip = find_node(*g, OpType::kClip);
    ASSERT_NE(clip, nullptr);
    EXPECT_EQ(clip->attrs.get_float("min", 1.f), 0.f);
    EXPECT_TRUE(std::isinf(clip->attrs.get_float("max", 0.f)));
    EXPECT_EQ(clip->inputs.size(), 1u);
    const Node* pad = find_node(*g, OpType::kPad);
    ASSERT_NE(pad, nullptr);
    EXPECT_THAT(pad->attrs.get_ints("pads"), ElementsAre(0, 1, 0, 2));
    EXPECT_EQ(pad->attrs.get_string("mode"), "edge");
    EXPECT_EQ(tensor(*g, "y").shape, (Shape{1, 5}));
  }
}

TEST(OnnxImport, SplitSizesFromAttributeOrEvenly) {
  OnnxModel m(11);
  m.input("x", {6, 2});
  auto& s = m.node("Split", {"x"}, {"a", "b", "c"});
  attr(s, "axis", int64_t{-2});
  m.output("a").output("b").output("c");
  auto g = m.import();
  ASSERT_IMPORTED(g);
  const Node* n = find_node(*g, OpType::kSplit);
  ASSERT_NE(n, nullptr);
  EXPECT_EQ(n->attrs.get_int("axis", -1), 0);
  EXPECT_THAT(n->attrs.get_ints("split"), ElementsAre(2, 2, 2));
  EXPECT_THAT(names_of(*g, n->outputs), ElementsAre("a", "b", "c"));
}

// ---------------------------------------------------------------------------------------------
// ONNX's own test models (Debian libonnx-testdata), when installed.

std::filesystem::path onnx_node_test(const std::string& name) {
  return std::filesystem::path("/usr/share/libonnx-testdata/data/node") / name;
}

TEST(OnnxImport, OnnxTestConvWithAutopadSame) {
  const auto dir = onnx_node_test("test_conv_with_autopad_same");
  if (!std::filesystem::exists(dir / "model.onnx")) GTEST_SKIP() << "libonnx-testdata not installed";
  auto g = import_onnx(dir / "model.onnx");
  ASSERT_IMPORTED(g);
  const Node* c = find_node(*g, OpType::kConv);
  ASSERT_NE(c, nullptr);
  // x [1,1,5,5], W [1,1,3,3], strides 2, SAME_LOWER: out 3, total pad 2 → 1 each side.
  EXPECT_THAT(c->attrs.get_ints("pads"), ElementsAre(1, 1, 1, 1));
  EXPECT_EQ(g->tensors[g->outputs[0]].shape, (Shape{1, 1, 3, 3}));
}

}  // namespace
}  // namespace edgeloop::model

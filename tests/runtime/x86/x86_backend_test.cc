// The x86 backend (W4A8 Conv and Gemm on edgeloop's int4 kernels) inside whole programs: outputs
// bit-identical to the reference kernels, whether its neighbours hand it NCHW (the reference
// kernels) or NHWC tensors (XNNPACK), at 1 and 2 threads (the first conv is big enough, 28×24
// pixels, for its rows to be split between the threads).
#include <gtest/gtest.h>

#include <random>

#include "edgeloop/runtime/session.h"
#include "testing/graph_builder.h"
#include "testing/graphs.h"

namespace edgeloop::runtime {
namespace {

using model::DType;
using model::OpType;
using testing::attrs;
using testing::GraphBuilder;
using testing::per_tensor;

model::Attributes conv_attrs(std::vector<int64_t> strides, std::vector<int64_t> pads, int64_t group = 1) {
  return attrs({{"strides", strides}, {"pads", pads}, {"dilations", std::vector<int64_t>{1, 1}}, {"group", group}});
}

// x f32 → Quantize → W4A8 conv 3×3 (padded) → int8 depthwise conv → W4A8 depthwise conv → W4A8 conv 1×1 → flatten →
// W4A8 Gemm → Dequantize.
model::Graph w4a8_network(int32_t block) {
  GraphBuilder b;
  const auto q0 = per_tensor(0.03f, -2), q1 = per_tensor(0.05f, -128), q2 = per_tensor(0.04f, 3), q3 = per_tensor(0.1f, 0);
  auto x = b.node(OpType::kQuantizeLinear, {b.input(DType::kF32, {2, 5, 28, 24})}, {}, DType::kI8, q0);
  auto c1 = b.node(OpType::kConv, {x, b.weights_i4({12, 5, 3, 3}, block, 0.02f), b.bias_f32(12)}, conv_attrs({1, 1}, {1, 1, 1, 1}), DType::kI8, q1);
  auto dw = b.node(OpType::kConv, {c1, b.weights_i8({12, 1, 3, 3}, 0, 0.01f), b.bias_i32(12)}, conv_attrs({2, 2}, {1, 0, 1, 0}, 12), DType::kI8, q2);
  auto dw4 = b.node(OpType::kConv, {dw, b.weights_i4({12, 1, 3, 3}, block, 0.05f), b.bias_f32(12)}, conv_attrs({1, 1}, {1, 1, 1, 1}, 12),
                    DType::kI8, q2);  // depthwise W4A8
  auto c2 = b.node(OpType::kConv, {dw4, b.weights_i4({40, 12, 1, 1}, block, 0.03f)}, conv_attrs({1, 1}, {0, 0, 0, 0}), DType::kI8, q1);
  auto f = b.node(OpType::kReshape, {c2}, attrs({{"shape", std::vector<int64_t>{2, 40 * 14 * 11}}}), DType::kI8, q1);
  auto y = b.node(OpType::kGemm, {f, b.weights_i4({10, 6160}, block, 0.002f), b.bias_f32(10)},
                  attrs({{"alpha", 1.f}, {"beta", 1.f}, {"transA", int64_t{0}}, {"transB", int64_t{1}}}), DType::kI8, q3);
  return b.finish({b.node(OpType::kDequantizeLinear, {y}), c1});
}

// The same shape of network in W8A8 as edgeloop's toolchain emits it (fixed-point requantization):
// x86 runs the dense convs and the Gemm, the depthwise conv runs elsewhere.
model::Graph w8a8_network() {
  GraphBuilder b;
  const auto q0 = per_tensor(0.03f, -2), q1 = per_tensor(0.05f, -128), q2 = per_tensor(0.04f, 3), q3 = per_tensor(0.1f, 0);
  auto fixed = [](model::Attributes a) {
    a.set("requantize", std::string("fixed_point"));
    return a;
  };
  auto x = b.node(OpType::kQuantizeLinear, {b.input(DType::kF32, {2, 5, 28, 24})}, {}, DType::kI8, q0);
  auto c1 = b.node(OpType::kConv, {x, b.weights_i8({12, 5, 3, 3}, 0, 0.01f), b.bias_i32(12)}, fixed(conv_attrs({1, 1}, {1, 1, 1, 1})),
                   DType::kI8, q1);
  auto dw = b.node(OpType::kConv, {c1, b.weights_i8({12, 1, 3, 3}, 0, 0.01f), b.bias_i32(12)}, fixed(conv_attrs({2, 2}, {1, 0, 1, 0}, 12)),
                   DType::kI8, q2);
  auto c2 = b.node(OpType::kConv, {dw, b.weights_i8({40, 12, 1, 1}, 0, 0.02f)}, fixed(conv_attrs({1, 1}, {0, 0, 0, 0})), DType::kI8, q1);
  auto f = b.node(OpType::kReshape, {c2}, attrs({{"shape", std::vector<int64_t>{2, 40 * 14 * 11}}}), DType::kI8, q1);
  auto y = b.node(OpType::kGemm, {f, b.weights_i8({10, 6160}, 0, 0.001f), b.bias_i32(10)},
                  fixed(attrs({{"alpha", 1.f}, {"beta", 1.f}, {"transA", int64_t{0}}, {"transB", int64_t{1}}})), DType::kI8, q3);
  return b.finish({b.node(OpType::kDequantizeLinear, {y}), c1});
}

std::vector<model::TensorData> inputs(const model::Graph& g, uint32_t seed) {
  std::mt19937 rng(seed);
  const model::Tensor& t = g.tensors[g.inputs[0]];
  auto v = model::TensorData::zeros(t.name, t.dtype, t.shape);
  for (float& x : v.values<float>()) x = std::uniform_real_distribution<float>(-4.f, 4.f)(rng);
  return {v};
}

void expect_bit_identical(const model::Graph& g, const std::vector<std::string>& backends, size_t x86_nodes) {
  auto ref = Program::from_graph(g, LoadOptions::reference());
  ASSERT_TRUE(ref) << ref.error().message;
  for (int threads : {1, 2}) {
    auto fast = Program::from_graph(g, LoadOptions{backends, threads});
    ASSERT_TRUE(fast) << fast.error().message;
    size_t ran = 0;
    for (const Step& s : fast->steps()) ran += s.backend == "x86" ? s.nodes.size() : 0;
    EXPECT_EQ(ran, x86_nodes);
    for (uint32_t seed : {3u, 4u}) {
      Session rs(*ref), fs(*fast);
      auto want = rs.run(inputs(g, seed));
      auto got = fs.run(inputs(g, seed));
      ASSERT_TRUE(want && got);
      for (size_t o = 0; o < want->size(); ++o) EXPECT_EQ((*got)[o].bytes, (*want)[o].bytes) << "output " << o << ", threads " << threads;
    }
  }
}

TEST(X86Backend, W4A8LayersBetweenReferenceKernelsAreBitIdentical) {
  for (int32_t block : {32, 8, 5, 4}) expect_bit_identical(w4a8_network(block), {"x86"}, 4);
}

TEST(X86Backend, W8A8DenseLayersAreBitIdenticalToTheReference) {
  expect_bit_identical(w8a8_network(), {"x86"}, 3);
}

TEST(X86Backend, W4A8LayersBetweenXnnpackPartitionsShareNhwcTensorsAndAreBitIdentical) {
  // XNNPACK runs the Quantize, the int8 depthwise conv, the flatten and the Dequantize; the conv
  // outputs pass between the backends channels-last. XNNPACK's int8 conv is the reference's
  // within 1 LSB, so the x86 layers are checked against a reference that runs XNNPACK too:
  // the same program with x86 swapped for the reference kernels.
  const model::Graph g = w4a8_network(32);
  auto mixed = Program::from_graph(g, LoadOptions{{"xnnpack", "x86"}, 1});
  ASSERT_TRUE(mixed) << mixed.error().message;
  auto xnn_only = Program::from_graph(g, LoadOptions{{"xnnpack"}, 1});
  ASSERT_TRUE(xnn_only) << xnn_only.error().message;
  size_t x86 = 0;
  for (const Step& s : mixed->steps()) x86 += s.backend == "x86" ? s.nodes.size() : 0;
  EXPECT_EQ(x86, 4u);
  for (uint32_t seed : {5u, 6u}) {
    Session a(*mixed), b(*xnn_only);
    auto got = a.run(inputs(g, seed));
    auto want = b.run(inputs(g, seed));
    ASSERT_TRUE(got && want);
    for (size_t o = 0; o < want->size(); ++o) EXPECT_EQ((*got)[o].bytes, (*want)[o].bytes) << "output " << o;
  }
}

}  // namespace
}  // namespace edgeloop::runtime

// The XNNPACK backend against the reference kernels, for every op and form it claims: FP32 within
// 1e-4 relative, INT8 within 1 LSB. Each case also checks that XNNPACK really ran the nodes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <atomic>
#include <random>
#include <thread>

#include "edgeloop/model/onnx_import.h"
#include "edgeloop/model/shape_inference.h"
#include "edgeloop/runtime/backends.h"
#include "edgeloop/runtime/session.h"
#include "edgeloop/runtime/xnnpack/xnnpack_backend.h"
#include "testing/graph_builder.h"
#include "testing/graphs.h"

namespace edgeloop::runtime {
namespace {

using model::DType;
using model::OpType;
using model::QuantParams;
using model::Shape;
using model::TensorId;
using testing::attrs;
using testing::GraphBuilder;
using testing::per_tensor;

std::vector<model::TensorData> random_inputs(const model::Graph& g, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<model::TensorData> in;
  for (TensorId id : g.inputs) {
    const model::Tensor& t = g.tensors[id];
    auto v = model::TensorData::zeros(t.name, t.dtype, t.shape);
    if (t.dtype == DType::kF32)
      for (float& x : v.values<float>()) x = std::uniform_real_distribution<float>(-2.f, 2.f)(rng);
    else
      for (std::byte& b : v.bytes) b = static_cast<std::byte>(rng());
    in.push_back(std::move(v));
  }
  return in;
}

// Runs `g` on the reference kernels and with XNNPACK forced; expects XNNPACK to run `claimed`
// nodes and the outputs to agree (f32: rtol 1e-4; int8: 1 LSB).
void expect_agreement(const model::Graph& g, size_t claimed) {
  auto ref = Program::from_graph(g, LoadOptions::reference());
  ASSERT_TRUE(ref) << ref.error().message;
  for (int threads : {1, 2}) {
    auto xnn = Program::from_graph(g, LoadOptions{{"xnnpack"}, threads});
    ASSERT_TRUE(xnn) << xnn.error().message;
    size_t ran = 0;
    for (const Step& s : xnn->steps())
      if (s.backend == "xnnpack") ran += s.nodes.size();
    EXPECT_EQ(ran, claimed) << "nodes XNNPACK ran";
    for (uint32_t seed : {1u, 2u}) {
      const auto inputs = random_inputs(g, seed);
      Session rs(*ref), xs(*xnn);
      auto want = rs.run(inputs);
      auto got = xs.run(inputs);
      ASSERT_TRUE(want) << want.error().message;
      ASSERT_TRUE(got) << got.error().message;
      auto again = xs.run(inputs);  // a second run reuses the bound buffers
      ASSERT_TRUE(again);
      for (size_t o = 0; o < want->size(); ++o) {
        const auto& w = (*want)[o];
        const auto& a = (*got)[o];
        ASSERT_EQ(w.shape, a.shape);
        EXPECT_EQ(a.bytes, (*again)[o].bytes);
        if (w.dtype == DType::kF32) {
          const auto wv = w.values<float>(), av = a.values<float>();
          for (size_t i = 0; i < wv.size(); ++i)
            ASSERT_NEAR(av[i], wv[i], 1e-4f * std::max(1.f, std::fabs(wv[i]))) << "output " << o << " element " << i << " threads " << threads;
        } else {
          const auto wv = w.values<int8_t>(), av = a.values<int8_t>();
          for (size_t i = 0; i < wv.size(); ++i) ASSERT_LE(std::abs(av[i] - wv[i]), 1) << "output " << o << " element " << i;
        }
      }
    }
  }
}

model::Attributes gemm_attrs(int64_t trans_b) {
  return attrs({{"alpha", 1.f}, {"beta", 1.f}, {"transA", int64_t{0}}, {"transB", trans_b}});
}

model::Attributes conv_attrs(std::vector<int64_t> strides, std::vector<int64_t> pads, int64_t group = 1, std::vector<int64_t> dil = {1, 1}) {
  return attrs({{"strides", strides}, {"pads", pads}, {"dilations", dil}, {"group", group}});
}

TEST(Xnnpack, IsAvailableAndChosenByDefault) {
  ASSERT_TRUE(xnnpack::available());
  const auto names = default_backends();
  EXPECT_NE(std::find(names.begin(), names.end(), "xnnpack"), names.end());
}

TEST(XnnpackF32, ConvDenseGroupedDepthwiseWithFusedClamps) {
  GraphBuilder b;
  TensorId x = b.input(DType::kF32, {1, 3, 11, 9});
  TensorId y = b.node(OpType::kConv, {x, b.weights_f32({8, 3, 3, 3}), b.weights_f32({8})}, conv_attrs({2, 1}, {1, 0, 1, 2}));
  y = b.node(OpType::kRelu, {y});
  y = b.node(OpType::kConv, {y, b.weights_f32({8, 2, 3, 3})}, conv_attrs({1, 1}, {1, 1, 1, 1}, 4));             // grouped, no bias
  y = b.node(OpType::kClip, {y}, attrs({{"min", 0.f}, {"max", 0.5f}}));
  y = b.node(OpType::kConv, {y, b.weights_f32({16, 1, 3, 3}), b.weights_f32({16})}, conv_attrs({1, 1}, {2, 2, 2, 2}, 8, {2, 2}));  // depthwise ×2, dilated
  expect_agreement(b.finish({y}), 5);
}

TEST(XnnpackF32, FlattenIntoGemmPermutesTheWeights) {
  GraphBuilder b;
  TensorId x = b.input(DType::kF32, {2, 4, 3, 5});
  TensorId c = b.node(OpType::kConv, {x, b.weights_f32({6, 4, 1, 1})}, conv_attrs({1, 1}, {0, 0, 0, 0}));
  TensorId f = b.node(OpType::kReshape, {c}, attrs({{"shape", std::vector<int64_t>{2, 90}}}));
  TensorId y1 = b.node(OpType::kGemm, {f, b.weights_f32({7, 90}), b.weights_f32({7})}, gemm_attrs(1));
  TensorId y2 = b.node(OpType::kGemm, {f, b.weights_f32({90, 5})}, gemm_attrs(0));
  TensorId y3 = b.node(OpType::kMatMul, {y1, b.weights_f32({7, 3})});
  expect_agreement(b.finish({y2, y3}), 5);
}

TEST(XnnpackF32, ElementwisePoolingAndActivations) {
  GraphBuilder b;
  TensorId x = b.input(DType::kF32, {1, 6, 8, 8});
  TensorId x2 = b.input(DType::kF32, {1, 6, 8, 8});
  TensorId s = b.node(OpType::kAdd, {x, x2});
  TensorId m = b.node(OpType::kMul, {s, x});
  TensorId h = b.node(OpType::kHardSwish, {m});
  TensorId g = b.node(OpType::kSigmoid, {h});
  TensorId mp = b.node(OpType::kMaxPool, {g}, attrs({{"kernel_shape", std::vector<int64_t>{3, 3}}, {"strides", std::vector<int64_t>{2, 2}},
                                                     {"pads", std::vector<int64_t>{1, 1, 1, 1}}, {"dilations", std::vector<int64_t>{1, 1}},
                                                     {"ceil_mode", int64_t{0}}}));
  TensorId ap = b.node(OpType::kAveragePool, {mp}, attrs({{"kernel_shape", std::vector<int64_t>{2, 2}}, {"strides", std::vector<int64_t>{2, 2}},
                                                          {"pads", std::vector<int64_t>{0, 0, 0, 0}}, {"ceil_mode", int64_t{0}},
                                                          {"count_include_pad", int64_t{0}}}));
  TensorId gap = b.node(OpType::kGlobalAveragePool, {ap});
  TensorId r = b.node(OpType::kReshape, {gap}, attrs({{"shape", std::vector<int64_t>{1, 6}}}));
  expect_agreement(b.finish({r, mp}), 8);
}

TEST(XnnpackF32, UnclaimedNodeSplitsThePartitionAndLayoutsAreConvertedAtTheBoundaries) {
  GraphBuilder b;
  TensorId x = b.input(DType::kF32, {1, 3, 6, 7});
  TensorId c = b.node(OpType::kConv, {x, b.weights_f32({5, 3, 3, 3})}, conv_attrs({1, 1}, {1, 1, 1, 1}));
  TensorId t = b.node(OpType::kSoftmax, {c}, attrs({{"axis", int64_t{1}}, {"coerce_2d", int64_t{0}}}));  // reference: NCHW
  TensorId d = b.node(OpType::kConv, {t, b.weights_f32({4, 5, 1, 1}), b.weights_f32({4})}, conv_attrs({1, 1}, {0, 0, 0, 0}));
  auto g = b.finish({d, c});
  expect_agreement(g, 2);
  auto p = Program::from_graph(g, LoadOptions{{"xnnpack"}, 1});
  ASSERT_TRUE(p);
  ASSERT_EQ(p->steps().size(), 3u);
  EXPECT_EQ(p->steps()[1].backend, "reference");
}

// W8A8 as the toolchain emits it: i8 activations per tensor, i8 weights per output channel, i32 bias.
TEST(XnnpackInt8, ConvDepthwiseGemmAddPoolingAndConversions) {
  GraphBuilder b;
  const QuantParams q0 = per_tensor(0.02f, -3), q1 = per_tensor(0.05f, 4), q2 = per_tensor(0.04f, -128), q3 = per_tensor(0.07f, 10);
  TensorId xf = b.input(DType::kF32, {1, 4, 9, 9});
  TensorId x = b.node(OpType::kQuantizeLinear, {xf}, {}, DType::kI8, q0);
  TensorId c = b.node(OpType::kConv, {x, b.weights_i8({8, 4, 3, 3}, 0, 0.004f), b.bias_i32(8)}, conv_attrs({1, 1}, {1, 1, 1, 1}), DType::kI8, q1);
  TensorId d = b.node(OpType::kConv, {c, b.weights_i8({8, 1, 3, 3}, 0, 0.01f), b.bias_i32(8)}, conv_attrs({2, 2}, {1, 1, 1, 1}, 8),
                      DType::kI8, q2);
  TensorId e = b.node(OpType::kConv, {d, b.weights_i8({8, 8, 1, 1}, 0, 0.01f), b.bias_i32(8)}, conv_attrs({1, 1}, {0, 0, 0, 0}), DType::kI8, q3);
  TensorId a = b.node(OpType::kAdd, {e, d}, {}, DType::kI8, q1);
  TensorId r = b.node(OpType::kRelu, {a}, {}, DType::kI8, q1);
  TensorId m = b.node(OpType::kMaxPool, {r}, attrs({{"kernel_shape", std::vector<int64_t>{2, 2}}, {"strides", std::vector<int64_t>{1, 1}},
                                                    {"pads", std::vector<int64_t>{0, 0, 0, 0}}, {"dilations", std::vector<int64_t>{1, 1}},
                                                    {"ceil_mode", int64_t{0}}}),
                      DType::kI8, q1);
  TensorId f = b.node(OpType::kReshape, {m}, attrs({{"shape", std::vector<int64_t>{1, 128}}}), DType::kI8, q1);
  TensorId y = b.node(OpType::kGemm, {f, b.weights_i8({10, 128}, 0, 0.003f), b.bias_i32(10)}, gemm_attrs(1), DType::kI8, q0);
  TensorId gp = b.node(OpType::kGlobalAveragePool, {r}, {}, DType::kI8, q1);
  TensorId yf = b.node(OpType::kDequantizeLinear, {y});
  expect_agreement(b.finish({yf, gp}), 11);
}

// Sessions of one Program running at the same time: each overlap gets an XNNPACK runtime of its
// own, built from a fresh subgraph (XNNPACK rewrites a subgraph when it makes a runtime from it).
TEST(Xnnpack, ConcurrentSessionsOfOneProgramAgree) {
  auto g = model::import_onnx(std::filesystem::path(EDGELOOP_SOURCE_DIR) / "examples/fashion_mnist/fashion_cnn.onnx");
  ASSERT_TRUE(g) << g.error().message;
  auto p = Program::from_graph(*g, LoadOptions{{"xnnpack"}, 1});
  ASSERT_TRUE(p) << p.error().message;
  const auto inputs = random_inputs(*g, 9);
  Session first(*p);
  auto want = first.run(inputs);
  ASSERT_TRUE(want);
  std::vector<std::thread> workers;
  std::atomic<int> mismatches{0}, failures{0};
  for (int t = 0; t < 4; ++t)
    workers.emplace_back([&] {
      Session s(*p);
      for (int i = 0; i < 200; ++i) {
        auto got = s.run(inputs);
        if (!got) ++failures;
        else if ((*got)[0].bytes != (*want)[0].bytes) ++mismatches;
      }
    });
  for (auto& w : workers) w.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(mismatches.load(), 0);
}

TEST(Xnnpack, UnknownBackendsAndZeroThreadsAreRefused) {
  EXPECT_EQ(make_backend("nope").error().code, ErrorCode::kInvalidArgument);
  auto p = Program::from_graph(testing::tiny_mlp(), LoadOptions{{"xnnpack"}, 0});
  EXPECT_EQ(p.error().code, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace edgeloop::runtime

// The quantization pass on the Fashion-MNIST CNN: each scheme's graph structure, size and
// accuracy, and refusals. Accuracy over all 10,000 images is measured by `edgeloop model
// variants` (docs/quantization.md); here a slice keeps the suite fast.
#include "edgeloop/compress/quantize.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "edgeloop/compress/evaluate.h"
#include "edgeloop/model/onnx_import.h"
#include "edgeloop/runtime/golden.h"

namespace edgeloop::compress {
namespace {

using ::testing::HasSubstr;

model::Graph fashion_cnn() {
  auto g = model::import_onnx(std::filesystem::path(EDGELOOP_SOURCE_DIR) / "examples/fashion_mnist/fashion_cnn.onnx");
  EXPECT_TRUE(g) << g.error().message;
  return std::move(*g);
}

// Calibration statistics of the CNN over 200 training images, computed once.
const CalibrationStats& cnn_stats() {
  static const CalibrationStats stats = [] {
    const model::Graph g = fashion_cnn();
    auto program = runtime::Program::from_graph(g);
    auto src = CalibrationSource::parse("fashion-mnist:train:200", g);
    auto s = collect_statistics(*program, *src);
    EXPECT_TRUE(s) << s.error().message;
    return std::move(*s);
  }();
  return stats;
}

struct Accuracy {
  double top1 = 0, agreement = 0;  // agreement: share of images with the FP32 model's top-1
};

Accuracy evaluate(const model::Graph& g, int64_t images = 500) {
  static const ImageDataset data = *load_image_set("fashion-mnist:test:500");
  static const std::vector<int32_t> reference = [] {
    auto p = runtime::Program::from_graph(fashion_cnn());
    EvalOptions o;
    o.threads = 2;
    return evaluate_classifier(*p, data, o)->predicted;
  }();
  auto p = runtime::Program::from_graph(g);
  EXPECT_TRUE(p) << p.error().message;
  if (!p) return {};
  EvalOptions o;
  o.threads = 2;
  auto r = evaluate_classifier(*p, slice(data, 0, images), o);
  EXPECT_TRUE(r) << r.error().message;
  if (!r) return {};
  int64_t same = 0;
  for (int64_t i = 0; i < r->count; ++i) same += r->predicted[i] == reference[i];
  return {r->accuracy(), static_cast<double>(same) / r->count};
}

int count_ops(const model::Graph& g, model::OpType op) {
  return static_cast<int>(std::count_if(g.nodes.begin(), g.nodes.end(), [&](const model::Node& n) { return n.op == op; }));
}

TEST(Quantize, FindsTheWeightedLayersOfTheCnn) {
  const auto layers = weighted_layers(fashion_cnn());
  ASSERT_EQ(layers.size(), 5u);  // three convs, two linear layers
  EXPECT_EQ(layers[0].op, model::OpType::kConv);
  EXPECT_EQ(layers[0].out_channels, 32);
  EXPECT_EQ(layers[0].reduction, 9);
  EXPECT_EQ(layers[4].op, model::OpType::kGemm);
  EXPECT_EQ(layers[4].out_channels, 10);
  EXPECT_EQ(layers[4].reduction, 128);
  for (const Layer& l : layers) EXPECT_EQ(l.ineligible, "") << l.node;
}

TEST(Quantize, Fp16HalvesTheWeightsAndKeepsThePredictions) {
  const model::Graph g = fashion_cnn();
  auto q = quantize_graph(g, uniform_plan(g, LayerMode::kFp16), nullptr);
  ASSERT_TRUE(q) << q.error().message;
  EXPECT_EQ(q->graph.meta.variant, "fp16");
  EXPECT_EQ(count_ops(q->graph, model::OpType::kCast), 5);
  EXPECT_NEAR(static_cast<double>(q->report.weight_bytes_after), q->report.weight_bytes_before / 2.0,
              q->report.weight_bytes_before * 0.01);
  EXPECT_TRUE(q->report.float_ops.empty());
  EXPECT_GE(evaluate(q->graph, 200).agreement, 0.995);
  EXPECT_TRUE(runtime::check_golden(*runtime::Program::from_graph(q->graph)));
}

TEST(Quantize, Int8RunsEveryLayerOnIntegersWithOneQuantizeAndOneDequantize) {
  const model::Graph g = fashion_cnn();
  auto q = quantize_graph(g, uniform_plan(g, LayerMode::kInt8), &cnn_stats());
  ASSERT_TRUE(q) << q.error().message;
  const model::Graph& out = q->graph;
  EXPECT_EQ(q->report.quantize_nodes, 1);    // the input
  EXPECT_EQ(q->report.dequantize_nodes, 1);  // the logits
  EXPECT_EQ(q->report.fused.size(), 4u);     // every Relu follows a conv or linear layer
  EXPECT_EQ(count_ops(out, model::OpType::kRelu), 0);
  EXPECT_TRUE(q->report.float_ops.empty());
  for (const model::Node& n : out.nodes) {
    if (n.op != model::OpType::kConv && n.op != model::OpType::kGemm) continue;
    const model::Tensor& w = out.tensors[n.inputs[1]];
    EXPECT_EQ(w.dtype, model::DType::kI8) << n.name;
    EXPECT_EQ(w.quant.scales.size(), static_cast<size_t>(w.shape[0])) << n.name;  // per output channel
    EXPECT_EQ(out.tensors[n.inputs[2]].dtype, model::DType::kI32) << n.name;
    EXPECT_EQ(n.attrs.get_string("requantize"), "fixed_point");
    EXPECT_EQ(out.tensors[n.outputs[0]].dtype, model::DType::kI8);
  }
  // The graph's interface is unchanged: f32 in, f32 out, same names.
  EXPECT_EQ(out.tensors[out.inputs[0]].name, g.tensors[g.inputs[0]].name);
  EXPECT_EQ(out.tensors[out.outputs[0]].name, g.tensors[g.outputs[0]].name);
  EXPECT_EQ(out.tensors[out.outputs[0]].dtype, model::DType::kF32);
  EXPECT_LT(q->report.weight_bytes_after, q->report.weight_bytes_before * 0.26);
  const Accuracy a = evaluate(out);
  EXPECT_GE(a.agreement, 0.98);
  EXPECT_GE(a.top1, 0.88);
  // The smoke test passes on the reference kernels and on the device's backends (XNNPACK
  // requantizes differently): the golden tolerance is 16 steps of the dequantized output.
  const model::Node& last = out.nodes.back();
  ASSERT_EQ(last.op, model::OpType::kDequantizeLinear);
  EXPECT_FLOAT_EQ(out.meta.golden->atol, 16.f * out.tensors[last.inputs[0]].quant.scales[0]);
  EXPECT_TRUE(runtime::check_golden(*runtime::Program::from_graph(out, runtime::LoadOptions::reference())));
  EXPECT_TRUE(runtime::check_golden(*runtime::Program::from_graph(out)));
}

TEST(Quantize, Int4WeightsArePackedPerGroupWithHalfScales) {
  const model::Graph g = fashion_cnn();
  QuantizeOptions options;
  options.group_size = 32;
  for (LayerMode mode : {LayerMode::kW4A8, LayerMode::kW4A32}) {
    const QuantPlan plan = uniform_plan(g, mode, options.group_size);
    // The first conv has rows of 9 weights, shorter than a group: it stays at 8 (w4a8) or 16 bits.
    EXPECT_EQ(plan.mode_of("/features/features.0/Conv"), mode == LayerMode::kW4A8 ? LayerMode::kInt8 : LayerMode::kFp16);
    EXPECT_EQ(plan.mode_of("/features/features.4/Conv"), mode);
    auto q = quantize_graph(g, plan, &cnn_stats(), options);
    ASSERT_TRUE(q) << q.error().message;
    int int4 = 0;
    for (const model::Tensor& t : q->graph.tensors) {
      if (t.dtype != model::DType::kI4) continue;
      ++int4;
      EXPECT_EQ(t.quant.block_size, 32);
      EXPECT_EQ(t.quant.scale_dtype, model::DType::kF16);
      EXPECT_EQ(t.data.size(), static_cast<size_t>((t.elements() + 1) / 2));
    }
    EXPECT_EQ(int4, 4) << layer_mode_name(mode);
    EXPECT_EQ(count_ops(q->graph, model::OpType::kDequantizeLinear), mode == LayerMode::kW4A32 ? 4 : 1);
    // 4 bits plus an f16 scale per 32 weights is 4.5 bits, 0.141x of f32; biases stay 32-bit.
    EXPECT_LT(q->report.weight_bytes_after, q->report.weight_bytes_before * 0.145);
    const Accuracy a = evaluate(q->graph);
    EXPECT_GE(a.agreement, 0.97) << layer_mode_name(mode);
    EXPECT_GE(a.top1, 0.88) << layer_mode_name(mode);
  }
}

TEST(Quantize, OpsWithoutIntegerKernelsRunInFloatBetweenDequantizeAndQuantize) {
  // Conv → Sigmoid → Conv: Sigmoid has no integer kernel, so it gets a Dequantize before and a
  // Quantize after, and the report names it.
  model::Graph g = fashion_cnn();
  for (model::Node& n : g.nodes)
    if (n.name == "/features/features.6/Relu") n.op = model::OpType::kSigmoid;
  auto program = runtime::Program::from_graph(g);
  ASSERT_TRUE(program) << program.error().message;
  auto src = CalibrationSource::parse("fashion-mnist:train:20", g);
  auto stats = collect_statistics(*program, *src);
  ASSERT_TRUE(stats);
  auto q = quantize_graph(g, uniform_plan(g, LayerMode::kInt8), &*stats);
  ASSERT_TRUE(q) << q.error().message;
  EXPECT_THAT(q->report.float_ops, ::testing::ElementsAre("/features/features.6/Relu (Sigmoid)"));
  EXPECT_EQ(q->report.quantize_nodes, 2);
  EXPECT_EQ(q->report.dequantize_nodes, 2);
  EXPECT_EQ(q->report.fused.size(), 3u);
  EXPECT_THAT(q->graph.meta.properties.back().second, HasSubstr("\"float_ops\":[\"/features/features.6/Relu (Sigmoid)\"]"));
}

TEST(Quantize, RefusesQuantizedModelsUnknownLayersAndMissingCalibration) {
  const model::Graph g = fashion_cnn();
  auto fp16 = quantize_graph(g, uniform_plan(g, LayerMode::kFp16), nullptr);
  ASSERT_TRUE(fp16);
  auto twice = quantize_graph(fp16->graph, uniform_plan(g, LayerMode::kFp16), nullptr);
  ASSERT_FALSE(twice);
  EXPECT_THAT(twice.error().message, HasSubstr("already a quantized variant ('fp16')"));
  model::Graph unnamed_variant = fp16->graph;
  unnamed_variant.meta.variant.clear();
  EXPECT_THAT(quantize_graph(unnamed_variant, {}, nullptr).error().message, HasSubstr("is already quantized (tensor"));

  QuantPlan bogus;
  bogus.set("no-such-layer", LayerMode::kInt8);
  EXPECT_THAT(quantize_graph(g, bogus, &cnn_stats()).error().message, HasSubstr("'no-such-layer', which is not a weighted layer"));
  auto no_stats = quantize_graph(g, uniform_plan(g, LayerMode::kInt8), nullptr);
  ASSERT_FALSE(no_stats);
  EXPECT_THAT(no_stats.error().message, HasSubstr("calibration"));
}

}  // namespace
}  // namespace edgeloop::compress

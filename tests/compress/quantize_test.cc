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

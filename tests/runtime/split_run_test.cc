// Split inference end to end on the runtime: head then tail gives exactly what the whole model
// gives (model/split.h), and the halves' golden vectors (runtime/golden.h).
#include <gtest/gtest.h>

#include <filesystem>

#include "edgeloop/model/artifact.h"
#include "edgeloop/model/onnx_import.h"
#include "edgeloop/model/split.h"
#include "edgeloop/runtime/golden.h"
#include "edgeloop/runtime/session.h"

namespace edgeloop::runtime {
namespace {

model::Graph fashion_cnn() {
  auto g = model::import_onnx(std::filesystem::path(EDGELOOP_SOURCE_DIR) / "examples/fashion_mnist/fashion_cnn.onnx");
  EXPECT_TRUE(g) << g.error().message;
  return g ? std::move(*g) : model::Graph{};
}

std::vector<model::TensorData> run_graph(const model::Graph& g, const std::vector<model::TensorData>& inputs) {
  auto program = Program::from_graph(g, LoadOptions::reference());
  EXPECT_TRUE(program) << program.error().message;
  if (!program) return {};
  Session session(*program);
  auto out = session.run(inputs);
  EXPECT_TRUE(out) << out.error().message;
  return out ? std::move(*out) : std::vector<model::TensorData>{};
}

TEST(SplitRun, HeadThenTailIsBitIdenticalToTheWholeCnnAtEveryCut) {
  const model::Graph g = fashion_cnn();
  const std::vector<std::string> cuts = model::cut_candidates(g);
  // A chain CNN: every activation between the input and the logits separates it.
  ASSERT_GE(cuts.size(), 4u);
  std::vector<std::vector<model::TensorData>> inputs;
  for (uint64_t seed : {1, 2, 3}) inputs.push_back({random_input(g.tensors[g.inputs[0]], seed)});
  for (const std::string& cut : cuts) {
    SCOPED_TRACE(cut);
    auto split = model::split_at(g, cut);
    ASSERT_TRUE(split) << split.error().message;
    EXPECT_LT(split->head.nodes.size(), g.nodes.size());
    EXPECT_LT(split->tail.nodes.size(), g.nodes.size());
    EXPECT_EQ(split->head.nodes.size() + split->tail.nodes.size(), g.nodes.size());
    for (const auto& in : inputs) {
      const auto whole = run_graph(g, in);
      const auto activation = run_graph(split->head, in);
      ASSERT_EQ(activation.size(), 1u);
      EXPECT_EQ(activation[0].name, cut);
      const auto out = run_graph(split->tail, activation);
      ASSERT_EQ(out.size(), whole.size());
      for (size_t i = 0; i < out.size(); ++i) {
        EXPECT_EQ(out[i].name, whole[i].name);
        EXPECT_EQ(out[i].shape, whole[i].shape);
        EXPECT_EQ(out[i].bytes, whole[i].bytes) << "output " << whole[i].name << " differs";
      }
    }
  }
}

TEST(SplitRun, HalvesGetGoldenVectorsFromTheWholeAndSurviveTheArtifactFormat) {
  model::Graph g = fashion_cnn();
  ASSERT_TRUE(attach_golden(g));
  const std::vector<std::string> cuts = model::cut_candidates(g);
  ASSERT_FALSE(cuts.empty());
  auto split = model::split_at(g, cuts[cuts.size() / 2]);
  ASSERT_TRUE(split) << split.error().message;
  ASSERT_TRUE(attach_split_golden(*split, g));
  // The tail's golden outputs are the whole model's.
  EXPECT_EQ(split->tail.meta.golden->outputs[0].bytes, g.meta.golden->outputs[0].bytes);
  EXPECT_EQ(split->head.meta.golden->inputs[0].bytes, g.meta.golden->inputs[0].bytes);
  for (const model::Graph* half : {&split->head, &split->tail}) {
    auto bytes = model::serialize_artifact(*half);
    ASSERT_TRUE(bytes) << bytes.error().message;
    auto program = Program::load(SharedBytes::adopt(std::move(*bytes)));  // default backends
    ASSERT_TRUE(program) << program.error().message;
    auto s = check_golden(*program);
    EXPECT_TRUE(s) << s.error().message;
  }
  // Without a golden vector on the whole there is nothing to derive.
  model::Graph bare = fashion_cnn();
  auto split2 = model::split_at(bare, cuts.front());
  ASSERT_TRUE(split2);
  EXPECT_EQ(attach_split_golden(*split2, bare).error().code, ErrorCode::kFailedPrecondition);
}

}  // namespace
}  // namespace edgeloop::runtime

#include "edgeloop/model/split.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "edgeloop/model/shape_inference.h"
#include "testing/graphs.h"

namespace edgeloop::model {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<std::string> names(const Graph& g, const std::vector<TensorId>& ids) {
  std::vector<std::string> out;
  for (TensorId id : ids) out.push_back(g.tensors[id].name);
  return out;
}
std::vector<std::string> node_names(const Graph& g) {
  std::vector<std::string> out;
  for (const Node& n : g.nodes) out.push_back(n.name);
  return out;
}
bool has_tensor(const Graph& g, std::string_view name) { return g.find_tensor(name).has_value(); }

// A [1,4] f32 activation.
Tensor act(std::string name) { return {std::move(name), DType::kF32, {1, 4}, {}, false, {}}; }

// x → relu a → relu b → relu c ; add(b, c) → y. `b` is read after `c`: a cut at c leaves b behind.
Graph skip_graph() {
  Graph g;
  const TensorId x = g.add_tensor(act("x")), a = g.add_tensor(act("a")), b = g.add_tensor(act("b")),
                 c = g.add_tensor(act("c")), y = g.add_tensor(act("y"));
  g.nodes.push_back({OpType::kRelu, "r1", {x}, {a}, {}});
  g.nodes.push_back({OpType::kRelu, "r2", {a}, {b}, {}});
  g.nodes.push_back({OpType::kRelu, "r3", {b}, {c}, {}});
  g.nodes.push_back({OpType::kAdd, "add", {b, c}, {y}, {}});
  g.inputs = {x};
  g.outputs = {y};
  g.meta.name = "skip";
  return g;
}

TEST(Split, CutsTheTinyMlpIntoAHeadAndATailThatVerify) {
  const Graph g = testing::tiny_mlp();
  auto s = split_at(g, "h");
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->cut, "h");
  EXPECT_THAT(node_names(s->head), ElementsAre("mm"));
  EXPECT_THAT(names(s->head, s->head.inputs), ElementsAre("x"));
  EXPECT_THAT(names(s->head, s->head.outputs), ElementsAre("h"));
  EXPECT_THAT(node_names(s->tail), ElementsAre("add", "relu"));
  EXPECT_THAT(names(s->tail, s->tail.inputs), ElementsAre("h"));
  EXPECT_THAT(names(s->tail, s->tail.outputs), ElementsAre("y"));
  // Each constant goes to the half that reads it.
  EXPECT_TRUE(has_tensor(s->head, "w"));
  EXPECT_FALSE(has_tensor(s->head, "b"));
  EXPECT_TRUE(has_tensor(s->tail, "b"));
  EXPECT_FALSE(has_tensor(s->tail, "w"));
  EXPECT_TRUE(verify_graph(s->head));
  EXPECT_TRUE(verify_graph(s->tail));
  // Metadata: identity on both; input specs on the head, labels on the tail; no golden.
  for (const Graph* half : {&s->head, &s->tail}) {
    EXPECT_EQ(half->meta.name, "tiny");
    EXPECT_EQ(half->meta.version, "3");
    EXPECT_EQ(half->meta.variant, "fp32");
    EXPECT_FALSE(half->meta.golden);
  }
  EXPECT_EQ(s->head.meta.inputs.size(), 1u);
  EXPECT_TRUE(s->tail.meta.inputs.empty());
  EXPECT_TRUE(s->head.meta.labels.empty());
  EXPECT_EQ(s->tail.meta.labels, g.meta.labels);
  const auto prop = [](const Graph& half, const std::string& key) {
    for (const auto& [k, v] : half.meta.properties)
      if (k == key) return v;
    return std::string("<none>");
  };
  EXPECT_EQ(prop(s->head, "split.half"), "head");
  EXPECT_EQ(prop(s->tail, "split.half"), "tail");
  EXPECT_EQ(prop(s->tail, "split.cut"), "h");
  EXPECT_EQ(prop(s->tail, "plan"), "all fp32");
}

TEST(Split, CandidatesAreTheSeparatingTensorsInExecutionOrder) {
  EXPECT_THAT(cut_candidates(testing::tiny_mlp()), ElementsAre("h", "hb"));
  // b feeds both c and the add: a cut at c would leave b behind; a and b separate.
  EXPECT_THAT(cut_candidates(skip_graph()), ElementsAre("a", "b"));
  Graph broken = testing::tiny_mlp();
  broken.outputs.clear();
  EXPECT_TRUE(cut_candidates(broken).empty());
}

TEST(Split, RefusesACutThatDoesNotSeparateTheGraphNamingTheTensor) {
  const Graph g = skip_graph();
  auto r = split_at(g, "c");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_THAT(r.error().message, HasSubstr("cannot cut at 'c'"));
  EXPECT_THAT(r.error().message, HasSubstr("also need 'b'"));
  EXPECT_THAT(r.error().message, HasSubstr("cut candidates: a, b"));

  // A residual connection from the input around the cut: the tail would need the raw input.
  Graph res;
  const TensorId x = res.add_tensor(act("x")), a = res.add_tensor(act("a")), y = res.add_tensor(act("y"));
  res.nodes.push_back({OpType::kRelu, "r", {x}, {a}, {}});
  res.nodes.push_back({OpType::kAdd, "add", {a, x}, {y}, {}});
  res.inputs = {x};
  res.outputs = {y};
  r = split_at(res, "a");
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message, HasSubstr("graph input 'x' reaches the outputs"));
  EXPECT_THAT(r.error().message, HasSubstr("no single tensor to cut at"));
  EXPECT_TRUE(cut_candidates(res).empty());

  // Two outputs, one computed before the cut.
  Graph two = skip_graph();
  two.outputs.push_back(*two.find_tensor("a"));
  r = split_at(two, "b");
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message, HasSubstr("also need 'a'"));
}

TEST(Split, RefusesInputsOutputsConstantsAndUnknownNames) {
  const Graph g = testing::tiny_mlp();
  const std::pair<const char*, const char*> cases[] = {
      {"x", "graph input"}, {"y", "graph output"}, {"w", "constant"}, {"nope", "no tensor of that name"}};
  for (const auto& [name, why] : cases) {
    auto r = split_at(g, name);
    ASSERT_FALSE(r) << name;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument) << name;
    EXPECT_THAT(r.error().message, HasSubstr(fmt::format("'{}'", name)));
    EXPECT_THAT(r.error().message, HasSubstr(why));
    EXPECT_THAT(r.error().message, HasSubstr("cut candidates: h, hb"));
  }
  // A graph that does not verify is refused with the verifier's error.
  Graph broken = g;
  broken.nodes[1].inputs[0] = *broken.find_tensor("y");
  EXPECT_FALSE(split_at(broken, "h"));
}

TEST(Split, AConstantReadOnBothSidesGoesToBothHalvesSharingItsBytes) {
  Graph g;
  const TensorId x = g.add_tensor(act("x")), a = g.add_tensor(act("a")), y = g.add_tensor(act("y"));
  const TensorId k = g.add_tensor(testing::constant_f32("k", {1, 4}, {1, 2, 3, 4}));
  g.nodes.push_back({OpType::kAdd, "add1", {x, k}, {a}, {}});
  g.nodes.push_back({OpType::kAdd, "add2", {a, k}, {y}, {}});
  // Dead code: computes something nobody reads.
  const TensorId dead = g.add_tensor(act("dead"));
  g.nodes.push_back({OpType::kRelu, "unused", {x}, {dead}, {}});
  g.inputs = {x};
  g.outputs = {y};
  auto s = split_at(g, "a");
  ASSERT_TRUE(s) << s.error().message;
  const Tensor& head_k = s->head.tensors[*s->head.find_tensor("k")];
  const Tensor& tail_k = s->tail.tensors[*s->tail.find_tensor("k")];
  EXPECT_EQ(head_k.data.data(), g.tensors[k].data.data());
  EXPECT_EQ(tail_k.data.data(), g.tensors[k].data.data());
  EXPECT_THAT(node_names(s->head), ElementsAre("add1"));
  EXPECT_THAT(node_names(s->tail), ElementsAre("add2"));
  EXPECT_FALSE(has_tensor(s->head, "dead"));
  EXPECT_FALSE(has_tensor(s->tail, "dead"));
}

}  // namespace
}  // namespace edgeloop::model

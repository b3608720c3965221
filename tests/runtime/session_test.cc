#include "edgeloop/runtime/session.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "edgeloop/model/artifact.h"
#include "edgeloop/model/tensor_compare.h"
#include "edgeloop/runtime/golden.h"
#include "testing/graphs.h"

namespace edgeloop::runtime {
namespace {

TEST(Session, RunsALoadedArtifactAndMatchesHandComputedValues) {
  auto bytes = model::serialize_artifact(testing::tiny_mlp());
  ASSERT_TRUE(bytes) << bytes.error().message;
  auto program = Program::load(SharedBytes::adopt(std::move(*bytes)));
  ASSERT_TRUE(program) << program.error().message;
  Session session(*program);
  for (const std::vector<float>& x : {std::vector<float>{1, 2, 3, 4}, {-1, 0.5f, 2, -3}, {0, 0, 0, 0}}) {
    auto out = session.run(std::vector{testing::tensor_f32("x", {1, 4}, x)});
    ASSERT_TRUE(out) << out.error().message;
    ASSERT_EQ(out->size(), 1u);
    EXPECT_EQ((*out)[0].name, "y");
    auto c = model::compare_tensors((*out)[0], testing::tensor_f32("y", {1, 3}, testing::tiny_mlp_expected(x)), 1e-6, 1e-6);
    EXPECT_TRUE(c.ok) << c.message;
  }
}

TEST(Session, WrongInputsAreRefusedWithTheExpectedShape) {
  auto program = Program::from_graph(testing::tiny_mlp());
  ASSERT_TRUE(program) << program.error().message;
  Session session(*program);
  auto r = session.run(std::vector{testing::tensor_f32("x", {1, 3}, {1, 2, 3})});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("[1,4]"), std::string::npos);
  r = session.run(std::vector{testing::tensor_f32("nope", {1, 4}, {1, 2, 3, 4})});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("'x'"), std::string::npos);
  r = session.run(std::vector<model::TensorData>{});
  ASSERT_FALSE(r);
  // Unnamed inputs match by position.
  auto unnamed = testing::tensor_f32("", {1, 4}, {1, 2, 3, 4});
  EXPECT_TRUE(session.run(std::vector{unnamed}));
}

TEST(Session, ObserverSeesEveryNodeOutputInOrderWithHandComputedValues) {
  auto program = Program::from_graph(testing::tiny_mlp(), LoadOptions::reference());
  ASSERT_TRUE(program) << program.error().message;
  Session session(*program);
  const std::vector<float> x = {1, -2, 0.5f, 3};
  // h = x·W, hb = h + b, y = relu(hb), by hand.
  const float w[4][3] = {{1, 0, -1}, {2, 1, 0}, {0, 3, 1}, {-1, 0, 2}};
  const float b[3] = {0.5f, -0.5f, 0.25f};
  std::vector<float> h(3, 0.f), hb(3), y(3);
  for (int j = 0; j < 3; ++j) {
    for (int i = 0; i < 4; ++i) h[j] += x[i] * w[i][j];
    hb[j] = h[j] + b[j];
    y[j] = std::max(hb[j], 0.f);
  }
  std::vector<std::string> seen;
  std::vector<std::vector<float>> values;
  auto out = session.run(std::vector{testing::tensor_f32("x", {1, 4}, x)},
                         [&](const model::Node& node, std::span<const TensorView> outputs) {
                           seen.push_back(node.name);
                           ASSERT_EQ(outputs.size(), 1u);
                           const float* p = outputs[0].as<const float>();
                           values.emplace_back(p, p + outputs[0].elements());
                         });
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(seen, (std::vector<std::string>{"mm", "add", "relu"}));
  ASSERT_EQ(values.size(), 3u);
  for (int j = 0; j < 3; ++j) {
    EXPECT_FLOAT_EQ(values[0][j], h[j]) << j;
    EXPECT_FLOAT_EQ(values[1][j], hb[j]) << j;
    EXPECT_FLOAT_EQ(values[2][j], y[j]) << j;
  }
  // Without an observer the result is the same.
  auto plain = session.run(std::vector{testing::tensor_f32("x", {1, 4}, x)});
  ASSERT_TRUE(plain);
  EXPECT_EQ((*plain)[0].bytes, (*out)[0].bytes);
}

TEST(Golden, AttachedVectorPassesAndATamperedWeightFailsIt) {
  model::Graph g = testing::tiny_mlp();
  ASSERT_TRUE(attach_golden(g));
  ASSERT_TRUE(g.meta.golden);
  auto program = Program::from_graph(g);
  ASSERT_TRUE(program);
  EXPECT_TRUE(check_golden(*program));

  // Same graph with one weight changed: the smoke test must catch it.
  model::Graph bad = g;
  std::vector<float> w(bad.tensors[1].values<float>().begin(), bad.tensors[1].values<float>().end());
  for (float& v : w) v += 0.5f;
  bad.tensors[1] = testing::constant_f32("w", {4, 3}, w);
  auto bad_program = Program::from_graph(bad);
  ASSERT_TRUE(bad_program);
  auto s = check_golden(*bad_program);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("golden"), std::string::npos);

  model::Graph none = testing::tiny_mlp();
  EXPECT_EQ(check_golden(*Program::from_graph(none)).error().code, ErrorCode::kFailedPrecondition);
}

}  // namespace
}  // namespace edgeloop::runtime

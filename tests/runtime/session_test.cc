#include "edgeloop/runtime/session.h"

#include <gtest/gtest.h>

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

#include "edgeloop/runtime/session.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <thread>

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

// A chain of `n` Relu nodes on an f32 [1, size] tensor: many steps on the reference kernels.
model::Graph relu_chain(int n, int64_t size) {
  model::Graph g;
  model::TensorId prev = g.add_tensor({"x", model::DType::kF32, {1, size}, {}, false, {}});
  g.inputs = {prev};
  for (int i = 0; i < n; ++i) {
    const model::TensorId next = g.add_tensor({"r" + std::to_string(i), model::DType::kF32, {1, size}, {}, false, {}});
    g.nodes.push_back({model::OpType::kRelu, "relu" + std::to_string(i), {prev}, {next}, {}});
    prev = next;
  }
  g.outputs = {prev};
  return g;
}

TEST(SessionCancel, AFlagSetBetweenStepsStopsTheRunAndTheSessionRunsAgain) {
  auto program = Program::from_graph(testing::tiny_mlp(), LoadOptions::reference());
  ASSERT_TRUE(program) << program.error().message;
  ASSERT_EQ(program->steps().size(), 3u);
  Session session(*program);
  const std::vector x{testing::tensor_f32("x", {1, 4}, {1, 2, 3, 4})};
  std::atomic<bool> cancel{false};
  // Set during step 0's hook: step 1 and 2 never run.
  std::vector<size_t> ran;
  auto r = session.run(x, cancel, [&](size_t step) {
    ran.push_back(step);
    cancel.store(true);
  });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kCancelled);
  EXPECT_EQ(ran, std::vector<size_t>{0});
  EXPECT_NE(r.error().message.find("step 1 of 3"), std::string::npos) << r.error().message;
  // Already set: nothing runs at all.
  ran.clear();
  r = session.run(x, cancel, [&](size_t step) { ran.push_back(step); });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kCancelled);
  EXPECT_TRUE(ran.empty());
  // Cleared: the same session gives the right answer, with and without a hook.
  cancel.store(false);
  for (int i = 0; i < 2; ++i) {
    r = i == 0 ? session.run(x, cancel) : session.run(x);
    ASSERT_TRUE(r) << r.error().message;
    auto c = model::compare_tensors((*r)[0], testing::tensor_f32("y", {1, 3}, testing::tiny_mlp_expected({1, 2, 3, 4})), 0, 0);
    EXPECT_TRUE(c.ok) << c.message;
  }
}

TEST(SessionCancel, AnotherThreadCancelsARunningModel) {
  constexpr int kSteps = 50;
  auto program = Program::from_graph(relu_chain(kSteps, 256), LoadOptions::reference());
  ASSERT_TRUE(program) << program.error().message;
  Session session(*program);
  const std::vector x{model::TensorData::zeros("x", model::DType::kF32, {1, 256})};
  std::atomic<bool> cancel{false};
  std::atomic<bool> started{false}, cancelled{false};
  std::thread canceller([&] {
    while (!started.load()) std::this_thread::yield();
    cancel.store(true, std::memory_order_release);  // what the engine's watchdog does on overrun
    cancelled.store(true);
  });
  // The hook only holds the run inside step 0 until the other thread has set the flag, so the
  // test does not depend on scheduling; the session must see that thread's store.
  std::vector<size_t> ran;
  auto r = session.run(x, cancel, [&](size_t step) {
    ran.push_back(step);
    started.store(true);
    while (!cancelled.load()) std::this_thread::yield();
  });
  canceller.join();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kCancelled);
  EXPECT_EQ(ran, std::vector<size_t>{0});
  EXPECT_NE(r.error().message.find(fmt::format("step 1 of {} ('relu1')", kSteps)), std::string::npos) << r.error().message;
  cancel.store(false);
  r = session.run(x, cancel);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ((*r)[0].bytes, x[0].bytes);
}

}  // namespace
}  // namespace edgeloop::runtime

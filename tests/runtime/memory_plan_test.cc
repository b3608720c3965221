#include "edgeloop/runtime/memory_plan.h"

#include <gtest/gtest.h>

#include <random>

namespace edgeloop::runtime {
namespace {

using model::DType;
using model::Graph;

// Random DAG of Relu-like nodes; the planner needs only structure and sizes.
Graph random_graph(std::mt19937& rng, int nodes) {
  Graph g;
  g.inputs.push_back(g.add_tensor({"in", DType::kF32, {1 + static_cast<int64_t>(rng() % 64)}, {}, false, {}}));
  std::vector<model::TensorId> avail = {g.inputs[0]};
  for (int i = 0; i < nodes; ++i) {
    model::Node n{model::OpType::kAdd, "n" + std::to_string(i), {}, {}, {}};
    n.inputs.push_back(avail[rng() % avail.size()]);
    n.inputs.push_back(avail[rng() % avail.size()]);
    auto out = g.add_tensor({"t" + std::to_string(i), DType::kF32, {1 + static_cast<int64_t>(rng() % 300)}, {}, false, {}});
    n.outputs.push_back(out);
    avail.push_back(out);
    g.nodes.push_back(n);
  }
  g.outputs = {avail.back(), avail[avail.size() / 2]};
  return g;
}

TEST(MemoryPlan, TensorsAliveTogetherNeverShareBytes) {
  std::mt19937 rng(7);
  for (int iter = 0; iter < 200; ++iter) {
    Graph g = random_graph(rng, 2 + iter % 40);
    MemoryPlan p = plan_memory(g);
    const int end = static_cast<int>(g.nodes.size());
    std::vector<int> first(g.tensors.size()), last(g.tensors.size());
    first[0] = last[0] = -1;
    for (int s = 0; s < end; ++s) {
      for (auto id : g.nodes[s].outputs) first[id] = last[id] = s;
      for (auto id : g.nodes[s].inputs) last[id] = std::max(last[id], s);
    }
    for (auto id : g.outputs) last[id] = end;
    for (size_t a = 0; a < g.tensors.size(); ++a) {
      ASSERT_GE(p.offsets[a], 0);
      EXPECT_EQ(p.offsets[a] % kArenaAlignment, 0);
      EXPECT_LE(p.offsets[a] + g.tensors[a].byte_size(), p.arena_bytes);
      for (size_t b = a + 1; b < g.tensors.size(); ++b) {
        if (first[a] > last[b] || first[b] > last[a]) continue;
        const int64_t a0 = p.offsets[a], a1 = a0 + g.tensors[a].byte_size();
        const int64_t b0 = p.offsets[b], b1 = b0 + g.tensors[b].byte_size();
        ASSERT_TRUE(a1 <= b0 || b1 <= a0) << "tensors " << a << " and " << b << " overlap in iteration " << iter;
      }
    }
    EXPECT_LE(p.arena_bytes, p.naive_bytes);
  }
}

TEST(MemoryPlan, AChainReusesMemory) {
  Graph g;
  g.inputs.push_back(g.add_tensor({"x", DType::kF32, {1024}, {}, false, {}}));
  model::TensorId prev = g.inputs[0];
  for (int i = 0; i < 10; ++i) {
    auto t = g.add_tensor({"t" + std::to_string(i), DType::kF32, {1024}, {}, false, {}});
    g.nodes.push_back({model::OpType::kRelu, "r", {prev}, {t}, {}});
    prev = t;
  }
  g.outputs = {prev};
  MemoryPlan p = plan_memory(g);
  EXPECT_EQ(p.naive_bytes, 11u * 4096);
  EXPECT_EQ(p.arena_bytes, 2u * 4096);  // ping-pong between two buffers
}

}  // namespace
}  // namespace edgeloop::runtime

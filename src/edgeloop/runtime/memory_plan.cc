#include "edgeloop/runtime/memory_plan.h"

#include <algorithm>
#include <numeric>

namespace edgeloop::runtime {

MemoryPlan plan_memory(const model::Graph& g, std::span<const char> internal) {
  const size_t n = g.tensors.size();
  const int end = static_cast<int>(g.nodes.size());
  std::vector<int> first(n, -2), last(n, -2);  // -2: not an activation
  for (model::TensorId id : g.inputs) first[id] = last[id] = -1;
  for (int step = 0; step < end; ++step) {
    const model::Node& node = g.nodes[step];
    for (model::TensorId id : node.outputs) first[id] = last[id] = step;
    for (model::TensorId id : node.inputs)
      if (id != model::kNoTensor && first[id] != -2) last[id] = std::max(last[id], step);
  }
  for (model::TensorId id : g.outputs)
    if (first[id] != -2) last[id] = end;

  MemoryPlan plan;
  plan.offsets.assign(n, -1);
  std::vector<size_t> order;
  std::vector<size_t> size(n, 0);
  for (size_t i = 0; i < n; ++i)
    if (first[i] != -2 && !g.tensors[i].constant && !(i < internal.size() && internal[i])) {
      size[i] = align_up(std::max<size_t>(g.tensors[i].byte_size(), 1), kArenaAlignment);
      plan.naive_bytes += size[i];
      order.push_back(i);
    }
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return size[a] > size[b]; });

  std::vector<size_t> placed;
  for (size_t t : order) {
    // Placed tensors alive at the same time, by offset.
    std::vector<size_t> live;
    for (size_t p : placed)
      if (first[p] <= last[t] && first[t] <= last[p]) live.push_back(p);
    std::sort(live.begin(), live.end(), [&](size_t a, size_t b) { return plan.offsets[a] < plan.offsets[b]; });
    size_t offset = 0;
    for (size_t p : live) {
      const auto p_off = static_cast<size_t>(plan.offsets[p]);
      if (offset + size[t] <= p_off) break;
      offset = std::max(offset, p_off + size[p]);
    }
    plan.offsets[t] = static_cast<int64_t>(offset);
    plan.arena_bytes = std::max(plan.arena_bytes, offset + size[t]);
    placed.push_back(t);
  }
  return plan;
}

}  // namespace edgeloop::runtime

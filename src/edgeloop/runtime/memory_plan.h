// Static memory planning: every activation gets a fixed offset in one arena, chosen so that
// tensors whose lifetimes overlap never share bytes.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "edgeloop/model/graph.h"

namespace edgeloop::runtime {

inline constexpr size_t kArenaAlignment = 64;

struct MemoryPlan {
  std::vector<int64_t> offsets;  // per tensor: byte offset in the arena; -1 for constants and unused tensors
  size_t arena_bytes = 0;        // bytes the arena needs
  size_t naive_bytes = 0;        // bytes if every activation had its own buffer
};

// Lifetime of a tensor = [step that produces it, last step that reads it]; graph inputs are
// live from the start, graph outputs to the end. Tensors are placed largest first, each at the
// lowest aligned offset that does not overlap a placed tensor whose lifetime intersects
// (TFLite's "greedy by size" arena planner). Tensors marked in `internal` (by TensorId; live only
// inside a backend's partition, which keeps them in its own memory) get no place.
MemoryPlan plan_memory(const model::Graph& graph, std::span<const char> internal = {});

}  // namespace edgeloop::runtime

// The degradation ladder's vocabulary (docs/engine.md), shared by the governor that picks a
// level, the engine that acts on it and the metrics that count time in each. The names and the
// answer sources are the guardrail record's (eval/guardrail_metrics.h), which the fleet sums.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string_view>

#include "edgeloop/eval/guardrail_metrics.h"

namespace edgeloop::device {

using eval::FallbackReason;
using eval::GuardrailMetrics;
using eval::kFallbackReasonCount;
using eval::LatencyHistogram;
using eval::Source;
using eval::to_string;

// Ordered cheapest-recovery-first: each level gives up a little more than the one before it.
enum class Level {
  kFull = 0,        // L0: the main variant at the full frame rate
  kSmaller = 1,     // L1: a smaller variant from the variant matrix, installed beside the main one
  kLowerRate = 2,   // L2: the smaller variant (or the main one) at a lower frame rate
  kRemote = 3,      // L3: the remote stage, if online and within budget
  kHeuristic = 4,   // L4: the heuristic answer; no model runs
};
inline constexpr size_t kLevelCount = 5;
static_assert(kLevelCount == eval::kLevelNames.size());
inline constexpr std::array<Level, kLevelCount> kAllLevels = {Level::kFull, Level::kSmaller, Level::kLowerRate,
                                                              Level::kRemote, Level::kHeuristic};
std::string_view to_string(Level level);  // "L0-full", "L1-smaller", ... (eval::kLevelNames)
std::optional<Level> level_from_string(std::string_view text);

}  // namespace edgeloop::device

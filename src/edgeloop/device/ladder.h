// The degradation ladder's vocabulary (docs/engine.md), shared by the governor that picks a
// level, the engine that acts on it and the metrics that count time in each.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string_view>

namespace edgeloop::device {

// Ordered cheapest-recovery-first: each level gives up a little more than the one before it.
enum class Level {
  kFull = 0,        // L0: the main variant at the full frame rate
  kSmaller = 1,     // L1: a smaller variant from the variant matrix, installed beside the main one
  kLowerRate = 2,   // L2: the smaller variant (or the main one) at a lower frame rate
  kRemote = 3,      // L3: the remote stage, if online and within budget
  kHeuristic = 4,   // L4: the heuristic answer; no model runs
};
inline constexpr size_t kLevelCount = 5;
inline constexpr std::array<Level, kLevelCount> kAllLevels = {Level::kFull, Level::kSmaller, Level::kLowerRate,
                                                              Level::kRemote, Level::kHeuristic};
std::string_view to_string(Level level);  // "L0-full", "L1-smaller", ...
std::optional<Level> level_from_string(std::string_view text);

// Where an answer came from.
enum class Source {
  kLocal,          // the main variant
  kLocalDegraded,  // the smaller variant, or the local answer under the accuracy floor, flagged
  kRemote,         // the remote stage
  kHeuristic,      // no model answered in time (or L4)
};
std::string_view to_string(Source source);  // "local", "local-degraded", "remote", "heuristic"

}  // namespace edgeloop::device

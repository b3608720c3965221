#include "edgeloop/device/ladder.h"

namespace edgeloop::device {

std::string_view to_string(Level level) {
  switch (level) {
    case Level::kFull: return "L0-full";
    case Level::kSmaller: return "L1-smaller";
    case Level::kLowerRate: return "L2-lower-rate";
    case Level::kRemote: return "L3-remote";
    case Level::kHeuristic: return "L4-heuristic";
  }
  return "?";
}

std::optional<Level> level_from_string(std::string_view text) {
  for (Level l : kAllLevels)
    if (to_string(l) == text) return l;
  return std::nullopt;
}

std::string_view to_string(Source source) {
  switch (source) {
    case Source::kLocal: return "local";
    case Source::kLocalDegraded: return "local-degraded";
    case Source::kRemote: return "remote";
    case Source::kHeuristic: return "heuristic";
  }
  return "?";
}

}  // namespace edgeloop::device

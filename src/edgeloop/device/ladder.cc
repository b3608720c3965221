#include "edgeloop/device/ladder.h"

namespace edgeloop::device {

std::string_view to_string(Level level) {
  const auto i = static_cast<size_t>(level);
  return i < kLevelCount ? eval::kLevelNames[i] : "?";
}

std::optional<Level> level_from_string(std::string_view text) {
  for (Level l : kAllLevels)
    if (to_string(l) == text) return l;
  return std::nullopt;
}

}  // namespace edgeloop::device

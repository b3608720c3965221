#include "edgeloop/device/ladder.h"

#include <gtest/gtest.h>

namespace edgeloop::device {
namespace {

TEST(Ladder, LevelsRoundTripThroughTheirNames) {
  for (Level l : kAllLevels) EXPECT_EQ(level_from_string(to_string(l)), l);
  EXPECT_FALSE(level_from_string("L5"));
  EXPECT_EQ(to_string(Source::kLocalDegraded), "local-degraded");
}

}  // namespace
}  // namespace edgeloop::device

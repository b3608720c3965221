#include "edgeloop/fleet/rollout_resolver.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

namespace edgeloop::fleet {
namespace {

using ::testing::HasSubstr;

// Values from Python's hashlib (blake2b(device, digest_size=8, key=sha256(rollout_id)), little
// endian, mod 10000), so another implementation of the bucketing can check itself against them.
TEST(CohortBucket, MatchesAnIndependentImplementation) {
  EXPECT_EQ(cohort_bucket("device-0001", "r-test"), 6099u);
  EXPECT_EQ(cohort_bucket("cam-42", "0123456789abcdef0123456789abcdef"), 9946u);
}

TEST(CohortBucket, IsUniformEnoughAndIndependentAcrossRollouts) {
  constexpr int kDevices = 20000;
  int in_1 = 0, in_10 = 0, in_both_rollouts = 0;
  for (int i = 0; i < kDevices; ++i) {
    std::string id = "device-" + std::to_string(i);
    uint32_t a = cohort_bucket(id, "rollout-a"), b = cohort_bucket(id, "rollout-b");
    ASSERT_LT(a, 10000u);
    in_1 += a < 100;
    in_10 += a < 1000;
    in_both_rollouts += a < 1000 && b < 1000;
  }
  // Binomial bounds at ~5 standard deviations.
  auto near = [](int count, double p) {
    double mean = kDevices * p, sd = std::sqrt(kDevices * p * (1 - p));
    return std::abs(count - mean) < 5 * sd;
  };
  EXPECT_TRUE(near(in_1, 0.01)) << in_1;
  EXPECT_TRUE(near(in_10, 0.10)) << in_10;
  EXPECT_TRUE(near(in_both_rollouts, 0.01)) << in_both_rollouts;  // independent: 10% of 10%
}

ota::TargetInfo target(std::string version, std::vector<std::string> tiers, std::string runtime = "0.1.0") {
  ota::TargetInfo t;
  t.length = 10;
  t.sha256 = std::string(64, 'a');
  t.model = "cnn";
  t.model_version = std::move(version);
  t.variant = "int8";
  t.tiers = std::move(tiers);
  t.min_runtime_version = std::move(runtime);
  t.golden_sha256 = std::string(64, 'b');
  return t;
}

struct Fixture {
  ota::TargetsMeta targets;
  ota::RolloutMeta rollout;
  Fixture() {
    targets.targets["v1-mid"] = target("1", {"mid"});
    targets.targets["v2-mid"] = target("2", {"mid"});
    targets.targets["v2-low"] = target("2", {"low"});
    targets.targets["v3-mid-new-runtime"] = target("3", {"mid"}, "0.9.0");
    rollout.models["cnn"].tiers["mid"] = ota::TierRollout{"v2-mid", std::string("v1-mid"), 1000, "r-mid"};
  }
};

// A device id whose bucket for `rollout_id` is below / at or above `bp`.
std::string device_with(bool in_cohort, const std::string& rollout_id, int bp) {
  for (int i = 0;; ++i) {
    std::string id = "d" + std::to_string(i);
    if ((static_cast<int>(cohort_bucket(id, rollout_id)) < bp) == in_cohort) return id;
  }
}

TEST(Resolve, CohortRunsTheTargetOthersTheBaseline) {
  Fixture f;
  auto in = resolve(f.targets, f.rollout, {device_with(true, "r-mid", 1000), "mid", "0.1.0"});
  ASSERT_TRUE(in.has_value()) << in.error().message;
  EXPECT_EQ(in->path, "v2-mid");
  EXPECT_THAT(in->reason, HasSubstr("in cohort"));
  EXPECT_LT(in->bucket, 1000);
  EXPECT_EQ(in->rollout_id, "r-mid");
  auto out = resolve(f.targets, f.rollout, {device_with(false, "r-mid", 1000), "mid", "0.1.0"});
  ASSERT_TRUE(out.has_value()) << out.error().message;
  EXPECT_EQ(out->path, "v1-mid");
  EXPECT_THAT(out->reason, HasSubstr("not in cohort"));
  EXPECT_THAT(out->reason, HasSubstr("(10%)"));
}

TEST(Resolve, PinsWinTierPinOverFleetPin) {
  Fixture f;
  f.rollout.models["cnn"].pins["*"] = "1";
  auto r = resolve(f.targets, f.rollout, {device_with(true, "r-mid", 1000), "mid", "0.1.0"});
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->path, "v1-mid");
  EXPECT_EQ(r->reason, "pinned: the whole fleet to version 1");
  EXPECT_EQ(r->bucket, -1);
  f.rollout.models["cnn"].pins["mid"] = "2";
  r = resolve(f.targets, f.rollout, {"x", "mid", "0.1.0"});
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->path, "v2-mid");
  EXPECT_EQ(r->reason, "pinned: tier mid to version 2");
  // A fleet pin picks the tier's own variant of the version when there is one.
  f.rollout.models["cnn"].pins.erase("mid");
  f.rollout.models["cnn"].pins["*"] = "2";
  r = resolve(f.targets, f.rollout, {"x", "low", "0.1.0"});
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->path, "v2-low");
}

TEST(Resolve, ATargetNeedingANewerRuntimeFallsBackToTheBaseline) {
  Fixture f;
  f.rollout.models["cnn"].tiers["mid"] = ota::TierRollout{"v3-mid-new-runtime", std::string("v2-mid"), 10000, "r3"};
  auto r = resolve(f.targets, f.rollout, {"x", "mid", "0.1.0"});
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->path, "v2-mid");
  EXPECT_THAT(r->reason, HasSubstr("needs runtime 0.9.0"));
  r = resolve(f.targets, f.rollout, {"x", "mid", "1.0"});
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->path, "v3-mid-new-runtime");
}

TEST(Resolve, SaysWhyWhenThereIsNothingToRun) {
  Fixture f;
  auto r = resolve(f.targets, f.rollout, {"x", "flagship", "0.1.0"});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kNotFound);
  EXPECT_THAT(r.error().message, HasSubstr("nothing is rolled out for cnn on tier flagship"));
  f.rollout.models["cnn"].tiers["mid"].baseline.reset();
  r = resolve(f.targets, f.rollout, {device_with(false, "r-mid", 1000), "mid", "0.1.0"});
  ASSERT_FALSE(r.has_value());
  EXPECT_THAT(r.error().message, HasSubstr("no baseline"));
  r = resolve(f.targets, f.rollout, {"x", "mid", "0.1.0"}, "mobilenet");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kNotFound);
  r = resolve(f.targets, f.rollout, {"x", "mid", "new"});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace edgeloop::fleet

#include "edgeloop/device/update_cycle.h"

#include <gtest/gtest.h>

#include "device_world.h"
#include "edgeloop/device/data_dir.h"
#include "testing/result.h"

namespace edgeloop::device {
namespace {

namespace fs = std::filesystem;
using world::DeviceWorld;
using world::ReleaseSpec;


const std::vector<UpdateStep> kInstallSteps = {UpdateStep::kChecked, UpdateStep::kReconciled, UpdateStep::kFetched,
                                               UpdateStep::kInstalled, UpdateStep::kCompanion};

// Padded so that a version bump's delta is a small share of the artifact.
ReleaseSpec v(int version) { return {version, "fp32", 8192}; }

TEST(UpdateCycle, AFullDownloadProvisionsThenADeltaInstallsTheNextVersionOnTrial) {
  DeviceWorld w;
  w.release(v(1));
  w.roll_out(1);
  auto first = w.update();
  ASSERT_OK(first);
  EXPECT_EQ(w.steps, kInstallSteps);
  EXPECT_EQ(first->action, UpdateAction::kProvisioned);
  ASSERT_TRUE(first->fetch);
  EXPECT_FALSE(first->fetch->delta);
  EXPECT_EQ(first->downloaded_bytes(), first->check.resolution.target.length);
  EXPECT_EQ(first->state.active, ota::Slot::kA);
  EXPECT_FALSE(first->state.trial);

  const std::string v2 = w.release(v(2));
  w.roll_out(2);
  auto second = w.update();
  ASSERT_OK(second);
  EXPECT_EQ(w.steps, kInstallSteps);
  EXPECT_EQ(second->action, UpdateAction::kInstalledOnTrial);
  EXPECT_EQ(second->check.resolution.path, v2);
  ASSERT_TRUE(second->fetch && second->fetch->delta) << "the targets list a delta from version 1";
  EXPECT_NE(second->fetch->delta_base.find("slot a"), std::string::npos) << second->fetch->delta_base;
  EXPECT_LT(second->downloaded_bytes(), second->check.resolution.target.length / 4);
  EXPECT_EQ(second->state.active, ota::Slot::kB);
  ASSERT_TRUE(second->state.trial);
  EXPECT_EQ(second->state.trial->attempts_left, w.options.installer.trial_attempts);
  EXPECT_EQ(second->state.last_known_good, ota::Slot::kA);
  EXPECT_EQ(second->state.info(ota::Slot::kB)->version, "2");
  // The state on disk is the one reported.
  auto slots = DeviceSlots::open(w.data_dir());
  ASSERT_OK(slots);
  EXPECT_EQ((*slots)->state(), second->state);
  EXPECT_TRUE(fs::is_empty(downloads_dir(w.data_dir())));

  // Nothing new: the next cycle finds the target active and downloads nothing.
  auto again = w.update();
  ASSERT_OK(again);
  EXPECT_EQ(again->action, UpdateAction::kAlreadyActive);
  EXPECT_EQ(again->downloaded_bytes(), 0u);
  EXPECT_EQ(w.steps, (std::vector<UpdateStep>{UpdateStep::kChecked, UpdateStep::kReconciled, UpdateStep::kCompanion}));
}

TEST(UpdateCycle, WithDeltasOffTheWholeArtifactIsDownloaded) {
  DeviceWorld w;
  w.release(v(1));
  w.roll_out(1);
  ASSERT_OK(w.update());
  w.release(v(2));
  w.roll_out(2);
  w.options.fetch.use_deltas = false;
  auto r = w.update();
  ASSERT_OK(r);
  EXPECT_EQ(r->action, UpdateAction::kInstalledOnTrial);
  ASSERT_TRUE(r->fetch);
  EXPECT_FALSE(r->fetch->delta);
  EXPECT_EQ(r->downloaded_bytes(), r->check.resolution.target.length);
  EXPECT_EQ(r->state.info(*r->state.active)->version, "2");
}

TEST(UpdateCycle, ATamperedTargetIsRefusedAndTheSlotsStayAsTheyWere) {
  DeviceWorld w;
  w.release(v(1));
  w.roll_out(1);
  ASSERT_OK(w.update());
  const std::string v2 = w.release(v(2));
  w.roll_out(2);
  // The mirror serves other bytes for version 2 and for its delta: the delta fails its signed
  // hash, the fallback to the whole artifact fails it too.
  w.tamper(v2);
  for (const auto& e : fs::directory_iterator(w.public_dir() / "deltas")) w.tamper("deltas/" + e.path().filename().string());
  const auto slots_before = testing::file_tree(slots_dir(w.data_dir()));
  auto r = w.update();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kCorrupt) << r.error().message;
  EXPECT_NE(r.error().message.find("updating to " + v2), std::string::npos) << r.error().message;
  EXPECT_EQ(w.steps, (std::vector<UpdateStep>{UpdateStep::kChecked, UpdateStep::kReconciled}));
  EXPECT_EQ(testing::file_tree(slots_dir(w.data_dir())), slots_before);
  auto slots = DeviceSlots::open(w.data_dir());
  ASSERT_OK(slots);
  EXPECT_EQ((*slots)->state().active, ota::Slot::kA);
  EXPECT_FALSE((*slots)->state().trial);
}

TEST(UpdateCycle, ThePolicyDefersOnAMeteredNetworkAndTheNextCycleInstalls) {
  DeviceWorld w;
  w.release(v(1));
  w.roll_out(1);
  ASSERT_OK(w.update());
  w.release(v(2));
  w.roll_out(2);
  w.conditions.is_metered = true;  // the policy's default: only on unmetered networks
  const auto slots_before = testing::file_tree(slots_dir(w.data_dir()));
  auto deferred = w.update();
  ASSERT_FALSE(deferred);
  EXPECT_EQ(deferred.error().code, ErrorCode::kDeferred) << deferred.error().message;
  EXPECT_NE(deferred.error().message.find("deferred: on a metered network"), std::string::npos) << deferred.error().message;
  EXPECT_EQ(testing::file_tree(slots_dir(w.data_dir())), slots_before);

  w.conditions.is_metered = false;
  auto r = w.update();
  ASSERT_OK(r);
  EXPECT_EQ(r->action, UpdateAction::kInstalledOnTrial);
}

TEST(UpdateCycle, ATrialRefusesTheNextInstallBeforeAnythingIsDownloaded) {
  DeviceWorld w;
  w.release(v(1));
  w.roll_out(1);
  ASSERT_OK(w.update());
  w.release(v(2));
  w.roll_out(2);
  ASSERT_OK(w.update());  // version 2 on trial
  const std::string v3 = w.release(v(3));
  w.roll_out(3);
  auto r = w.update();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(r.error().message.find("on trial"), std::string::npos) << r.error().message;
  EXPECT_EQ(w.server().request_count("/" + v3), 0u);
  EXPECT_EQ(w.steps, (std::vector<UpdateStep>{UpdateStep::kChecked, UpdateStep::kReconciled}));
}

TEST(UpdateCycle, ARecallFlipsToTheLastKnownGoodWithNoDownload) {
  DeviceWorld w;
  w.release(v(1));
  w.roll_out(1);
  ASSERT_OK(w.update());
  w.release(v(2));
  w.roll_out(2);
  ASSERT_OK(w.update());
  ASSERT_OK(w.repo().pin(world::kModel, "mid", "1"));
  auto r = w.update();
  ASSERT_OK(r);
  EXPECT_EQ(r->action, UpdateAction::kFlippedToLastKnownGood);
  EXPECT_EQ(r->downloaded_bytes(), 0u);
  EXPECT_EQ(r->state.active, ota::Slot::kA);
  EXPECT_FALSE(r->state.trial);
}

TEST(UpdateCycle, ADeviceThatTrustsNoRootIsRefused) {
  DeviceWorld w;
  w.release(v(1));
  w.roll_out(1);
  testing::TempDir other;
  const UpdateEnvironment env{w.transport(), SystemClock::instance(), [](std::chrono::nanoseconds) {}, w.conditions};
  auto r = run_update_cycle(other.path() / "device", env, w.options);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("loading the trusted metadata"), std::string::npos) << r.error().message;
}

}  // namespace
}  // namespace edgeloop::device

#include "edgeloop/device/trial_judge.h"

#include <gtest/gtest.h>

#include "edgeloop/device/data_dir.h"
#include "edgeloop/device/engine.h"
#include "edgeloop/runtime/program.h"
#include "fixtures.h"
#include "ota/slot_fixture.h"
#include "testing/result.h"

namespace edgeloop::device {
namespace {

namespace fs = std::filesystem;
using testing::slot_artifact;


// A device with version 1 trusted in slot a and version 2 on trial in slot b.
class TrialJudgeTest : public ::testing::Test {
 protected:
  void SetUp() override { open(true); }
  void open(bool trial) {
    installer_.reset();
    auto slots = DeviceSlots::open(dir_.path());
    ASSERT_OK(slots);
    slots_ = std::move(*slots);
    installer_ = std::make_unique<ota::Installer>(slots_->store(), clock_, installer_options);
    if (!slots_->state().active) {
      ASSERT_OK(installer_->install(slot_artifact(1).shared(), slot_artifact(1).expected));
      if (trial) {
        ASSERT_OK(installer_->install(slot_artifact(2).shared(), slot_artifact(2).expected));
      }
    }
  }
  std::string slot_file_hash(ota::Slot slot) const {
    auto bytes = read_file(slots_dir(dir_.path()) / ota::slot_file(slot));
    return bytes ? to_hex(sha256(*bytes)) : "";
  }

  ota::InstallerOptions installer_options = [] {
    ota::InstallerOptions o;
    o.successes_to_mark_good = 5;
    o.success_checkpoint = 2;
    return o;
  }();
  testing::TempDir dir_;
  testing::SteppingClock clock_;
  std::unique_ptr<DeviceSlots> slots_;
  std::unique_ptr<ota::Installer> installer_;
};

TEST_F(TrialJudgeTest, KSuccessesInTheShadowMarkTheTrialGood) {
  TrialJudge judge(*installer_, {3});
  EXPECT_EQ(judge.verdict(), TrialVerdict::kOnTrial);
  for (int i = 0; i < 4; ++i) judge.record(true);
  EXPECT_EQ(judge.verdict(), TrialVerdict::kOnTrial);
  judge.record(false);  // one failure, under the limit, does not stop it
  judge.record(true);   // the 5th success
  EXPECT_EQ(judge.verdict(), TrialVerdict::kMarkedGood);
  EXPECT_EQ(judge.successes(), 5);
  EXPECT_EQ(judge.failures(), 1);
  EXPECT_FALSE(judge.error());
  const ota::SlotState& s = slots_->state();
  EXPECT_FALSE(s.trial);
  EXPECT_EQ(s.active, ota::Slot::kB);
  EXPECT_EQ(s.last_known_good, ota::Slot::kA);
}

TEST_F(TrialJudgeTest, FFailuresRevertToTheLastKnownGoodWithNothingDownloaded) {
  const std::string a = slot_file_hash(ota::Slot::kA), b = slot_file_hash(ota::Slot::kB);
  TrialJudge judge(*installer_, {2});
  judge.record(false);
  judge.record(true);
  EXPECT_EQ(judge.verdict(), TrialVerdict::kOnTrial);
  judge.record(false);
  EXPECT_EQ(judge.verdict(), TrialVerdict::kReverted);
  const ota::SlotState& s = slots_->state();
  EXPECT_EQ(s.active, ota::Slot::kA);
  EXPECT_FALSE(s.trial);
  EXPECT_FALSE(s.last_known_good);
  EXPECT_TRUE(s.info(ota::Slot::kB)->failed);
  // A pointer flip: both slots hold the bytes they held; only the state record changed.
  EXPECT_EQ(slot_file_hash(ota::Slot::kA), a);
  EXPECT_EQ(slot_file_hash(ota::Slot::kB), b);
}

TEST_F(TrialJudgeTest, FailuresRevertOnlyWhenTheyAreMoreThanTheirShareOfTheRuns) {
  TrialJudge judge(*installer_, {.max_failures = 2, .max_failure_share = 0.5});
  for (bool ok : {true, true, false, true, false}) judge.record(ok);  // 2 failures of 5 runs: 40 %
  EXPECT_EQ(judge.verdict(), TrialVerdict::kOnTrial);
  judge.record(false);  // 3 of 6: 50 %, not more
  EXPECT_EQ(judge.verdict(), TrialVerdict::kOnTrial);
  judge.record(false);  // 4 of 7
  EXPECT_EQ(judge.verdict(), TrialVerdict::kReverted);
  EXPECT_EQ(slots_->state().active, ota::Slot::kA);
}

TEST_F(TrialJudgeTest, NothingHappensAfterAVerdict) {
  TrialJudge judge(*installer_, {1});
  judge.record(false);
  ASSERT_EQ(judge.verdict(), TrialVerdict::kReverted);
  const ota::SlotState after = slots_->state();
  for (int i = 0; i < 20; ++i) judge.record(i % 2 == 0);
  EXPECT_EQ(judge.verdict(), TrialVerdict::kReverted);
  EXPECT_EQ(judge.successes(), 0);
  EXPECT_EQ(judge.failures(), 1);
  EXPECT_EQ(slots_->state(), after);  // the same generation: nothing was written
}

TEST_F(TrialJudgeTest, NothingHappensAfterMarkedGoodEither) {
  TrialJudge judge(*installer_, {1});
  for (int i = 0; i < 5; ++i) judge.record(true);
  ASSERT_EQ(judge.verdict(), TrialVerdict::kMarkedGood);
  const ota::SlotState after = slots_->state();
  judge.record(false);  // would revert a trial; there is none to judge any more
  EXPECT_EQ(judge.verdict(), TrialVerdict::kMarkedGood);
  EXPECT_EQ(slots_->state(), after);
}

TEST_F(TrialJudgeTest, WithoutATrialTheJudgeDoesNothing) {
  ASSERT_OK(installer_->mark_good());
  const ota::SlotState before = slots_->state();
  TrialJudge judge(*installer_, {1});
  EXPECT_EQ(judge.verdict(), TrialVerdict::kNoTrial);
  judge.record(false);
  judge.record(true);
  EXPECT_EQ(judge.verdict(), TrialVerdict::kNoTrial);
  EXPECT_EQ(slots_->state(), before);
}

// Plugged into a real engine: the challenger's shadow runs are what the judge hears.
TEST_F(TrialJudgeTest, TheEnginesShadowRunsEarnTheTrialItsSuccesses) {
  TrialJudge judge(*installer_, {3});
  auto lkg = runtime::Program::load(*slots_->store().read_slot(ota::Slot::kA), runtime::LoadOptions::reference());
  auto trial = runtime::Program::load(*slots_->store().read_slot(ota::Slot::kB), runtime::LoadOptions::reference());
  ASSERT_OK(lkg);
  ASSERT_OK(trial);
  const auto input = lkg->graph().meta.golden->inputs.at(0);
  EngineOptions options = fixtures::engine_options();
  options.shadow_rate = 1;
  options.on_shadow_result = judge.callback();
  auto engine = Engine::create(EngineModels{std::move(*lkg), std::nullopt, std::move(*trial), std::nullopt, std::nullopt},
                               options, SystemClock::instance());
  ASSERT_OK(engine);
  for (int i = 0; i < 20 && judge.verdict() == TrialVerdict::kOnTrial; ++i) {
    (*engine)->infer(input, std::chrono::seconds(5));
    (*engine)->drain_shadow();
  }
  EXPECT_EQ(judge.verdict(), TrialVerdict::kMarkedGood);
  EXPECT_EQ(judge.successes(), 5);
  EXPECT_GE((*engine)->metrics().shadow_runs, 5u);
  EXPECT_FALSE(slots_->state().trial);
}

}  // namespace
}  // namespace edgeloop::device

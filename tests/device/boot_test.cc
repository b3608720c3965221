#include "edgeloop/device/boot.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <fstream>

#include "edgeloop/device/data_dir.h"
#include "edgeloop/runtime/golden.h"
#include "edgeloop/runtime/session.h"
#include "ota/slot_fixture.h"
#include "testing/result.h"

namespace edgeloop::device {
namespace {

namespace fs = std::filesystem;
using testing::slot_artifact;

// A device data folder whose slots hold version 1 (trusted) and, with `trial`, version 2 on
// trial with `attempts` attempts.
void prepare(const fs::path& data_dir, bool trial, int attempts = 3) {
  auto slots = DeviceSlots::open(data_dir);
  ASSERT_OK(slots);
  ota::InstallerOptions o;
  o.trial_attempts = attempts;
  testing::SteppingClock clock;
  ota::Installer installer((*slots)->store(), clock, o);
  ASSERT_OK(installer.install(slot_artifact(1).shared(), slot_artifact(1).expected));
  if (trial) {
    ASSERT_OK(installer.install(slot_artifact(2).shared(), slot_artifact(2).expected));
  }
}

BootOptions reference() {
  BootOptions o;
  o.load = runtime::LoadOptions::reference();
  return o;
}

TEST(Boot, AnEmptyDeviceHasNothingToRun) {
  testing::TempDir dir;
  auto slots = DeviceSlots::open(dir.path());
  ASSERT_OK(slots);
  auto booted = boot((*slots)->store(), reference());
  ASSERT_OK(booted);
  EXPECT_EQ(booted->report.action, ota::StartAction::kEmpty);
  EXPECT_FALSE(booted->models);
}

TEST(Boot, WithoutATrialTheActiveModelAnswers) {
  testing::TempDir dir;
  prepare(dir.path(), false);
  auto slots = DeviceSlots::open(dir.path());
  ASSERT_OK(slots);
  auto booted = boot((*slots)->store(), reference());
  ASSERT_OK(booted);
  EXPECT_EQ(booted->report.action, ota::StartAction::kNoTrial);
  ASSERT_TRUE(booted->models);
  EXPECT_EQ(booted->models->main.graph().meta.version, "1");
  EXPECT_FALSE(booted->models->challenger);
  EXPECT_EQ(booted->report.answering, ota::Slot::kA);
  EXPECT_FALSE(booted->report.challenger);
}

TEST(Boot, OnTrialTheAttemptIsSpentThenTheLastKnownGoodAnswersAndTheTrialRunsInItsShadow) {
  testing::TempDir dir;
  prepare(dir.path(), true, 3);
  auto slots = DeviceSlots::open(dir.path());
  ASSERT_OK(slots);
  auto booted = boot((*slots)->store(), reference());
  ASSERT_OK(booted);
  EXPECT_EQ(booted->report.action, ota::StartAction::kAttemptSpent);
  EXPECT_EQ(booted->report.before.trial->attempts_left, 3);
  EXPECT_EQ(booted->report.state.trial->attempts_left, 2);
  // Durable before the models came back.
  auto reread = DeviceSlots::open(dir.path());
  ASSERT_OK(reread);
  EXPECT_EQ((*reread)->state().trial->attempts_left, 2);
  ASSERT_TRUE(booted->models);
  EXPECT_EQ(booted->models->main.graph().meta.version, "1");
  ASSERT_TRUE(booted->models->challenger);
  EXPECT_EQ(booted->models->challenger->graph().meta.version, "2");
  EXPECT_EQ(booted->report.answering, ota::Slot::kA);
  EXPECT_EQ(booted->report.challenger, ota::Slot::kB);
}

TEST(Boot, ATrialModelThatNoLongerLoadsIsRevertedAtOnce) {
  testing::TempDir dir;
  prepare(dir.path(), true);
  {
    std::fstream f(slots_dir(dir.path()) / "slot-b.edge", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);
    f.put('\x7f');
  }
  auto slots = DeviceSlots::open(dir.path());
  ASSERT_OK(slots);
  auto booted = boot((*slots)->store(), reference());
  ASSERT_OK(booted);
  EXPECT_NE(booted->report.trial_refused.find("slot b"), std::string::npos) << booted->report.trial_refused;
  EXPECT_EQ(booted->report.state.active, ota::Slot::kA);
  EXPECT_FALSE(booted->report.state.trial);
  EXPECT_TRUE(booted->report.state.info(ota::Slot::kB)->failed);
  ASSERT_TRUE(booted->models);
  EXPECT_EQ(booted->models->main.graph().meta.version, "1");
  EXPECT_FALSE(booted->models->challenger);
}

// The watchdog's promise, with a process that really dies: every start boots, then runs the
// trial model, and the process is killed (SIGABRT) from inside that run, between its steps.
// The device has no network at all. After N such starts the next boot reverts to the
// last-known-good on its own, and that model loads and passes its golden vector.
TEST(Boot, AModelThatCrashesItsProcessMidRunIsRevertedByTheWatchdogWithinNStarts) {
  constexpr int kAttempts = 3;
  testing::TempDir dir;
  prepare(dir.path(), true, kAttempts);
  int starts = 0, crashes = 0;
  bool reverted = false;
  while (!reverted && starts < 10) {
    ++starts;
    ::fflush(nullptr);
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      const rlimit no_core{0, 0};
      ::setrlimit(RLIMIT_CORE, &no_core);
      auto slots = DeviceSlots::open(dir.path());
      if (!slots) ::_exit(2);
      auto booted = boot((*slots)->store(), reference());
      if (!booted || !booted->models) ::_exit(2);
      if (booted->models->challenger) {
        // The app runs the trial model (the engine's shadow would); it dies inside the run.
        const runtime::Program& trial = *booted->models->challenger;
        runtime::Session session(trial);
        std::atomic<bool> cancel{false};
        (void)session.run(trial.graph().meta.golden->inputs, cancel, [](size_t) { std::abort(); });
        ::_exit(3);  // not reached
      }
      if (booted->report.action != ota::StartAction::kReverted) ::_exit(4);
      if (!runtime::check_golden(booted->models->main)) ::_exit(5);
      ::_exit(booted->models->main.graph().meta.version == "1" ? 0 : 6);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    if (WIFSIGNALED(status)) {
      EXPECT_EQ(WTERMSIG(status), SIGABRT) << "start " << starts;
      ++crashes;
      continue;
    }
    ASSERT_TRUE(WIFEXITED(status));
    ASSERT_EQ(WEXITSTATUS(status), 0) << "start " << starts;
    reverted = true;
  }
  EXPECT_TRUE(reverted);
  EXPECT_EQ(crashes, kAttempts);       // each of the N attempts died in the model's run
  EXPECT_EQ(starts, kAttempts + 1);    // and the start after them reverted
  auto slots = DeviceSlots::open(dir.path());
  ASSERT_OK(slots);
  const ota::SlotState& s = (*slots)->state();
  EXPECT_EQ(s.active, ota::Slot::kA);
  EXPECT_FALSE(s.trial);
  EXPECT_TRUE(s.info(ota::Slot::kB)->failed);
  auto again = boot((*slots)->store(), reference());
  ASSERT_OK(again);
  EXPECT_EQ(again->report.action, ota::StartAction::kNoTrial);
  EXPECT_TRUE(runtime::check_golden(again->models->main));
}

}  // namespace
}  // namespace edgeloop::device

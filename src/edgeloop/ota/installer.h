// Installs a verified artifact into the inactive slot, smoke-tests it, switches to it on trial,
// and keeps the device on a working model whatever happens next (docs/device-storage.md):
// a watchdog step at every process start spends one trial attempt before the model runs and
// reverts to the last-known-good when none are left; revert is a pointer flip, no network.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>

#include "edgeloop/base/clock.h"
#include "edgeloop/base/error.h"
#include "edgeloop/ota/slot_store.h"
#include "edgeloop/runtime/program.h"

namespace edgeloop::ota {

struct InstallerOptions {
  int trial_attempts = 3;          // process starts the new model gets before the watchdog reverts
  int successes_to_mark_good = 100;  // record_success() calls that end a trial (0: only mark_good())
  // The count is written to the state record every this many successes (and at the K-th), so
  // it survives process restarts losing fewer than this many. 0: K / 8 (at least 1).
  int success_checkpoint = 0;
  // The smoke test (the golden vector) must finish within this, read from the injected clock:
  // once it has passed, the run is cut at the next step (the runtime's cancel flag) and the
  // install refused.
  std::chrono::nanoseconds smoke_budget = std::chrono::seconds(5);
  // How the smoke test (and load_active) loads the model: give the options the device runs it
  // with, so the test covers the kernels that will answer. Default: this CPU's backends.
  runtime::LoadOptions load;
};

// What the verified targets say the artifact is (TargetInfo). Empty strings are not checked.
struct ExpectedArtifact {
  uint64_t length = 0;
  std::string sha256;  // lowercase hex
  std::string model, version, variant;
};

// What an artifact that passed verify_artifact says it is.
struct VerifiedArtifact {
  std::string model, version, variant;
  std::chrono::nanoseconds smoke_time{0};
};

// The checks every artifact gets before it may run on this device, whatever it is for (a slot,
// a companion): length and SHA-256 against the signed targets; the loader's verification, with
// `load` (the options the device runs it with); name, version and variant against the targets;
// the golden vector (smoke test) within `smoke_budget` on `clock` — cut at the next step once the
// budget has passed (the runtime's cancel flag). kCorrupt for bytes that are not the target,
// kFailedPrecondition for a smoke test over its budget.
Result<VerifiedArtifact> verify_artifact(const SharedBytes& artifact, const ExpectedArtifact& expected, const Clock& clock,
                                         const runtime::LoadOptions& load, std::chrono::nanoseconds smoke_budget);

struct InstallReport {
  Slot slot = Slot::kA;
  bool provisioned = false;  // the first model of an empty store: active at once, no trial
  std::chrono::nanoseconds smoke_time{0};
  SlotState state;           // after the switch
};

enum class StartAction {
  kEmpty,         // no model installed
  kNoTrial,       // nothing to do: the active model is the trusted one
  kAttemptSpent,  // a trial attempt was spent (durably) before the model runs
  kReverted,      // the trial had no attempts left: reverted to the last-known-good
};
std::string_view to_string(StartAction a);

struct StartReport {
  StartAction action = StartAction::kEmpty;
  SlotState state;  // after the step
};

// What the rollout wants this device to run now (fleet::Resolution's target, the model's floor).
struct WantedTarget {
  std::string sha256;
  std::string version;  // the target's model version: reconcile refuses one below `floor`
  std::string floor;    // "" = none
};

enum class ReconcileAction {
  kAlreadyActive,   // nothing to do
  kFlippedToLastKnownGood,  // a recall: pinned back to the last-known-good, or the floor rose past the active one
  kFailedHere,      // the wanted target is the one that failed its trial on this device: not reinstalled
  kNeedsInstall,    // download and install()
};
std::string_view to_string(ReconcileAction a);

class Installer {
 public:
  // `store` and `clock` must outlive the installer.
  Installer(SlotStore& store, const Clock& clock, InstallerOptions options = {})
      : store_(&store), clock_(&clock), options_(std::move(options)) {}

  // Verifies `artifact` (length and SHA-256 against `expected`, the loader's verification, its
  // metadata against `expected`, the golden smoke test within the budget) and only then writes
  // it into the inactive slot and switches to it on trial; the previous active model becomes the
  // last-known-good. Refused (kFailedPrecondition) while a trial runs or if it is already active.
  // A failure before the switch leaves the active model and the trial state as they were.
  Result<InstallReport> install(SharedBytes artifact, const ExpectedArtifact& expected);
  Result<InstallReport> install_file(const std::filesystem::path& artifact, const ExpectedArtifact& expected);

  // The watchdog step, run at every process start before the model runs.
  Result<StartReport> on_start();
  // Ends the trial: the active model is trusted. kFailedPrecondition without a trial.
  Status mark_good();
  // One successful inference of the trial model; the K-th ends the trial (returns true then).
  // Counted across process starts: the count is checkpointed in the state record.
  Result<bool> record_success();
  // Back to the last-known-good now. From a trial, the trial slot is recorded as failed and there
  // is no last-known-good afterwards; from a trusted model, the two swap.
  Status revert();
  // Follows a recall without a download when the last-known-good is what the rollout wants.
  // kFailedPrecondition when the wanted version is below the floor (nothing changes).
  Result<ReconcileAction> reconcile(const WantedTarget& wanted);

  // Loads the active slot's model (verified against the state record and by the loader).
  Result<runtime::Program> load_active() const;
  const SlotState& state() const { return store_->state(); }
  const SlotStore& store() const { return *store_; }

 private:
  Status flip(bool trial_failed);

  SlotStore* store_;
  const Clock* clock_;
  InstallerOptions options_;
  int unsaved_successes_ = 0;  // recorded since the last checkpoint
};

}  // namespace edgeloop::ota

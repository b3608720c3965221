#include "edgeloop/ota/installer.h"

#include <algorithm>
#include <atomic>

#include "edgeloop/base/file.h"
#include "edgeloop/base/hash.h"
#include "edgeloop/ota/metadata.h"
#include "edgeloop/runtime/golden.h"

namespace edgeloop::ota {

std::string_view to_string(StartAction a) {
  switch (a) {
    case StartAction::kEmpty: return "empty";
    case StartAction::kNoTrial: return "no-trial";
    case StartAction::kAttemptSpent: return "attempt-spent";
    case StartAction::kReverted: return "reverted";
  }
  return "?";
}

std::string_view to_string(ReconcileAction a) {
  switch (a) {
    case ReconcileAction::kAlreadyActive: return "already-active";
    case ReconcileAction::kFlippedToLastKnownGood: return "flipped-to-last-known-good";
    case ReconcileAction::kFailedHere: return "failed-here";
    case ReconcileAction::kNeedsInstall: return "needs-install";
  }
  return "?";
}

namespace {

// At or above the floor; an unparsable version counts as below (never activate on doubt).
bool at_or_above(std::string_view version, std::string_view floor) {
  if (floor.empty()) return true;
  if (!parse_version(version) || !parse_version(floor)) return false;
  return compare_versions(version, floor) >= 0;
}

// Whether a model with SHA-256 `digest` may be installed now.
Status installable(const SlotState& now, const std::string& digest) {
  if (now.trial)
    return make_error(ErrorCode::kFailedPrecondition,
                      "slot {} is on trial; mark it good or revert before installing another model",
                      to_string(now.trial->slot));
  if (now.active && now.info(*now.active)->sha256 == digest)
    return make_error(ErrorCode::kFailedPrecondition, "this artifact is already active in slot {}", to_string(*now.active));
  return ok();
}

}  // namespace

Result<VerifiedArtifact> verify_artifact(const SharedBytes& artifact, const ExpectedArtifact& expected, const Clock& clock,
                                         const runtime::LoadOptions& load, std::chrono::nanoseconds smoke_budget) {
  // 1. The bytes are the ones the signed targets list.
  if (artifact.size() != expected.length)
    return make_error(ErrorCode::kCorrupt, "the artifact is {} bytes; the targets say {}", artifact.size(), expected.length);
  if (const std::string digest = to_hex(sha256(artifact.span())); digest != expected.sha256)
    return make_error(ErrorCode::kCorrupt, "the artifact's SHA-256 is {}; the targets say {}", digest, expected.sha256);
  // 2. The loader's verification, and the artifact says it is what the targets say it is.
  auto program = runtime::Program::load(artifact, load);
  if (!program) return std::unexpected(std::move(program).error().context("verifying the artifact"));
  const auto& meta = program->graph().meta;
  auto mismatch = [&](std::string_view field, const std::string& have, const std::string& want) -> Status {
    if (!want.empty() && have != want)
      return make_error(ErrorCode::kCorrupt, "the artifact's {} is '{}'; the targets say '{}'", field, have, want);
    return ok();
  };
  EL_CHECK(mismatch("model name", meta.name, expected.model));
  EL_CHECK(mismatch("version", meta.version, expected.version));
  EL_CHECK(mismatch("variant", meta.variant, expected.variant));
  // 3. Smoke test: the golden vector, cut when the budget runs out. The runtime checks the
  //    cancel flag between steps, so setting it after each step once the clock says the budget
  //    has passed cuts the run exactly where a timer thread would, without one.
  std::atomic<bool> cancel{false};
  const auto t0 = clock.now();
  Status golden = runtime::check_golden(*program, cancel, [&](size_t) {
    if (clock.now() - t0 > smoke_budget) cancel.store(true, std::memory_order_release);
  });
  const auto smoke_time = clock.now() - t0;
  if (!golden && golden.error().code == ErrorCode::kCancelled)
    return make_error(ErrorCode::kFailedPrecondition,
                      "smoke test cut at its budget of {} ms: the model is too slow for this device (or does not "
                      "finish); not installed",
                      smoke_budget.count() / 1000000);
  if (!golden) return std::unexpected(std::move(golden).error().context("smoke test"));
  if (smoke_time > smoke_budget)
    return make_error(ErrorCode::kFailedPrecondition, "smoke test took {} ms, over the budget of {} ms",
                      smoke_time.count() / 1000000, smoke_budget.count() / 1000000);
  return VerifiedArtifact{meta.name, meta.version, meta.variant, smoke_time};
}

Result<InstallReport> Installer::install(SharedBytes artifact, const ExpectedArtifact& expected) {
  // Early, on what this process last read: a trial in progress refuses before the smoke test.
  if (store_->state().trial) EL_CHECK(installable(store_->state(), expected.sha256));
  EL_TRY(VerifiedArtifact verified, verify_artifact(artifact, expected, *clock_, options_.load, options_.smoke_budget));
  const std::string& digest = expected.sha256;  // verified

  // 4. From here on one step under the slot store's lock, on the state as it is now: another
  //    process may have changed it while this one verified.
  EL_TRY(auto held, store_->lock());
  EL_CHECK(installable(store_->state(), digest));
  const SlotState& now = store_->state();
  SlotInfo info{verified.model, verified.version, verified.variant, digest, artifact.size(), false};
  InstallReport report;
  report.smoke_time = verified.smoke_time;
  if (!now.active) {
    // Provisioning: nothing to fall back to, so nothing to try against.
    report.slot = Slot::kA;
    report.provisioned = true;
    SlotState next = now;
    if (next.info(Slot::kA)) {
      next.info(Slot::kA).reset();
      EL_CHECK(store_->commit(next));
    }
    EL_CHECK(store_->write_slot(Slot::kA, artifact.span()));
    next = store_->state();
    next.active = Slot::kA;
    next.info(Slot::kA) = info;
    EL_CHECK(store_->commit(next));
    report.state = store_->state();
    return report;
  }
  Slot target = other(*now.active);
  report.slot = target;
  // 5. Forget what the inactive slot held (an older last-known-good, a failed model) before
  //    overwriting it, so the state never describes bytes that are no longer there. The active
  //    model is trusted (no trial), so the device is never without a working model.
  if (now.info(target)) {
    SlotState cleared = now;
    cleared.info(target).reset();
    if (cleared.last_known_good == target) cleared.last_known_good.reset();
    EL_CHECK(store_->commit(cleared));
  }
  // 6. The artifact into the inactive slot (durable), then 7. the switch (one durable write).
  EL_CHECK(store_->write_slot(target, artifact.span()));
  SlotState next = store_->state();
  next.info(target) = info;
  next.last_known_good = next.active;
  next.active = target;
  next.trial = Trial{target, options_.trial_attempts};
  EL_CHECK(store_->commit(next));
  unsaved_successes_ = 0;
  report.state = store_->state();
  return report;
}

Result<InstallReport> Installer::install_file(const std::filesystem::path& artifact, const ExpectedArtifact& expected) {
  EL_TRY(auto bytes, map_file(artifact));
  return install(std::move(bytes), expected);
}

Result<StartReport> Installer::on_start() {
  EL_TRY(auto held, store_->lock());
  SlotState s = store_->state();
  unsaved_successes_ = 0;  // a crash lost them; the checkpointed count stands
  if (!s.active) return StartReport{StartAction::kEmpty, s};
  if (!s.trial) return StartReport{StartAction::kNoTrial, s};
  if (s.trial->attempts_left <= 0) {
    EL_CHECK(flip(/*trial_failed=*/true));
    return StartReport{StartAction::kReverted, store_->state()};
  }
  // Spent before the model runs: a model that kills the process still uses up its attempts.
  s.trial->attempts_left -= 1;
  EL_CHECK(store_->commit(s));
  return StartReport{StartAction::kAttemptSpent, store_->state()};
}

Status Installer::mark_good() {
  EL_TRY(auto held, store_->lock());
  SlotState s = store_->state();
  if (!s.trial) return make_error(ErrorCode::kFailedPrecondition, "no trial is running; nothing to mark good");
  s.trial.reset();
  EL_CHECK(store_->commit(s));
  unsaved_successes_ = 0;
  return ok();
}

Result<bool> Installer::record_success() {
  // Counted in memory (no lock, no I/O: this runs per inference) until a checkpoint is due.
  const SlotState& seen = store_->state();
  const int k = options_.successes_to_mark_good;
  if (!seen.trial || k <= 0) return false;
  const Slot trial_slot = seen.trial->slot;
  const std::string trial_sha = seen.info(trial_slot)->sha256;
  ++unsaved_successes_;
  const int checkpoint = options_.success_checkpoint > 0 ? options_.success_checkpoint : std::max(1, k / 8);
  if (seen.trial->successes + unsaved_successes_ < k && unsaved_successes_ < checkpoint) return false;
  // Under the lock, on the count as it is now (another process may have added its own).
  EL_TRY(auto held, store_->lock());
  SlotState s = store_->state();
  if (!s.trial || s.trial->slot != trial_slot || s.info(trial_slot)->sha256 != trial_sha) {
    unsaved_successes_ = 0;  // that trial ended elsewhere (marked good, reverted): nothing to count
    return false;
  }
  const int total = s.trial->successes + unsaved_successes_;
  if (total >= k) {
    EL_CHECK(mark_good());
    return true;
  }
  s.trial->successes = total;
  EL_CHECK(store_->commit(s));
  unsaved_successes_ = 0;
  return false;
}

Status Installer::revert() {
  // What the caller saw decides what it means: from a trial, "this trial failed"; from a trusted
  // model, "swap". If another process changed that since, the revert is not what was asked for.
  const SlotState seen = store_->state();
  EL_TRY(auto held, store_->lock());
  const SlotState& s = store_->state();
  const bool same_trial = seen.trial.has_value() == s.trial.has_value() && (!seen.trial || seen.trial->slot == s.trial->slot);
  if (s.active != seen.active || !same_trial || (s.active && s.info(*s.active)->sha256 != seen.info(*s.active)->sha256))
    return make_error(ErrorCode::kFailedPrecondition,
                      "the slots changed in another process since this one read them; nothing was reverted: look "
                      "again (edgeloop device status) and revert if it is still wanted");
  return flip(/*trial_failed=*/s.trial.has_value());
}

// Under the store's lock (every caller holds it).
Status Installer::flip(bool trial_failed) {
  SlotState s = store_->state();
  if (!s.last_known_good) return make_error(ErrorCode::kFailedPrecondition, "there is no last-known-good slot to revert to");
  Slot from = *s.active;
  s.active = s.last_known_good;
  if (s.trial) {
    // The model on trial never earned trust: it is not a fallback.
    s.last_known_good.reset();
    if (trial_failed) s.info(from)->failed = true;
  } else {
    s.last_known_good = from;
  }
  s.trial.reset();
  EL_CHECK(store_->commit(s));
  unsaved_successes_ = 0;
  return ok();
}

Result<ReconcileAction> Installer::reconcile(const WantedTarget& wanted) {
  // Never towards a version below the floor: the rollout contradicting itself is refused here
  // too, whatever the client let through (invariant 2).
  if (!at_or_above(wanted.version, wanted.floor))
    return make_error(ErrorCode::kFailedPrecondition,
                      "the rollout wants version '{}', below its floor '{}': neither installed nor flipped to",
                      wanted.version, wanted.floor);
  EL_TRY(auto held, store_->lock());
  const SlotState& s = store_->state();
  const SlotInfo* active = s.active ? &*s.info(*s.active) : nullptr;
  const SlotInfo* lkg = s.last_known_good ? &*s.info(*s.last_known_good) : nullptr;
  if (active && active->sha256 == wanted.sha256) return ReconcileAction::kAlreadyActive;
  bool lkg_allowed = lkg && at_or_above(lkg->version, wanted.floor);
  if (lkg_allowed && lkg->sha256 == wanted.sha256) {
    EL_CHECK(flip(/*trial_failed=*/false));
    return ReconcileAction::kFlippedToLastKnownGood;
  }
  if (active && lkg_allowed && !at_or_above(active->version, wanted.floor)) {
    EL_CHECK(flip(/*trial_failed=*/false));
    return ReconcileAction::kFlippedToLastKnownGood;
  }
  for (Slot slot : {Slot::kA, Slot::kB}) {
    const auto& info = s.info(slot);
    if (info && info->failed && info->sha256 == wanted.sha256) return ReconcileAction::kFailedHere;
  }
  return ReconcileAction::kNeedsInstall;
}

Result<runtime::Program> Installer::load_active() const {
  EL_TRY(auto held, store_->lock());  // the current record, and no slot written while it is read
  const SlotState& s = store_->state();
  if (!s.active) return make_error(ErrorCode::kNotFound, "no model is installed");
  EL_TRY(auto bytes, store_->read_slot(*s.active));
  return runtime::Program::load(std::move(bytes), options_.load);
}

}  // namespace edgeloop::ota

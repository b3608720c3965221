// One update cycle of a device (docs/downloads.md, "The update cycle"): update the trusted
// metadata the TUF way, resolve which target this device runs (fleet), reconcile the slots with
// it (nothing to do, a recall flipped back with no download, a target that failed here) and,
// when a new model is wanted, fetch it — the signed delta from a model the device holds, else
// the whole artifact — verify, smoke-test and install it on trial; then the release's smaller
// variant beside it, for the ladder's L1 (device/companion.h).
//
// Everything that varies is injected: the transport, the clock, how to wait, the device's
// conditions (the download policy's inputs). Each step is reported through a callback as it
// completes, so a caller shows the download before the smoke test that may then fail.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "edgeloop/base/clock.h"
#include "edgeloop/base/error.h"
#include "edgeloop/device/companion.h"
#include "edgeloop/fleet/rollout_resolver.h"
#include "edgeloop/ota/client.h"
#include "edgeloop/ota/download_policy.h"
#include "edgeloop/ota/downloader.h"
#include "edgeloop/ota/installer.h"
#include "edgeloop/ota/transport.h"
#include "edgeloop/ota/updater.h"

namespace edgeloop::device {

// The metadata update and the resolution (`edgeloop device check` stops here).
struct CheckOutcome {
  ota::UpdateReport metadata;
  fleet::Resolution resolution;
  std::string floor;  // the model's anti-rollback floor in the rollout ("" = none)
};

// Updates `client`'s trusted metadata from `transport`, then resolves the target of `device`
// (`model` may be empty when the rollout names one model). kFailedPrecondition when the
// repository publishes no targets or rollout; the resolver's and the client's errors otherwise.
Result<CheckOutcome> check_for_update(ota::Client& client, ota::Transport& transport, const fleet::DeviceProfile& device,
                                      std::string_view model = {});

// What the cycle did to the slots.
enum class UpdateAction {
  kAlreadyActive,           // the target is the active model: nothing to do
  kFlippedToLastKnownGood,  // a recall (a pin back, or the floor rose past the active model): a flip, no download
  kFailedHere,              // the target failed its trial on this device: not installed again
  kProvisioned,             // the first model of an empty device: active at once, no trial
  kInstalledOnTrial,        // installed into the inactive slot and switched to on trial
};
std::string_view to_string(UpdateAction action);  // "already-active", "flipped-to-last-known-good", ...

// The steps, in order. kFetched and kInstalled happen only when a new model is installed.
enum class UpdateStep {
  kChecked,     // the metadata verified and the target resolved: `check`
  kReconciled,  // the slots compared with the target: `reconcile` (and `action` unless an install follows)
  kFetched,     // the artifact is on the device, not yet verified: `fetch`
  kInstalled,   // verified, smoke-tested, installed and switched to: `install`, `action`
  kCompanion,   // the release's smaller variant looked after: `companion` (not after kFailedHere)
};
std::string_view to_string(UpdateStep step);

// Filled as the cycle goes; the callback sees it after each step, the caller gets it at the end.
struct UpdateOutcome {
  CheckOutcome check;
  ota::ReconcileAction reconcile = ota::ReconcileAction::kNeedsInstall;
  UpdateAction action = UpdateAction::kAlreadyActive;
  std::optional<ota::FetchReport> fetch;
  std::optional<ota::InstallReport> install;
  ota::SlotState state;           // the slots after the last step
  // The smaller variant beside it (L1): never an error of the cycle; its own downloaded bytes.
  std::optional<CompanionOutcome> companion;

  // For the main target by this cycle (abandoned delta bytes included).
  uint64_t downloaded_bytes() const { return fetch ? fetch->bytes_downloaded : 0; }
};

using UpdateStepCallback = std::function<void(UpdateStep, const UpdateOutcome&)>;

struct UpdateCycleOptions {
  fleet::DeviceProfile device;
  std::string model;                 // "" = the only model the rollout names
  ota::InstallerOptions installer;   // trial attempts, smoke test budget and backends
  ota::FetchOptions fetch;           // deltas on or off; rate cap, download policy, progress
  // Also install the release's smaller variant beside the main model (device/companion.h).
  bool companion = true;
};

// What the cycle runs against; all must outlive the call.
struct UpdateEnvironment {
  ota::Transport& transport;
  const Clock& clock;              // metadata expiry, the smoke test's budget, the rate cap
  ota::SleepFunction sleep;        // the rate cap's and the retries' waits
  const ota::DeviceConditions& conditions;  // the download policy's inputs
};

// One cycle for the device whose state is in `data_dir` (docs/device-storage.md, "Layout"),
// which must already trust a root (ota::Client::provision). The slots are changed only by the
// installer's atomic steps; a refused download or install leaves them as they were. Errors are
// the steps' own, with the step named: a deferral by the download policy is kDeferred (the
// partial download stays and the next cycle resumes it); installing while a trial runs is
// kFailedPrecondition, before anything is downloaded. The companion step comes after the main
// model's and only reports: it never fails the cycle and never touches the slots. The store
// keeps the companions of the versions the two slots hold and drops the others.
Result<UpdateOutcome> run_update_cycle(const std::filesystem::path& data_dir, const UpdateEnvironment& env,
                                       const UpdateCycleOptions& options, const UpdateStepCallback& on_step = {});

}  // namespace edgeloop::device

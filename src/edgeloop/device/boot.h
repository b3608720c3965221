// What a device process does first (docs/device-storage.md, "Watchdog"; docs/engine.md,
// "Boot"): the watchdog step, and only then the models to run. boot() is the one way to get the
// slots' models ready for the engine, so no caller can run a model on trial before its start
// attempt is spent durably — a model that kills the process still uses its attempts up and is
// reverted to the last-known-good after N starts, with no network.
//
// What runs: without a trial, the active model answers (EngineModels::main). On trial, the
// last-known-good answers and the trial model is the challenger in its shadow, where it earns
// its successes before it ever answers (device/trial_judge.h).
#pragma once

#include <optional>
#include <string>

#include "edgeloop/base/error.h"
#include "edgeloop/device/companion.h"
#include "edgeloop/device/engine.h"
#include "edgeloop/ota/installer.h"
#include "edgeloop/ota/slot_store.h"
#include "edgeloop/runtime/program.h"

namespace edgeloop::device {

struct BootOptions {
  runtime::LoadOptions load;  // how the models are prepared (default: the backends this CPU supports)
  // Where the companions are (DATA/companion, device/companion.h); empty: no smaller variant.
  std::filesystem::path companion_dir;
};

struct BootReport {
  ota::StartAction action = ota::StartAction::kEmpty;  // what the watchdog did
  ota::SlotState before;  // the slots before the watchdog step
  ota::SlotState state;   // after it (and after a revert of an unloadable trial model)
  std::optional<ota::Slot> answering;   // the slot whose model is EngineModels::main
  std::optional<ota::Slot> challenger;  // the slot on trial, EngineModels::challenger
  // The trial model could not be loaded (its bytes no longer match, or the loader refused it):
  // it failed its trial, and was reverted at once. Why, or "".
  std::string trial_refused;
  // The smaller variant loaded as EngineModels::smaller (L1): the companion of the answering
  // model's name and version. None: why not, in `companion_unavailable` ("" without a
  // companion folder).
  std::optional<CompanionInfo> companion;
  std::string companion_unavailable;
};

struct Booted {
  BootReport report;
  std::optional<EngineModels> models;  // none when no model is installed (action kEmpty)
};

// The watchdog step (ota::Installer::on_start), then the models: the slots' bytes are checked
// against the state record (SHA-256) and verified by the loader. An answering model that does
// not load is an error (the state stays as the watchdog left it); a trial model that does not
// load is reverted. A companion that is missing, damaged, of another version or with another
// input than the answering model is not used: L1 is then unavailable, nothing else changes.
Result<Booted> boot(ota::SlotStore& store, const BootOptions& options = {});

}  // namespace edgeloop::device

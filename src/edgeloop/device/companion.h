// The smaller variant installed beside the main model (issue 7, the ladder's L1; docs/device-
// storage.md, "Companion"). A release ships one model version as several variants (the variant
// matrix: fp32, int8, w4a8, …); the device runs the one its tier resolves to, and keeps the
// release's smallest variant beside it so the governor can step down to it when heat or the
// battery say so.
//
// The companion is verified like the main model — signed length and SHA-256, the loader's
// verification, name/version/variant against the targets, the golden smoke test — but it lives
// apart from the slots (DATA/companion/), keyed by its SHA-256, and never changes the slot
// state: a missing, refused or damaged companion only means L1 is unavailable.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "edgeloop/base/bytes.h"
#include "edgeloop/base/clock.h"
#include "edgeloop/base/error.h"
#include "edgeloop/ota/downloader.h"
#include "edgeloop/ota/metadata.h"
#include "edgeloop/ota/transport.h"
#include "edgeloop/ota/updater.h"
#include "edgeloop/runtime/program.h"

namespace edgeloop::device {

struct CompanionTarget {
  std::string path;  // "artifacts/<sha256>.edge"
  ota::TargetInfo info;
};

// The rule: of the verified targets of the main target's model and model_version, other than
// the main target itself, that this runtime can run (min_runtime_version <= runtime_version),
// the one with the fewest bytes, if it has fewer than the main target (ties: the first path).
// Tiers do not matter: the smallest variant is usually listed for the low tier only. nullopt:
// the release has no smaller variant for this device.
std::optional<CompanionTarget> choose_companion(const ota::TargetsMeta& targets, std::string_view main_path,
                                                std::string_view runtime_version);

// What a stored companion is: its record, DATA/companion/<sha256>.json.
struct CompanionInfo {
  std::string model, version, variant;
  std::string sha256;  // lowercase hex; the artifact is DATA/companion/<sha256>.edge
  uint64_t length = 0;
  friend bool operator==(const CompanionInfo&, const CompanionInfo&) = default;
};

struct StoredCompanion {
  CompanionInfo info;
  SharedBytes bytes;  // checked against info's length and SHA-256
};

class CompanionStore {
 public:
  explicit CompanionStore(std::filesystem::path dir) : dir_(std::move(dir)) {}
  const std::filesystem::path& dir() const { return dir_; }

  // The records on disk (unreadable or malformed ones are skipped: that companion is absent).
  std::vector<CompanionInfo> list() const;
  // The companion of `model` at `version`, its bytes checked against its record: kNotFound when
  // there is none, kCorrupt when its bytes do not match.
  Result<StoredCompanion> find(std::string_view model, std::string_view version) const;
  // Moves a file already verified as `info` into the store (rename, folder fsync), then writes
  // its record durably: a record exists only for a complete artifact.
  Status put(const std::filesystem::path& verified_file, const CompanionInfo& info);
  // Removes the companions of `model` whose version is not in `versions` (record first).
  Status keep_only(std::string_view model, const std::vector<std::string>& versions);

 private:
  std::filesystem::path dir_;
};

// How the companion step of an update cycle ended. None of these stops or fails the cycle.
enum class CompanionStatus {
  kNone,      // the release has no smaller variant this device can run
  kStored,    // already in the store, checked: nothing downloaded
  kInstalled, // downloaded (delta or full), verified, smoke-tested and stored
  kRefused,   // the download or a check failed (why in `reason`): L1 unavailable for this release
};
std::string_view to_string(CompanionStatus status);  // "none", "stored", "installed", "refused"

struct CompanionOutcome {
  CompanionStatus status = CompanionStatus::kNone;
  std::optional<CompanionTarget> target;
  std::optional<ota::FetchReport> fetch;
  std::chrono::nanoseconds smoke_time{0};
  std::string reason;  // for kRefused (a deferral by the download policy included)

  uint64_t downloaded_bytes() const { return fetch ? fetch->bytes_downloaded : 0; }
};

struct CompanionOptions {
  ota::FetchOptions fetch;  // deltas, rate cap, policy (the main download's)
  runtime::LoadOptions load;  // how the smoke test loads it: the options the device runs it with (default: this CPU's backends)
  std::chrono::nanoseconds smoke_budget = std::chrono::seconds(5);
};

// Makes `target` a stored companion: nothing when it is already stored; else fetched into
// STORE/downloads/ — the signed delta from a companion or slot artifact the device holds when
// the targets list one, else the whole file, resumable — verified (length and SHA-256, the
// loader, name/version/variant, the golden vector within the budget) and stored. Any failure is
// reported as kRefused with the reason; the store keeps only complete, verified companions.
CompanionOutcome install_companion(CompanionStore& store, ota::Downloader& downloader, ota::Transport& transport,
                                   const CompanionTarget& target, const std::vector<ota::LocalArtifact>& slot_bases,
                                   const Clock& clock, const CompanionOptions& options = {});

}  // namespace edgeloop::device

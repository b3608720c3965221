// From a verified target to a model on trial (docs/downloads.md, "Deltas"): fetch the artifact
// the cheapest verified way — the signed delta from an artifact the device already holds when
// the targets list one, else the whole file; resumable either way — then hand it to the
// Installer. Which target to install is the caller's decision (the rollout resolution); this
// only gets it there.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "edgeloop/base/bytes.h"
#include "edgeloop/base/error.h"
#include "edgeloop/base/file.h"
#include "edgeloop/ota/delta_applier.h"
#include "edgeloop/ota/downloader.h"
#include "edgeloop/ota/installer.h"
#include "edgeloop/ota/metadata.h"

namespace edgeloop::ota {

// An artifact the device holds and trusts: its bytes were checked against `sha256` (a slot's,
// read through SlotStore::read_slot), so the delta applier does not hash them again.
struct LocalArtifact {
  std::string sha256;  // lowercase hex
  std::string label;   // for reports: "slot a (fashion 1, fp32)"
  SharedBytes bytes;
};

struct FetchOptions {
  DownloadOptions download;   // rate cap, policy, retries; its crash_hook also covers the apply
  bool use_deltas = true;     // false: always the whole artifact
};

struct FetchReport {
  // The artifact was already on the device — fetched and verified by an earlier run that did
  // not get to install it, or still in a slot (a recalled trial) — so nothing was downloaded;
  // `local_source` says where.
  bool already_there = false;
  std::string local_source;
  std::optional<DeltaInfo> delta;  // the delta the artifact was made from (none: the full file)
  std::string delta_base;          // its base's label
  std::optional<ApplyStats> apply;
  // Why a listed delta was not used or was abandoned ("" = no fallback): the full file was fetched.
  std::string fallback_reason;
  uint64_t bytes_downloaded = 0;  // by this call, abandoned delta bytes included
  uint64_t resumed_from = 0;      // bytes of the file that produced the artifact found from an earlier run
  int transfers = 0;
};

// Makes `dest` hold the artifact `target` (signed length and SHA-256), from a delta listed in
// `target.deltas` whose base is one of `bases` when there is one, else from `target_path`.
// Any failure of the delta — its download (the server refusing it with a 403 or a 500, the
// network after the retries, another download holding its lock), its signed length or hash, the
// base, the apply, the result's hash — falls back to the whole artifact. Only two stop the
// update and are returned: kDeferred (the download policy said not now) and kCancelled; the
// partial files stay for the next call to resume. A delta download that was cut (kIo,
// kFailedPrecondition) keeps its partial file until the whole artifact is here, so an outage
// that stops both downloads resumes the delta next time; the error of the full download is
// returned then, after the delta's. Nothing but verified bytes is ever renamed to `dest`.
// Every file this call makes is in dest's folder and named after `dest` (the delta is
// "DEST.delta").
Result<FetchReport> fetch_artifact(Downloader& downloader, Transport& transport, std::string_view target_path,
                                   const TargetInfo& target, const std::vector<LocalArtifact>& bases,
                                   const std::filesystem::path& dest, const FetchOptions& options = {});

// The slots' artifacts as delta bases: the active one first, then the other slot's (even a model
// that failed its trial is a fine base: its bytes are verified).
Result<std::vector<LocalArtifact>> slot_artifacts(const SlotStore& store);

struct TargetInstallReport {
  FetchReport fetch;
  InstallReport install;
};

// fetch_artifact into `work_dir` (first removing whatever an earlier, other update left there),
// then Installer::install of the fetched file; the file is removed once installed. A slot that
// already holds the target (verified against the slot state) is installed from, with no download. A crash at
// any point leaves the slots as Installer::install guarantees, and the next call resumes.
// `on_fetched` (when set) is called once the artifact is on the device, before it is verified
// and installed: a caller reports the download even when the install then fails.
using FetchedCallback = std::function<void(const FetchReport&)>;
Result<TargetInstallReport> install_target(Installer& installer, Downloader& downloader, Transport& transport,
                                           std::string_view target_path, const TargetInfo& target,
                                           const std::filesystem::path& work_dir, const FetchOptions& options = {},
                                           const FetchedCallback& on_fetched = {});

}  // namespace edgeloop::ota

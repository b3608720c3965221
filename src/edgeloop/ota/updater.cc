#include "edgeloop/ota/updater.h"

#include <sys/stat.h>

#include <set>

#include "edgeloop/base/file.h"
#include "edgeloop/base/hash.h"
#include "edgeloop/crypto/hex.h"

namespace edgeloop::ota {
namespace {

namespace fs = std::filesystem;

fs::path with_suffix(const fs::path& path, std::string_view suffix) {
  fs::path out = path;
  out += std::string(suffix);
  return out;
}

Result<Sha256> parse_sha256(std::string_view hex, std::string_view what) {
  return crypto::fixed_from_hex<32>(hex, what);
}

// The file at `path` has the target's length and SHA-256 (an earlier run fetched it).
bool holds(const fs::path& path, const TargetInfo& target, const Sha256& want) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec) || fs::file_size(path, ec) != target.length || ec) return false;
  auto bytes = map_file(path);
  return bytes && sha256(bytes->span()) == want;
}

// What stops an update instead of falling back from the delta to the full artifact: the policy
// said "not now", or the caller cancelled. Everything else about the delta (the server refusing
// it, the network after the retries, another download holding its lock, a bad patch) is worth
// trying the full artifact for: if the cause is the network, the full download says so itself.
bool stops_the_update(ErrorCode code) { return code == ErrorCode::kDeferred || code == ErrorCode::kCancelled; }

// A delta download that failed this way may still succeed later: its partial file is kept for
// the next call to resume (the bytes were not wrong, the transfer was cut).
bool worth_resuming(ErrorCode code) { return code == ErrorCode::kIo || code == ErrorCode::kFailedPrecondition; }

}  // namespace

Result<FetchReport> fetch_artifact(Downloader& downloader, Transport& transport, std::string_view target_path,
                                   const TargetInfo& target, const std::vector<LocalArtifact>& bases, const fs::path& dest,
                                   const FetchOptions& options) {
  EL_TRY(const Sha256 want, parse_sha256(target.sha256, "the target's sha256"));
  FetchReport report;
  if (holds(dest, target, want)) {
    report.already_there = true;
    report.local_source = dest.string();
    return report;
  }
  remove_quietly(dest);  // not the target: never trusted, never kept

  // 1. The delta from a base the device holds, if the targets list one.
  const DeltaInfo* delta = nullptr;
  const LocalArtifact* base = nullptr;
  if (options.use_deltas) {
    for (const LocalArtifact& b : bases) {
      for (const DeltaInfo& d : target.deltas)
        if (d.from_sha256 == b.sha256) {
          delta = &d;
          base = &b;
          break;
        }
      if (delta) break;
    }
  }
  const fs::path patch_file = with_suffix(dest, ".delta");
  bool keep_patch_partial = false;  // the delta's transfer was cut: its partial file may resume
  bool patch_partial_ours = false;  // ... and this call holds it (not another download's lock)
  if (delta) {
    bool stop = false;
    auto attempt = [&]() -> Status {
      EL_TRY(const Sha256 patch_sha, parse_sha256(delta->sha256, "the delta's sha256"));
      // A failed download reports nothing, so its bytes are counted as they arrive.
      std::error_code ec;
      const fs::path partial = Downloader::partial_path(patch_file);
      uint64_t last = fs::exists(partial, ec) ? fs::file_size(partial, ec) : 0, fetched = 0;
      DownloadOptions counted = options.download;
      counted.on_progress = [&](uint64_t now, uint64_t total) {
        if (now < last) last = 0;  // the partial file was restarted from byte 0
        fetched += now - last;
        last = now;
        if (options.download.on_progress) options.download.on_progress(now, total);
      };
      auto got = downloader.download(transport, delta->path, delta->length, patch_sha, patch_file, counted);
      report.bytes_downloaded += fetched;
      if (!got) {
        stop = stops_the_update(got.error().code);
        keep_patch_partial = worth_resuming(got.error().code);
        patch_partial_ours = got.error().code == ErrorCode::kIo;
        return std::unexpected(std::move(got).error());
      }
      report.resumed_from = got->resumed_from;
      report.transfers += got->transfers;
      EL_TRY(const SharedBytes patch, map_file(patch_file));
      ApplyOptions apply;
      apply.expected_length = target.length;
      apply.crash_hook = options.download.crash_hook;
      apply.base_verified = true;  // a LocalArtifact's bytes were checked against its SHA-256
      EL_TRY(report.apply, apply_delta(base->bytes.span(), patch.span(), dest, want, apply));
      return ok();
    };
    Status applied = attempt();
    if (applied) {
      remove_quietly(patch_file);
      report.delta = *delta;
      report.delta_base = base->label;
      return report;
    }
    if (stop)  // the partial patch stays: the next call resumes it
      return std::unexpected(std::move(applied).error().context(fmt::format("fetching the delta {}", delta->path)));
    // Fall back to the whole artifact. A patch whose bytes are wrong goes; one whose transfer was
    // cut stays until the full artifact is here, so that an outage that stops both resumes the
    // smaller download next time.
    remove_quietly(patch_file);
    if (!keep_patch_partial) remove_quietly(Downloader::partial_path(patch_file));
    remove_quietly(dest);
    report.fallback_reason = fmt::format("the delta from {} failed: {}", base->label, applied.error().message);
    report.resumed_from = 0;
  } else if (options.use_deltas && !target.deltas.empty()) {
    report.fallback_reason = fmt::format("none of the {} listed deltas starts from a model this device holds", target.deltas.size());
  }

  // 2. The whole artifact.
  auto got = downloader.download(transport, target_path, target.length, want, dest, options.download);
  if (!got) {
    if (delta) return std::unexpected(std::move(got).error().context(fmt::format("after {}", report.fallback_reason)));
    return std::unexpected(std::move(got).error());
  }
  if (patch_partial_ours) remove_quietly(Downloader::partial_path(patch_file));  // no longer needed
  report.bytes_downloaded += got->bytes_fetched;
  report.resumed_from = got->resumed_from;
  report.transfers += got->transfers;
  return report;
}

Result<std::vector<LocalArtifact>> slot_artifacts(const SlotStore& store) {
  const SlotState& s = store.state();
  std::vector<LocalArtifact> out;
  std::vector<Slot> order;
  if (s.active) order = {*s.active, other(*s.active)};
  for (Slot slot : order) {
    const auto& info = s.info(slot);
    if (!info) continue;
    auto bytes = store.read_slot(slot);
    if (!bytes) continue;  // a damaged slot is no base; the full download still works
    out.push_back({info->sha256, fmt::format("slot {} ({} {}, {})", to_string(slot), info->model, info->version, info->variant),
                   std::move(*bytes)});
  }
  return out;
}

Result<TargetInstallReport> install_target(Installer& installer, Downloader& downloader, Transport& transport,
                                           std::string_view target_path, const TargetInfo& target, const fs::path& work_dir,
                                           const FetchOptions& options, const FetchedCallback& on_fetched) {
  std::error_code ec;
  fs::create_directories(work_dir, ec);
  if (ec) return make_error(ErrorCode::kIo, "cannot create {}: {}", work_dir.string(), ec.message());
  // The folder holds one update's files at a time: what an earlier update left (another
  // target's partial download, a crashed writer's temporary) goes.
  const fs::path dest = work_dir / (target.sha256 + ".edge");
  const std::set<fs::path> keep = {dest, Downloader::partial_path(dest), with_suffix(dest, ".delta"),
                                   Downloader::partial_path(with_suffix(dest, ".delta"))};
  for (const auto& entry : fs::directory_iterator(work_dir, ec))
    if (!keep.count(entry.path())) fs::remove_all(entry.path(), ec);
  if (ec) return make_error(ErrorCode::kIo, "cannot clean {}: {}", work_dir.string(), ec.message());

  TargetInstallReport report;
  EL_TRY(const auto bases, slot_artifacts(installer.store()));
  ExpectedArtifact expected{target.length, target.sha256, target.model, target.model_version, target.variant};
  for (const LocalArtifact& local : bases) {
    if (local.sha256 != target.sha256) continue;
    // Still in a slot (e.g. a recalled trial): installed again from there. Installer::install
    // verifies the bytes and refuses the active slot's own artifact.
    report.fetch.already_there = true;
    report.fetch.local_source = local.label;
    if (on_fetched) on_fetched(report.fetch);
    EL_TRY(report.install, installer.install(local.bytes, expected));
    return report;
  }
  EL_TRY(report.fetch, fetch_artifact(downloader, transport, target_path, target, bases, dest, options));
  if (on_fetched) on_fetched(report.fetch);
  EL_TRY(report.install, installer.install_file(dest, expected));
  remove_quietly(dest);
  return report;
}

}  // namespace edgeloop::ota

#include "edgeloop/device/companion.h"

#include <cstdio>
#include <nlohmann/json.hpp>

#include "edgeloop/base/file.h"
#include "edgeloop/base/hash.h"
#include "edgeloop/fleet/rollout_resolver.h"
#include "edgeloop/ota/installer.h"

namespace edgeloop::device {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr size_t kMaxRecordBytes = 4096;

fs::path artifact_file(const fs::path& dir, std::string_view sha256) { return dir / (std::string(sha256) + ".edge"); }
fs::path record_file(const fs::path& dir, std::string_view sha256) { return dir / (std::string(sha256) + ".json"); }

std::string record_text(const CompanionInfo& info) {
  return json{{"format", "edgeloop-companion"}, {"format_version", 1},     {"model", info.model},
              {"version", info.version},        {"variant", info.variant}, {"sha256", info.sha256},
              {"length", info.length}}
      .dump();
}

std::optional<CompanionInfo> parse_record(ByteSpan bytes) {
  json j = json::parse(as_chars(bytes), nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || j.value("format", "") != "edgeloop-companion" || j.value("format_version", 0) != 1) return std::nullopt;
  try {
    CompanionInfo info{j.at("model").get<std::string>(), j.at("version").get<std::string>(), j.at("variant").get<std::string>(),
                       j.at("sha256").get<std::string>(), j.at("length").get<uint64_t>()};
    if (info.sha256.size() != 64) return std::nullopt;
    return info;
  } catch (const json::exception&) {
    return std::nullopt;
  }
}

// The bytes of a stored companion, checked against its record.
Result<SharedBytes> read_checked(const fs::path& dir, const CompanionInfo& info) {
  EL_TRY(SharedBytes bytes, map_file(artifact_file(dir, info.sha256)));
  if (bytes.size() != info.length || to_hex(sha256(bytes.span())) != info.sha256)
    return make_error(ErrorCode::kCorrupt, "the companion {} {} ({}) in {} does not match its record (length or SHA-256)",
                      info.model, info.version, info.variant, dir.string());
  return bytes;
}

}  // namespace

std::optional<CompanionTarget> choose_companion(const ota::TargetsMeta& targets, std::string_view main_path,
                                                std::string_view runtime_version) {
  auto main = targets.targets.find(std::string(main_path));
  if (main == targets.targets.end()) return std::nullopt;
  const ota::TargetInfo& m = main->second;
  std::optional<CompanionTarget> best;
  for (const auto& [path, t] : targets.targets) {
    if (path == main->first || t.model != m.model || !ota::parse_version(t.model_version) ||
        ota::compare_versions(t.model_version, m.model_version) != 0 || t.length >= m.length || !fleet::runs_on(t, runtime_version))
      continue;
    if (!best || t.length < best->info.length) best = CompanionTarget{path, t};
  }
  return best;
}

std::vector<CompanionInfo> CompanionStore::list() const {
  std::vector<CompanionInfo> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    if (entry.path().extension() != ".json") continue;
    auto bytes = read_file(entry.path(), kMaxRecordBytes);
    if (!bytes) continue;
    auto info = parse_record(*bytes);
    if (info && entry.path().stem() == info->sha256) out.push_back(std::move(*info));
  }
  return out;
}

Result<StoredCompanion> CompanionStore::find(std::string_view model, std::string_view version) const {
  for (CompanionInfo& info : list()) {
    if (info.model != model || info.version != version) continue;
    EL_TRY(SharedBytes bytes, read_checked(dir_, info));
    return StoredCompanion{std::move(info), std::move(bytes)};
  }
  return make_error(ErrorCode::kNotFound, "no companion of {} {} is installed", model, version);
}

Status CompanionStore::put(const fs::path& verified_file, const CompanionInfo& info) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) return make_error(ErrorCode::kIo, "cannot create {}: {}", dir_.string(), ec.message());
  const fs::path dest = artifact_file(dir_, info.sha256);
  fs::rename(verified_file, dest, ec);
  if (ec) return make_error(ErrorCode::kIo, "cannot move {} to {}: {}", verified_file.string(), dest.string(), ec.message());
  EL_CHECK(fsync_folder(dir_));
  return write_file_durable(record_file(dir_, info.sha256), as_bytes(record_text(info)));
}

Status CompanionStore::keep_only(std::string_view model, const std::vector<std::string>& versions) {
  bool removed = false;
  for (const CompanionInfo& info : list()) {
    if (info.model != model || std::find(versions.begin(), versions.end(), info.version) != versions.end()) continue;
    remove_quietly(record_file(dir_, info.sha256));
    remove_quietly(artifact_file(dir_, info.sha256));
    removed = true;
  }
  return removed ? fsync_folder(dir_) : ok();
}

std::string_view to_string(CompanionStatus status) {
  switch (status) {
    case CompanionStatus::kNone: return "none";
    case CompanionStatus::kStored: return "stored";
    case CompanionStatus::kInstalled: return "installed";
    case CompanionStatus::kRefused: return "refused";
  }
  return "?";
}

CompanionOutcome install_companion(CompanionStore& store, ota::Downloader& downloader, ota::Transport& transport,
                                   const CompanionTarget& target, const std::vector<ota::LocalArtifact>& slot_bases,
                                   const Clock& clock, const CompanionOptions& options) {
  CompanionOutcome out;
  out.target = target;
  const ota::TargetInfo& t = target.info;
  const CompanionInfo info{t.model, t.model_version, t.variant, t.sha256, t.length};
  auto refuse = [&](const Error& e) {
    out.status = CompanionStatus::kRefused;
    out.reason = e.message;
    return out;
  };

  // 1. Already stored, and its bytes still match: nothing to do. Other stored companions (an
  //    earlier version's smaller variant) are the delta bases.
  std::vector<ota::LocalArtifact> bases;
  for (const CompanionInfo& stored : store.list()) {
    auto bytes = read_checked(store.dir(), stored);
    if (stored.sha256 == t.sha256 && bytes) {
      out.status = CompanionStatus::kStored;
      return out;
    }
    if (bytes)
      bases.push_back({stored.sha256, fmt::format("companion {} {} ({})", stored.model, stored.version, stored.variant),
                       std::move(*bytes)});
  }
  bases.insert(bases.end(), slot_bases.begin(), slot_bases.end());

  // 2. Fetched into STORE/downloads, which holds one companion download at a time.
  const fs::path work = store.dir() / "downloads";
  std::error_code ec;
  fs::create_directories(work, ec);
  if (ec) return refuse(Error{ErrorCode::kIo, fmt::format("cannot create {}: {}", work.string(), ec.message())});
  const fs::path dest = work / (t.sha256 + ".edge");
  for (const auto& entry : fs::directory_iterator(work, ec))
    if (entry.path().filename().string().rfind(dest.filename().string(), 0) != 0) fs::remove_all(entry.path(), ec);
  auto fetched = ota::fetch_artifact(downloader, transport, target.path, t, bases, dest, options.fetch);
  if (!fetched) return refuse(fetched.error().context("fetching " + target.path));
  out.fetch = *fetched;

  // 3. Verified as the main model is, then stored.
  auto bytes = map_file(dest);
  auto verified = bytes ? ota::verify_artifact(*bytes, {t.length, t.sha256, t.model, t.model_version, t.variant}, clock,
                                               options.load, options.smoke_budget)
                        : Result<ota::VerifiedArtifact>(std::unexpected(bytes.error()));
  if (!verified) {
    remove_quietly(dest);
    return refuse(verified.error().context("verifying " + target.path));
  }
  out.smoke_time = verified->smoke_time;
  Status stored = store.put(dest, info);
  if (!stored) {
    remove_quietly(dest);
    return refuse(stored.error().context("storing the companion"));
  }
  out.status = CompanionStatus::kInstalled;
  return out;
}

}  // namespace edgeloop::device

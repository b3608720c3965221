#include "edgeloop/ota/client.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <set>

#include "edgeloop/base/file.h"
#include "edgeloop/base/hash.h"

namespace edgeloop::ota {
namespace {

namespace fs = std::filesystem;

std::filesystem::path metadata_dir(const fs::path& data_dir) { return data_dir / "metadata"; }

size_t cap_of(Role role) {
  switch (role) {
    case Role::kRoot: return kMaxRootBytes;
    case Role::kTimestamp: return kMaxTimestampBytes;
    case Role::kSnapshot: return kMaxSnapshotBytes;
    case Role::kTargets: return kMaxTargetsBytes;
    case Role::kRollout: return kMaxRolloutBytes;
  }
  return 0;
}


// A transport's error with the repository and the file in front; its code is kept (kIo,
// kNotFound, kOutOfRange) so a caller can tell "offline" from "hostile".
Error fetch_error(const Error& error, const Transport& transport, std::string_view file, std::string_view role) {
  if (error.code == ErrorCode::kOutOfRange)
    return {error.code, fmt::format("{} ({} from {}): the repository serves more bytes than allowed, refused: {}", file,
                                    role, transport.describe(), error.message)};
  return {error.code, fmt::format("{} ({} from {}): {}", file, role, transport.describe(), error.message)};
}

std::unexpected<Error> corrupt(std::string_view file, std::string message) {
  return std::unexpected(Error{ErrorCode::kCorrupt, fmt::format("{}: {}", file, message)});
}

// Parses `bytes` as `role` and checks a threshold of `role`'s keys in `root` signed it.
template <class Meta, class Parse>
Result<Signed<Meta>> parse_verified(ByteSpan bytes, Parse parse, const RootMeta& root, Role role,
                                    std::string_view file) {
  auto parsed = parse(bytes);
  if (!parsed)
    return std::unexpected(Error{parsed.error().code, fmt::format("{}: not a valid {} file: {}", file, role_name(role),
                                                                  parsed.error().message)});
  auto verified = verify_threshold(root, role, parsed->canonical, parsed->signatures);
  if (!verified)
    return corrupt(file, fmt::format("{} version {} is not signed by a threshold of the {} keys of root version {}: {}",
                                     role_name(role), parsed->meta.version, role_name(role), root.version,
                                     verified.error().message));
  return std::move(*parsed);
}

Status check_expiry(std::string_view file, Role role, const Common& meta, int64_t now) {
  if (now < meta.expires) return ok();
  return make_error(ErrorCode::kFailedPrecondition,
                    "{}: {} version {} expired at {} (now {}): the repository is not being refreshed (a freeze "
                    "attack or a stale mirror), or the device clock is wrong",
                    file, role_name(role), meta.version, format_time(meta.expires), format_time(now));
}

std::set<std::string> keyids_of(const RootMeta& root, Role role) {
  auto it = root.roles.find(role);
  if (it == root.roles.end()) return {};
  return {it->second.keyids.begin(), it->second.keyids.end()};
}

// Removes `path` (if present) so that it stays removed after a crash: unlink, then fsync the folder.
Status remove_durable(const fs::path& path) {
  if (::unlink(path.c_str()) != 0) {
    if (errno == ENOENT) return ok();
    return make_error(ErrorCode::kIo, "cannot remove {}: {}", path.string(), std::strerror(errno));
  }
  return fsync_folder(path.parent_path());
}

// Loads one trusted file written by provision/update, re-verified against `root`.
template <class Meta, class Parse>
Result<std::optional<Signed<Meta>>> load_trusted(const fs::path& path, Parse parse, const RootMeta& root, Role role,
                                                 std::map<Role, std::vector<std::byte>>& files) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return std::optional<Signed<Meta>>{};
  auto bytes = read_file(path, cap_of(role));
  if (!bytes) return std::unexpected(bytes.error().context(fmt::format("trusted {} metadata", role_name(role))));
  auto parsed = parse_verified<Meta>(*bytes, parse, root, role, path.string());
  if (!parsed)
    return std::unexpected(Error{ErrorCode::kCorrupt,
                                 fmt::format("trusted {} metadata is corrupt: {} (remove the file and update again to "
                                             "fetch it anew)",
                                             role_name(role), parsed.error().message)});
  files[role] = std::move(*bytes);
  return std::optional<Signed<Meta>>(std::move(*parsed));
}

}  // namespace

Status Client::provision(const fs::path& data_dir, ByteSpan root_file) {
  const fs::path dir = metadata_dir(data_dir);
  const fs::path path = dir / "root.json";
  std::error_code ec;
  if (fs::exists(path, ec))
    return make_error(ErrorCode::kFailedPrecondition,
                      "{} already holds a trusted root; a provisioned device only moves to newer roots through "
                      "update (use a new data directory to start over)",
                      path.string());
  if (root_file.size() > kMaxRootBytes)
    return make_error(ErrorCode::kOutOfRange, "provisioning root: {} bytes, more than the limit of {}",
                      root_file.size(), kMaxRootBytes);
  auto root = parse_root(root_file);
  if (!root) return std::unexpected(root.error().context("provisioning root: not a valid root file"));
  auto verified = verify_threshold(root->meta, Role::kRoot, root->canonical, root->signatures);
  if (!verified)
    return make_error(ErrorCode::kCorrupt,
                      "provisioning root: root version {} is not signed by a threshold of its own root keys: {}",
                      root->meta.version, verified.error().message);
  fs::create_directories(dir, ec);
  if (ec) return make_error(ErrorCode::kIo, "cannot create {}: {}", dir.string(), ec.message());
  EL_CHECK(write_file_durable(path, root_file));
  return ok();
}

Result<Client> Client::open(const fs::path& data_dir, const Clock& clock) {
  const fs::path dir = metadata_dir(data_dir);
  std::map<Role, std::vector<std::byte>> files;
  const fs::path root_path = dir / "root.json";
  std::error_code ec;
  if (!fs::exists(root_path, ec))
    return make_error(ErrorCode::kNotFound, "{} does not exist: provision the device with its first root.json",
                      root_path.string());
  auto root_bytes = read_file(root_path, kMaxRootBytes);
  if (!root_bytes) return std::unexpected(root_bytes.error().context("trusted root metadata"));
  auto root = parse_root(*root_bytes);
  if (!root)
    return make_error(ErrorCode::kCorrupt, "trusted root metadata {} is corrupt: {} (provision the device again)",
                      root_path.string(), root.error().message);
  auto self = verify_threshold(root->meta, Role::kRoot, root->canonical, root->signatures);
  if (!self)
    return make_error(ErrorCode::kCorrupt,
                      "trusted root metadata {} is corrupt: root version {} is not signed by a threshold of its own "
                      "root keys: {} (provision the device again)",
                      root_path.string(), root->meta.version, self.error().message);
  files[Role::kRoot] = std::move(*root_bytes);

  TrustedMetadata trusted{std::move(*root), {}, {}, {}, {}};
  const RootMeta& r = trusted.root.meta;
  EL_TRY(trusted.timestamp,
         load_trusted<TimestampMeta>(dir / "timestamp.json", parse_timestamp, r, Role::kTimestamp, files));
  EL_TRY(trusted.snapshot,
         load_trusted<SnapshotMeta>(dir / "snapshot.json", parse_snapshot, r, Role::kSnapshot, files));
  EL_TRY(trusted.targets, load_trusted<TargetsMeta>(dir / "targets.json", parse_targets, r, Role::kTargets, files));
  EL_TRY(trusted.rollout, load_trusted<RolloutMeta>(dir / "rollout.json", parse_rollout, r, Role::kRollout, files));
  return Client(data_dir, clock, std::move(trusted), std::move(files));
}

fs::path Client::path_of(Role role) const { return metadata_dir(data_dir_) / fmt::format("{}.json", role_name(role)); }

Status Client::discard(Role role) {
  EL_CHECK(remove_durable(path_of(role)));
  files_.erase(role);
  switch (role) {
    case Role::kTimestamp: trusted_.timestamp.reset(); break;
    case Role::kSnapshot: trusted_.snapshot.reset(); break;
    case Role::kTargets: trusted_.targets.reset(); break;
    case Role::kRollout: trusted_.rollout.reset(); break;
    case Role::kRoot: break;
  }
  return ok();
}

Status Client::update_root(Transport& transport, UpdateReport& report) {
  for (int step = 0; step < kMaxRootRotations; ++step) {
    const RootMeta& current = trusted_.root.meta;
    if (current.version == std::numeric_limits<int64_t>::max()) break;
    const int64_t next = current.version + 1;
    const std::string file = fmt::format("metadata/{}.root.json", next);
    auto bytes = transport.fetch(file, kMaxRootBytes);
    if (!bytes) {
      if (bytes.error().code == ErrorCode::kNotFound) break;  // the chain ends here
      return std::unexpected(fetch_error(bytes.error(), transport, file, "root"));
    }
    auto root = parse_root(*bytes);
    if (!root)
      return std::unexpected(
          Error{root.error().code, fmt::format("{}: not a valid root file: {}", file, root.error().message)});
    auto by_old = verify_threshold(current, Role::kRoot, root->canonical, root->signatures);
    if (!by_old)
      return corrupt(file, fmt::format("root version {} is not signed by a threshold of the root keys of the trusted "
                                       "root version {}: {}",
                                       root->meta.version, current.version, by_old.error().message));
    auto by_new = verify_threshold(root->meta, Role::kRoot, root->canonical, root->signatures);
    if (!by_new)
      return corrupt(file, fmt::format("root version {} is not signed by a threshold of its own root keys: {}",
                                       root->meta.version, by_new.error().message));
    if (root->meta.version != next)
      return corrupt(file, fmt::format("holds root version {}, expected {} (the chain must go one version at a time)",
                                       root->meta.version, next));

    // Trusted files whose role's keys the new root changes can no longer be verified and may
    // carry versions a compromised key fast-forwarded: drop them (TUF 5.3.11). Dropped before
    // the new root is persisted, so a crash in between never leaves a file the trusted root
    // cannot verify. A timestamp or snapshot key change drops both (the timestamp's snapshot
    // version is what a snapshot is checked against).
    auto changed = [&](Role role) { return keyids_of(current, role) != keyids_of(root->meta, role); };
    std::vector<Role> drop;
    if (changed(Role::kTimestamp) || changed(Role::kSnapshot)) drop = {Role::kTimestamp, Role::kSnapshot};
    if (changed(Role::kTargets)) drop.push_back(Role::kTargets);
    if (changed(Role::kRollout)) drop.push_back(Role::kRollout);
    for (Role role : drop) {
      if (!files_.contains(role)) continue;
      EL_CHECK(discard(role));
      report.discarded.push_back(role);
    }

    EL_CHECK(write_file_durable(path_of(Role::kRoot), *bytes));
    trusted_.root = std::move(*root);
    files_[Role::kRoot] = std::move(*bytes);
  }
  report.root_to = trusted_.root.meta.version;
  return check_expiry("metadata/root.json", Role::kRoot, trusted_.root.meta, clock_->unix_seconds());
}

Result<UpdateReport> Client::update(Transport& transport) {
  UpdateReport report;
  report.root_from = trusted_.root.meta.version;
  EL_CHECK(update_root(transport, report));
  const RootMeta& root = trusted_.root.meta;
  const int64_t now = clock_->unix_seconds();

  // Timestamp.
  const std::string ts_file = "metadata/timestamp.json";
  auto ts_bytes = transport.fetch(ts_file, kMaxTimestampBytes);
  if (!ts_bytes) return std::unexpected(fetch_error(ts_bytes.error(), transport, ts_file, "timestamp"));
  EL_TRY(auto timestamp, parse_verified<TimestampMeta>(*ts_bytes, parse_timestamp, root, Role::kTimestamp, ts_file));
  const TimestampMeta& ts = timestamp.meta;
  bool ts_same = false;
  if (trusted_.timestamp) {
    const TimestampMeta& old = trusted_.timestamp->meta;
    if (ts.version < old.version)
      return corrupt(ts_file, fmt::format("timestamp version {} is older than the trusted version {} (a rollback "
                                          "attack or a stale mirror)",
                                          ts.version, old.version));
    if (ts.version == old.version) {
      if (!std::ranges::equal(*ts_bytes, files_.at(Role::kTimestamp)))
        return corrupt(ts_file, fmt::format("timestamp version {} is the trusted version but its bytes differ (two "
                                            "different files signed with one version)",
                                            ts.version));
      ts_same = true;
    }
    if (ts.snapshot.version < old.snapshot.version)
      return corrupt(ts_file, fmt::format("timestamp version {} names snapshot version {}, older than the trusted "
                                          "timestamp's snapshot version {} (a rollback attack)",
                                          ts.version, ts.snapshot.version, old.snapshot.version));
  }
  if (trusted_.snapshot && ts.snapshot.version < trusted_.snapshot->meta.version)
    return corrupt(ts_file, fmt::format("timestamp version {} names snapshot version {}, older than the trusted "
                                        "snapshot version {} (a rollback attack)",
                                        ts.version, ts.snapshot.version, trusted_.snapshot->meta.version));
  EL_CHECK(check_expiry(ts_file, Role::kTimestamp, ts, now));
  if (ts.snapshot.length > kMaxSnapshotBytes)
    return corrupt(ts_file,
                   fmt::format("timestamp version {} declares a snapshot of {} bytes, more than the limit of {}",
                               ts.version, ts.snapshot.length, kMaxSnapshotBytes));
  report.timestamp_changed = !ts_same;

  // Snapshot: the trusted one if the timestamp still names it, else metadata/<V>.snapshot.json.
  const std::string ts_desc = fmt::format("timestamp version {}", ts.version);
  std::optional<Signed<SnapshotMeta>> new_snapshot;
  std::vector<std::byte> snapshot_bytes;
  const std::string snap_file = fmt::format("metadata/{}.snapshot.json", ts.snapshot.version);
  if (trusted_.snapshot && trusted_.snapshot->meta.version == ts.snapshot.version) {
    // Same version: it must be the same file (a second snapshot with one version is equivocation).
    EL_CHECK(check_meta_file(snap_file, Role::kSnapshot, files_.at(Role::kSnapshot), ts.snapshot, ts_desc));
  } else {
    auto bytes = transport.fetch(snap_file, ts.snapshot.length);
    if (!bytes) return std::unexpected(fetch_error(bytes.error(), transport, snap_file, "snapshot"));
    EL_CHECK(check_meta_file(snap_file, Role::kSnapshot, *bytes, ts.snapshot, ts_desc));
    EL_TRY(auto parsed, parse_verified<SnapshotMeta>(*bytes, parse_snapshot, root, Role::kSnapshot, snap_file));
    if (parsed.meta.version != ts.snapshot.version)
      return corrupt(snap_file, fmt::format("holds snapshot version {}, but {} names version {}", parsed.meta.version,
                                            ts_desc, ts.snapshot.version));
    if (trusted_.snapshot) {
      const SnapshotMeta& old = trusted_.snapshot->meta;
      if (parsed.meta.targets.version < old.targets.version)
        return corrupt(snap_file, fmt::format("snapshot version {} names targets version {}, older than the trusted "
                                              "snapshot's {} (a rollback attack)",
                                              parsed.meta.version, parsed.meta.targets.version, old.targets.version));
      if (parsed.meta.rollout.version < old.rollout.version)
        return corrupt(snap_file, fmt::format("snapshot version {} names rollout version {}, older than the trusted "
                                              "snapshot's {} (a rollback attack)",
                                              parsed.meta.version, parsed.meta.rollout.version, old.rollout.version));
    }
    new_snapshot = std::move(parsed);
    snapshot_bytes = std::move(*bytes);
  }
  const Signed<SnapshotMeta>& snapshot = new_snapshot ? *new_snapshot : *trusted_.snapshot;
  const SnapshotMeta& snap = snapshot.meta;
  EL_CHECK(check_expiry(snap_file, Role::kSnapshot, snap, now));
  const std::string snap_desc = fmt::format("snapshot version {}", snap.version);

  // Targets and rollout, each the trusted file if the snapshot still names it, else fetched.
  auto fetch_role = [&]<class Meta, class Parse>(Role role, const MetaFile& meta, size_t cap, Parse parse,
                                                 const std::optional<Signed<Meta>>& trusted,
                                                 std::optional<Signed<Meta>>& fresh,
                                                 std::vector<std::byte>& fresh_bytes) -> Status {
    const std::string file = fmt::format("metadata/{}.{}.json", meta.version, role_name(role));
    if (trusted) {
      if (meta.version < trusted->meta.version)
        return corrupt(file,
                       fmt::format("{} names {} version {}, older than the trusted version {} (a rollback attack)",
                                   snap_desc, role_name(role), meta.version, trusted->meta.version));
      if (meta.version == trusted->meta.version) return check_meta_file(file, role, files_.at(role), meta, snap_desc);
    }
    if (meta.length > cap)
      return corrupt(file, fmt::format("{} declares {} of {} bytes, more than the limit of {}", snap_desc,
                                       role_name(role), meta.length, cap));
    auto bytes = transport.fetch(file, meta.length);
    if (!bytes) return std::unexpected(fetch_error(bytes.error(), transport, file, role_name(role)));
    EL_CHECK(check_meta_file(file, role, *bytes, meta, snap_desc));
    EL_TRY(auto parsed, parse_verified<Meta>(*bytes, parse, root, role, file));
    if (parsed.meta.version != meta.version)
      return corrupt(file, fmt::format("holds {} version {}, but {} names version {}", role_name(role),
                                       parsed.meta.version, snap_desc, meta.version));
    fresh = std::move(parsed);
    fresh_bytes = std::move(*bytes);
    return ok();
  };
  std::optional<Signed<TargetsMeta>> new_targets;
  std::vector<std::byte> targets_bytes;
  EL_CHECK(fetch_role(Role::kTargets, snap.targets, kMaxTargetsBytes, parse_targets, trusted_.targets, new_targets,
                      targets_bytes));
  std::optional<Signed<RolloutMeta>> new_rollout;
  std::vector<std::byte> rollout_bytes;
  EL_CHECK(fetch_role(Role::kRollout, snap.rollout, kMaxRolloutBytes, parse_rollout, trusted_.rollout, new_rollout,
                      rollout_bytes));
  const Signed<TargetsMeta>& targets = new_targets ? *new_targets : *trusted_.targets;
  const Signed<RolloutMeta>& rollout = new_rollout ? *new_rollout : *trusted_.rollout;
  const std::string targets_file = fmt::format("metadata/{}.targets.json", targets.meta.version);
  const std::string rollout_file = fmt::format("metadata/{}.rollout.json", rollout.meta.version);
  EL_CHECK(check_expiry(targets_file, Role::kTargets, targets.meta, now));
  EL_CHECK(check_expiry(rollout_file, Role::kRollout, rollout.meta, now));
  if (new_targets || new_rollout) {
    const RolloutMeta* previous = trusted_.rollout ? &trusted_.rollout->meta : nullptr;
    auto checked = check_rollout(rollout.meta, targets.meta, previous);
    if (!checked)
      return corrupt(rollout_file, fmt::format("rollout version {} with targets version {} is refused: {}",
                                               rollout.meta.version, targets.meta.version, checked.error().message));
  }

  report.snapshot_version = snap.version;
  report.targets_version = targets.meta.version;
  report.rollout_version = rollout.meta.version;

  // Everything verified: persist. Targets and rollout first, timestamp last, so that after a
  // crash in between the timestamp is only "the same" when all it names is already trusted
  // (the next update fetches whatever is missing).
  if (new_targets) {
    EL_CHECK(write_file_durable(path_of(Role::kTargets), targets_bytes));
    trusted_.targets = std::move(new_targets);
    files_[Role::kTargets] = std::move(targets_bytes);
  }
  if (new_rollout) {
    EL_CHECK(write_file_durable(path_of(Role::kRollout), rollout_bytes));
    trusted_.rollout = std::move(new_rollout);
    files_[Role::kRollout] = std::move(rollout_bytes);
  }
  if (new_snapshot) {
    EL_CHECK(write_file_durable(path_of(Role::kSnapshot), snapshot_bytes));
    trusted_.snapshot = std::move(new_snapshot);
    files_[Role::kSnapshot] = std::move(snapshot_bytes);
  }
  if (!ts_same) {
    EL_CHECK(write_file_durable(path_of(Role::kTimestamp), *ts_bytes));
    trusted_.timestamp = std::move(timestamp);
    files_[Role::kTimestamp] = std::move(*ts_bytes);
  }
  return report;
}

Result<std::vector<std::byte>> Client::fetch_target(Transport& transport, std::string_view path) const {
  if (!trusted_.targets)
    return make_error(ErrorCode::kFailedPrecondition, "cannot fetch {}: no trusted targets yet (update first)", path);
  const TargetsMeta& targets = trusted_.targets->meta;
  auto it = targets.targets.find(std::string(path));
  if (it == targets.targets.end())
    return make_error(ErrorCode::kNotFound, "{} is not a target of the trusted targets version {}: refused", path,
                      targets.version);
  const TargetInfo& info = it->second;
  auto bytes = transport.fetch(path, info.length);
  if (!bytes) return std::unexpected(fetch_error(bytes.error(), transport, path, "target"));
  if (bytes->size() != info.length)
    return make_error(ErrorCode::kCorrupt, "{}: {} bytes but targets version {} says {}: refused", path, bytes->size(),
                      targets.version, info.length);
  std::string hash = sha256_hex(*bytes);
  if (hash != info.sha256)
    return make_error(ErrorCode::kCorrupt,
                      "{}: SHA-256 {} but targets version {} says {}: the artifact was tampered "
                      "with, refused",
                      path, hash, targets.version, info.sha256);
  return std::move(*bytes);
}

}  // namespace edgeloop::ota

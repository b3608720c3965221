#include "edgeloop/ota/repository.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "edgeloop/base/file.h"
#include "edgeloop/base/hash.h"
#include "edgeloop/crypto/key_file.h"
#include "edgeloop/model/artifact.h"
#include "edgeloop/ota/delta_generator.h"

namespace edgeloop::ota {
namespace {

namespace fs = std::filesystem;

// ------------------------------------------------------------------------- paths and files

fs::path metadata_dir(const fs::path& dir) { return dir / "public" / "metadata"; }
fs::path artifacts_dir(const fs::path& dir) { return dir / "public" / "artifacts"; }

std::string versioned_name(int64_t version, Role role) { return fmt::format("{}.{}.json", version, role_name(role)); }

size_t max_bytes(Role role) {
  switch (role) {
    case Role::kRoot: return kMaxRootBytes;
    case Role::kTargets: return kMaxTargetsBytes;
    case Role::kSnapshot: return kMaxSnapshotBytes;
    case Role::kTimestamp: return kMaxTimestampBytes;
    case Role::kRollout: return kMaxRolloutBytes;
  }
  return 0;
}

std::unexpected<Error> fs_error(std::string_view what, const fs::path& path, const std::error_code& ec) {
  return make_error(ErrorCode::kIo, "{} {}: {}", what, path.string(), ec.message());
}

// A folder only its owner can enter (keys).
Status make_private_dir(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return fs_error("cannot create", dir, ec);
  fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, ec);
  if (ec) return fs_error("cannot set the mode of", dir, ec);
  return ok();
}

Status durable_rename(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  fs::rename(from, to, ec);
  if (ec) return make_error(ErrorCode::kIo, "cannot rename {} to {}: {}", from.string(), to.string(), ec.message());
  EL_CHECK(fsync_folder(to.parent_path()));
  if (from.parent_path() != to.parent_path()) EL_CHECK(fsync_folder(from.parent_path()));
  return ok();
}

bool empty_or_missing(const fs::path& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) return true;
  return fs::is_directory(dir, ec) && fs::is_empty(dir, ec);
}


// Prefixes an error with where it happened (g++ 12's std::expected has no monadic operations).
template <class T>
Result<T> with_context(Result<T> r, std::string_view where) {
  if (!r) return std::unexpected(std::move(r).error().context(where));
  return r;
}

// One command at a time per repository: two concurrent commands would both sign version N+1.
class RepositoryLock {
 public:
  static Result<RepositoryLock> acquire(const fs::path& dir) {
    const fs::path path = dir / ".lock";
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return make_error(ErrorCode::kIo, "cannot open {}: {}", path.string(), std::strerror(errno));
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      ::close(fd);
      return make_error(ErrorCode::kFailedPrecondition,
                        "another edgeloop repo command is working on {} (it holds {}); wait for it to finish", dir.string(),
                        path.string());
    }
    return RepositoryLock(fd);
  }
  RepositoryLock(RepositoryLock&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  RepositoryLock(const RepositoryLock&) = delete;
  RepositoryLock& operator=(const RepositoryLock&) = delete;
  RepositoryLock& operator=(RepositoryLock&&) = delete;
  ~RepositoryLock() {
    if (fd_ >= 0) ::close(fd_);  // releases the flock
  }

 private:
  explicit RepositoryLock(int fd) : fd_(fd) {}
  int fd_;
};

// ------------------------------------------------------------------------- names

bool valid_tier(std::string_view tier) {
  if (tier.empty() || tier.size() > 64) return false;
  for (char c : tier)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) return false;
  return std::isalnum(static_cast<unsigned char>(tier.front()));
}

Status check_tier(std::string_view tier) {
  if (!valid_tier(tier))
    return make_error(ErrorCode::kInvalidArgument,
                      "tier '{}' is not a valid tier name (letters, digits, '.', '-', '_', starting with a letter or digit, at "
                      "most 64 characters)",
                      tier);
  return ok();
}

Status check_version(std::string_view version, std::string_view what) {
  if (!parse_version(version))
    return make_error(ErrorCode::kInvalidArgument,
                      "{} '{}' is not a version: dotted non-negative integers like 3 or 1.2.0", what, version);
  return ok();
}

bool is_hex(std::string_view s, size_t length) {
  return s.size() == length && std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// ------------------------------------------------------------------------- loading the state

template <class Meta>
struct Loaded {
  Signed<Meta> meta;
  std::vector<std::byte> bytes;  // the file as served
};

struct State {
  std::vector<Loaded<RootMeta>> roots;  // 1..N, each verified against the one before
  Loaded<TimestampMeta> timestamp;
  Loaded<SnapshotMeta> snapshot;
  Loaded<TargetsMeta> targets;
  Loaded<RolloutMeta> rollout;
  std::set<Role> stale;                 // still signed by the previous root's keys
  std::map<Role, int64_t> highest_on_disk;  // newest N.<role>.json present, written or orphaned

  const RootMeta& root() const { return roots.back().meta.meta; }
  int64_t next_version(Role role, int64_t current) const {
    auto it = highest_on_disk.find(role);
    return std::max(current, it == highest_on_disk.end() ? 0 : it->second) + 1;
  }
};

template <class Meta>
using Parser = Result<Signed<Meta>> (*)(ByteSpan);

template <class Meta>
Result<Loaded<Meta>> read_role(const fs::path& path, Role role, Parser<Meta> parse) {
  EL_TRY(std::vector<std::byte> bytes, read_file(path, max_bytes(role)));
  EL_TRY(Signed<Meta> meta, with_context(parse(bytes), path.string()));
  return Loaded<Meta>{std::move(meta), std::move(bytes)};
}

// The role's signatures against the newest root; against the previous root they make the role
// stale (a rotate-root that stopped before re-signing it), anything else is an error.
Status verify_current(State& s, Role role, const std::string& canonical_signed, const std::vector<SignatureEntry>& signatures,
                      const fs::path& path) {
  auto newest = verify_threshold(s.root(), role, canonical_signed, signatures);
  if (newest) return ok();
  if (s.roots.size() >= 2 && verify_threshold(s.roots[s.roots.size() - 2].meta.meta, role, canonical_signed, signatures)) {
    s.stale.insert(role);
    return ok();
  }
  return std::unexpected(std::move(newest).error().context(
      fmt::format("{} does not verify against root v{}", path.string(), s.root().version)));
}

// A versioned role file as its parent lists it: that version's file, its length and hash, its
// own version, its signatures.
template <class Meta>
Result<Loaded<Meta>> read_listed(State& s, const fs::path& meta_dir, const MetaFile& listed, Role role, Parser<Meta> parse) {
  const fs::path path = meta_dir / versioned_name(listed.version, role);
  EL_TRY(Loaded<Meta> loaded, read_role<Meta>(path, role, parse));
  EL_CHECK(check_meta_file(path.string(), role, loaded.bytes, listed, "the newer metadata"));
  if (loaded.meta.meta.version != listed.version)
    return make_error(ErrorCode::kCorrupt, "{} has version {}", path.string(), loaded.meta.meta.version);
  EL_CHECK(verify_current(s, role, loaded.meta.canonical, loaded.meta.signatures, path));
  return loaded;
}

Result<State> load_state(const fs::path& dir) {
  const fs::path meta = metadata_dir(dir);
  std::error_code ec;
  if (!fs::is_regular_file(meta / "1.root.json", ec))
    return make_error(ErrorCode::kNotFound, "{} is not an edgeloop repository (no {}); create one with `edgeloop repo init`",
                      dir.string(), (meta / "1.root.json").string());
  State s;
  std::set<int64_t> root_versions;
  for (const auto& entry : fs::directory_iterator(meta, ec)) {
    const std::string name = entry.path().filename().string();
    const size_t dot = name.find('.');
    if (dot == std::string::npos || dot == 0 || dot > 18 || !name.ends_with(".json")) continue;
    const std::string number = name.substr(0, dot);
    if (!std::all_of(number.begin(), number.end(), [](char c) { return c >= '0' && c <= '9'; }) || number[0] == '0') continue;
    auto role = role_from_name(std::string_view(name).substr(dot + 1, name.size() - dot - 1 - 5));
    if (!role || *role == Role::kTimestamp) continue;
    const int64_t version = std::stoll(number);
    s.highest_on_disk[*role] = std::max(s.highest_on_disk[*role], version);
    if (*role == Role::kRoot) root_versions.insert(version);
  }
  if (ec) return fs_error("cannot list", meta, ec);

  // Root chain: 1 is signed by its own root keys; N+1 by N's and its own.
  const int64_t newest_root = *root_versions.rbegin();
  for (int64_t n = 1; n <= newest_root; ++n) {
    const fs::path path = meta / versioned_name(n, Role::kRoot);
    if (!root_versions.contains(n))
      return make_error(ErrorCode::kCorrupt, "{} is missing: the root chain 1..{} has a gap", path.string(), newest_root);
    EL_TRY(auto root, read_role<RootMeta>(path, Role::kRoot, &parse_root));
    if (root.meta.meta.version != n)
      return make_error(ErrorCode::kCorrupt, "{} has version {}", path.string(), root.meta.meta.version);
    const RootMeta& signer = s.roots.empty() ? root.meta.meta : s.roots.back().meta.meta;
    EL_CHECK(with_context(verify_threshold(signer, Role::kRoot, root.meta.canonical, root.meta.signatures), path.string()));
    if (!s.roots.empty())
      EL_CHECK(with_context(verify_threshold(root.meta.meta, Role::kRoot, root.meta.canonical, root.meta.signatures),
                            path.string() + " (its own root keys)"));
    s.roots.push_back(std::move(root));
  }

  const fs::path ts_path = meta / "timestamp.json";
  EL_TRY(s.timestamp, read_role<TimestampMeta>(ts_path, Role::kTimestamp, &parse_timestamp));
  EL_CHECK(verify_current(s, Role::kTimestamp, s.timestamp.meta.canonical, s.timestamp.meta.signatures, ts_path));

  EL_TRY(s.snapshot, read_listed<SnapshotMeta>(s, meta, s.timestamp.meta.meta.snapshot, Role::kSnapshot, &parse_snapshot));
  EL_TRY(s.targets, read_listed<TargetsMeta>(s, meta, s.snapshot.meta.meta.targets, Role::kTargets, &parse_targets));
  EL_TRY(s.rollout, read_listed<RolloutMeta>(s, meta, s.snapshot.meta.meta.rollout, Role::kRollout, &parse_rollout));
  return s;
}

// ------------------------------------------------------------------------- keys

fs::path key_path(const fs::path& keys, Role role) { return keys / fmt::format("{}.key", role_name(role)); }
// A key made by rotate-root that is not yet the role's key file: it becomes `<role>.key` once
// the root listing it is written.
fs::path next_key_path(const fs::path& keys, Role role) { return keys / fmt::format("{}.next.key", role_name(role)); }

bool listed_for(const RootMeta& root, Role role, const std::string& keyid) {
  auto it = root.roles.find(role);
  return it != root.roles.end() && std::find(it->second.keyids.begin(), it->second.keyids.end(), keyid) != it->second.keyids.end();
}

// Keys the signing commands have loaded, by role.
class Keys {
 public:
  Keys(fs::path dir, std::string passphrase) : dir_(std::move(dir)), passphrase_(std::move(passphrase)) {}

  // The key of `role` that `root` lists: keys/<role>.key, or keys/<role>.next.key during a
  // rotation. A key given with `provide` wins.
  Result<const crypto::KeyPair*> get(const RootMeta& root, Role role) {
    if (auto it = keys_.find(role); it != keys_.end() && listed_for(root, role, crypto::key_id(it->second->public_key)))
      return it->second.get();
    std::error_code ec;
    for (const fs::path& path : {key_path(dir_, role), next_key_path(dir_, role)}) {
      if (!fs::exists(path, ec)) continue;
      EL_TRY(crypto::KeyFileInfo info, crypto::read_key_file_info(path));
      if (!listed_for(root, role, info.key_id)) continue;
      if (info.encrypted && passphrase_.empty())
        return make_error(ErrorCode::kFailedPrecondition,
                          "{} is encrypted: give its passphrase (edgeloop repo: --passphrase-env VAR)", path.string());
      EL_TRY(crypto::KeyPair key, crypto::read_key_file(path, passphrase_));
      auto owned = std::make_unique<crypto::KeyPair>(std::move(key));
      const crypto::KeyPair* raw = owned.get();
      keys_[role] = std::move(owned);
      return raw;
    }
    return make_error(ErrorCode::kNotFound,
                      "no {} key of root v{} in {} (looked for {}): point --keys at the folder with the {} key", role_name(role),
                      root.version, dir_.string(), key_path(dir_, role).filename().string(), role_name(role));
  }
  void provide(Role role, crypto::KeyPair key) { keys_[role] = std::make_unique<crypto::KeyPair>(std::move(key)); }

 private:
  fs::path dir_;
  std::string passphrase_;
  std::map<Role, std::unique_ptr<crypto::KeyPair>> keys_;
};

// After a rotation wrote its root: each <role>.next.key that root lists replaces <role>.key,
// which moves to retired/<keyid>.key. Done again by the next command if a crash stopped it.
Status settle_rotated_keys(const fs::path& keys, const RootMeta& root) {
  std::error_code ec;
  for (Role role : kAllRoles) {
    const fs::path next = next_key_path(keys, role);
    if (!fs::exists(next, ec)) continue;
    EL_TRY(crypto::KeyFileInfo next_info, crypto::read_key_file_info(next));
    if (!listed_for(root, role, next_info.key_id)) continue;  // not (yet) in a root: rotate-root replaces it
    const fs::path current = key_path(keys, role);
    if (fs::exists(current, ec)) {
      EL_TRY(crypto::KeyFileInfo old_info, crypto::read_key_file_info(current));
      EL_CHECK(make_private_dir(keys / "retired"));
      const fs::path retired = keys / "retired" / (old_info.key_id + ".key");
      if (fs::exists(retired, ec)) {
        fs::remove(current, ec);  // the same key is already retired
        if (ec) return fs_error("cannot remove", current, ec);
      } else {
        EL_CHECK(durable_rename(current, retired));
      }
    }
    EL_CHECK(durable_rename(next, current));
  }
  return ok();
}

// ------------------------------------------------------------------------- signing

template <class Meta>
struct SignedOutput {
  Meta meta;
  std::vector<std::byte> bytes;
};

// Signs `meta`, then parses the file back and verifies it against `verifiers` the way a client
// does, so nothing is written that a client would refuse.
template <class Meta>
Result<std::vector<std::byte>> sign_and_check(const Meta& meta, Role role, const std::vector<const crypto::KeyPair*>& keys,
                                              const std::vector<const RootMeta*>& verifiers, Parser<Meta> parse) {
  std::vector<std::byte> bytes = sign_file(canonical(meta), keys);
  if (bytes.size() > max_bytes(role))
    return make_error(ErrorCode::kOutOfRange, "{} metadata would be {} bytes, more than a client reads ({})", role_name(role),
                      bytes.size(), max_bytes(role));
  auto back = parse(bytes);
  if (!back)
    return make_error(ErrorCode::kInternal, "the {} metadata just signed does not parse: {}", role_name(role), back.error().message);
  for (const RootMeta* root : verifiers)
    EL_CHECK(with_context(verify_threshold(*root, role, back->canonical, back->signatures),
                          fmt::format("signing {} metadata for root v{}", role_name(role), root->version)));
  return bytes;
}

MetaFile meta_file(int64_t version, ByteSpan bytes) { return MetaFile{version, bytes.size(), sha256_hex(bytes)}; }

// A file to write, in order.
struct Output {
  fs::path path;
  std::vector<std::byte> bytes;
  bool replace = false;  // timestamp.json, root.json; versioned files must not exist yet
};

Status write_outputs(const std::vector<Output>& outputs) {
  std::error_code ec;
  for (const Output& o : outputs)
    if (!o.replace && fs::exists(o.path, ec))
      return make_error(ErrorCode::kFailedPrecondition, "{} already exists; versioned files are never overwritten", o.path.string());
  for (const Output& o : outputs) {
    // public/deltas/ appears with the first delta (repositories older than deltas lack it).
    const fs::path folder = o.path.parent_path();
    if (!fs::is_directory(folder, ec)) {
      fs::create_directory(folder, ec);
      if (ec) return fs_error("cannot create", folder, ec);
      EL_CHECK(fsync_folder(folder.parent_path()));
    }
    EL_CHECK(write_file_durable(o.path, o.bytes, 0644, o.replace ? IfExists::kReplace : IfExists::kFail));
  }
  return ok();
}

// What a command changes; commit() signs new versions of what changed (and of stale roles),
// then snapshot and timestamp.
struct Change {
  std::optional<TargetsMeta> targets;
  std::optional<RolloutMeta> rollout;
  bool resign_targets = false;
  bool resign_rollout = false;
  std::vector<std::pair<std::string, SharedBytes>> artifacts;  // path under public/ -> bytes
  std::vector<std::pair<std::string, std::vector<std::byte>>> deltas;  // path under public/ -> patch
};

struct Prepared {
  std::vector<Output> outputs;  // artifacts, targets, rollout, snapshot, timestamp
  Published published;
};

// Artifacts not yet (or not intact) under public/: content-addressed, so rewriting one is safe.
std::vector<Output> artifact_outputs(const Change& change, const fs::path& dir) {
  std::vector<Output> outputs;
  std::error_code ec;
  for (const auto& [path, bytes] : change.artifacts) {
    const fs::path file = dir / "public" / path;
    if (fs::exists(file, ec)) {
      auto existing = read_file(file, model::kMaxArtifactBytes);
      if (existing && existing->size() == bytes.size() && sha256_hex(*existing) == sha256_hex(bytes.span())) continue;
    }
    outputs.push_back({file, std::vector<std::byte>(bytes.span().begin(), bytes.span().end()), /*replace=*/true});
  }
  return outputs;
}

// Deltas not yet under public/. Named by base and target, not by their own content (another
// zstd level makes other bytes), so one already there must hold exactly these bytes: a delta
// file is never overwritten.
Result<std::vector<Output>> delta_outputs(const Change& change, const fs::path& dir) {
  std::vector<Output> outputs;
  std::error_code ec;
  for (const auto& [path, bytes] : change.deltas) {
    const fs::path file = dir / "public" / path;
    if (fs::exists(file, ec)) {
      auto existing = read_file(file, bytes.size());  // a longer file is refused: not the same
      if (existing && *existing == bytes) continue;
      return make_error(ErrorCode::kFailedPrecondition,
                        "{} exists with other bytes (left by an interrupted add, perhaps with other delta options); delta "
                        "files are never overwritten: no published targets lists it, so remove it and add again",
                        file.string());
    }
    outputs.push_back({file, bytes});
  }
  return outputs;
}

Result<Prepared> prepare(const State& s, const Change& change, Keys& keys, const fs::path& dir, const RepositoryOptions& o) {
  const int64_t now = o.clock->unix_seconds();
  const RootMeta& root = s.root();
  const fs::path meta_dir = metadata_dir(dir);
  Prepared p;
  p.outputs = artifact_outputs(change, dir);
  EL_TRY(std::vector<Output> deltas, delta_outputs(change, dir));
  p.outputs.insert(p.outputs.end(), std::make_move_iterator(deltas.begin()), std::make_move_iterator(deltas.end()));

  const TargetsMeta& old_targets = s.targets.meta.meta;
  const RolloutMeta& old_rollout = s.rollout.meta.meta;
  const bool new_targets = change.targets || change.resign_targets || s.stale.contains(Role::kTargets);
  const bool new_rollout = change.rollout || change.resign_rollout || s.stale.contains(Role::kRollout);
  TargetsMeta targets = change.targets ? *change.targets : old_targets;
  RolloutMeta rollout = change.rollout ? *change.rollout : old_rollout;
  // The rollout must stay valid against the targets it will be served with, and no floor may fall.
  EL_CHECK(check_rollout(rollout, targets, &old_rollout));

  // A new version of a versioned role: bumped, fresh expiry, signed and checked, queued for writing.
  auto sign_versioned = [&]<class Meta>(Meta& meta, int64_t current, Role role, int64_t lifetime,
                                        Parser<Meta> parse) -> Result<MetaFile> {
    meta.version = s.next_version(role, current);
    meta.expires = now + lifetime;
    EL_TRY(const crypto::KeyPair* key, keys.get(root, role));
    EL_TRY(auto bytes, sign_and_check<Meta>(meta, role, {key}, {&root}, parse));
    MetaFile file = meta_file(meta.version, bytes);
    p.outputs.push_back({meta_dir / versioned_name(meta.version, role), std::move(bytes)});
    return file;
  };

  MetaFile targets_file = s.snapshot.meta.meta.targets;
  if (new_targets) {
    EL_TRY(targets_file, sign_versioned(targets, old_targets.version, Role::kTargets, o.expiry.targets, &parse_targets));
    p.published.targets = targets.version;
  }
  MetaFile rollout_file = s.snapshot.meta.meta.rollout;
  if (new_rollout) {
    EL_TRY(rollout_file, sign_versioned(rollout, old_rollout.version, Role::kRollout, o.expiry.rollout, &parse_rollout));
    p.published.rollout = rollout.version;
  }

  SnapshotMeta snapshot;
  snapshot.targets = targets_file;
  snapshot.rollout = rollout_file;
  EL_TRY(const MetaFile snapshot_file,
         sign_versioned(snapshot, s.snapshot.meta.meta.version, Role::kSnapshot, o.expiry.snapshot, &parse_snapshot));
  p.published.snapshot = snapshot.version;

  TimestampMeta timestamp;
  timestamp.version = s.timestamp.meta.meta.version + 1;
  timestamp.expires = now + o.expiry.timestamp;
  timestamp.snapshot = snapshot_file;
  EL_TRY(const crypto::KeyPair* timestamp_key, keys.get(root, Role::kTimestamp));
  EL_TRY(auto timestamp_bytes,
         sign_and_check<TimestampMeta>(timestamp, Role::kTimestamp, {timestamp_key}, {&root}, &parse_timestamp));
  p.outputs.push_back({meta_dir / "timestamp.json", std::move(timestamp_bytes), /*replace=*/true});
  p.published.timestamp = timestamp.version;
  return p;
}

// root.json is the newest N.root.json for people; a crash may have left it behind.
Status refresh_root_copy(const State& s, const fs::path& dir) {
  const fs::path path = metadata_dir(dir) / "root.json";
  auto current = read_file(path, kMaxRootBytes);
  if (current && *current == s.roots.back().bytes) return ok();
  return write_file_durable(path, s.roots.back().bytes);
}

// A signing command: lock, load and verify, settle an interrupted rotation, change, sign, write.
struct Session {
  RepositoryLock lock;
  State state;
  Keys keys;
};

Result<Session> begin(const fs::path& dir, const RepositoryOptions& o, const fs::path& keys_dir) {
  EL_TRY(RepositoryLock lock, RepositoryLock::acquire(dir));
  EL_TRY(State state, load_state(dir));
  EL_CHECK(settle_rotated_keys(keys_dir, state.root()));
  return Session{std::move(lock), std::move(state), Keys(keys_dir, o.passphrase)};
}

Result<Published> commit(Session& session, const Change& change, const fs::path& dir, const RepositoryOptions& o) {
  EL_TRY(Prepared p, prepare(session.state, change, session.keys, dir, o));
  EL_CHECK(refresh_root_copy(session.state, dir));
  EL_CHECK(write_outputs(p.outputs));
  return p.published;
}

// ------------------------------------------------------------------------- targets helpers

std::string golden_sha256(const model::GoldenVector& golden) {
  std::vector<std::byte> all;
  for (const auto& t : golden.inputs) all.insert(all.end(), t.bytes.begin(), t.bytes.end());
  for (const auto& t : golden.outputs) all.insert(all.end(), t.bytes.begin(), t.bytes.end());
  return sha256_hex(all);
}

std::string artifact_path(const std::string& sha) { return fmt::format("artifacts/{}.edge", sha); }

std::string describe(const std::string& path, const TargetInfo& t) {
  return fmt::format("{} ({} version {}, {})", path, t.model, t.model_version, t.variant);
}

bool lists_tier(const TargetInfo& t, const std::string& tier) {
  return std::find(t.tiers.begin(), t.tiers.end(), tier) != t.tiers.end();
}

// One model version means one build per variant, and one artifact per tier.
Status check_unambiguous(const TargetsMeta& targets) {
  for (auto a = targets.targets.begin(); a != targets.targets.end(); ++a)
    for (auto b = std::next(a); b != targets.targets.end(); ++b) {
      const TargetInfo& x = a->second;
      const TargetInfo& y = b->second;
      if (x.model != y.model || compare_versions(x.model_version, y.model_version) != 0) continue;
      if (x.variant == y.variant)
        return make_error(ErrorCode::kFailedPrecondition,
                          "{} and {} are two builds of the same model, version and variant: give a new build a new "
                          "version (edgeloop model import --version)",
                          describe(a->first, x), describe(b->first, y));
      for (const std::string& tier : x.tiers)
        if (lists_tier(y, tier))
          return make_error(ErrorCode::kFailedPrecondition,
                            "{} and {} would both serve tier '{}' for the same model version: one artifact per tier and version",
                            describe(a->first, x), describe(b->first, y), tier);
    }
  return ok();
}

// TARGET of `repo rollout`: a path, a SHA-256, or a version of `model` released for `tier`.
Result<std::string> resolve_target(const TargetsMeta& targets, const std::string& model, const std::string& tier,
                                   const std::string& spec) {
  if (spec.starts_with("artifacts/")) {
    if (!targets.targets.contains(spec))
      return make_error(ErrorCode::kNotFound, "{} is not a released target (edgeloop repo add it first)", spec);
    return spec;
  }
  if (is_hex(spec, 64)) {
    const std::string path = artifact_path(spec);
    if (!targets.targets.contains(path))
      return make_error(ErrorCode::kNotFound, "no released target has SHA-256 {} (edgeloop repo add it first)", spec);
    return path;
  }
  if (!parse_version(spec))
    return make_error(ErrorCode::kInvalidArgument,
                      "target '{}' is neither a path (artifacts/<sha256>.edge), a SHA-256 nor a model version", spec);
  std::vector<std::string> found;
  std::vector<std::string> other_tiers;
  for (const auto& [path, t] : targets.targets) {
    if (t.model != model || compare_versions(t.model_version, spec) != 0) continue;
    (lists_tier(t, tier) ? found : other_tiers).push_back(path);
  }
  if (found.size() == 1) return found.front();
  if (found.size() > 1)
    return make_error(ErrorCode::kFailedPrecondition, "{} version {} has {} artifacts for tier '{}' ({}): name one by path",
                      model, spec, found.size(), tier, fmt::join(found, ", "));
  if (!other_tiers.empty())
    return make_error(ErrorCode::kFailedPrecondition,
                      "{} version {} is released ({}) but not for tier '{}': add it with that tier (edgeloop repo add --tiers)",
                      model, spec, fmt::join(other_tiers, ", "), tier);
  return make_error(ErrorCode::kNotFound, "{} version {} is not released (edgeloop repo add it first)", model, spec);
}

// The bytes of a released target: this command's copy, or the file under public/, which must be
// exactly what targets lists.
Result<SharedBytes> released_bytes(const Change& change, const fs::path& dir, const std::string& path, const TargetInfo& info) {
  for (const auto& [p, bytes] : change.artifacts)
    if (p == path) return bytes;
  const fs::path file = dir / "public" / path;
  auto bytes = read_file(file, model::kMaxArtifactBytes);
  std::string problem;
  if (!bytes) problem = bytes.error().message;
  else if (bytes->size() != info.length || sha256_hex(*bytes) != info.sha256) problem = "not the bytes targets lists";
  if (!problem.empty())
    return make_error(ErrorCode::kFailedPrecondition,
                      "{} is a delta base but its file is unusable ({}): put it back by adding that artifact again, or "
                      "add with no deltas",
                      describe(path, info), problem);
  return SharedBytes::adopt(std::move(*bytes));
}

// For every target this command releases (not in `old_targets`): a patch from each of the up to
// options.delta_bases highest lower versions of the same model and variant in `targets` (so an
// earlier version added in the same command counts). Patches smaller than the target are listed
// in its deltas and queued in change.deltas; what was made is reported in `added`.
Status make_deltas(Change& change, const TargetsMeta& old_targets, TargetsMeta& targets, const fs::path& dir,
                   const AddOptions& options, std::vector<AddedTarget>& added) {
  if (options.delta_bases == 0) return ok();
  for (const auto& [path, target_bytes] : change.artifacts) {
    if (old_targets.targets.contains(path)) continue;  // released before: its deltas stay as they are
    TargetInfo& target = targets.targets.at(path);
    std::vector<std::pair<std::string, const TargetInfo*>> bases;
    for (const auto& [base_path, base] : targets.targets)
      if (base.model == target.model && base.variant == target.variant &&
          compare_versions(base.model_version, target.model_version) < 0)
        bases.emplace_back(base_path, &base);
    std::sort(bases.begin(), bases.end(), [](const auto& a, const auto& b) {
      const int c = compare_versions(a.second->model_version, b.second->model_version);
      return c != 0 ? c > 0 : a.first < b.first;
    });
    if (bases.size() > static_cast<size_t>(options.delta_bases)) bases.resize(static_cast<size_t>(options.delta_bases));

    std::vector<GeneratedDelta> made;
    for (const auto& [base_path, base] : bases) {
      EL_TRY(SharedBytes base_bytes, released_bytes(change, dir, base_path, *base));
      EL_TRY(std::vector<std::byte> patch,
             with_context(make_delta(base_bytes.span(), target_bytes.span(), options.delta),
                          fmt::format("making the delta from {} to {}", describe(base_path, *base), describe(path, target))));
      GeneratedDelta g;
      g.from_path = base_path;
      g.from_version = base->model_version;
      g.from_sha256 = base->sha256;
      g.patch_bytes = patch.size();
      g.listed = patch.size() < target.length;
      g.path = delta_path(base->sha256, target.sha256);
      if (g.listed) {
        target.deltas.push_back(DeltaInfo{base->sha256, g.path, patch.size(), sha256_hex(patch)});
        change.deltas.emplace_back(g.path, std::move(patch));
      }
      made.push_back(std::move(g));
    }
    std::sort(target.deltas.begin(), target.deltas.end(),
              [](const DeltaInfo& a, const DeltaInfo& b) { return a.from_sha256 < b.from_sha256; });
    for (AddedTarget& a : added)
      if (a.path == path) a.deltas = made;
  }
  return ok();
}

std::string make_rollout_id(const std::string& model, const std::string& tier, const std::string& target, int64_t version) {
  const Sha256 h = sha256(as_bytes(fmt::format("{}|{}|{}|{}", model, tier, target, version)));
  return to_hex(ByteSpan(h.data(), 16));
}

}  // namespace

// ------------------------------------------------------------------------- public API

Result<int> percent_to_basis_points(double percent) {
  if (!std::isfinite(percent) || percent < 0 || percent > 100)
    return make_error(ErrorCode::kOutOfRange, "percent {} is outside 0..100", percent);
  const double scaled = percent * 100;
  const double rounded = std::round(scaled);
  if (std::fabs(scaled - rounded) > 1e-6)
    return make_error(ErrorCode::kInvalidArgument, "percent {} has more than two decimals (the unit is 0.01%)", percent);
  return static_cast<int>(rounded);
}

Result<VariantTiers> read_variant_tiers(const fs::path& path) {
  EL_TRY(std::vector<std::byte> bytes, read_file(path, 16 << 20));
  auto fail = [&](std::string_view what) { return make_error(ErrorCode::kCorrupt, "{}: {}", path.string(), what); };
  const nlohmann::json j = nlohmann::json::parse(as_chars(bytes), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return fail("not a JSON object (expected the variants.json of `edgeloop model variants`)");
  VariantTiers v;
  if (!j.contains("model") || !j["model"].is_string() || !j.contains("version") || !j["version"].is_string())
    return fail("\"model\" and \"version\" must be strings");
  v.model = j["model"].get<std::string>();
  v.version = j["version"].get<std::string>();
  if (!j.contains("tiers") || !j["tiers"].is_object()) return fail("\"tiers\" must be an object, tier -> variant");
  for (const auto& [tier, variant] : j["tiers"].items()) {
    if (!variant.is_string()) return fail(fmt::format("tier '{}' must map to a variant name", tier));
    EL_CHECK(with_context(check_tier(tier), path.string()));
    v.tier_to_variant[tier] = variant.get<std::string>();
  }
  if (j.contains("variants")) {
    if (!j["variants"].is_array()) return fail("\"variants\" must be an array");
    for (const auto& e : j["variants"]) {
      if (!e.is_object() || !e.contains("name") || !e["name"].is_string()) return fail("every variant needs a \"name\"");
      if (e.contains("sha256") && e["sha256"].is_string()) v.sha256_of_variant[e["name"].get<std::string>()] = e["sha256"].get<std::string>();
    }
  }
  return v;
}

fs::path Repository::keys_dir() const { return options_.keys_dir.empty() ? dir_ / "keys" : options_.keys_dir; }

Result<Repository> Repository::init(const fs::path& dir, RepositoryOptions options) {
  Repository repo(dir, std::move(options));
  const RepositoryOptions& o = repo.options_;
  const fs::path keys = repo.keys_dir();
  std::error_code ec;
  if (!empty_or_missing(dir))
    return make_error(ErrorCode::kFailedPrecondition, "{} is not empty: a new repository needs a new or empty folder", dir.string());
  if (!empty_or_missing(keys))
    return make_error(ErrorCode::kFailedPrecondition, "keys folder {} is not empty: give a new or empty one", keys.string());
  const bool dir_existed = fs::exists(dir, ec);
  const bool keys_existed = fs::exists(keys, ec);

  // Everything is generated and signed in memory first.
  const int64_t now = o.clock->unix_seconds();
  std::map<Role, crypto::KeyPair> pairs;
  for (Role role : kAllRoles) pairs.emplace(role, crypto::generate_key_pair());
  RootMeta root;
  root.version = 1;
  root.expires = now + o.expiry.root;
  for (Role role : kAllRoles) {
    const std::string id = crypto::key_id(pairs.at(role).public_key);
    root.keys[id] = pairs.at(role).public_key;
    root.roles[role] = RoleKeys{{id}, 1};
  }
  auto key = [&](Role role) -> std::vector<const crypto::KeyPair*> { return {&pairs.at(role)}; };
  EL_TRY(auto root_bytes, sign_and_check<RootMeta>(root, Role::kRoot, key(Role::kRoot), {&root}, &parse_root));
  TargetsMeta targets;
  targets.version = 1;
  targets.expires = now + o.expiry.targets;
  EL_TRY(auto targets_bytes, sign_and_check<TargetsMeta>(targets, Role::kTargets, key(Role::kTargets), {&root}, &parse_targets));
  RolloutMeta rollout;
  rollout.version = 1;
  rollout.expires = now + o.expiry.rollout;
  EL_TRY(auto rollout_bytes, sign_and_check<RolloutMeta>(rollout, Role::kRollout, key(Role::kRollout), {&root}, &parse_rollout));
  SnapshotMeta snapshot;
  snapshot.version = 1;
  snapshot.expires = now + o.expiry.snapshot;
  snapshot.targets = meta_file(1, targets_bytes);
  snapshot.rollout = meta_file(1, rollout_bytes);
  EL_TRY(auto snapshot_bytes, sign_and_check<SnapshotMeta>(snapshot, Role::kSnapshot, key(Role::kSnapshot), {&root}, &parse_snapshot));
  TimestampMeta timestamp;
  timestamp.version = 1;
  timestamp.expires = now + o.expiry.timestamp;
  timestamp.snapshot = meta_file(1, snapshot_bytes);
  EL_TRY(auto timestamp_bytes,
         sign_and_check<TimestampMeta>(timestamp, Role::kTimestamp, key(Role::kTimestamp), {&root}, &parse_timestamp));

  auto write_all = [&]() -> Status {
    fs::create_directories(dir, ec);
    if (ec) return fs_error("cannot create", dir, ec);
    EL_CHECK(make_private_dir(keys));
    for (Role role : kAllRoles) {
      const bool offline = role == Role::kRoot || role == Role::kTargets;
      EL_CHECK(crypto::write_key_file(key_path(keys, role), pairs.at(role), offline ? o.passphrase : std::string(),
                                      fmt::format("edgeloop repository {}: {} key", dir.filename().string(), role_name(role))));
    }
    fs::create_directories(artifacts_dir(dir), ec);
    if (ec) return fs_error("cannot create", artifacts_dir(dir), ec);
    const fs::path meta = metadata_dir(dir);
    fs::create_directories(meta, ec);
    if (ec) return fs_error("cannot create", meta, ec);
    // The lock every signing command takes (RepositoryLock), part of the layout from the start.
    EL_CHECK(write_file_durable(dir / ".lock", {}, 0600));
    return write_outputs({{meta / "1.root.json", root_bytes},
                          {meta / "root.json", root_bytes, true},
                          {meta / "1.targets.json", targets_bytes},
                          {meta / "1.rollout.json", rollout_bytes},
                          {meta / "1.snapshot.json", snapshot_bytes},
                          {meta / "timestamp.json", timestamp_bytes, true}});
  };
  if (auto written = write_all(); !written) {
    // Both folders were empty or missing: take back what was made.
    auto clear = [&](const fs::path& p, bool existed) {
      if (!existed) {
        fs::remove_all(p, ec);
        return;
      }
      for (const auto& e : fs::directory_iterator(p, ec)) fs::remove_all(e.path(), ec);
    };
    clear(keys, keys_existed);
    clear(dir, dir_existed);
    return std::unexpected(std::move(written).error());
  }
  return repo;
}

Result<Repository> Repository::open(const fs::path& dir, RepositoryOptions options) {
  Repository repo(dir, std::move(options));
  EL_CHECK(load_state(dir));
  return repo;
}

Result<std::vector<AddedTarget>> Repository::add(const std::vector<fs::path>& artifacts, const AddOptions& options) {
  if (artifacts.empty()) return make_error(ErrorCode::kInvalidArgument, "no artifacts to add");
  if (options.delta_bases < 0 || options.delta_bases > static_cast<int>(kMaxDeltasPerTarget))
    return make_error(ErrorCode::kInvalidArgument, "deltas from {} earlier versions: give 0 (none) to {}", options.delta_bases,
                      kMaxDeltasPerTarget);
  for (const std::string& tier : options.tiers) EL_CHECK(check_tier(tier));
  EL_TRY(Session session, begin(dir_, options_, keys_dir()));
  const TargetsMeta& old_targets = session.state.targets.meta.meta;
  TargetsMeta targets = old_targets;
  Change change;
  std::vector<AddedTarget> added;

  // Every artifact is loaded and checked before anything is signed or written.
  for (const fs::path& file : artifacts) {
    EL_TRY(std::vector<std::byte> raw, with_context(read_file(file, model::kMaxArtifactBytes), file.string()));
    SharedBytes bytes = SharedBytes::adopt(std::move(raw));
    EL_TRY(model::Graph graph, with_context(model::load_artifact(bytes), file.string()));
    const model::Metadata& m = graph.meta;
    if (m.name.empty() || m.name.size() > 256)
      return make_error(ErrorCode::kInvalidArgument, "{}: the model name must be 1 to 256 characters", file.string());
    if (m.version.size() > 64 || m.variant.size() > 64 || m.min_runtime_version.size() > 64)
      return make_error(ErrorCode::kInvalidArgument, "{}: version, variant and min runtime version are at most 64 characters",
                        file.string());
    EL_CHECK(with_context(check_version(m.version, "model version"), file.string()));
    if (m.variant.empty()) return make_error(ErrorCode::kInvalidArgument, "{}: the artifact names no variant", file.string());
    if (!m.min_runtime_version.empty()) EL_CHECK(with_context(check_version(m.min_runtime_version, "min runtime version"), file.string()));
    if (!m.golden)
      return make_error(ErrorCode::kInvalidArgument,
                        "{}: the artifact has no golden test vector, so a device cannot smoke-test it before switching; "
                        "`edgeloop model import` and `model quantize` attach one",
                        file.string());

    TargetInfo info;
    info.length = bytes.size();
    info.sha256 = sha256_hex(bytes.span());
    info.model = m.name;
    info.model_version = m.version;
    info.variant = m.variant;
    info.min_runtime_version = m.min_runtime_version.empty() ? "0" : m.min_runtime_version;
    info.golden_sha256 = golden_sha256(*m.golden);
    std::set<std::string> tiers(options.tiers.begin(), options.tiers.end());
    if (options.variants) {
      const VariantTiers& v = *options.variants;
      if (v.model != m.name || !parse_version(v.version) || compare_versions(v.version, m.version) != 0)
        return make_error(ErrorCode::kInvalidArgument, "{} is {} version {}, but the variants file is for {} version {}",
                          file.string(), m.name, m.version, v.model, v.version);
      if (auto it = v.sha256_of_variant.find(m.variant); it != v.sha256_of_variant.end() && it->second != info.sha256)
        return make_error(ErrorCode::kInvalidArgument,
                          "{} is variant '{}' with SHA-256 {}, but the variants file lists that variant with SHA-256 {}",
                          file.string(), m.variant, info.sha256, it->second);
      for (const auto& [tier, variant] : v.tier_to_variant)
        if (variant == m.variant) tiers.insert(tier);
    }
    const std::string path = artifact_path(info.sha256);
    AddedTarget result{path, info, false, {}};
    if (auto it = targets.targets.find(path); it != targets.targets.end()) {
      tiers.insert(it->second.tiers.begin(), it->second.tiers.end());
      it->second.tiers.assign(tiers.begin(), tiers.end());
      result.info = it->second;
    } else {
      info.tiers.assign(tiers.begin(), tiers.end());
      targets.targets[path] = info;
      result.info = info;
    }
    if (std::none_of(change.artifacts.begin(), change.artifacts.end(), [&](const auto& a) { return a.first == path; }))
      change.artifacts.emplace_back(path, bytes);
    added.push_back(std::move(result));
  }
  // Added twice in one call: report the final entry for each.
  auto report = [&] {
    for (AddedTarget& a : added) {
      a.info = targets.targets.at(a.path);
      a.already_present = old_targets.targets.contains(a.path) && old_targets.targets.at(a.path) == a.info;
    }
  };
  EL_CHECK(check_unambiguous(targets));
  if (targets.targets == old_targets.targets) {
    // Nothing new to sign; an artifact file that went missing is put back.
    EL_CHECK(write_outputs(artifact_outputs(change, dir_)));
    report();
    return added;
  }
  EL_CHECK(make_deltas(change, old_targets, targets, dir_, options, added));
  report();
  change.targets = std::move(targets);
  EL_CHECK(commit(session, change, dir_, options_));
  return added;
}

Result<Published> Repository::rollout(const std::string& model, const std::string& tier, const std::string& target_spec,
                                      double percent) {
  EL_CHECK(check_tier(tier));
  EL_TRY(int basis_points, percent_to_basis_points(percent));
  EL_TRY(Session session, begin(dir_, options_, keys_dir()));
  const State& s = session.state;
  const TargetsMeta& targets = s.targets.meta.meta;
  EL_TRY(std::string target, resolve_target(targets, model, tier, target_spec));
  const TargetInfo& info = targets.targets.at(target);
  if (info.model != model)
    return make_error(ErrorCode::kFailedPrecondition, "{} is model '{}', not '{}'", describe(target, info), info.model, model);
  if (!lists_tier(info, tier))
    return make_error(ErrorCode::kFailedPrecondition, "{} does not list tier '{}' (its tiers: {})", describe(target, info), tier,
                      info.tiers.empty() ? std::string("none") : fmt::format("{}", fmt::join(info.tiers, ", ")));
  RolloutMeta rollout = s.rollout.meta.meta;
  ModelRollout& mr = rollout.models[model];
  if (!mr.floor.empty() && compare_versions(info.model_version, mr.floor) < 0)
    return make_error(ErrorCode::kFailedPrecondition, "{} is below the anti-rollback floor {} of {}", describe(target, info), mr.floor,
                      model);
  const int64_t version = s.next_version(Role::kRollout, s.rollout.meta.meta.version);
  auto it = mr.tiers.find(tier);
  if (it != mr.tiers.end() && it->second.target == target) {
    if (it->second.basis_points == basis_points) return Published{};  // nothing changes
    it->second.basis_points = basis_points;  // same rollout id: the cohort grows or shrinks in place
  } else {
    TierRollout next;
    next.target = target;
    next.basis_points = basis_points;
    next.rollout_id = make_rollout_id(model, tier, target, version);
    if (it != mr.tiers.end()) next.baseline = it->second.basis_points == 10000 ? std::optional(it->second.target) : it->second.baseline;
    if (next.baseline == next.target) next.baseline.reset();
    mr.tiers[tier] = std::move(next);
  }
  Change change;
  change.rollout = std::move(rollout);
  return commit(session, change, dir_, options_);
}

Result<Published> Repository::pin(const std::string& model, const std::string& tier, const std::string& version) {
  const std::string key = tier.empty() ? "*" : tier;
  if (key != "*") EL_CHECK(check_tier(key));
  EL_TRY(Session session, begin(dir_, options_, keys_dir()));
  const State& s = session.state;
  RolloutMeta rollout = s.rollout.meta.meta;
  if (version.empty()) {
    auto m = rollout.models.find(model);
    if (m == rollout.models.end() || !m->second.pins.contains(key))
      return make_error(ErrorCode::kNotFound, "{} has no pin for {}", model, key == "*" ? "the whole fleet" : "tier '" + key + "'");
    m->second.pins.erase(key);
  } else {
    EL_CHECK(check_version(version, "version"));
    // The release's own spelling of the version ("2" for --version 2.0), released for the tier.
    std::string released;
    for (const auto& [path, t] : s.targets.meta.meta.targets)
      if (t.model == model && compare_versions(t.model_version, version) == 0 && (key == "*" || lists_tier(t, key)))
        released = t.model_version;
    if (released.empty())
      return make_error(ErrorCode::kFailedPrecondition, "{} version {} is not released for {}", model, version,
                        key == "*" ? "any tier" : "tier '" + key + "'");
    ModelRollout& mr = rollout.models[model];
    if (!mr.floor.empty() && compare_versions(released, mr.floor) < 0)
      return make_error(ErrorCode::kFailedPrecondition, "{} version {} is below the anti-rollback floor {}", model, released, mr.floor);
    if (auto p = mr.pins.find(key); p != mr.pins.end() && p->second == released) return Published{};
    mr.pins[key] = released;
  }
  Change change;
  change.rollout = std::move(rollout);
  return commit(session, change, dir_, options_);
}

Result<Published> Repository::set_floor(const std::string& model, const std::string& version) {
  EL_CHECK(check_version(version, "floor"));
  EL_TRY(Session session, begin(dir_, options_, keys_dir()));
  const State& s = session.state;
  const bool released = std::any_of(s.targets.meta.meta.targets.begin(), s.targets.meta.meta.targets.end(),
                                    [&](const auto& e) { return e.second.model == model; });
  if (!released) return make_error(ErrorCode::kNotFound, "model '{}' has no released artifact", model);
  RolloutMeta rollout = s.rollout.meta.meta;
  ModelRollout& mr = rollout.models[model];
  if (!mr.floor.empty()) {
    const int c = compare_versions(version, mr.floor);
    if (c < 0)
      return make_error(ErrorCode::kFailedPrecondition, "the floor of {} is {}; it can only rise (devices refuse a lower one)",
                        model, mr.floor);
    if (c == 0) return Published{};
  }
  mr.floor = version;
  Change change;
  change.rollout = std::move(rollout);
  return with_context(commit(session, change, dir_, options_), fmt::format("raising the floor of {} to {}", model, version));
}

Result<Published> Repository::publish(bool targets) {
  EL_TRY(Session session, begin(dir_, options_, keys_dir()));
  Change change;
  change.resign_rollout = true;
  change.resign_targets = targets;
  return commit(session, change, dir_, options_);
}

Result<Published> Repository::rotate_root(const std::vector<Role>& rotate_roles) {
  EL_TRY(Session session, begin(dir_, options_, keys_dir()));
  State& s = session.state;
  const fs::path keys = keys_dir();
  std::set<Role> rotated(rotate_roles.begin(), rotate_roles.end());
  rotated.insert(Role::kRoot);
  std::error_code ec;

  const RootMeta old_root = s.root();
  EL_TRY(const crypto::KeyPair* old_root_key, session.keys.get(old_root, Role::kRoot));

  // New keys; a <role>.next.key no root lists is what an interrupted rotation left: replaced.
  std::map<Role, crypto::KeyPair> fresh;
  for (Role role : rotated) fresh.emplace(role, crypto::generate_key_pair());
  RootMeta root = old_root;
  root.version = s.next_version(Role::kRoot, old_root.version);
  root.expires = options_.clock->unix_seconds() + options_.expiry.root;
  for (Role role : rotated) {
    const std::string id = crypto::key_id(fresh.at(role).public_key);
    root.roles[role] = RoleKeys{{id}, 1};
    root.keys[id] = fresh.at(role).public_key;
  }
  // Keys no role lists any more leave the root.
  std::erase_if(root.keys, [&](const auto& entry) {
    return std::none_of(kAllRoles, std::end(kAllRoles), [&](Role r) { return listed_for(root, r, entry.first); });
  });
  EL_TRY(auto root_bytes, sign_and_check<RootMeta>(root, Role::kRoot, {old_root_key, &fresh.at(Role::kRoot)},
                                                   {&old_root, &root}, &parse_root));

  // Everything the new keys must re-sign, signed before the first file is written.
  Loaded<RootMeta> new_root;
  EL_TRY(new_root.meta, parse_root(root_bytes));
  new_root.bytes = root_bytes;
  s.roots.push_back(std::move(new_root));
  s.highest_on_disk[Role::kRoot] = root.version;
  for (Role role : rotated) {
    if (role == Role::kTargets || role == Role::kRollout) s.stale.insert(role);
    session.keys.provide(role, crypto::KeyPair{fresh.at(role).public_key, crypto::SecretKey(fresh.at(role).secret_key.bytes())});
  }
  EL_TRY(Prepared p, prepare(s, Change{}, session.keys, dir_, options_));
  p.published.root = root.version;

  // Write: new key files, the root, settle the key files, then the re-signed metadata.
  for (Role role : rotated) {
    const fs::path next = next_key_path(keys, role);
    if (fs::exists(next, ec)) {
      fs::remove(next, ec);
      if (ec) return fs_error("cannot remove", next, ec);
    }
    const bool offline = role == Role::kRoot || role == Role::kTargets;
    EL_CHECK(crypto::write_key_file(next, fresh.at(role), offline ? options_.passphrase : std::string(),
                                    fmt::format("edgeloop repository {}: {} key of root v{}", dir_.filename().string(),
                                                role_name(role), root.version)));
  }
  const fs::path meta = metadata_dir(dir_);
  EL_CHECK(write_outputs({{meta / versioned_name(root.version, Role::kRoot), root_bytes}, {meta / "root.json", root_bytes, true}}));
  EL_CHECK(settle_rotated_keys(keys, root));
  EL_CHECK(write_outputs(p.outputs));
  return p.published;
}

Result<RepositoryStatus> Repository::status() const {
  EL_TRY(State s, load_state(dir_));
  RepositoryStatus st;
  st.dir = dir_.string();
  st.now = options_.clock->unix_seconds();
  st.root = s.roots.back().meta;
  st.targets = std::move(s.targets.meta);
  st.snapshot = std::move(s.snapshot.meta);
  st.timestamp = std::move(s.timestamp.meta);
  st.rollout = std::move(s.rollout.meta);
  st.stale.assign(s.stale.begin(), s.stale.end());
  return st;
}

}  // namespace edgeloop::ota

// Repository metadata (docs/repository.md): the five roles as typed values, their canonical
// JSON form, signing, and the checks each role's own bytes must pass. What a client does with
// them (the update workflow, expiry, rollback) is in ota/client.h; the operator's tool is in
// ota/repository.h.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "edgeloop/base/bytes.h"
#include "edgeloop/base/error.h"
#include "edgeloop/crypto/ed25519.h"

namespace edgeloop::ota {

enum class Role { kRoot, kTargets, kSnapshot, kTimestamp, kRollout };
inline constexpr Role kAllRoles[] = {Role::kRoot, Role::kTargets, Role::kSnapshot, Role::kTimestamp, Role::kRollout};
std::string_view role_name(Role role);  // "root", "targets", ...
std::optional<Role> role_from_name(std::string_view name);

// Size caps: a client never reads more of a file than this (docs/repository.md, "Limits").
inline constexpr size_t kMaxRootBytes = 512 * 1024;
inline constexpr size_t kMaxTimestampBytes = 16 * 1024;
inline constexpr size_t kMaxSnapshotBytes = 64 * 1024;
inline constexpr size_t kMaxTargetsBytes = 8 * 1024 * 1024;
inline constexpr size_t kMaxRolloutBytes = 1024 * 1024;
inline constexpr int kMaxJsonDepth = 16;

// Fields every role's "signed" part has.
struct Common {
  int64_t version = 1;       // >= 1
  int64_t expires = 0;       // Unix seconds; written as "YYYY-MM-DDTHH:MM:SSZ"
};

struct RoleKeys {
  std::vector<std::string> keyids;  // distinct, each in RootMeta::keys
  int threshold = 1;                // 1 <= threshold <= keyids.size()
};

struct RootMeta : Common {
  std::map<std::string, crypto::PublicKey> keys;  // key id (SHA-256 of the key) -> key
  std::map<Role, RoleKeys> roles;                 // all five roles
};

// A meta entry in snapshot and timestamp: which version of a file, and its length and hash.
struct MetaFile {
  int64_t version = 0;
  uint64_t length = 0;
  std::string sha256;  // lowercase hex
  friend bool operator==(const MetaFile&, const MetaFile&) = default;
};

// A patch (docs/delta.md) that turns an earlier artifact of the same model and variant into
// this target; listed in the target's "custom" so the signed targets cover it.
struct DeltaInfo {
  std::string from_sha256;  // the base artifact's SHA-256 (lowercase hex)
  std::string path;         // "deltas/<from_sha256>-<target sha256>.delta"
  uint64_t length = 0;      // of the patch
  std::string sha256;       // of the patch (lowercase hex)
  friend bool operator==(const DeltaInfo&, const DeltaInfo&) = default;
};
inline constexpr size_t kMaxDeltasPerTarget = 16;

// "deltas/<from_sha256>-<target_sha256>.delta": the only path a DeltaInfo may have.
std::string delta_path(std::string_view from_sha256, std::string_view target_sha256);

struct TargetInfo {
  uint64_t length = 0;
  std::string sha256;  // lowercase hex
  // "custom": what the device needs to choose and to check.
  std::string model;
  std::string model_version;        // dotted non-negative integers, "3" or "1.2.0"
  std::string variant;              // "fp32", "int8", "w4a8", ...
  std::vector<std::string> tiers;   // the capability tiers this variant suits
  std::string min_runtime_version;  // dotted
  std::string golden_sha256;        // SHA-256 of the artifact's golden test vector
  // Patches from earlier artifacts: sorted by from_sha256, distinct bases, never from the
  // target itself, at most kMaxDeltasPerTarget. JSON "custom.deltas", omitted when empty.
  std::vector<DeltaInfo> deltas;
  friend bool operator==(const TargetInfo&, const TargetInfo&) = default;
};

struct TargetsMeta : Common {
  std::map<std::string, TargetInfo> targets;  // path ("artifacts/<sha256>.edge") -> info
};

struct SnapshotMeta : Common {
  MetaFile targets;  // "targets.json"
  MetaFile rollout;  // "rollout.json"
};

struct TimestampMeta : Common {
  MetaFile snapshot;  // "snapshot.json"
};

// One tier's staged rollout: devices whose cohort bucket is below basis_points run `target`,
// the others `baseline` (none: they keep what they have).
struct TierRollout {
  std::string target;                  // a path in targets
  std::optional<std::string> baseline;  // a path in targets
  int basis_points = 0;                // 0..10000 (percent × 100)
  std::string rollout_id;              // keys the cohort hash; a new one per new target
  friend bool operator==(const TierRollout&, const TierRollout&) = default;
};

struct ModelRollout {
  std::string floor;                          // anti-rollback floor: minimum model_version ("" = none)
  std::map<std::string, TierRollout> tiers;   // tier -> rollout
  std::map<std::string, std::string> pins;    // tier or "*" (the whole fleet) -> model_version
  friend bool operator==(const ModelRollout&, const ModelRollout&) = default;
};

struct RolloutMeta : Common {
  std::map<std::string, ModelRollout> models;  // model name -> rollout
};

struct SignatureEntry {
  std::string keyid;
  crypto::Signature signature;
};

// A parsed metadata file: the typed role, the exact bytes that were signed (the canonical
// form of its "signed" object) and the signatures, not yet verified.
template <class Meta>
struct Signed {
  Meta meta;
  std::string canonical;  // canonical JSON of "signed"; what signatures cover
  std::vector<SignatureEntry> signatures;
};

// Parsing: size cap of the role, JSON depth <= kMaxJsonDepth, no floats, no unknown "_type",
// every field present with the right type and range (docs/repository.md). Errors are
// ErrorCode::kCorrupt and name the field.
Result<Signed<RootMeta>> parse_root(ByteSpan file);
Result<Signed<TargetsMeta>> parse_targets(ByteSpan file);
Result<Signed<SnapshotMeta>> parse_snapshot(ByteSpan file);
Result<Signed<TimestampMeta>> parse_timestamp(ByteSpan file);
Result<Signed<RolloutMeta>> parse_rollout(ByteSpan file);

// The canonical JSON of each role's "signed" object (sorted keys, no whitespace, integers only).
std::string canonical(const RootMeta& meta);
std::string canonical(const TargetsMeta& meta);
std::string canonical(const SnapshotMeta& meta);
std::string canonical(const TimestampMeta& meta);
std::string canonical(const RolloutMeta& meta);

// The file a repository serves: {"signatures":[{"keyid","sig"}...],"signed":{...}}, signed by
// each key in `keys` (in order), pretty-printed for people; clients re-canonicalize "signed".
std::vector<std::byte> sign_file(std::string_view canonical_signed, std::span<const crypto::KeyPair* const> keys);

// Counts the distinct key ids of `role` in `root` whose signature over `canonical` verifies;
// kFailedPrecondition ("threshold not met: 1 of 2 ...") when below the role's threshold.
// A key id listed twice among the signatures counts once; unknown key ids are ignored.
Status verify_threshold(const RootMeta& root, Role role, std::string_view canonical,
                        std::span<const SignatureEntry> signatures);

// Checks that `bytes` are the file `meta` describes (its length and SHA-256), as listed by
// `described_by` ("timestamp v7"); kCorrupt naming `file` and `role` otherwise.
Status check_meta_file(std::string_view file, Role role, ByteSpan bytes, const MetaFile& meta, std::string_view described_by);

// "2026-11-22T10:00:00Z" <-> Unix seconds (UTC only; anything else is an error).
std::string format_time(int64_t unix_seconds);
Result<int64_t> parse_time(std::string_view text);

// Dotted non-negative integer versions ("3", "1.2.0"): -1, 0, 1 as a <, =, > b; missing
// components count as 0. parse_version rejects anything else (empty, "v1", "1..2", "-1").
Result<std::vector<uint64_t>> parse_version(std::string_view text);
int compare_versions(std::string_view a, std::string_view b);  // both must parse

// Rollout against the targets it refers to: every target and baseline is a released target of
// that model, suits that tier, is at or above the model's floor; every pin names a version
// released for that tier (or for some tier, for "*") at or above the floor. `previous` (the
// trusted rollout, if any): no model's floor may decrease. Errors are kFailedPrecondition and
// name the model, tier and target.
Status check_rollout(const RolloutMeta& rollout, const TargetsMeta& targets, const RolloutMeta* previous);

}  // namespace edgeloop::ota

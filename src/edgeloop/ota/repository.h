// The operator's side (docs/repository.md, "Repository tool"): a directory with the signing
// keys and a public/ folder any HTTP server or CDN can serve:
//   DIR/keys/{root,targets,snapshot,timestamp,rollout}.key   (0700 folder; root and targets
//                                                              belong offline)
//   DIR/public/metadata/{N.root.json, root.json, timestamp.json,
//                        N.snapshot.json, N.targets.json, N.rollout.json}
//   DIR/public/artifacts/<sha256>.edge
//   DIR/public/deltas/<base sha256>-<target sha256>.delta
// Each command reads the current signed metadata as its state (verifying every signature),
// changes one thing, re-signs what must change and writes new files durably: artifacts, then
// targets and rollout, then snapshot, then timestamp, so a crash never publishes a timestamp
// pointing at missing files. Metadata a client may be reading is never overwritten except
// timestamp.json and root.json (both written atomically). Everything is signed and checked
// before the first file is written, so a refused command writes nothing.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "edgeloop/base/clock.h"
#include "edgeloop/base/error.h"
#include "edgeloop/ota/delta_generator.h"
#include "edgeloop/ota/metadata.h"

namespace edgeloop::ota {

struct Expiry {  // how long each role's signature is valid, in seconds
  int64_t root = 365 * 86400;
  int64_t targets = 90 * 86400;
  int64_t snapshot = 7 * 86400;
  int64_t timestamp = 1 * 86400;
  int64_t rollout = 7 * 86400;
};

struct RepositoryOptions {
  const Clock* clock = &SystemClock::instance();
  Expiry expiry;
  std::string passphrase;  // for encrypted key files (and to encrypt new root and targets keys)
  std::filesystem::path keys_dir;  // default DIR/keys
};

// The tier table of a variants.json written by `edgeloop model variants` (docs/quantization.md).
struct VariantTiers {
  std::string model, version;                     // the FP32 model the variants were built from
  std::map<std::string, std::string> tier_to_variant;  // "mid" -> "int8"
  std::map<std::string, std::string> sha256_of_variant;  // "int8" -> the artifact's SHA-256
};
Result<VariantTiers> read_variant_tiers(const std::filesystem::path& variants_json);

struct AddOptions {
  // Each artifact gets the tiers whose chosen variant is the artifact's variant; the artifact
  // must be of the variants' model and version (and, when listed, have the listed SHA-256).
  std::optional<VariantTiers> variants;
  // Tiers for every artifact given (on top of those from `variants`).
  std::vector<std::string> tiers;
  // Each newly released artifact gets a delta (docs/delta.md) from each of the up to
  // `delta_bases` highest earlier versions of the same model and variant (released before or in
  // the same command). 0: no deltas; at most kMaxDeltasPerTarget.
  int delta_bases = 3;
  DeltaOptions delta;  // how the patches are made (zstd level, ...)
};

// A delta `add` made for a new target.
struct GeneratedDelta {
  std::string from_path;     // the base: "artifacts/<sha256>.edge"
  std::string from_version;  // the base's model_version
  std::string from_sha256;
  uint64_t patch_bytes = 0;
  // Smaller than the target: written to `path` and listed in the target's deltas. A patch at
  // least as large as the target saves nothing; it is neither written nor listed.
  bool listed = false;
  std::string path;  // "deltas/<from_sha256>-<target sha256>.delta"
};

struct AddedTarget {
  std::string path;        // "artifacts/<sha256>.edge"
  TargetInfo info;         // as listed in the new targets
  bool already_present = false;  // the same artifact with the same tiers was already released
  std::vector<GeneratedDelta> deltas;  // made by this command (none for an artifact released before), newest base first
};

// What a command changed: the new versions it signed (0: that role was not re-signed).
struct Published {
  int64_t root = 0, targets = 0, rollout = 0, snapshot = 0, timestamp = 0;
  bool changed() const { return timestamp != 0; }
};

struct RepositoryStatus {
  std::string dir;
  int64_t now = 0;  // the clock's time, to judge expiry
  Signed<RootMeta> root;
  Signed<TargetsMeta> targets;
  Signed<SnapshotMeta> snapshot;
  Signed<TimestampMeta> timestamp;
  Signed<RolloutMeta> rollout;
  // Roles whose current metadata is still signed by keys of the previous root (an interrupted
  // rotate-root); the next signing command re-signs them.
  std::vector<Role> stale;
};

class Repository {
 public:
  // New repository: one key per role (root and targets keys encrypted when a passphrase is
  // given), root v1, empty targets and rollout, snapshot, timestamp. Refuses a non-empty DIR
  // (and a non-empty keys folder).
  static Result<Repository> init(const std::filesystem::path& dir, RepositoryOptions options = {});
  // An existing repository; its metadata must load and verify.
  static Result<Repository> open(const std::filesystem::path& dir, RepositoryOptions options = {});

  // Copies verified .edge artifacts (each with a golden test vector and a dotted model version)
  // into artifacts/ and lists them in a new targets version (offline targets key), then
  // snapshot and timestamp. A newly released artifact also gets deltas from earlier versions
  // of its model and variant (AddOptions::delta_bases), written to deltas/ before the targets
  // that list them; a delta file already there must hold the same bytes (never overwritten).
  // An artifact without tiers suits no tier until added again with some; adding a released
  // artifact again only adds tiers (its deltas stay as they are). Refuses, writing nothing: an
  // invalid artifact, a second build of a released model/version/variant, two artifacts of one
  // model version for the same tier, a base artifact missing or damaged under artifacts/.
  Result<std::vector<AddedTarget>> add(const std::vector<std::filesystem::path>& artifacts, const AddOptions& options = {});

  // Stages `target` (a path "artifacts/<sha256>.edge", a SHA-256, or a model version resolved
  // for the tier) to `percent` (0..100, at most 2 decimals) of `tier`: a new target gets a new
  // rollout id and the previous target becomes its baseline if it was at 100% (else the
  // previous baseline stays); the same target only changes the percentage (so cohorts nest).
  Result<Published> rollout(const std::string& model, const std::string& tier, const std::string& target, double percent);
  // Pins `tier` (or the whole fleet, "*", when tier is empty) to `version`; an empty version unpins.
  Result<Published> pin(const std::string& model, const std::string& tier, const std::string& version);
  // Raises the anti-rollback floor of `model` (never lowers it).
  Result<Published> set_floor(const std::string& model, const std::string& version);
  // New rollout, snapshot and timestamp versions with fresh expiry (online keys only);
  // `targets` also re-signs targets (offline key) with a fresh expiry.
  Result<Published> publish(bool targets = false);
  // Root N+1 with a new root key (the old one retired to keys/retired/<keyid>.key), optionally
  // also new keys for `rotate_roles`; signed by the old and the new root keys. Then new
  // versions of the rotated roles, snapshot and timestamp, signed by the new keys.
  Result<Published> rotate_root(const std::vector<Role>& rotate_roles = {});

  // The current metadata, verified (no key needed, nothing written).
  Result<RepositoryStatus> status() const;

  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path keys_dir() const;

 private:
  Repository(std::filesystem::path dir, RepositoryOptions options) : dir_(std::move(dir)), options_(std::move(options)) {}
  std::filesystem::path dir_;
  RepositoryOptions options_;
};

// "0".."100" with at most two decimals -> basis points (12.5 -> 1250); anything else is an error.
Result<int> percent_to_basis_points(double percent);

}  // namespace edgeloop::ota

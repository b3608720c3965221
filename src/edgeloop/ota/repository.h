// The operator's side (docs/repository.md, "Repository tool"): a directory with the signing
// keys and a public/ folder any HTTP server or CDN can serve:
//   DIR/keys/{root,targets,snapshot,timestamp,rollout}.key   (0700 folder; root and targets
//                                                              belong offline)
//   DIR/public/metadata/{N.root.json, root.json, timestamp.json,
//                        N.snapshot.json, N.targets.json, N.rollout.json}
//   DIR/public/artifacts/<sha256>.edge
// Each command reads the current signed metadata as its state, changes one thing, re-signs what
// must change and writes new files durably; metadata a client may be reading is never
// overwritten except timestamp.json and root.json (both written atomically).
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "edgeloop/base/clock.h"
#include "edgeloop/base/error.h"
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
  std::string passphrase;  // for encrypted key files (and to encrypt new offline keys)
  std::filesystem::path keys_dir;  // default DIR/keys
};

struct AddedTarget {
  std::string path;
  TargetInfo info;
  bool already_present = false;
};

class Repository {
 public:
  // New repository: one key per role (root and targets keys encrypted when a passphrase is
  // given), root v1, empty targets and rollout, snapshot, timestamp. Refuses a non-empty DIR.
  static Result<Repository> init(const std::filesystem::path& dir, RepositoryOptions options = {});
  static Result<Repository> open(const std::filesystem::path& dir, RepositoryOptions options = {});

  // Copies verified .edge artifacts into artifacts/ and lists them in a new targets version
  // (offline targets key), then snapshot and timestamp. `tiers_by_variant` (from variants.json)
  // sets each artifact's tiers; without it an artifact suits no tier until given one.
  Result<std::vector<AddedTarget>> add(const std::vector<std::filesystem::path>& artifacts,
                                       const std::map<std::string, std::vector<std::string>>& tiers_by_variant = {});

  // Stages `target` (a path, a sha256, or MODEL@VERSION resolved for the tier) to `percent`
  // of `tier`: a new target gets a new rollout id and the previous fully rolled-out target
  // becomes its baseline; the same target only changes the percentage (so cohorts nest).
  Status rollout(const std::string& model, const std::string& tier, const std::string& target, double percent);
  // Pins `tier` (or the whole fleet when tier is empty) to `version`; an empty version unpins.
  Status pin(const std::string& model, const std::string& tier, const std::string& version);
  // Raises the anti-rollback floor of `model` (never lowers it).
  Status set_floor(const std::string& model, const std::string& version);
  // New snapshot and timestamp versions with fresh expiry (online keys only).
  Status publish();
  // Root N+1 with a new root key (the old one retired to keys/retired/), optionally also new
  // keys for `rotate_roles`; signed by the old and the new root keys.
  Status rotate_root(const std::vector<Role>& rotate_roles = {});

  struct Status_ {
    std::string dir;
    Signed<RootMeta> root;
    Signed<TargetsMeta> targets;
    Signed<SnapshotMeta> snapshot;
    Signed<TimestampMeta> timestamp;
    Signed<RolloutMeta> rollout;
  };
  Result<Status_> status() const;

  const std::filesystem::path& dir() const { return dir_; }

 private:
  Repository(std::filesystem::path dir, RepositoryOptions options) : dir_(std::move(dir)), options_(std::move(options)) {}
  std::filesystem::path dir_;
  RepositoryOptions options_;
};

}  // namespace edgeloop::ota

// The device side of the repository (docs/repository.md, "Client workflow"): keeps the trusted
// metadata in a data directory and updates it from a Transport the way TUF's client does:
// root chain N -> N+1 -> ..., then timestamp, snapshot, targets, rollout. Nothing is trusted
// until verified; a failed update leaves the trusted state as it was (except root versions
// already verified, which TUF keeps).
//
// Error codes of update() and fetch_target(): what the transport says for files it could not
// fetch (kIo, kNotFound for a missing timestamp.json or target, kOutOfRange for a file over its
// cap); kCorrupt for anything that failed verification (parse, signatures, version, hash,
// length, rollback, rollout rules); kFailedPrecondition for metadata that verified but has
// expired (a freeze attack, a repository nobody refreshes, or a wrong device clock).
// Every message names the file, the role and the version.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "edgeloop/base/clock.h"
#include "edgeloop/base/error.h"
#include "edgeloop/ota/metadata.h"
#include "edgeloop/ota/transport.h"

namespace edgeloop::ota {

struct TrustedMetadata {
  Signed<RootMeta> root;
  std::optional<Signed<TimestampMeta>> timestamp;
  std::optional<Signed<SnapshotMeta>> snapshot;
  std::optional<Signed<TargetsMeta>> targets;
  std::optional<Signed<RolloutMeta>> rollout;
};

struct UpdateReport {
  int64_t root_from = 0, root_to = 0;  // root versions before and after
  bool timestamp_changed = false;      // false: the repository had nothing new
  int64_t snapshot_version = 0, targets_version = 0, rollout_version = 0;
  // Trusted files dropped because a new root changed their role's keys (fast-forward recovery).
  std::vector<Role> discarded;
};

// At most this many root versions are followed in one update (docs/repository.md, "Limits").
inline constexpr int kMaxRootRotations = 1024;

class Client {
 public:
  // First trust: writes `root_file` into `data_dir` if it is a well-formed root signed by a
  // threshold of its own root keys. Refuses a data dir that already has a trusted root.
  static Status provision(const std::filesystem::path& data_dir, ByteSpan root_file);

  // Loads the trusted state from `data_dir` (written by provision/update; re-verified on load:
  // root against its own keys, the others against root). A trusted file that fails is kCorrupt
  // naming it. The clock is used for expiry checks and must outlive the client.
  static Result<Client> open(const std::filesystem::path& data_dir, const Clock& clock);

  // The TUF workflow against `transport`. On success the new state is persisted (each file
  // written durably, all only after everything verified). New root versions are persisted as
  // each one verifies; a failure leaves timestamp, snapshot, targets and rollout as they were,
  // except those a verified new root made obsolete by changing their role's keys.
  Result<UpdateReport> update(Transport& transport);

  // Downloads `path` (a target in the trusted targets): at most its declared length, then
  // checks the SHA-256. kNotFound if the trusted targets do not list it.
  Result<std::vector<std::byte>> fetch_target(Transport& transport, std::string_view path) const;

  const TrustedMetadata& trusted() const { return trusted_; }
  const std::filesystem::path& data_dir() const { return data_dir_; }

 private:
  Client(std::filesystem::path data_dir, const Clock& clock, TrustedMetadata trusted,
         std::map<Role, std::vector<std::byte>> files)
      : data_dir_(std::move(data_dir)), clock_(&clock), trusted_(std::move(trusted)), files_(std::move(files)) {}
  Status update_root(Transport& transport, UpdateReport& report);
  Status discard(Role role);
  std::filesystem::path path_of(Role role) const;

  std::filesystem::path data_dir_;
  const Clock* clock_;
  TrustedMetadata trusted_;
  std::map<Role, std::vector<std::byte>> files_;  // the exact bytes of each trusted file
};

}  // namespace edgeloop::ota

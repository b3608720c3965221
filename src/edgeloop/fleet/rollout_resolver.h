// Which artifact this device should run (docs/repository.md, "Resolving a device"): pins first,
// then the tier's staged rollout with cohort bucketing, every choice checked against the
// released targets, the floor and the device's runtime version.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "edgeloop/base/error.h"
#include "edgeloop/ota/metadata.h"

namespace edgeloop::fleet {

struct DeviceProfile {
  std::string device_id;
  std::string tier;
  std::string runtime_version;  // dotted
};

// The device's bucket in [0, 10000) for a rollout: the first 8 bytes (little-endian) of
// BLAKE2b-64 keyed with SHA-256(rollout_id) over device_id, mod 10000. A device is in a
// rollout's cohort when bucket < basis_points, so the 1% cohort lies inside the 10% one.
uint32_t cohort_bucket(std::string_view device_id, std::string_view rollout_id);

struct Resolution {
  std::string model;
  std::string path;        // the target's path in the repository
  ota::TargetInfo target;
  std::string reason;      // one line: "pinned: tier low to version 2", "in cohort: bucket 37 < 100 (1%) of rollout …"
  std::string rollout_id;  // empty when pinned
  int64_t bucket = -1;     // -1 when no cohort decision was made
};

// Whether a runtime of `runtime_version` can run `target` (its min_runtime_version is at or
// below it); false when either version is not a dotted version.
bool runs_on(const ota::TargetInfo& target, std::string_view runtime_version);

// `model` may be empty when the rollout names exactly one model. kNotFound when nothing is
// rolled out to this tier; kFailedPrecondition when the only candidates need a newer runtime
// (the message says which version).
Result<Resolution> resolve(const ota::TargetsMeta& targets, const ota::RolloutMeta& rollout,
                           const DeviceProfile& device, std::string_view model = {});

}  // namespace edgeloop::fleet

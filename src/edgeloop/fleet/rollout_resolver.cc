#include "edgeloop/fleet/rollout_resolver.h"

#include <algorithm>

#include "edgeloop/base/hash.h"
#include "edgeloop/crypto/keyed_hash.h"

namespace edgeloop::fleet {

uint32_t cohort_bucket(std::string_view device_id, std::string_view rollout_id) {
  Sha256 key = sha256(as_bytes(rollout_id));
  return static_cast<uint32_t>(crypto::keyed_hash64(key, as_bytes(device_id)) % 10000);
}

namespace {

bool lists(const ota::TargetInfo& t, std::string_view tier) {
  return std::find(t.tiers.begin(), t.tiers.end(), tier) != t.tiers.end();
}

std::string percent(int basis_points) {
  return basis_points % 100 == 0 ? fmt::format("{}%", basis_points / 100) : fmt::format("{:.2f}%", basis_points / 100.0);
}

}  // namespace

bool runs_on(const ota::TargetInfo& target, std::string_view runtime_version) {
  return ota::parse_version(target.min_runtime_version) && ota::parse_version(runtime_version) &&
         ota::compare_versions(target.min_runtime_version, runtime_version) <= 0;
}

Result<Resolution> resolve(const ota::TargetsMeta& targets, const ota::RolloutMeta& rollout, const DeviceProfile& device,
                           std::string_view model) {
  if (!ota::parse_version(device.runtime_version))
    return make_error(ErrorCode::kInvalidArgument, "runtime version '{}' is not a dotted version", device.runtime_version);
  std::string name(model);
  if (name.empty()) {
    if (rollout.models.size() != 1)
      return make_error(ErrorCode::kInvalidArgument, "the rollout names {} models: say which one", rollout.models.size());
    name = rollout.models.begin()->first;
  }
  auto m = rollout.models.find(name);
  if (m == rollout.models.end()) return make_error(ErrorCode::kNotFound, "nothing is rolled out for model {}", name);
  const ota::ModelRollout& mr = m->second;

  auto make = [&](const std::string& path, std::string reason) -> Result<Resolution> {
    auto t = targets.targets.find(path);
    if (t == targets.targets.end())
      return make_error(ErrorCode::kFailedPrecondition, "{} is not a released target", path);  // check_rollout prevents this
    Resolution r;
    r.model = name;
    r.path = path;
    r.target = t->second;
    r.reason = std::move(reason);
    return r;
  };

  // 1. Pins: the tier's, else the fleet's.
  for (const std::string& key : {device.tier, std::string("*")}) {
    auto pin = mr.pins.find(key);
    if (pin == mr.pins.end()) continue;
    std::string scope = key == "*" ? "the whole fleet" : "tier " + key;
    const std::string* best = nullptr;
    bool too_new = false;
    for (bool tier_only : {true, false}) {
      for (auto& [path, t] : targets.targets) {
        if (t.model != name || ota::compare_versions(t.model_version, pin->second) != 0) continue;
        if (tier_only && !lists(t, device.tier)) continue;
        if (!runs_on(t, device.runtime_version)) {
          too_new = true;
          continue;
        }
        if (!best) best = &path;
      }
      if (best || key != "*") break;  // "*" falls back to any tier's variant of that version
    }
    if (!best) {
      if (too_new)
        return make_error(ErrorCode::kFailedPrecondition, "{} pins {} to version {}, which needs a newer runtime than {}", scope,
                          name, pin->second, device.runtime_version);
      return make_error(ErrorCode::kNotFound, "{} pins {} to version {}, but no released variant of it suits tier {}", scope,
                        name, pin->second, device.tier);
    }
    return make(*best, fmt::format("pinned: {} to version {}", scope, pin->second));
  }

  // 2. The tier's staged rollout.
  auto tr = mr.tiers.find(device.tier);
  if (tr == mr.tiers.end()) return make_error(ErrorCode::kNotFound, "nothing is rolled out for {} on tier {}", name, device.tier);
  const ota::TierRollout& rollout_of_tier = tr->second;
  uint32_t bucket = cohort_bucket(device.device_id, rollout_of_tier.rollout_id);
  bool in_cohort = static_cast<int>(bucket) < rollout_of_tier.basis_points;
  auto finish = [&](Result<Resolution> r) {
    if (r) {
      r->rollout_id = rollout_of_tier.rollout_id;
      r->bucket = bucket;
    }
    return r;
  };
  auto baseline = [&](std::string why) -> Result<Resolution> {
    if (!rollout_of_tier.baseline)
      return make_error(ErrorCode::kNotFound, "{}; tier {} has no baseline for {}", why, device.tier, name);
    auto t = targets.targets.find(*rollout_of_tier.baseline);
    if (t != targets.targets.end() && !runs_on(t->second, device.runtime_version))
      return make_error(ErrorCode::kFailedPrecondition, "{}; the baseline needs runtime {} (this device has {})", why,
                        t->second.min_runtime_version, device.runtime_version);
    return finish(make(*rollout_of_tier.baseline, why + "; baseline"));
  };
  std::string cohort = fmt::format("bucket {} {} {} ({}) of rollout {}", bucket, in_cohort ? "<" : ">=",
                                   rollout_of_tier.basis_points, percent(rollout_of_tier.basis_points), rollout_of_tier.rollout_id);
  if (!in_cohort) return baseline("not in cohort: " + cohort);
  auto t = targets.targets.find(rollout_of_tier.target);
  if (t != targets.targets.end() && !runs_on(t->second, device.runtime_version))
    return baseline(fmt::format("in cohort ({}), but the target needs runtime {} (this device has {})", cohort,
                                t->second.min_runtime_version, device.runtime_version));
  return finish(make(rollout_of_tier.target, "in cohort: " + cohort));
}

}  // namespace edgeloop::fleet

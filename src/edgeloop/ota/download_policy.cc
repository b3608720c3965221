#include "edgeloop/ota/download_policy.h"

namespace edgeloop::ota {

Status check_download_policy(const DownloadPolicy& policy, const DeviceConditions& conditions) {
  if (!policy.allow_metered && conditions.metered())
    return make_error(ErrorCode::kDeferred, "deferred: on a metered network; waiting for an unmetered one");
  const bool charging = conditions.charging();
  if (policy.require_charging && !charging)
    return make_error(ErrorCode::kDeferred, "deferred: not charging; the policy requires a charger");
  const int battery = conditions.battery_percent();
  if (!charging && battery >= 0 && battery < policy.min_battery_percent)
    return make_error(ErrorCode::kDeferred, "deferred: battery at {}%, below the policy's {}% while not charging",
                      battery, policy.min_battery_percent);
  return ok();
}

}  // namespace edgeloop::ota

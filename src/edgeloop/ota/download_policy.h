// When a device may spend network and battery on a download. The device's state is injected
// (DeviceConditions): the device engine and the simulator pass their own, tests a fake sensor.
#pragma once

#include "edgeloop/base/error.h"

namespace edgeloop::ota {

// What the platform reports about the device right now. Called often (between chunks of a
// download), so implementations should answer from a cached reading, not block.
class DeviceConditions {
 public:
  virtual ~DeviceConditions() = default;
  // True on a network that costs by the byte (cellular, a metered hotspot).
  virtual bool metered() const = 0;
  virtual bool charging() const = 0;
  // 0–100; a negative value means the device has no battery (mains-powered camera): never low.
  virtual int battery_percent() const = 0;
};

// Conditions stated once rather than read from sensors: what `edgeloop device update`'s flags
// say, a device without a battery, a test's fake sensor (fields set as the test goes).
struct FixedConditions final : DeviceConditions {
  bool metered() const override { return is_metered; }
  bool charging() const override { return is_charging; }
  int battery_percent() const override { return battery; }
  bool is_metered = false;
  bool is_charging = false;
  int battery = -1;  // no battery
};

struct DownloadPolicy {
  bool allow_metered = false;    // false: only on unmetered networks
  bool require_charging = false;
  int min_battery_percent = 20;  // below this, only while charging
};

// ok() when the policy allows a download now, otherwise ErrorCode::kDeferred with the reason
// ("deferred: on a metered network"). Checks in order: network, charging, battery.
Status check_download_policy(const DownloadPolicy& policy, const DeviceConditions& conditions);

}  // namespace edgeloop::ota

// The download policy's inputs read from the device itself (docs/downloads.md, "Device
// conditions"): the battery level and whether it charges from a PowerSensor (Linux sysfs
// power_supply, device/sensors.h), and whether the network costs by the byte from a file the
// platform writes. ota::DeviceConditions is what the Downloader asks between chunks.
#pragma once

#include <chrono>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>

#include "edgeloop/base/clock.h"
#include "edgeloop/device/sensors.h"
#include "edgeloop/ota/download_policy.h"

namespace edgeloop::device {

// The network state file: the platform's connectivity service rewrites it whenever the default
// network changes (Android: ConnectivityManager.isActiveNetworkMetered(); NetworkManager: the
// connection's `metered` property) with one word, "metered" or "unmetered" (surrounding
// whitespace and case ignored). A file that says anything else counts as metered (doubt costs
// a delay, not the user's money); a missing file counts as `if_missing`.
struct NetworkStateFile {
  std::filesystem::path path;  // empty: no file, always `if_missing`
  bool if_missing = false;     // false: unmetered, as a device without a platform report behaved before
};

// What the caller states instead of the readings (`edgeloop device update --metered`, …).
struct ConditionOverrides {
  std::optional<bool> metered;
  std::optional<bool> charging;
  std::optional<int> battery_percent;  // negative: no battery
};

// The readings as one snapshot, with where each came from (for logs and --json).
struct ConditionsReading {
  bool metered = false;
  bool charging = false;
  int battery_percent = -1;
  std::string network_source;  // "/data/network-state: metered", "no /data/network-state: unmetered", "stated by the caller"
  std::string power_source;    // "power supply", "no power sensor: mains", "power supply unreadable (…): as mains", "…; overridden by the caller"
};

class PlatformConditions final : public ota::DeviceConditions {
 public:
  // `power` may be null (a mains-powered device: no battery, never low). Readings are taken at
  // most every `max_age` on `clock` (the Downloader asks between chunks; sysfs is re-read only
  // that often). A power reading that fails counts as mains (battery -1, not charging): a broken
  // sensor never stops updates for good. `power` and `clock` must outlive this.
  PlatformConditions(const PowerSensor* power, NetworkStateFile network, const Clock& clock, ConditionOverrides overrides = {},
                     std::chrono::nanoseconds max_age = std::chrono::seconds(5));

  bool metered() const override { return reading().metered; }
  bool charging() const override { return reading().charging; }
  int battery_percent() const override { return reading().battery_percent; }
  // The current snapshot (read afresh when older than max_age).
  ConditionsReading reading() const;

 private:
  const PowerSensor* power_;
  NetworkStateFile network_;
  const Clock& clock_;
  ConditionOverrides overrides_;
  std::chrono::nanoseconds max_age_;
  mutable std::mutex mutex_;
  mutable std::optional<ConditionsReading> cached_;
  mutable std::chrono::nanoseconds read_at_{0};
};

}  // namespace edgeloop::device

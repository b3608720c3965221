#include "edgeloop/device/conditions.h"

#include <algorithm>
#include <cctype>

#include "edgeloop/base/file.h"

namespace edgeloop::device {
namespace {

// "metered" / "unmetered" from the network state file, and where that came from.
std::pair<bool, std::string> read_network(const NetworkStateFile& network) {
  const char* fallback = network.if_missing ? "metered" : "unmetered";
  if (network.path.empty()) return {network.if_missing, fmt::format("no network state file: {}", fallback)};
  std::error_code ec;
  if (!std::filesystem::exists(network.path, ec))
    return {network.if_missing, fmt::format("no {}: {}", network.path.string(), fallback)};
  auto bytes = read_file(network.path, 256);
  std::string word;
  if (bytes)
    for (std::byte b : *bytes) {
      const char c = static_cast<char>(b);
      if (!std::isspace(static_cast<unsigned char>(c))) word += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
  if (word == "unmetered") return {false, fmt::format("{}: unmetered", network.path.string())};
  if (word == "metered") return {true, fmt::format("{}: metered", network.path.string())};
  return {true, fmt::format("{} says '{}', not 'metered' or 'unmetered': metered", network.path.string(),
                            bytes ? word.substr(0, 32) : std::string("(unreadable)"))};
}

}  // namespace

PlatformConditions::PlatformConditions(const PowerSensor* power, NetworkStateFile network, const Clock& clock,
                                       ConditionOverrides overrides, std::chrono::nanoseconds max_age)
    : power_(power), network_(std::move(network)), clock_(clock), overrides_(overrides), max_age_(max_age) {}

ConditionsReading PlatformConditions::reading() const {
  std::lock_guard lock(mutex_);
  const auto now = clock_.now();
  if (cached_ && now - read_at_ < max_age_) return *cached_;
  ConditionsReading r;
  if (overrides_.metered) {
    r.metered = *overrides_.metered;
    r.network_source = "stated by the caller";
  } else {
    std::tie(r.metered, r.network_source) = read_network(network_);
  }
  if (!power_) {
    r.power_source = "no power sensor: mains";
  } else if (auto state = power_->read()) {
    r.battery_percent = state->battery_percent;
    r.charging = state->charging;
    r.power_source = state->battery_percent < 0 ? "power supply: no battery (mains)" : "power supply";
  } else {
    r.power_source = fmt::format("power supply unreadable ({}): as mains", state.error().message);
  }
  if (overrides_.battery_percent || overrides_.charging) {
    if (overrides_.battery_percent) r.battery_percent = *overrides_.battery_percent;
    if (overrides_.charging) r.charging = *overrides_.charging;
    r.power_source += "; overridden by the caller";
  }
  cached_ = r;
  read_at_ = now;
  return r;
}

}  // namespace edgeloop::device

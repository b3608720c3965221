// `edgeloop device sensors`: what the engine's governor and the download policy read on this
// device, from the same sources they use (docs/governor.md, "Sensors"; docs/downloads.md).
#include <cmath>
#include <filesystem>

#include "cli.h"
#include "edgeloop/device/conditions.h"
#include "edgeloop/device/data_dir.h"
#include "edgeloop/device/sensors.h"

namespace edgeloop::cli {
namespace {

struct SensorArgs {
  std::string thermal = "/sys/class/thermal", power_supply = "/sys/class/power_supply", meminfo = "/proc/meminfo", data_dir,
              network_state;
  bool json = false;
};

void sensors(const SensorArgs& a) {
  Json out = Json::object();
  std::vector<std::string> lines;
  auto thermal = device::sysfs_thermal(a.thermal);
  auto celsius = thermal ? (*thermal)->celsius() : Result<double>(std::unexpected(thermal.error()));
  out["temperature_c"] = celsius ? Json(*celsius) : Json(nullptr);
  lines.push_back(celsius ? fmt::format("thermal     {:.1f} °C (the hottest zone under {})", *celsius, a.thermal)
                          : fmt::format("thermal     no reading: {} (the governor's thermal rules neither push nor hold back)",
                                        celsius.error().message));
  auto memory = device::procfs_memory(a.meminfo);
  auto pressure = memory ? (*memory)->pressure() : Result<double>(std::unexpected(memory.error()));
  out["memory_pressure"] = pressure ? Json(*pressure) : Json(nullptr);
  lines.push_back(pressure ? fmt::format("memory      pressure {:.2f} (1 - MemAvailable / MemTotal, {}; L1 at >= 0.90)", *pressure,
                                         a.meminfo)
                           : fmt::format("memory      no reading: {}", pressure.error().message));
  auto power = device::sysfs_power(a.power_supply);
  const std::filesystem::path network = !a.network_state.empty() ? std::filesystem::path(a.network_state)
                                        : !a.data_dir.empty()     ? device::network_state_file(a.data_dir)
                                                                  : std::filesystem::path();
  const device::PlatformConditions conditions(power ? power->get() : nullptr, {network}, SystemClock::instance());
  const device::ConditionsReading r = conditions.reading();
  out["battery_percent"] = r.battery_percent < 0 ? Json(nullptr) : Json(r.battery_percent);
  out["charging"] = r.charging;
  out["metered"] = r.metered;
  lines.push_back(fmt::format("power       {} ({})",
                              r.battery_percent < 0 ? std::string("no battery: mains")
                                                    : fmt::format("battery {}%, {}", r.battery_percent,
                                                                  r.charging ? "charging" : "not charging"),
                              power ? r.power_source : fmt::format("{}: {}", r.power_source, power.error().message)));
  lines.push_back(fmt::format("network     {} ({})", r.metered ? "metered" : "unmetered",
                              network.empty() ? std::string("no network state file: give --data-dir or --network-state")
                                              : r.network_source));
  if (a.json) return print_json(out);
  for (const auto& l : lines) fmt::print("{}\n", l);
}

}  // namespace

void add_sensors_command(CLI::App* device) {
  static SensorArgs a;
  auto* c = device->add_subcommand(
      "sensors",
      "Show what the engine's governor (temperature, memory pressure, battery) and the download policy (battery, "
      "charging, metered network) read on this device, from the sources they use; a missing sensor is said, not an error");
  c->add_option("--thermal", a.thermal, "the sysfs thermal folder (default /sys/class/thermal)");
  c->add_option("--power-supply", a.power_supply, "the sysfs power_supply folder (default /sys/class/power_supply)");
  c->add_option("--meminfo", a.meminfo, "the kernel's memory information (default /proc/meminfo)");
  c->add_option("--data-dir", a.data_dir, "the device's data folder, for its network-state file");
  c->add_option("--network-state", a.network_state, "the network state file (default DATA_DIR/network-state)");
  c->add_flag("--json", a.json, "print JSON (null for a sensor with no reading)");
  c->callback([] { sensors(a); });
}

}  // namespace edgeloop::cli

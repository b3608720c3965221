// Sensors the governor reads (docs/governor.md, "Sensors"): the die temperature, the battery and
// the platform's memory pressure.
// Production reads Linux sysfs; tests and the simulator inject a fake sysfs tree (the roots are
// parameters) or the simulated die and battery below, which run on virtual time.
#pragma once

#include <cmath>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "edgeloop/base/error.h"

namespace edgeloop::device {

struct PowerState {
  int battery_percent = -1;  // 0..100; -1: no battery (mains)
  bool charging = false;     // on external power: "Charging" or "Full"
};

class ThermalSensor {
 public:
  virtual ~ThermalSensor() = default;
  virtual Result<double> celsius() const = 0;
};

class PowerSensor {
 public:
  virtual ~PowerSensor() = default;
  virtual Result<PowerState> read() const = 0;
};

// How short of memory the whole device is, 0 (plenty) .. 1 (none left): other apps count too,
// which the engine's own accounting (its weights and arenas against the envelope) cannot see.
class MemorySensor {
 public:
  virtual ~MemorySensor() = default;
  virtual Result<double> pressure() const = 0;
};

// Linux sysfs thermal: the hottest of ROOT/thermal_zone*/temp (millidegrees Celsius), read
// afresh on every call. Zones that cannot be read or report an implausible value (outside
// -40..200 C: some drivers report -273 C or garbage for a sensor that is off) are skipped; an
// error only when no zone gives a reading. Creation fails (kNotFound) when ROOT does not exist
// or holds no thermal_zone*/temp, and (kIo) when none of them can be read.
Result<std::unique_ptr<ThermalSensor>> sysfs_thermal(const std::filesystem::path& root = "/sys/class/thermal");

// Linux sysfs power supply: the first (by name) ROOT/*/ whose `type` is "Battery": `capacity`
// (0..100) and `status` ("Charging" and "Full" mean on external power; "Discharging",
// "Not charging" and "Unknown" do not). A ROOT with no battery (a mains-powered board) reads
// {-1, false}. Creation fails (kNotFound) when ROOT does not exist.
Result<std::unique_ptr<PowerSensor>> sysfs_power(const std::filesystem::path& root = "/sys/class/power_supply");

// Linux /proc/meminfo: pressure = 1 - MemAvailable / MemTotal (MemAvailable is the kernel's
// estimate of what can be allocated without swapping: free memory plus reclaimable caches), read
// afresh on every call. Creation fails (kNotFound) when the file does not exist, (kCorrupt) when
// it lacks either field.
Result<std::unique_ptr<MemorySensor>> procfs_memory(const std::filesystem::path& meminfo = "/proc/meminfo");

// A memory pressure the simulator or a test sets.
class SimulatedMemory final : public MemorySensor {
 public:
  explicit SimulatedMemory(double pressure = 0) : pressure_(pressure) {}
  void set(double pressure) { pressure_ = pressure; }
  Result<double> pressure() const override { return pressure_; }

 private:
  double pressure_;
};

// A die on virtual time: a first-order RC model,
//   dT/dt = (ambient + R * P - T) / tau,   P = work watts + idle_w,
// so under constant power T approaches ambient + R * P with time constant tau.
struct ThermalModel {
  double ambient_c = 25;           // the air around the device
  double resistance_c_per_w = 12;  // R: degrees above ambient per watt at steady state (> 0)
  double time_constant_s = 40;     // tau = R * C (> 0)
  double idle_w = 0.25;            // everything but the inference work (for a camera feature: ISP, display, app)
};
Status validate(const ThermalModel& model);

class SimulatedThermal final : public ThermalSensor {
 public:
  // Asserts that `model` is valid (validate()). NAN: start at ambient.
  explicit SimulatedThermal(ThermalModel model, double initial_c = NAN);
  // Runs `seconds` at `work_watts` (+ idle_w) with the exact exponential step,
  //   T <- T_ss + (T - T_ss) * exp(-seconds / tau),
  // so any step size gives the same answer as many small ones. seconds <= 0: no change.
  void advance(double seconds, double work_watts);
  Result<double> celsius() const override;
  const ThermalModel& model() const;
  // Where `work_watts` would take the die at steady state: ambient + R * (work_watts + idle_w).
  double steady_state_c(double work_watts) const;

 private:
  ThermalModel model_;
  double celsius_;
};

// A battery on virtual time. Draining while charging is a no-op: a phone on its charger is not
// losing charge to the feature (it is not simulated charging up either).
class SimulatedBattery final : public PowerSensor {
 public:
  SimulatedBattery(double capacity_mwh, double percent, bool charging);  // asserts capacity > 0
  void drain(double joules);  // 1 mWh = 3.6 J; floors at 0 %
  void set_charging(bool charging);
  double percent() const;            // the exact level
  Result<PowerState> read() const override;  // battery_percent rounds down, as sysfs capacity does

 private:
  double capacity_mwh_;
  double percent_;
  bool charging_;
};

}  // namespace edgeloop::device

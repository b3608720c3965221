#include "edgeloop/device/sensors.h"

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <charconv>
#include <cstring>

#include <dirent.h>
#include <unistd.h>

#include "edgeloop/base/bytes.h"
#include "edgeloop/base/file.h"

namespace edgeloop::device {

namespace fs = std::filesystem;

namespace {

// Plain strings and POSIX directory listing rather than std::filesystem: the device library's
// size is budgeted (docs/benchmarks.md): std::filesystem iterators and sorting paths cost ~10 KB.
constexpr size_t kMaxAttributeBytes = 64 * 1024;  // sysfs attributes are one page
constexpr double kMinPlausibleC = -40, kMaxPlausibleC = 200;

// A sysfs attribute's text without the trailing newline.
Result<std::string> read_attribute(const std::string& file) {
  EL_TRY(auto bytes, read_file(file, kMaxAttributeBytes));
  std::string text(as_chars(bytes));
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ' || text.back() == '\r' || text.back() == '\t'))
    text.pop_back();
  return text;
}

Result<int64_t> read_integer(const std::string& file) {
  EL_TRY(auto text, read_attribute(file));
  int64_t value = 0;
  auto r = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || r.ec != std::errc() || r.ptr != text.data() + text.size())
    return make_error(ErrorCode::kCorrupt, "{}: \"{}\" is not an integer", file, text);
  return value;
}

// The entries of `root` (full paths, in directory order), with a clear error when it is not there.
Result<std::vector<std::string>> list(const std::string& root, std::string_view what) {
  DIR* dir = ::opendir(root.c_str());
  if (!dir)
    return make_error(errno == ENOENT || errno == ENOTDIR ? ErrorCode::kNotFound : ErrorCode::kIo,
                      "no {}: cannot open {} ({}; is sysfs mounted? does this platform expose it?)", what, root,
                      std::strerror(errno));
  std::vector<std::string> out;
  while (auto* entry = ::readdir(dir)) {
    std::string_view name = entry->d_name;
    if (name != "." && name != "..") out.push_back(root + "/" + std::string(name));
  }
  ::closedir(dir);
  return out;
}

class SysfsThermal final : public ThermalSensor {
 public:
  explicit SysfsThermal(std::vector<std::string> temps) : temps_(std::move(temps)) {}

  Result<double> celsius() const override {
    double hottest = 0;
    bool any = false;
    std::string last_error;
    for (auto& file : temps_) {
      auto milli = read_integer(file);
      if (!milli) {
        last_error = milli.error().message;
        continue;
      }
      double c = static_cast<double>(*milli) / 1000.0;
      if (c < kMinPlausibleC || c > kMaxPlausibleC) {
        last_error = fmt::format("{}: {} C is not a plausible die temperature", file, c);
        continue;
      }
      hottest = any ? std::max(hottest, c) : c;
      any = true;
    }
    if (!any)
      return make_error(ErrorCode::kIo, "none of the {} thermal zones gave a reading (last: {})", temps_.size(), last_error);
    return hottest;
  }

 private:
  std::vector<std::string> temps_;
};

class SysfsPower final : public PowerSensor {
 public:
  explicit SysfsPower(std::string battery) : battery_(std::move(battery)) {}

  Result<PowerState> read() const override {
    if (battery_.empty()) return PowerState{};  // mains
    EL_TRY(auto capacity, read_integer(battery_ + "/capacity"));
    if (capacity < 0 || capacity > 100)
      return make_error(ErrorCode::kCorrupt, "{}: capacity {} is outside 0..100", battery_, capacity);
    EL_TRY(auto status, read_attribute(battery_ + "/status"));
    return PowerState{static_cast<int>(capacity), status == "Charging" || status == "Full"};
  }

 private:
  std::string battery_;  // empty: no battery
};

}  // namespace

Result<std::unique_ptr<ThermalSensor>> sysfs_thermal(const fs::path& root) {
  EL_TRY(auto entries, list(root.string(), "thermal zones"));
  std::vector<std::string> temps;
  for (auto& entry : entries) {
    std::string temp = entry + "/temp";
    if (std::string_view(entry).substr(entry.rfind('/') + 1).starts_with("thermal_zone") && ::access(temp.c_str(), F_OK) == 0)
      temps.push_back(std::move(temp));
  }
  if (temps.empty())
    return make_error(ErrorCode::kNotFound, "no thermal zones: {} holds no thermal_zone*/temp", root.string());
  auto sensor = std::make_unique<SysfsThermal>(std::move(temps));
  auto first = sensor->celsius();
  if (!first) return std::unexpected(first.error().context(fmt::format("thermal zones in {}", root.string())));
  return std::unique_ptr<ThermalSensor>(std::move(sensor));
}

Result<std::unique_ptr<PowerSensor>> sysfs_power(const fs::path& root) {
  EL_TRY(auto entries, list(root.string(), "power supplies"));
  std::string battery;  // the first battery by name (BAT0 before BAT1)
  for (auto& entry : entries) {
    if (!battery.empty() && entry > battery) continue;
    auto type = read_attribute(entry + "/type");
    if (type && *type == "Battery") battery = entry;
  }
  auto sensor = std::make_unique<SysfsPower>(battery);
  auto first = sensor->read();
  if (!first) return std::unexpected(first.error().context(fmt::format("battery in {}", root.string())));
  return std::unique_ptr<PowerSensor>(std::move(sensor));
}

namespace {

class ProcMemory final : public MemorySensor {
 public:
  explicit ProcMemory(std::string meminfo) : meminfo_(std::move(meminfo)) {}

  Result<double> pressure() const override {
    EL_TRY(auto text, read_attribute(meminfo_));
    EL_TRY(auto total, field(text, "MemTotal:"));
    EL_TRY(auto available, field(text, "MemAvailable:"));
    if (total <= 0) return make_error(ErrorCode::kCorrupt, "{}: MemTotal is {}", meminfo_, total);
    return std::clamp(1.0 - static_cast<double>(available) / static_cast<double>(total), 0.0, 1.0);
  }

 private:
  // The number after `name` at the start of a line ("MemTotal:       24522440 kB").
  Result<int64_t> field(std::string_view text, std::string_view name) const {
    for (size_t at = 0; at < text.size();) {
      size_t end = text.find('\n', at);
      std::string_view line = text.substr(at, end == std::string_view::npos ? std::string_view::npos : end - at);
      if (line.starts_with(name)) {
        line.remove_prefix(name.size());
        while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
        int64_t value = 0;
        auto r = std::from_chars(line.data(), line.data() + line.size(), value);
        if (r.ec != std::errc() || value < 0)
          return make_error(ErrorCode::kCorrupt, "{}: '{}' has no number", meminfo_, name);
        return value;
      }
      if (end == std::string_view::npos) break;
      at = end + 1;
    }
    return make_error(ErrorCode::kCorrupt, "{}: no '{}' line (is this /proc/meminfo?)", meminfo_, name);
  }

  std::string meminfo_;
};

}  // namespace

Result<std::unique_ptr<MemorySensor>> procfs_memory(const fs::path& meminfo) {
  if (::access(meminfo.c_str(), F_OK) != 0)
    return make_error(ErrorCode::kNotFound, "no memory information: {} does not exist (is /proc mounted?)", meminfo.string());
  auto sensor = std::make_unique<ProcMemory>(meminfo.string());
  auto first = sensor->pressure();
  if (!first) return std::unexpected(first.error());
  return std::unique_ptr<MemorySensor>(std::move(sensor));
}

// ---- the simulated die ----

Status validate(const ThermalModel& m) {
  if (!std::isfinite(m.ambient_c) || m.ambient_c < -60 || m.ambient_c > 100)
    return make_error(ErrorCode::kInvalidArgument, "thermal model: ambient_c {} is outside [-60, 100]", m.ambient_c);
  if (!std::isfinite(m.resistance_c_per_w) || m.resistance_c_per_w <= 0)
    return make_error(ErrorCode::kInvalidArgument, "thermal model: resistance_c_per_w {} must be > 0", m.resistance_c_per_w);
  if (!std::isfinite(m.time_constant_s) || m.time_constant_s <= 0)
    return make_error(ErrorCode::kInvalidArgument, "thermal model: time_constant_s {} must be > 0", m.time_constant_s);
  if (!std::isfinite(m.idle_w) || m.idle_w < 0)
    return make_error(ErrorCode::kInvalidArgument, "thermal model: idle_w {} must be >= 0", m.idle_w);
  return ok();
}

SimulatedThermal::SimulatedThermal(ThermalModel model, double initial_c)
    : model_(model), celsius_(std::isnan(initial_c) ? model.ambient_c : initial_c) {
  assert(validate(model_).has_value());
}

void SimulatedThermal::advance(double seconds, double work_watts) {
  if (!(seconds > 0)) return;
  double target = steady_state_c(work_watts);
  celsius_ = target + (celsius_ - target) * std::exp(-seconds / model_.time_constant_s);
}

Result<double> SimulatedThermal::celsius() const { return celsius_; }
const ThermalModel& SimulatedThermal::model() const { return model_; }
double SimulatedThermal::steady_state_c(double work_watts) const {
  return model_.ambient_c + model_.resistance_c_per_w * (std::max(0.0, work_watts) + model_.idle_w);
}

// ---- the simulated battery ----

SimulatedBattery::SimulatedBattery(double capacity_mwh, double percent, bool charging)
    : capacity_mwh_(capacity_mwh), percent_(std::clamp(percent, 0.0, 100.0)), charging_(charging) {
  assert(capacity_mwh > 0);
}

void SimulatedBattery::drain(double joules) {
  if (charging_ || !(joules > 0)) return;
  percent_ = std::max(0.0, percent_ - joules / (capacity_mwh_ * 3.6) * 100.0);
}
void SimulatedBattery::set_charging(bool charging) { charging_ = charging; }
double SimulatedBattery::percent() const { return percent_; }

Result<PowerState> SimulatedBattery::read() const {
  return PowerState{static_cast<int>(std::floor(percent_)), charging_};
}

}  // namespace edgeloop::device

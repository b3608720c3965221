#include "edgeloop/device/sensors.h"

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

namespace edgeloop::device {
namespace {

namespace fs = std::filesystem;

// A fake sysfs tree in a temporary folder.
class FakeSysfs : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("edgeloop_sensors_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override { fs::remove_all(root_); }
  void write(const fs::path& relative, const std::string& text) {
    fs::create_directories((root_ / relative).parent_path());
    std::ofstream(root_ / relative) << text;
  }
  fs::path root_;
};

TEST_F(FakeSysfs, TheHottestZoneIsChosen) {
  write("thermal_zone0/temp", "41000\n");
  write("thermal_zone0/type", "battery\n");
  write("thermal_zone1/temp", "67500\n");
  write("thermal_zone2/temp", "55250\n");
  write("cooling_device0/cur_state", "0\n");  // not a zone
  auto sensor = sysfs_thermal(root_);
  ASSERT_TRUE(sensor) << sensor.error().message;
  auto c = (*sensor)->celsius();
  ASSERT_TRUE(c);
  EXPECT_DOUBLE_EQ(*c, 67.5);
  // Read afresh each time.
  write("thermal_zone2/temp", "71000\n");
  EXPECT_DOUBLE_EQ(*(*sensor)->celsius(), 71.0);
}

TEST_F(FakeSysfs, UnreadableAndImplausibleZonesAreSkipped) {
  write("thermal_zone0/temp", "-273000\n");  // a sensor that is off
  write("thermal_zone1/temp", "garbage\n");
  write("thermal_zone2/temp", "48000\n");
  auto sensor = sysfs_thermal(root_);
  ASSERT_TRUE(sensor) << sensor.error().message;
  EXPECT_DOUBLE_EQ(*(*sensor)->celsius(), 48.0);
  write("thermal_zone2/temp", "");
  auto c = (*sensor)->celsius();
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, ErrorCode::kIo);
  EXPECT_NE(c.error().message.find("none of the 3 thermal zones"), std::string::npos) << c.error().message;
}

TEST_F(FakeSysfs, MissingThermalTreeIsAClearError) {
  auto r = sysfs_thermal(root_ / "no-such-dir");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kNotFound);
  EXPECT_NE(r.error().message.find("no-such-dir"), std::string::npos) << r.error().message;
  r = sysfs_thermal(root_);  // exists, but empty
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kNotFound);
  EXPECT_NE(r.error().message.find("thermal_zone*/temp"), std::string::npos) << r.error().message;
  write("thermal_zone0/temp", "not a number\n");
  r = sysfs_thermal(root_);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kIo);
}

TEST_F(FakeSysfs, BatteryCapacityAndStatus) {
  write("AC/type", "Mains\n");
  write("AC/online", "0\n");
  write("BAT0/type", "Battery\n");
  write("BAT0/capacity", "42\n");
  write("BAT0/status", "Discharging\n");
  auto sensor = sysfs_power(root_);
  ASSERT_TRUE(sensor) << sensor.error().message;
  auto s = (*sensor)->read();
  ASSERT_TRUE(s);
  EXPECT_EQ(s->battery_percent, 42);
  EXPECT_FALSE(s->charging);
  for (auto [status, charging] : {std::pair{"Charging", true}, {"Full", true}, {"Not charging", false}, {"Unknown", false}}) {
    write("BAT0/status", std::string(status) + "\n");
    auto state = (*sensor)->read();
    ASSERT_TRUE(state);
    EXPECT_EQ(state->charging, charging) << status;
  }
  write("BAT0/capacity", "140\n");
  auto bad = (*sensor)->read();
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("capacity 140"), std::string::npos) << bad.error().message;
}

TEST_F(FakeSysfs, TheFirstBatteryByNameIsRead) {
  write("BAT1/type", "Battery\n");
  write("BAT1/capacity", "90\n");
  write("BAT1/status", "Discharging\n");
  write("BAT0/type", "Battery\n");
  write("BAT0/capacity", "12\n");
  write("BAT0/status", "Discharging\n");
  write("usb/type", "USB\n");
  auto sensor = sysfs_power(root_);
  ASSERT_TRUE(sensor) << sensor.error().message;
  EXPECT_EQ((*sensor)->read()->battery_percent, 12);
}

TEST_F(FakeSysfs, NoBatteryMeansMains) {
  write("AC/type", "Mains\n");
  auto sensor = sysfs_power(root_);
  ASSERT_TRUE(sensor) << sensor.error().message;
  auto s = (*sensor)->read();
  ASSERT_TRUE(s);
  EXPECT_EQ(s->battery_percent, -1);
}

TEST_F(FakeSysfs, MissingPowerTreeOrBrokenBatteryIsAClearError) {
  auto r = sysfs_power(root_ / "absent");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kNotFound);
  EXPECT_NE(r.error().message.find("absent"), std::string::npos);
  write("BAT0/type", "Battery\n");  // no capacity
  r = sysfs_power(root_);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("capacity"), std::string::npos) << r.error().message;
}

TEST_F(FakeSysfs, MemoryPressureIsTheShareNotAvailable) {
  write("meminfo", "MemTotal:       8000000 kB\nMemFree:         500000 kB\nMemAvailable:    2000000 kB\nBuffers: 1 kB\n");
  auto sensor = procfs_memory(root_ / "meminfo");
  ASSERT_TRUE(sensor) << sensor.error().message;
  auto p = (*sensor)->pressure();
  ASSERT_TRUE(p);
  EXPECT_DOUBLE_EQ(*p, 0.75);
  write("meminfo", "MemTotal:       8000000 kB\nMemAvailable:    7200000 kB\n");  // read afresh on every call
  EXPECT_DOUBLE_EQ(*(*sensor)->pressure(), 0.1);
}

TEST_F(FakeSysfs, MemoryInformationWithoutItsFieldsIsAClearError) {
  auto absent = procfs_memory(root_ / "absent");
  ASSERT_FALSE(absent);
  EXPECT_EQ(absent.error().code, ErrorCode::kNotFound);
  write("meminfo", "MemTotal:       8000000 kB\nMemFree: 1 kB\n");  // a kernel older than 3.14 has no MemAvailable
  auto r = procfs_memory(root_ / "meminfo");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kCorrupt);
  EXPECT_NE(r.error().message.find("MemAvailable"), std::string::npos) << r.error().message;
}

TEST(ProcMemory, ThisMachinesMeminfoReads) {
  // /proc files say they are 0 bytes long: they must still be read to their end.
  auto sensor = procfs_memory();
  ASSERT_TRUE(sensor) << sensor.error().message;
  auto p = (*sensor)->pressure();
  ASSERT_TRUE(p);
  EXPECT_GT(*p, 0.0);
  EXPECT_LT(*p, 1.0);
}

// ---- the RC model ----

TEST(SimulatedThermal, StepResponseReachesAmbientPlusRTimesP) {
  ThermalModel m{.ambient_c = 30, .resistance_c_per_w = 10, .time_constant_s = 40, .idle_w = 0.5};
  SimulatedThermal die(m);
  EXPECT_DOUBLE_EQ(*die.celsius(), 30);
  // One time constant: 63.2 % of the way to 30 + 10 * (2 + 0.5) = 55.
  for (int i = 0; i < 400; ++i) die.advance(0.1, 2.0);
  EXPECT_NEAR(*die.celsius(), 30 + 25 * (1 - std::exp(-1.0)), 1e-9);
  for (int i = 0; i < 4000; ++i) die.advance(0.1, 2.0);
  EXPECT_NEAR(*die.celsius(), 55, 1e-3);
  EXPECT_DOUBLE_EQ(die.steady_state_c(2.0), 55);
  // Idle: back to ambient + R * idle_w; with idle_w = 0, to ambient exactly.
  for (int i = 0; i < 4400; ++i) die.advance(0.1, 0);
  EXPECT_NEAR(*die.celsius(), 35, 1e-3);
  SimulatedThermal cold({.ambient_c = 30, .resistance_c_per_w = 10, .time_constant_s = 40, .idle_w = 0}, 80);
  cold.advance(1000, 0);
  EXPECT_NEAR(*cold.celsius(), 30, 1e-9);
}

TEST(SimulatedThermal, ExactForAnyStepSize) {
  ThermalModel m;  // the defaults
  SimulatedThermal fine(m), coarse(m), one(m);
  for (int i = 0; i < 10000; ++i) fine.advance(0.01, 3.0);
  for (int i = 0; i < 4; ++i) coarse.advance(25, 3.0);
  one.advance(100, 3.0);
  EXPECT_NEAR(*fine.celsius(), *one.celsius(), 1e-9);
  EXPECT_NEAR(*coarse.celsius(), *one.celsius(), 1e-9);
  // A step far longer than tau neither overshoots nor oscillates (an Euler step would).
  SimulatedThermal big(m);
  big.advance(1e6, 3.0);
  EXPECT_NEAR(*big.celsius(), m.ambient_c + m.resistance_c_per_w * (3.0 + m.idle_w), 1e-9);
  big.advance(-5, 100);  // ignored
  EXPECT_NEAR(*big.celsius(), m.ambient_c + m.resistance_c_per_w * (3.0 + m.idle_w), 1e-9);
}

TEST(SimulatedThermal, ModelValidation) {
  EXPECT_TRUE(validate(ThermalModel{}));
  EXPECT_FALSE(validate(ThermalModel{.time_constant_s = 0}));
  EXPECT_FALSE(validate(ThermalModel{.resistance_c_per_w = -1}));
  EXPECT_FALSE(validate(ThermalModel{.idle_w = -0.1}));
  EXPECT_FALSE(validate(ThermalModel{.ambient_c = NAN}));
}

TEST(SimulatedBattery, DrainsByEnergyNotWhileCharging) {
  SimulatedBattery battery(/*capacity_mwh=*/10000, /*percent=*/50, /*charging=*/false);
  battery.drain(3.6 * 1000);  // 1000 mWh = 10 %
  EXPECT_NEAR(battery.percent(), 40, 1e-9);
  EXPECT_EQ(battery.read()->battery_percent, 40);
  battery.drain(3.6 * 5);  // 0.05 %: reads 39 (rounds down, as sysfs does)
  EXPECT_EQ(battery.read()->battery_percent, 39);
  battery.set_charging(true);
  battery.drain(3.6 * 1000);
  EXPECT_NEAR(battery.percent(), 39.95, 1e-9);
  EXPECT_TRUE(battery.read()->charging);
  battery.set_charging(false);
  battery.drain(1e9);
  EXPECT_EQ(battery.read()->battery_percent, 0);
}

}  // namespace
}  // namespace edgeloop::device

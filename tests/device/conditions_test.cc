#include "edgeloop/device/conditions.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "edgeloop/ota/download_policy.h"

namespace edgeloop::device {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class ManualClock final : public Clock {
 public:
  std::chrono::nanoseconds now() const override { return t; }
  int64_t unix_seconds() const override { return 1'800'000'000; }
  std::chrono::nanoseconds t{0};
};

// A fake sysfs power_supply tree and a network state file in a temporary folder.
class DeviceConditionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("edgeloop_conditions_" + std::to_string(::getpid()) + "_" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_ / "power_supply");
    write("power_supply/AC/type", "Mains\n");
    write("power_supply/BAT0/type", "Battery\n");
    write("power_supply/BAT0/capacity", "15\n");
    write("power_supply/BAT0/status", "Discharging\n");
    auto sensor = sysfs_power(root_ / "power_supply");
    ASSERT_TRUE(sensor) << sensor.error().message;
    power_ = std::move(*sensor);
  }
  void TearDown() override { fs::remove_all(root_); }
  void write(const fs::path& relative, const std::string& text) {
    fs::create_directories((root_ / relative).parent_path());
    std::ofstream(root_ / relative, std::ios::trunc) << text;
  }
  NetworkStateFile network() const { return {root_ / "network-state"}; }

  fs::path root_;
  std::unique_ptr<PowerSensor> power_;
  ManualClock clock_;
};

TEST_F(DeviceConditionsTest, BatteryAndChargingComeFromSysfsAndTheNetworkFromThePlatformsFile) {
  write("network-state", "metered\n");
  PlatformConditions c(power_.get(), network(), clock_);
  EXPECT_TRUE(c.metered());
  EXPECT_FALSE(c.charging());
  EXPECT_EQ(c.battery_percent(), 15);
  ota::DownloadPolicy policy;  // defaults: unmetered only, 20% unless charging
  auto verdict = ota::check_download_policy(policy, c);
  ASSERT_FALSE(verdict);
  EXPECT_EQ(verdict.error().code, ErrorCode::kDeferred);
  EXPECT_NE(verdict.error().message.find("metered"), std::string::npos) << verdict.error().message;

  // The platform reports a change; it is seen once the cached reading is older than max_age.
  write("network-state", " Unmetered \n");
  EXPECT_TRUE(c.metered());
  clock_.t += 6s;
  EXPECT_FALSE(c.metered());
  verdict = ota::check_download_policy(policy, c);
  ASSERT_FALSE(verdict);
  EXPECT_NE(verdict.error().message.find("battery at 15%"), std::string::npos) << verdict.error().message;

  write("power_supply/BAT0/status", "Charging\n");
  clock_.t += 6s;
  EXPECT_TRUE(c.charging());
  EXPECT_TRUE(ota::check_download_policy(policy, c));
  const ConditionsReading r = c.reading();
  EXPECT_NE(r.network_source.find("network-state: unmetered"), std::string::npos) << r.network_source;
  EXPECT_EQ(r.power_source, "power supply");
}

TEST_F(DeviceConditionsTest, AMissingFileCountsAsConfiguredAndGarbageAsMetered) {
  PlatformConditions missing(power_.get(), network(), clock_);
  EXPECT_FALSE(missing.metered());
  EXPECT_NE(missing.reading().network_source.find("no "), std::string::npos);
  PlatformConditions cautious(power_.get(), {root_ / "network-state", /*if_missing=*/true}, clock_);
  EXPECT_TRUE(cautious.metered());
  write("network-state", "wifi?\n");
  PlatformConditions garbage(power_.get(), network(), clock_);
  EXPECT_TRUE(garbage.metered());
  EXPECT_NE(garbage.reading().network_source.find("'wifi?'"), std::string::npos) << garbage.reading().network_source;
}

TEST_F(DeviceConditionsTest, TheCallersStatementsOverrideTheReadings) {
  write("network-state", "unmetered\n");
  ConditionOverrides o;
  o.metered = true;
  o.battery_percent = 90;
  PlatformConditions c(power_.get(), network(), clock_, o);
  EXPECT_TRUE(c.metered());
  EXPECT_EQ(c.battery_percent(), 90);
  EXPECT_FALSE(c.charging());  // not overridden: still the sensor's
  o = {};
  o.charging = true;
  PlatformConditions charging(power_.get(), network(), clock_, o);
  EXPECT_TRUE(charging.charging());
  EXPECT_EQ(charging.battery_percent(), 15);
}

TEST_F(DeviceConditionsTest, NoSensorOrABrokenOneCountsAsMains) {
  PlatformConditions mains(nullptr, network(), clock_);
  EXPECT_EQ(mains.battery_percent(), -1);
  EXPECT_FALSE(mains.charging());
  write("power_supply/BAT0/capacity", "not a number\n");
  PlatformConditions broken(power_.get(), network(), clock_);
  EXPECT_EQ(broken.battery_percent(), -1);
  EXPECT_NE(broken.reading().power_source.find("unreadable"), std::string::npos) << broken.reading().power_source;
  EXPECT_TRUE(ota::check_download_policy({}, broken));
}

}  // namespace
}  // namespace edgeloop::device

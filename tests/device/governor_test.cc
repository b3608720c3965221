#include "edgeloop/device/governor.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "edgeloop/device/budget.h"
#include "edgeloop/device/sensors.h"

namespace edgeloop::device {
namespace {

bool contains(const std::string& text, std::string_view needle) { return text.find(needle) != std::string::npos; }

// Inputs with a cool die, a full battery and everything installed.
GovernorInputs calm() {
  GovernorInputs in;
  in.temperature_c = 50;
  in.throttle_c = 80;  // derate at 74, critical at 78, release below 70
  in.power = {80, false};
  in.smaller_available = true;
  in.remote_available = true;
  return in;
}

TEST(Governor, StartsAtFullAndStaysThereWhenCalm) {
  Governor g;
  for (int i = 0; i < 100; ++i) EXPECT_EQ(g.update(calm(), i * 0.1), Level::kFull);
  EXPECT_TRUE(g.transitions().empty());
  auto s = g.seconds_per_level(9.9);
  EXPECT_NEAR(s[0], 9.9, 1e-9);
}

TEST(Governor, CriticalTemperatureStepsDownOneLevelPerCallWithItsCause) {
  Governor g;
  auto in = calm();
  g.update(in, 0);
  in.temperature_c = 78.5;
  EXPECT_EQ(g.update(in, 0.1), Level::kSmaller);
  EXPECT_EQ(g.update(in, 0.2), Level::kLowerRate);
  EXPECT_EQ(g.update(in, 0.3), Level::kRemote);
  EXPECT_EQ(g.update(in, 0.4), Level::kHeuristic);
  EXPECT_EQ(g.update(in, 0.5), Level::kHeuristic);  // never below L4
  ASSERT_EQ(g.transitions().size(), 4u);
  auto& t = g.transitions()[0];
  EXPECT_EQ(t.from, Level::kFull);
  EXPECT_EQ(t.to, Level::kSmaller);
  EXPECT_DOUBLE_EQ(t.at_s, 0.1);
  EXPECT_EQ(t.cause, "temperature 78.5 C >= 78.0 C (throttle 80 C - critical margin 2)");
}

TEST(Governor, DeratesBeforeTheThrottleWhileTheTemperatureRises) {
  Governor g;
  auto in = calm();
  // Rising through the de-rating line at 0.1 C/s.
  double t = 0;
  for (; t < 60; t += 0.1) {
    in.temperature_c = 70 + 0.1 * t;
    if (g.update(in, t) != Level::kFull) break;
  }
  ASSERT_EQ(g.level(), Level::kSmaller);
  EXPECT_GE(in.temperature_c, 74.0);
  EXPECT_LT(in.temperature_c, 74.2);  // at once: the trend was already there
  auto& cause = g.transitions().back().cause;
  EXPECT_TRUE(contains(cause, "temperature 74.")) << cause;
  EXPECT_TRUE(contains(cause, ">= 74.0 C (throttle 80 C - margin 6) and rising 0.100 C/s")) << cause;
  // Still rising: the next step waits settle_s (3 s) of samples at the new level.
  double changed = t;
  for (t += 0.1; t < changed + 10; t += 0.1) {
    in.temperature_c = 70 + 0.1 * t;
    if (g.update(in, t) != Level::kSmaller) break;
  }
  EXPECT_EQ(g.level(), Level::kLowerRate);
  EXPECT_NEAR(t - changed, 3.0, 0.15);
}

TEST(Governor, InTheDeratingZoneButFallingItHolds) {
  Governor g;
  auto in = calm();
  for (double t = 0; t < 60; t += 0.1) {
    in.temperature_c = 77 - 0.05 * t;  // 77 -> 74: in the zone, cooling
    EXPECT_EQ(g.update(in, t), Level::kFull) << t;
  }
}

TEST(Governor, OverrunsStepDownPacedBySettle) {
  Governor g;
  auto in = calm();
  g.update(in, 0);
  in.overrun_rate = 0.2;
  EXPECT_EQ(g.update(in, 10), Level::kSmaller);
  EXPECT_EQ(g.transitions().back().cause, "deadline overruns 20.0% >= 5.0%");
  EXPECT_EQ(g.update(in, 11), Level::kSmaller);  // the window still holds the old overruns: wait
  EXPECT_EQ(g.update(in, 13), Level::kLowerRate);
  in.overrun_rate = 0.03;  // under high, over clear: hold
  EXPECT_EQ(g.update(in, 30), Level::kLowerRate);
  in.overrun_rate = 0.0;
  EXPECT_EQ(g.update(in, 31), Level::kSmaller);
  EXPECT_TRUE(contains(g.transitions().back().cause, "cleared after 18.0 s on L2-lower-rate")) << g.transitions().back().cause;
}

TEST(Governor, LowBatteryNotChargingHoldsAtLeastL1) {
  Governor g;
  auto in = calm();
  in.power = {14, false};
  EXPECT_EQ(g.update(in, 0), Level::kSmaller);
  EXPECT_EQ(g.transitions().back().cause, "battery 14% < 15% and not charging (battery saver)");
  for (double t = 1; t < 60; t += 1) EXPECT_EQ(g.update(in, t), Level::kSmaller);  // a floor, not a push
  in.power = {16, false};  // above low, under low + hysteresis
  EXPECT_EQ(g.update(in, 61), Level::kSmaller);
  in.power = {16, true};  // plugged in
  EXPECT_EQ(g.update(in, 62), Level::kFull);
  in.power = {5, true};  // charging: no battery saver
  EXPECT_EQ(g.update(in, 63), Level::kFull);
  in.power = {-1, false};  // mains
  EXPECT_EQ(g.update(in, 64), Level::kFull);
}

TEST(Governor, MemoryPressureGoesToL1) {
  Governor g;
  auto in = calm();
  in.memory_pressure = 0.95;
  EXPECT_EQ(g.update(in, 0), Level::kSmaller);
  EXPECT_EQ(g.transitions().back().cause, "memory pressure 0.95 >= 0.90");
  for (double t = 1; t < 30; t += 1) EXPECT_EQ(g.update(in, t), Level::kSmaller);
  in.memory_pressure = 0.85;  // hysteresis: not yet
  EXPECT_EQ(g.update(in, 31), Level::kSmaller);
  in.memory_pressure = 0.5;
  EXPECT_EQ(g.update(in, 32), Level::kFull);
  // Without a smaller variant the floor is the next available level.
  Governor g2;
  in.memory_pressure = 0.95;
  in.smaller_available = false;
  EXPECT_EQ(g2.update(in, 0), Level::kLowerRate);
}

TEST(Governor, UnavailableLevelsAreSkippedBothWays) {
  Governor g;
  auto in = calm();
  in.smaller_available = false;
  in.remote_available = false;
  g.update(in, 0);
  in.temperature_c = 79;
  EXPECT_EQ(g.update(in, 1), Level::kLowerRate);  // L1 skipped
  EXPECT_EQ(g.update(in, 2), Level::kHeuristic);  // L3 skipped
  in.temperature_c = 60;
  EXPECT_EQ(g.update(in, 3), Level::kHeuristic);  // dwell
  EXPECT_EQ(g.update(in, 7), Level::kLowerRate);  // L3 skipped on the way up
  EXPECT_EQ(g.update(in, 12), Level::kFull);      // L1 skipped on the way up
  EXPECT_EQ(g.transitions().size(), 4u);
}

TEST(Governor, ALevelThatBecomesUnavailableIsLeft) {
  Governor g;
  auto in = calm();
  g.update(in, 0);
  in.temperature_c = 79;
  for (double t = 1; g.level() != Level::kRemote; t += 0.1) g.update(in, t);
  in.temperature_c = 72;  // in the band: neither down nor up
  in.remote_available = false;
  EXPECT_EQ(g.update(in, 10), Level::kHeuristic);
  EXPECT_TRUE(contains(g.transitions().back().cause, "L3-remote unavailable")) << g.transitions().back().cause;
  Governor g1;
  in = calm();
  in.power = {10, false};
  EXPECT_EQ(g1.update(in, 0), Level::kSmaller);
  in.smaller_available = false;  // the smaller variant was removed
  EXPECT_EQ(g1.update(in, 1), Level::kLowerRate);
  EXPECT_TRUE(contains(g1.transitions().back().cause, "no smaller variant")) << g1.transitions().back().cause;
}

TEST(Governor, DwellHoldsStepsUpOnlyAndHysteresisHoldsBelowTheLine) {
  GovernorOptions o;
  o.settle_s = 0;
  o.trend_window_s = 1;
  Governor g(o);
  auto in = calm();
  g.update(in, 0);
  in.overrun_rate = 0.5;
  EXPECT_EQ(g.update(in, 0.1), Level::kSmaller);
  EXPECT_EQ(g.update(in, 0.2), Level::kLowerRate);  // no dwell on the way down
  in.overrun_rate = 0;
  in.temperature_c = 71;  // below derate (74), above release (70): hold
  EXPECT_EQ(g.update(in, 60), Level::kLowerRate);
  in.temperature_c = 69.9;
  EXPECT_EQ(g.update(in, 61), Level::kSmaller);
  EXPECT_EQ(g.update(in, 65.9), Level::kSmaller);  // 4.9 s < 5 s
  EXPECT_EQ(g.update(in, 66.0), Level::kFull);
  auto s = g.seconds_per_level(100);
  EXPECT_NEAR(s[0], 0.1 + 34, 1e-9);
  EXPECT_NEAR(s[1], 0.1 + 5, 1e-9);
  EXPECT_NEAR(s[2], 60.8, 1e-9);
  EXPECT_EQ(s[3] + s[4], 0);
}

TEST(Governor, NoReadingMeansNoThermalRules) {
  Governor g;
  auto in = calm();
  in.temperature_c = NAN;
  EXPECT_EQ(g.update(in, 0), Level::kFull);
  in.temperature_c = 120;
  in.throttle_c = 0;
  EXPECT_EQ(g.update(in, 1), Level::kFull);
}

// A slow open-loop ramp with sensor noise up through the de-rating line and back, twice: the
// governor moves in runs (down while hot, up once cool), never flapping at either line.
TEST(Governor, NoFlappingAroundTheThresholdInASlowNoisyRamp) {
  Governor g;
  auto in = calm();
  int direction_changes = 0, last_direction = 0;
  for (double t = 0; t < 480; t += 0.1) {
    double phase = std::fmod(t, 240);
    double ramp = phase < 120 ? 62 + phase / 10 : 74 - (phase - 120) / 10;  // 62 -> 74 -> 62 C at 0.1 C/s
    in.temperature_c = ramp + 0.4 * std::sin(t * 7.3) + 0.3 * std::sin(t * 2.9);  // +-0.7 C of noise
    size_t before = g.transitions().size();
    g.update(in, t);
    if (g.transitions().size() != before) {
      auto& tr = g.transitions().back();
      int dir = static_cast<int>(tr.to) > static_cast<int>(tr.from) ? 1 : -1;
      if (last_direction != 0 && dir != last_direction) ++direction_changes;
      last_direction = dir;
      if (dir > 0) EXPECT_GE(in.temperature_c, 74.0 - 0.0) << tr.cause;  // down only in the zone
      else EXPECT_LT(in.temperature_c, 70.0) << tr.cause;                // up only below release
    }
  }
  EXPECT_LE(direction_changes, 3);  // down, up, down, up
  EXPECT_LE(g.transitions().size(), 16u);
  EXPECT_GE(g.transitions().size(), 2u);
}

// ---- closed loop: the RC die driven by the envelope's declared power per level ----

struct Run {
  double peak_c = 0;
  std::array<double, kLevelCount> seconds{};
  size_t transitions = 0;
};

Run simulate(const Envelope& e, const ThermalModel& model, bool governed, double seconds = 600, double dt = 0.1,
             GovernorOptions options = {}, bool print = true) {
  SimulatedThermal die(model);
  Governor g(options);
  Run run;
  for (double t = 0; t < seconds; t += dt) {
    GovernorInputs in;
    in.temperature_c = *die.celsius();
    in.throttle_c = e.thermal_throttle_c;
    in.power = {-1, false};
    in.smaller_available = true;
    in.remote_available = true;
    Level level = governed ? g.update(in, t) : Level::kFull;
    die.advance(dt, declared_power_w(e, level, /*smaller_available=*/true));
    run.peak_c = std::max(run.peak_c, *die.celsius());
  }
  run.seconds = g.seconds_per_level(seconds);
  run.transitions = g.transitions().size();
  if (governed && print)
    for (auto& tr : g.transitions())
      std::printf("    %6.1f s  %s -> %s: %s\n", tr.at_s, std::string(to_string(tr.from)).c_str(),
                  std::string(to_string(tr.to)).c_str(), tr.cause.c_str());
  return run;
}

struct HotCase {
  const char* tier;
  ThermalModel model;  // the tier's device in a hot place
};

TEST(GovernorClosedLoop, TenHotMinutesStayUnderTheThrottleWhereFullRateCrossesIt) {
  auto config = load_budget_config(std::filesystem::path(EDGELOOP_SOURCE_DIR) / "examples" / "budgets.json");
  ASSERT_TRUE(config) << config.error().message;
  // idle_w is the rest of the device while the camera feature runs (ISP, display, app).
  const HotCase cases[] = {
      {"mid", {.ambient_c = 40, .resistance_c_per_w = 12, .time_constant_s = 40, .idle_w = 2.5}},
      {"low", {.ambient_c = 38, .resistance_c_per_w = 16, .time_constant_s = 40, .idle_w = 1.5}},
  };
  for (auto& c : cases) {
    SCOPED_TRACE(c.tier);
    auto e = config->for_tier(c.tier);
    ASSERT_TRUE(e);
    auto full = simulate(*e, c.model, false);
    std::printf("  %s (throttle %g C, ambient %g C): governed transitions:\n", c.tier, e->thermal_throttle_c, c.model.ambient_c);
    auto governed = simulate(*e, c.model, true);
    std::printf("  %s: always-L0 peak %.2f C; governed peak %.2f C; seconds per level L0..L4: %.0f %.0f %.0f %.0f %.0f\n",
                c.tier, full.peak_c, governed.peak_c, governed.seconds[0], governed.seconds[1], governed.seconds[2],
                governed.seconds[3], governed.seconds[4]);
    EXPECT_GT(full.peak_c, e->thermal_throttle_c);
    EXPECT_LT(governed.peak_c, e->thermal_throttle_c);
    EXPECT_LE(governed.transitions, 6u);       // settles; no oscillation
    EXPECT_EQ(governed.seconds[4], 0);         // and no deeper than it needs
    EXPECT_GT(governed.seconds[0], 30);        // full quality until the heat builds
  }
}

// L1 is just too hot to hold and L2 well below the release line: a step up is tried, undone by
// heat, and backed off, so the cycle slows down to one try per max_dwell_s instead of one per
// cooling time (a slow duty cycle between L1 and L2, under the throttle throughout).
TEST(GovernorClosedLoop, AStepUpThatDoesNotHoldIsBackedOff) {
  Envelope e{.latency_p95_ms = 50, .memory_bytes = 1 << 25, .energy_mj_per_inference = 60, .thermal_throttle_c = 80,
             .fps = 30, .smaller_energy_ratio = 0.5, .lower_rate_fps = 15};
  ThermalModel m{.ambient_c = 40, .resistance_c_per_w = 12, .time_constant_s = 40, .idle_w = 2.0};
  SimulatedThermal probe(m);
  ASSERT_GT(probe.steady_state_c(declared_power_w(e, Level::kSmaller, true)), 74);   // L1 cannot be held
  ASSERT_LT(probe.steady_state_c(declared_power_w(e, Level::kLowerRate, true)), 70);  // L2 cools below release
  std::printf("  backoff scenario transitions:\n");
  auto run = simulate(e, m, true, 1800);
  GovernorOptions no_backoff;
  no_backoff.max_dwell_s = no_backoff.min_dwell_s;
  auto plain = simulate(e, m, true, 1800, 0.1, no_backoff, false);
  std::printf("  30 minutes: %zu transitions with backoff, %zu without; peak %.2f C\n", run.transitions, plain.transitions,
              run.peak_c);
  EXPECT_LT(run.peak_c, 80);
  EXPECT_LT(plain.peak_c, 80);
  EXPECT_LE(run.transitions, 12u);
  EXPECT_LE(2 * run.transitions, plain.transitions);
  EXPECT_GT(run.seconds[2], 3 * run.seconds[1]);  // mostly on the level it can hold
}

}  // namespace
}  // namespace edgeloop::device

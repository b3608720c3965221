// The governor (docs/governor.md, "Governor"): picks the degradation ladder's level from the
// die temperature against the envelope's throttle threshold, the battery, deadline overruns and
// memory pressure. It de-rates *before* the platform throttles, steps one level at a time, and
// recovers only with hysteresis and after a dwell, so a slow thermal mass does not make it
// flap. Every change is recorded with its cause in words. It keeps no clock: the caller passes
// the time (virtual or real), so the simulator and tests drive the same code.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "edgeloop/base/error.h"
#include "edgeloop/device/ladder.h"
#include "edgeloop/device/sensors.h"

namespace edgeloop::device {

struct GovernorInputs {
  double temperature_c = 0;        // NaN: no reading (the thermal rules neither push nor hold back)
  double throttle_c = 0;           // the envelope's thermal threshold; <= 0: no thermal rules
  PowerState power;
  double overrun_rate = 0;         // share of recent inferences that overran their deadline, 0..1
  double memory_pressure = 0;      // 0..1 (share of the memory budget in use / platform pressure)
  bool smaller_available = false;  // an L1 variant is installed
  bool remote_available = false;   // the remote stage is configured, online and within budget
};

struct GovernorOptions {
  double derate_margin_c = 6;     // start stepping down at throttle_c - margin (before the platform throttles)
  double hysteresis_c = 4;        // step back up only below throttle_c - margin - hysteresis
  double min_dwell_s = 5;         // at least this long on a level before stepping back up
  int low_battery_percent = 15;   // not charging and below: hold at least L1 (battery saver)
  double overrun_rate_high = 0.05;
  double memory_pressure_high = 0.9;
  // Added beyond the brief (docs/governor.md explains each):
  double critical_margin_c = 2;          // at or above throttle_c - this: step down on every call, no trend needed
  double settle_s = 3;                   // a step down for heat or overruns waits this long after the last change
  double trend_window_s = 10;            // the temperature slope: least squares over this many seconds at the current level
  int battery_hysteresis_percent = 5;    // back to L0 only at low_battery_percent + this (or charging)
  double overrun_rate_clear = 0.01;      // step up only below this overrun rate
  double memory_pressure_clear = 0.8;    // back to L0 only below this memory pressure
  double rebound_window_s = 180;         // a step up undone by heat within this long (several thermal time
                                         // constants) backs that step's dwell off: twice the old dwell, and at
                                         // least twice as long as the failed attempt held ...
  double max_dwell_s = 300;              // ... up to this
  size_t max_transitions = 4096;         // the record keeps the newest this many (transition_count() counts all)
};
Status validate(const GovernorOptions& options);

struct Transition {
  double at_s = 0;
  Level from = Level::kFull, to = Level::kFull;
  std::string cause;  // "temperature 76.2 C >= 74.0 C (throttle 80 C - margin 6) and rising 0.05 C/s"
};

class Governor {
 public:
  explicit Governor(GovernorOptions options = {});  // asserts validate(options)

  // Called periodically (once per frame, or every 100 ms of virtual or real time) with the
  // current inputs; moves at most one level per call and returns the level now in force.
  // Rules, in order (docs/governor.md):
  //  1. the current level is unavailable (L1 without a smaller variant, L3 without the remote
  //     stage): step down to the next available level;
  //  2. below a floor — battery under low_battery_percent and not charging, or memory pressure
  //     >= memory_pressure_high — step down to L1 (or the next available level);
  //  3. pressure: step down one (available) level when the temperature is >= throttle_c -
  //     critical_margin_c; or when it is >= throttle_c - derate_margin_c and rising (the
  //     least-squares slope over the samples since the last change, within trend_window_s,
  //     spanning at least settle_s, is > 0) and settle_s has passed since the last change; or
  //     when overrun_rate >= overrun_rate_high and settle_s has passed since the last change;
  //  4. recovery: step up one (available) level, never above a floor, when the temperature is
  //     below throttle_c - derate_margin_c - hysteresis_c, overrun_rate < overrun_rate_clear,
  //     (for L0) memory_pressure < memory_pressure_clear and the battery is charging or at
  //     least low_battery_percent + battery_hysteresis_percent, and the level has been held for
  //     the step's dwell (min_dwell_s; each time that step up is undone by heat within
  //     rebound_window_s: max(2 x dwell, 2 x how long it held), up to max_dwell_s; back to
  //     min_dwell_s once a step up into that level holds for rebound_window_s).
  // now_s must not go backwards (an earlier time is taken as the latest seen).
  Level update(const GovernorInputs& inputs, double now_s);

  Level level() const;
  const std::vector<Transition>& transitions() const;  // the newest max_transitions changes, oldest first
  uint64_t transition_count() const;                   // every change since construction
  // Seconds spent on each level from the first update() to now_s.
  std::array<double, kLevelCount> seconds_per_level(double now_s) const;
  // Whether there is room for work nobody waits for (the shadow challenger) at `level` with
  // these inputs: at L0 only, below the de-rating line (or no reading), overruns under
  // overrun_rate_clear, memory pressure under memory_pressure_clear, and on a charger or with
  // the battery at least low_battery_percent + battery_hysteresis_percent (or no battery).
  bool allows_extra_work(const GovernorInputs& inputs, Level level) const;

 private:
  void change(Level to, double now_s, std::string cause);
  double temperature_slope() const;
  double trend_span() const;

  GovernorOptions options_;
  Level level_ = Level::kFull;
  bool started_ = false;
  double last_now_s_ = 0, changed_at_s_ = 0;
  std::array<double, kLevelCount> seconds_{};
  std::vector<Transition> transitions_;
  uint64_t transition_count_ = 0;
  std::deque<std::pair<double, double>> samples_;  // (time, temperature) at the current level
  std::array<double, kLevelCount> up_dwell_s_{};   // per level stepped up into
  std::array<double, kLevelCount> stepped_up_at_s_{};  // < 0: no step up into that level pending
};

}  // namespace edgeloop::device

#include "edgeloop/device/governor.h"

#include <algorithm>
#include <cassert>
#include <cmath>

#include <fmt/format.h>

namespace edgeloop::device {

namespace {

int index(Level l) { return static_cast<int>(l); }
Level at(int i) { return static_cast<Level>(std::clamp(i, 0, static_cast<int>(kLevelCount) - 1)); }

bool available(Level l, const GovernorInputs& in) {
  if (l == Level::kSmaller) return in.smaller_available;
  if (l == Level::kRemote) return in.remote_available;
  return true;  // L0, L2 (the main variant at a lower rate, if need be) and L4 always run
}

// The next available level below (worse than) `from`; L4 is always available.
Level next_down(Level from, const GovernorInputs& in) {
  for (int i = index(from) + 1; i < static_cast<int>(kLevelCount); ++i)
    if (available(at(i), in)) return at(i);
  return Level::kHeuristic;
}

// The next available level above (better than) `from`, not above `floor`; `from` if none.
Level next_up(Level from, Level floor, const GovernorInputs& in) {
  for (int i = index(from) - 1; i >= index(floor); --i)
    if (available(at(i), in)) return at(i);
  return from;
}

std::string unavailable_cause(Level l) {
  return l == Level::kSmaller ? "L1-smaller unavailable (no smaller variant installed)"
                              : "L3-remote unavailable (remote stage offline, unconfigured or over budget)";
}

std::string join(const std::vector<std::string>& parts) {
  std::string out;
  for (auto& p : parts) out += (out.empty() ? "" : "; ") + p;
  return out;
}

}  // namespace

Status validate(const GovernorOptions& o) {
  auto bad = [](std::string_view what) { return make_error(ErrorCode::kInvalidArgument, "governor options: {}", what); };
  auto finite_nonneg = [](double x) { return std::isfinite(x) && x >= 0; };
  if (!finite_nonneg(o.derate_margin_c)) return bad("derate_margin_c must be >= 0");
  if (!finite_nonneg(o.critical_margin_c) || o.critical_margin_c > o.derate_margin_c)
    return bad("critical_margin_c must be in [0, derate_margin_c]");
  if (!finite_nonneg(o.hysteresis_c)) return bad("hysteresis_c must be >= 0");
  if (!finite_nonneg(o.min_dwell_s) || !finite_nonneg(o.max_dwell_s) || o.max_dwell_s < o.min_dwell_s)
    return bad("min_dwell_s and max_dwell_s must be >= 0, min <= max");
  if (!finite_nonneg(o.settle_s) || !(std::isfinite(o.trend_window_s) && o.trend_window_s > o.settle_s))
    return bad("settle_s must be >= 0 and trend_window_s > settle_s");
  if (o.low_battery_percent < 0 || o.low_battery_percent > 100 || o.battery_hysteresis_percent < 0)
    return bad("low_battery_percent must be in 0..100, battery_hysteresis_percent >= 0");
  if (!(o.overrun_rate_clear >= 0 && o.overrun_rate_clear <= o.overrun_rate_high && o.overrun_rate_high <= 1))
    return bad("need 0 <= overrun_rate_clear <= overrun_rate_high <= 1");
  if (!(o.memory_pressure_clear >= 0 && o.memory_pressure_clear <= o.memory_pressure_high && o.memory_pressure_high <= 1))
    return bad("need 0 <= memory_pressure_clear <= memory_pressure_high <= 1");
  if (!finite_nonneg(o.rebound_window_s)) return bad("rebound_window_s must be >= 0");
  if (o.max_transitions == 0) return bad("max_transitions must be > 0");
  return ok();
}

Governor::Governor(GovernorOptions options) : options_(options) {
  assert(validate(options_).has_value());
  up_dwell_s_.fill(options_.min_dwell_s);
  stepped_up_at_s_.fill(-1);
}

Level Governor::level() const { return level_; }
const std::vector<Transition>& Governor::transitions() const { return transitions_; }
uint64_t Governor::transition_count() const { return transition_count_; }

bool Governor::allows_extra_work(const GovernorInputs& in, Level level) const {
  const auto& o = options_;
  if (level != Level::kFull) return false;
  if (std::isfinite(in.temperature_c) && in.throttle_c > 0 && in.temperature_c >= in.throttle_c - o.derate_margin_c) return false;
  if (in.overrun_rate >= o.overrun_rate_clear || in.memory_pressure >= o.memory_pressure_clear) return false;
  return in.power.battery_percent < 0 || in.power.charging ||
         in.power.battery_percent >= o.low_battery_percent + o.battery_hysteresis_percent;
}

std::array<double, kLevelCount> Governor::seconds_per_level(double now_s) const {
  auto out = seconds_;
  if (started_) out[index(level_)] += std::max(0.0, now_s - changed_at_s_);
  return out;
}

double Governor::trend_span() const { return samples_.size() < 2 ? 0 : samples_.back().first - samples_.front().first; }

double Governor::temperature_slope() const {
  if (samples_.size() < 2) return 0;
  double mt = 0, mc = 0;
  for (auto& [t, c] : samples_) mt += t, mc += c;
  mt /= static_cast<double>(samples_.size());
  mc /= static_cast<double>(samples_.size());
  double num = 0, den = 0;
  for (auto& [t, c] : samples_) num += (t - mt) * (c - mc), den += (t - mt) * (t - mt);
  return den > 0 ? num / den : 0;
}

void Governor::change(Level to, double now_s, std::string cause) {
  seconds_[index(level_)] += now_s - changed_at_s_;
  transitions_.push_back({now_s, level_, to, std::move(cause)});
  if (transitions_.size() > options_.max_transitions) transitions_.erase(transitions_.begin());
  ++transition_count_;
  level_ = to;
  changed_at_s_ = now_s;
  // The trend restarts at the new level, from this call's reading (taken before the change), if any.
  while (!samples_.empty() && samples_.front().first < now_s) samples_.pop_front();
}

Level Governor::update(const GovernorInputs& in, double now_s) {
  if (!started_) {
    started_ = true;
    last_now_s_ = changed_at_s_ = now_s;
  }
  now_s = std::max(now_s, last_now_s_);
  last_now_s_ = now_s;
  const auto& o = options_;

  // The temperature, its thresholds and its trend at the current level.
  bool thermal = std::isfinite(in.temperature_c) && in.throttle_c > 0;
  double derate_c = in.throttle_c - o.derate_margin_c, critical_c = in.throttle_c - o.critical_margin_c;
  double release_c = derate_c - o.hysteresis_c;
  if (thermal) {
    samples_.emplace_back(now_s, in.temperature_c);
    double oldest = std::max(changed_at_s_, now_s - o.trend_window_s);
    while (samples_.size() > 1 && samples_.front().first < oldest) samples_.pop_front();
  }
  double since_change = now_s - changed_at_s_;

  // A step up that has held for rebound_window_s is a success: its dwell goes back to the minimum.
  for (int i = 0; i < static_cast<int>(kLevelCount); ++i)
    if (stepped_up_at_s_[i] >= 0 && index(level_) <= i && now_s - stepped_up_at_s_[i] > o.rebound_window_s) {
      stepped_up_at_s_[i] = -1;
      up_dwell_s_[i] = o.min_dwell_s;
    }

  auto step_down = [&](std::string cause, bool for_heat) {
    Level from = level_, to = next_down(level_, in);
    int f = index(from);
    if (stepped_up_at_s_[f] >= 0) {
      double held = now_s - stepped_up_at_s_[f];
      if (for_heat && held <= o.rebound_window_s) {
        up_dwell_s_[f] = std::min(o.max_dwell_s, std::max({2 * up_dwell_s_[f], 2 * held, 1.0}));
        cause += fmt::format(" [the step up to {} {:.1f} s ago did not hold: its dwell is now {:.0f} s]", to_string(from),
                             held, up_dwell_s_[f]);
      }
      stepped_up_at_s_[f] = -1;
    }
    change(to, now_s, std::move(cause));
    return level_;
  };

  // 1. The level in force can no longer run.
  if (!available(level_, in)) return step_down(unavailable_cause(level_), false);

  // 2. Floors: the battery saver and memory pressure hold at least L1.
  std::vector<std::string> floor_causes;
  bool low_battery = in.power.battery_percent >= 0 && !in.power.charging && in.power.battery_percent < o.low_battery_percent;
  if (low_battery)
    floor_causes.push_back(
        fmt::format("battery {}% < {}% and not charging (battery saver)", in.power.battery_percent, o.low_battery_percent));
  if (in.memory_pressure >= o.memory_pressure_high)
    floor_causes.push_back(fmt::format("memory pressure {:.2f} >= {:.2f}", in.memory_pressure, o.memory_pressure_high));
  Level floor = floor_causes.empty() ? Level::kFull : Level::kSmaller;
  if (index(level_) < index(floor)) return step_down(join(floor_causes), false);

  // 3. Pressure: heat (critical, or in the de-rating zone and still rising) and overruns.
  std::vector<std::string> push;
  bool heat = false;
  if (thermal && in.temperature_c >= critical_c) {
    push.push_back(fmt::format("temperature {:.1f} C >= {:.1f} C (throttle {:g} C - critical margin {:g})", in.temperature_c,
                               critical_c, in.throttle_c, o.critical_margin_c));
    heat = true;
  } else if (thermal && in.temperature_c >= derate_c && since_change >= o.settle_s && trend_span() >= o.settle_s) {
    double slope = temperature_slope();
    if (slope > 0) {
      push.push_back(fmt::format("temperature {:.1f} C >= {:.1f} C (throttle {:g} C - margin {:g}) and rising {:.3f} C/s",
                                 in.temperature_c, derate_c, in.throttle_c, o.derate_margin_c, slope));
      heat = true;
    }
  }
  if (in.overrun_rate >= o.overrun_rate_high && since_change >= o.settle_s)
    push.push_back(fmt::format("deadline overruns {:.1f}% >= {:.1f}%", 100 * in.overrun_rate, 100 * o.overrun_rate_high));
  if (!push.empty() && level_ != Level::kHeuristic) return step_down(join(push), heat);

  // 4. Recovery: everything clear with hysteresis, and the dwell passed.
  Level up = next_up(level_, floor, in);
  if (up == level_) return level_;
  if (thermal && in.temperature_c >= release_c) return level_;
  if (in.overrun_rate >= o.overrun_rate_clear) return level_;
  if (up == Level::kFull) {
    if (in.memory_pressure >= o.memory_pressure_clear) return level_;
    if (in.power.battery_percent >= 0 && !in.power.charging &&
        in.power.battery_percent < o.low_battery_percent + o.battery_hysteresis_percent)
      return level_;
  }
  double dwell = up_dwell_s_[index(up)];
  if (since_change < dwell) return level_;
  std::string cause = fmt::format("cleared after {:.1f} s on {} (dwell {:g} s): ", since_change, to_string(level_), dwell);
  cause += thermal ? fmt::format("temperature {:.1f} C < {:.1f} C (throttle {:g} C - margin {:g} - hysteresis {:g})",
                                 in.temperature_c, release_c, in.throttle_c, o.derate_margin_c, o.hysteresis_c)
                   : std::string("no temperature reading");
  cause += fmt::format(", overruns {:.1f}% < {:.1f}%", 100 * in.overrun_rate, 100 * o.overrun_rate_clear);
  if (up == Level::kFull) cause += fmt::format(", memory pressure {:.2f} < {:.2f}", in.memory_pressure, o.memory_pressure_clear);
  stepped_up_at_s_[index(up)] = now_s;
  change(up, now_s, std::move(cause));
  return level_;
}

}  // namespace edgeloop::device

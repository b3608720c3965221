#include "edgeloop/sim/camera.h"

#include <algorithm>
#include <cmath>
#include <thread>

namespace edgeloop::sim {

using device::FallbackReason;
using device::Level;
using device::Source;

namespace {

// Energy of one answer, in joules, from what produced it.
double answer_energy_j(const device::InferResult& r, const device::Envelope& e) {
  const double full = e.energy_mj_per_inference / 1000.0;
  switch (r.source) {
    case Source::kLocal: return full;
    case Source::kLocalDegraded:
      // The smaller variant (the ladder), or the main one under the accuracy floor (flagged).
      return r.reason == FallbackReason::kLadderSmaller ? full * e.smaller_energy_ratio : full;
    case Source::kRemote:
      // At L3 only the head ran here; an escalation from L0 ran the whole model first.
      return r.level == Level::kRemote ? full * e.remote_energy_ratio : full * (1 + e.remote_energy_ratio);
    case Source::kHeuristic: return 0;
  }
  return 0;
}

}  // namespace

CameraReport run_camera(device::Engine& engine, VirtualClock& clock, device::SimulatedThermal& thermal,
                        device::SimulatedBattery& battery, const device::Envelope& envelope, const FrameSource& frames,
                        const CameraOptions& options) {
  CameraReport report;
  report.throttle_c = envelope.thermal_throttle_c;
  const auto wall0 = std::chrono::steady_clock::now();
  const double period_s = 1.0 / options.fps;
  const std::chrono::nanoseconds period(static_cast<int64_t>(std::llround(1e9 / options.fps)));
  const std::chrono::nanoseconds deadline =
      options.deadline.count() > 0 ? options.deadline
                                   : std::chrono::nanoseconds(static_cast<int64_t>(envelope.latency_p95_ms * 1e6));
  const auto total = static_cast<int64_t>(std::llround(options.seconds * options.fps));
  size_t transitions_seen = 0;
  double next_trace = 0;
  auto temperature = [&] { return thermal.celsius().value_or(0.0); };

  for (int64_t i = 0; i < total; ++i) {
    const double t = static_cast<double>(i) * period_s;
    if (t >= next_trace) {
      auto power = battery.read();
      report.trace.push_back({t, temperature(), engine.level(), power ? power->battery_percent : -1});
      next_trace += options.trace_interval_s;
    }
    const CameraFrame& frame = frames(i);
    auto answer = engine.offer_frame(frame.input, deadline);
    double joules = 0;
    if (answer) {
      joules = answer_energy_j(*answer, envelope);
      if (frame.label >= 0 && answer->top1 >= 0) {
        ++report.labelled_answers;
        if (answer->top1 == frame.label) ++report.correct_answers;
      }
    }
    report.energy_j += joules;
    battery.drain(joules);
    // The work of this frame heats the die over the frame period.
    thermal.advance(period_s, joules / period_s);
    clock.advance(period);
    if (options.realtime) std::this_thread::sleep_until(wall0 + (i + 1) * period);
    const double c = temperature();
    report.peak_temperature_c = std::max(report.peak_temperature_c, c);
    if (c >= envelope.thermal_throttle_c) report.seconds_at_or_above_throttle += period_s;
    if (options.on_transition) {
      auto all = engine.transitions();
      for (; transitions_seen < all.size(); ++transitions_seen) options.on_transition(all[transitions_seen]);
    }
    ++report.frames;
  }
  engine.drain_shadow();
  report.metrics = engine.metrics();
  report.transitions = engine.transitions();
  report.simulated_seconds = static_cast<double>(total) * period_s;
  report.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  return report;
}

}  // namespace edgeloop::sim

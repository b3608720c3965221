#include "edgeloop/sim/camera.h"

#include <algorithm>
#include <cmath>
#include <thread>

namespace edgeloop::sim {

using device::Source;

namespace {

// Energy of one answer, in joules, from what ran for it (declared per level by the envelope).
double answer_energy_j(const device::InferResult& r, const device::Envelope& e) {
  const double full = e.energy_mj_per_inference / 1000.0;
  double j = 0;
  switch (r.ran) {
    case device::LocalModel::kNone: break;
    case device::LocalModel::kMain: j = full; break;
    case device::LocalModel::kSmaller: j = full * e.smaller_energy_ratio; break;
    case device::LocalModel::kHead: return full * e.remote_energy_ratio;  // the head up to the cut plus the radio
  }
  // An escalation under the floor: the radio on top of the local run (declared with L3's ratio).
  if (r.source == Source::kRemote) j += full * e.remote_energy_ratio;
  return j;
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
  uint64_t transitions_seen = 0, shadow_runs_seen = 0;
  const double challenger_j = envelope.energy_mj_per_inference / 1000.0 * options.shadow_energy_ratio;
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
    if (options.realtime)
      std::this_thread::sleep_until(wall0 + (i + 1) * period);
    else
      engine.drain_shadow();
    // The challenger's runs since the last frame cost energy too (it runs only with headroom).
    const device::GuardrailMetrics m = engine.metrics();
    joules += static_cast<double>(m.shadow_runs - shadow_runs_seen) * challenger_j;
    shadow_runs_seen = m.shadow_runs;
    report.energy_j += joules;
    battery.drain(joules);
    // The work of this frame heats the die over the frame period.
    thermal.advance(period_s, joules / period_s);
    clock.advance(period);
    const double c = temperature();
    report.peak_temperature_c = std::max(report.peak_temperature_c, c);
    if (c >= envelope.thermal_throttle_c) report.seconds_at_or_above_throttle += period_s;
    if (options.on_transition && m.ladder_transitions > transitions_seen) {
      // The newest ones (the engine keeps a bounded record; the count is exact).
      auto kept = engine.transitions();
      const size_t fresh = static_cast<size_t>(std::min<uint64_t>(m.ladder_transitions - transitions_seen, kept.size()));
      for (size_t k = kept.size() - fresh; k < kept.size(); ++k) options.on_transition(kept[k]);
      transitions_seen = m.ladder_transitions;
    }
    ++report.frames;
  }
  engine.drain_shadow();
  report.metrics = engine.metrics();
  const double tail_j = static_cast<double>(report.metrics.shadow_runs - shadow_runs_seen) * challenger_j;  // after the last frame
  report.energy_j += tail_j;
  battery.drain(tail_j);
  report.transitions = engine.transitions();
  report.simulated_seconds = static_cast<double>(total) * period_s;
  report.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  return report;
}

}  // namespace edgeloop::sim

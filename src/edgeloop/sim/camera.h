// A camera feature on a simulated device (docs/engine.md, "Simulated camera"): frames at a fixed
// rate on a virtual clock go through the real Engine; what each frame cost (the envelope's
// declared energy per inference, scaled by what ran for it: main, smaller variant, head and
// radio; plus the challenger's runs in the shadow) heats a simulated die and drains a simulated
// battery, which the engine's governor reads back. Inference itself runs for real, so
// latencies, overruns and answers are the engine's own; only time, heat and charge are
// simulated — from declared energies, not from this machine's timings, so a run is repeatable.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <vector>

#include "edgeloop/base/clock.h"
#include "edgeloop/device/budget.h"
#include "edgeloop/device/engine.h"
#include "edgeloop/device/sensors.h"

namespace edgeloop::sim {

// Time the simulation moves.
class VirtualClock final : public Clock {
 public:
  std::chrono::nanoseconds now() const override { return now_; }
  int64_t unix_seconds() const override { return 1'800'000'000 + now_.count() / 1'000'000'000; }
  void advance(std::chrono::nanoseconds d) { now_ += d; }

 private:
  std::chrono::nanoseconds now_{0};
};

struct CameraFrame {
  model::TensorData input;
  int label = -1;  // -1: unknown (accuracy is not counted)
};
// The i-th frame of the stream (called with i = 0, 1, 2, … in order).
using FrameSource = std::function<const CameraFrame&(int64_t index)>;

struct CameraOptions {
  double fps = 30;
  double seconds = 60;
  // The caller's deadline per frame; 0 = the envelope's latency p95.
  std::chrono::nanoseconds deadline{0};
  double trace_interval_s = 1;  // one trace point per interval of simulated time
  // Paces the frames in real time too, so that the workers and the shadow see the gaps between
  // frames a device would (a challenger slower than a frame then sees fewer frames: the frames
  // offered while it runs are skipped). Default: as fast as the machine goes, and each sampled
  // challenger run finishes before the next frame (as on a device whose challenger fits in a
  // frame period), so a run's result does not depend on this machine's load. Time, heat and
  // charge are simulated either way.
  bool realtime = false;
  // A challenger run's energy as a share of an L0 answer's (e.g. the ratio of the two models'
  // multiply-adds).
  double shadow_energy_ratio = 1;
  // Called as they happen (for live printing).
  std::function<void(const device::Transition&)> on_transition;
};

struct TracePoint {
  double t_s = 0;
  double temperature_c = 0;
  device::Level level = device::Level::kFull;
  int battery_percent = -1;
};

struct CameraReport {
  device::GuardrailMetrics metrics;
  std::vector<device::Transition> transitions;
  std::vector<TracePoint> trace;
  double peak_temperature_c = 0;
  double seconds_at_or_above_throttle = 0;
  double throttle_c = 0;
  int64_t frames = 0;
  int64_t labelled_answers = 0, correct_answers = 0;  // answers with a top-1, on labelled frames
  double energy_j = 0;
  double simulated_seconds = 0, wall_seconds = 0;
};

// Runs `seconds` of frames through `engine` (created on `clock`, reading `thermal` and
// `battery`). `envelope` gives the energy per inference and the thermal threshold.
CameraReport run_camera(device::Engine& engine, VirtualClock& clock, device::SimulatedThermal& thermal,
                        device::SimulatedBattery& battery, const device::Envelope& envelope, const FrameSource& frames,
                        const CameraOptions& options);

}  // namespace edgeloop::sim

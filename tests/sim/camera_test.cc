#include "edgeloop/sim/camera.h"

#include <gtest/gtest.h>

#include <cstring>

#include "testing/graph_builder.h"

namespace edgeloop::sim {
namespace {

using device::Level;
using model::DType;
using model::OpType;

runtime::Program dense(int64_t width, uint32_t seed) {
  testing::GraphBuilder b(seed);
  auto x = b.input(DType::kF32, {1, width});
  auto h = b.node(OpType::kRelu, {b.node(OpType::kMatMul, {x, b.weights_f32({width, width})})});
  auto y = b.node(OpType::kMatMul, {h, b.weights_f32({width, 10})});
  auto p = runtime::Program::from_graph(b.finish({y}), runtime::LoadOptions::reference());
  EXPECT_TRUE(p) << p.error().message;
  return std::move(*p);
}

// A hot day for a device whose L0 draws 2.4 W at 30 fps: left alone it settles above the
// 70 °C throttle point; its smaller variant (35 % of the energy) settles far below it.
device::Envelope hot_envelope() {
  device::Envelope e;
  e.latency_p95_ms = 33;
  e.memory_bytes = 64 << 20;
  e.energy_mj_per_inference = 80;
  e.thermal_throttle_c = 70;
  e.fps = 30;
  e.smaller_energy_ratio = 0.35;
  return e;
}

CameraReport run(std::optional<Level> pin, double seconds, double shadow_rate = 0) {
  VirtualClock clock;
  device::ThermalModel model;
  model.ambient_c = 40;
  device::SimulatedThermal thermal(model);
  device::SimulatedBattery battery(15000, 80, /*charging=*/true);
  device::EngineOptions o;
  o.envelope = hot_envelope();
  o.accuracy_floor = 0;
  o.pin_level = pin;
  o.shadow_rate = shadow_rate;
  std::optional<runtime::Program> challenger;
  if (shadow_rate > 0) challenger = dense(16, 3);
  auto engine = device::Engine::create({dense(16, 1), dense(8 + 8, 2), challenger, {}, {}}, o, clock, &thermal, &battery);
  EXPECT_TRUE(engine) << engine.error().message;
  CameraFrame frame;
  frame.input = {"x0", DType::kF32, {1, 16}, std::vector<std::byte>(64)};
  CameraOptions co;
  co.seconds = seconds;
  co.deadline = std::chrono::seconds(1);  // this test is about heat, not deadlines
  return run_camera(**engine, clock, thermal, battery, o.envelope, [&](int64_t) -> const CameraFrame& { return frame; }, co);
}

TEST(CameraSim, TheLadderKeepsAHotDeviceUnderItsThrottlePointWhereL0AloneCrossesIt) {
  CameraReport alone = run(Level::kFull, 600);
  CameraReport governed = run(std::nullopt, 600);
  EXPECT_GT(alone.peak_temperature_c, alone.throttle_c);
  EXPECT_GT(alone.seconds_at_or_above_throttle, 60);
  EXPECT_LT(governed.peak_temperature_c, governed.throttle_c);
  EXPECT_EQ(governed.seconds_at_or_above_throttle, 0);
  EXPECT_FALSE(governed.transitions.empty());
  EXPECT_GT(governed.metrics.seconds_per_level[static_cast<size_t>(Level::kFull)], 0);  // it ran L0 while cool
  EXPECT_EQ(alone.frames, 18000);
  EXPECT_EQ(alone.trace.size(), 600u);
  EXPECT_LT(governed.energy_j, alone.energy_j);
}

TEST(CameraSim, EnergyIsWhatRanForEachFrameAndTheChallengersRuns) {
  CameraReport l0 = run(Level::kFull, 10);
  EXPECT_NEAR(l0.energy_j, 300 * 0.080, 1e-9) << "300 frames of the main model at 80 mJ";
  CameraReport l1 = run(Level::kSmaller, 10);
  EXPECT_NEAR(l1.energy_j, 300 * 0.080 * 0.35, 1e-9) << "the smaller variant's declared share";
  CameraReport shadowed = run(Level::kFull, 10, /*shadow_rate=*/1);
  // Not paced in real time: every sampled frame's challenger run finishes before the next frame.
  EXPECT_EQ(shadowed.metrics.shadow_runs, 300u);
  EXPECT_EQ(shadowed.metrics.shadow_skipped, 0u);
  EXPECT_NEAR(shadowed.energy_j, 600 * 0.080, 1e-9) << "each challenger run costs an L0 answer (shadow_energy_ratio 1)";
  EXPECT_GT(shadowed.peak_temperature_c, l0.peak_temperature_c);
}

}  // namespace
}  // namespace edgeloop::sim

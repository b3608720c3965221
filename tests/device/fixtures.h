// Shared by the device tests: the Fashion-MNIST CNN split in the middle, and the engine options
// the engine tests start from.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>

#include "edgeloop/device/engine.h"
#include "edgeloop/model/onnx_import.h"
#include "edgeloop/model/split.h"

namespace edgeloop::device::fixtures {

// The committed Fashion-MNIST CNN, imported once per test program.
inline const model::Graph& fashion_cnn() {
  static const model::Graph g = [] {
    auto r = model::import_onnx(std::filesystem::path(EDGELOOP_SOURCE_DIR) / "examples/fashion_mnist/fashion_cnn.onnx");
    EXPECT_TRUE(r) << r.error().message;
    return r ? std::move(*r) : model::Graph{};
  }();
  return g;
}

// The CNN cut at its middle cut candidate.
inline const model::SplitModel& fashion_cnn_split() {
  static const model::SplitModel split = [] {
    const auto cuts = model::cut_candidates(fashion_cnn());
    EXPECT_FALSE(cuts.empty());
    if (cuts.empty()) return model::SplitModel{};
    auto s = model::split_at(fashion_cnn(), cuts[cuts.size() / 2]);
    EXPECT_TRUE(s) << s.error().message;
    return s ? std::move(*s) : model::SplitModel{};
  }();
  return split;
}

// A mid-tier-like envelope; no cascade (floor 0) and no shadow unless a test asks.
inline EngineOptions engine_options() {
  EngineOptions o;
  o.envelope.fps = 30;
  o.envelope.thermal_throttle_c = 80;
  o.envelope.latency_p95_ms = 33;
  o.envelope.memory_bytes = 64 << 20;
  o.envelope.energy_mj_per_inference = 30;
  o.accuracy_floor = 0;
  o.shadow_rate = 0;
  return o;
}

}  // namespace edgeloop::device::fixtures

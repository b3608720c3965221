// Small valid .edge artifacts with a golden vector, for the slot store and installer tests.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "edgeloop/base/clock.h"
#include "edgeloop/base/hash.h"
#include "edgeloop/model/artifact.h"
#include "edgeloop/ota/installer.h"
#include "edgeloop/runtime/golden.h"
#include "testing/graphs.h"
#include "testing/temp_dir.h"

namespace edgeloop::testing {

struct TestArtifact {
  std::vector<std::byte> bytes;
  ota::ExpectedArtifact expected;
  SharedBytes shared() const { return SharedBytes::copy(bytes); }
};

// The tiny MLP at `version`, its bias shifted by `version` so every version has other bytes.
// `break_golden`: the golden vector is computed, then a weight changes, so the smoke test fails.
inline TestArtifact slot_artifact(int version, bool break_golden = false) {
  model::Graph g = tiny_mlp();
  g.meta.version = std::to_string(version);
  float shift = static_cast<float>(version);
  g.tensors[2] = constant_f32("b", {3}, {0.5f + shift, -0.5f + shift, 0.25f + shift});
  if (!runtime::attach_golden(g)) std::abort();
  if (break_golden) {
    std::vector<float> w(g.tensors[1].values<float>().begin(), g.tensors[1].values<float>().end());
    for (float& v : w) v += 0.5f;
    g.tensors[1] = constant_f32("w", {4, 3}, w);
  }
  auto bytes = model::serialize_artifact(g);
  if (!bytes) std::abort();
  TestArtifact a;
  a.bytes = std::move(*bytes);
  a.expected = {a.bytes.size(), to_hex(sha256(a.bytes)), g.meta.name, g.meta.version, g.meta.variant};
  return a;
}

// A clock the test moves: each now() advances it by `step`.
class SteppingClock final : public Clock {
 public:
  explicit SteppingClock(std::chrono::nanoseconds step = std::chrono::nanoseconds(0)) : step_(step) {}
  std::chrono::nanoseconds now() const override { return t_ += step_; }
  int64_t unix_seconds() const override { return 1'800'000'000; }

 private:
  std::chrono::nanoseconds step_;
  mutable std::chrono::nanoseconds t_{0};
};

}  // namespace edgeloop::testing

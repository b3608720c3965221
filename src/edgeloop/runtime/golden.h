// The golden test vector: a fixed input and the output the model must give for it. Computed on
// the build machine when an artifact is made; run as the smoke test before a device activates it.
#pragma once

#include <atomic>
#include <cstdint>

#include "edgeloop/model/graph.h"
#include "edgeloop/model/split.h"
#include "edgeloop/runtime/program.h"
#include "edgeloop/runtime/session.h"

namespace edgeloop::runtime {

// A deterministic input value for a model input: f32 elements uniform in [-1, 1) (from the top 24
// bits of a 64-bit Mersenne Twister, so independent of the standard library), other dtypes zero.
model::TensorData random_input(const model::Tensor& input, uint64_t seed);

// Deterministic inputs from `seed` (random_input of each graph input), run on
// the reference runtime; stores them with the outputs and the tolerances in graph.meta.golden.
Status attach_golden(model::Graph& graph, uint64_t seed = 0x5eed, float rtol = 1e-4f, float atol = 1e-5f);

// Runs the stored golden inputs and compares with the stored outputs. Fails when the artifact
// has no golden vector or any output is out of tolerance; the message says which and by how much.
Status check_golden(const Program& program);
// The same, stopped between steps once `cancel` is set (Session::run's cancel flag): kCancelled.
// `observer` runs after every step and may set `cancel` (e.g. when a time budget has passed).
Status check_golden(const Program& program, const std::atomic<bool>& cancel, const StepObserver& observer = {});

// The golden vectors of a model's two halves (model::split_at), derived from the whole model's:
// the head maps the whole's golden inputs to the cut tensor's value (computed here on the
// reference kernels); the tail maps that value to the whole's golden outputs, with the whole's
// tolerances — so the tail's smoke test also checks that head and tail together still give what
// the whole model gave. kFailedPrecondition when `whole` has no golden vector.
Status attach_split_golden(model::SplitModel& split, const model::Graph& whole);

}  // namespace edgeloop::runtime

// Session: one execution context of a Program with its own arena; use one per thread.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "edgeloop/runtime/program.h"

namespace edgeloop::runtime {

// Called after each node with views of its outputs. The views point into the session arena and
// are valid only during the call (the memory plan reuses buffers); copy what must outlive it.
using NodeObserver = std::function<void(const model::Node&, std::span<const TensorView> outputs)>;
// Called after each step (Program::steps()) with its index: profiling.
using StepObserver = std::function<void(size_t step)>;

class Session {
 public:
  explicit Session(const Program& program);

  // Runs the model. Inputs match graph inputs by name, or by position when they are unnamed;
  // dtype and shape must match exactly. Returns the graph outputs in order.
  Result<std::vector<model::TensorData>> run(std::span<const model::TensorData> inputs);
  // The same, calling `observer` (when set) after every node: calibration sees every
  // intermediate tensor without the session copying anything. Only a Program that runs every
  // node on the reference kernels (LoadOptions::reference()) can be observed node by node.
  Result<std::vector<model::TensorData>> run(std::span<const model::TensorData> inputs, const NodeObserver& observer);
  Result<std::vector<model::TensorData>> run(std::span<const model::TensorData> inputs, const StepObserver& observer);
  // Runs the model, checking `cancel` between steps: once it is set, returns ErrorCode::kCancelled
  // without running further steps (a step already running finishes first; a backend's partition
  // is one step). The outputs of a cancelled run are never returned; the session stays usable.
  // The engine sets `cancel` from its watchdog when a call overruns its deadline.
  // `observer` (when set) runs after every step, as above, and may itself set `cancel`.
  Result<std::vector<model::TensorData>> run(std::span<const model::TensorData> inputs, const std::atomic<bool>& cancel,
                                             const StepObserver& observer = {});

  const Program& program() const { return program_; }
  size_t arena_bytes() const { return program_.plan().arena_bytes; }

 private:
  Status bind_inputs(std::span<const model::TensorData> inputs);
  Status run_step(size_t step);
  // The step loop behind run(): `observer` and `cancel` may be empty / null.
  Result<std::vector<model::TensorData>> run_steps(std::span<const model::TensorData> inputs, const StepObserver& observer,
                                                   const std::atomic<bool>* cancel);
  std::vector<model::TensorData> collect_outputs() const;

  Program program_;
  std::unique_ptr<std::byte[], void (*)(std::byte*)> arena_;
  std::vector<TensorView> views_;                    // one per graph tensor
  std::vector<std::vector<TensorView>> node_inputs_, node_outputs_;  // per node
};

}  // namespace edgeloop::runtime

// Session: one execution context of a Program with its own arena; use one per thread.
#pragma once

#include <memory>
#include <span>
#include <vector>

#include "edgeloop/runtime/program.h"

namespace edgeloop::runtime {

class Session {
 public:
  explicit Session(const Program& program);

  // Runs the model. Inputs match graph inputs by name, or by position when they are unnamed;
  // dtype and shape must match exactly. Returns the graph outputs in order.
  Result<std::vector<model::TensorData>> run(std::span<const model::TensorData> inputs);

  const Program& program() const { return program_; }
  size_t arena_bytes() const { return program_.plan().arena_bytes; }

 private:
  Status bind_inputs(std::span<const model::TensorData> inputs);

  Program program_;
  std::unique_ptr<std::byte[], void (*)(std::byte*)> arena_;
  std::vector<TensorView> views_;                    // one per graph tensor
  std::vector<std::vector<TensorView>> node_inputs_, node_outputs_;
};

}  // namespace edgeloop::runtime

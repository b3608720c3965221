// The remote half of a split model (docs/engine.md, "Cascade"): the device runs the model up to
// a named cut tensor and, when the engine escalates, sends that activation — never the raw
// input — to a stage server that runs the rest. The server is an optional enhancement: every
// call is bounded by the caller's remaining budget, and offline is a mode, not an error path
// that waits.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "edgeloop/base/error.h"
#include "edgeloop/model/graph.h"

namespace edgeloop::device {

class RemoteStage {
 public:
  virtual ~RemoteStage() = default;
  // Runs the model's tail on `activation` (the cut tensor) and returns the model's outputs.
  // Returns within `budget` whatever happens (kIo: network, timeout, server error; kCorrupt: a
  // reply that is not the outputs it must be).
  virtual Result<std::vector<model::TensorData>> run(const model::TensorData& activation,
                                                     std::chrono::nanoseconds budget) = 0;
  // A guess that never blocks: false after a failure until the next successful call or a
  // retry interval; the engine only escalates when this is true.
  virtual bool online() const = 0;
  virtual std::string describe() const = 0;
};

}  // namespace edgeloop::device

// Program: a verified, loaded model, ready to execute: its graph, memory plan and kernels.
#pragma once

#include <filesystem>
#include <memory>
#include <span>
#include <vector>

#include "edgeloop/base/error.h"
#include "edgeloop/model/graph.h"
#include "edgeloop/runtime/kernel.h"
#include "edgeloop/runtime/memory_plan.h"

namespace edgeloop::runtime {

class Program {
 public:
  // Maps the artifact, verifies it (model::load_artifact) and prepares it.
  static Result<Program> load(const std::filesystem::path& path);
  static Result<Program> load(SharedBytes artifact);
  // Verifies an in-memory graph (e.g. fresh from the importer) and prepares it.
  static Result<Program> from_graph(model::Graph graph);

  const model::Graph& graph() const { return state_->graph; }
  const MemoryPlan& plan() const { return state_->plan; }
  const std::vector<KernelFn>& kernels() const { return state_->kernels; }

 private:
  struct State {
    model::Graph graph;
    MemoryPlan plan;
    std::vector<KernelFn> kernels;  // one per node
  };
  explicit Program(std::shared_ptr<const State> s) : state_(std::move(s)) {}
  std::shared_ptr<const State> state_;  // shared by copies and sessions: a Program is cheap to copy
};

}  // namespace edgeloop::runtime

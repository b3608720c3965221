// Program: a verified, loaded model, ready to execute: its graph, memory plan, and the steps that
// run it — each a node on a reference kernel or a partition prepared by a backend (backend.h).
#pragma once

#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "edgeloop/base/error.h"
#include "edgeloop/model/graph.h"
#include "edgeloop/runtime/backend.h"
#include "edgeloop/runtime/kernel.h"
#include "edgeloop/runtime/memory_plan.h"
#include "edgeloop/runtime/thread_pool.h"

namespace edgeloop::runtime {

struct LoadOptions {
  // Backends to try, in priority order; the reference kernels run whatever none of them claims.
  // Empty: the backends this CPU supports (default_backends()). {"reference"}: reference only.
  // A backend named here that cannot prepare a partition is an error; one chosen by default
  // leaves that partition to the reference kernels.
  std::vector<std::string> backends;
  int threads = 1;  // threads of the Program's pool (shared by its backends), ≥ 1
  // One partition per claimed node, so that a profile (StepObserver) times every op; what a
  // backend fuses across nodes (e.g. a Clip into its Conv) is then lost.
  bool partition_per_node = false;

  static LoadOptions reference() { return {{"reference"}, 1, false}; }
};

// One step of execution: a node on its reference kernel, or a backend's partition.
struct Step {
  std::string backend;        // "reference", "xnnpack", …
  std::vector<size_t> nodes;  // indices into graph().nodes, in execution order
  std::string name;           // the node's name, or "<backend>: <first node> … <last node>"
};

class Program {
 public:
  // Maps the artifact, verifies it (model::load_artifact) and prepares it.
  static Result<Program> load(const std::filesystem::path& path, const LoadOptions& options = {});
  static Result<Program> load(SharedBytes artifact, const LoadOptions& options = {});
  // Verifies an in-memory graph (e.g. fresh from the importer) and prepares it.
  static Result<Program> from_graph(model::Graph graph, const LoadOptions& options = {});

  const model::Graph& graph() const { return state_->graph; }
  const MemoryPlan& plan() const { return state_->plan; }
  const std::vector<Step>& steps() const { return state_->steps; }
  // Backends that run at least one partition, then "reference" if any node runs there.
  std::vector<std::string> backends_used() const;
  int threads() const { return state_->pool->threads(); }
  // Every node runs on its reference kernel.
  bool reference_only() const;

 private:
  friend class Session;
  struct State {
    model::Graph graph;
    MemoryPlan plan;
    std::vector<Step> steps;
    std::vector<KernelFn> kernels;                         // per step: the reference kernel, or null
    std::vector<std::unique_ptr<Executable>> executables;  // per step: the partition, or null
    std::unique_ptr<ThreadPool> pool;
    std::vector<std::unique_ptr<Backend>> backends;
  };
  explicit Program(std::shared_ptr<const State> s) : state_(std::move(s)) {}
  std::shared_ptr<const State> state_;  // shared by copies and sessions: a Program is cheap to copy
};

}  // namespace edgeloop::runtime

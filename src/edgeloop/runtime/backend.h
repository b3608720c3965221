// Backends (ExecuTorch's delegates): a backend claims the nodes of a graph it can run, prepares
// each contiguous run of claimed nodes (a partition) once when the Program is loaded — weights
// are packed then, never per run — and executes it. The reference kernels run every node no
// backend claims. An accelerator backend plugs in through the same two calls.
#pragma once

#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "edgeloop/base/error.h"
#include "edgeloop/model/graph.h"
#include "edgeloop/runtime/kernel.h"
#include "edgeloop/runtime/thread_pool.h"

namespace edgeloop::runtime {

// A partition's nodes (indices into graph.nodes, a contiguous run of the execution order) and its
// boundary: the non-constant tensors it reads from outside and those it produces that are read
// outside it (or are graph outputs). Its other tensors are internal: they get no arena space, so
// an executable must not expect data for them.
struct Partition {
  std::vector<size_t> nodes;
  std::vector<model::TensorId> inputs;
  std::vector<model::TensorId> outputs;
};

// A prepared partition. Programs are shared by sessions, so run() may be called from several
// threads at once; an executable serializes internally if its state cannot be shared.
class Executable {
 public:
  virtual ~Executable() = default;
  // `tensors` holds a view of every graph tensor (by TensorId): read the partition's inputs,
  // write its outputs.
  virtual Status run(std::span<const TensorView> tensors) = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string_view name() const = 0;
  // Per node of `graph` (verified by shape inference): can this backend run it?
  virtual std::vector<bool> claim(const model::Graph& graph) const = 0;
  // Prepares a partition of claimed nodes. kUnsupported when it cannot after all (the nodes then
  // run on the reference kernels, unless this backend was requested explicitly).
  virtual Result<std::unique_ptr<Executable>> prepare(const model::Graph& graph, const Partition& partition,
                                                      ThreadPool& pool) const = 0;
};

}  // namespace edgeloop::runtime

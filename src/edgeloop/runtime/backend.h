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
// outside it (or are graph outputs). Its other tensors are internal: they get no arena space
// unless the executable asks for it (Executable::internal_tensors_in_arena).
//
// Rank-4 activations are NCHW in the arena, the IR's layout, except those listed in
// `channels_last`: the partition's tensors (boundary and internal) that only channels-last
// backends make and read (see Backend::channels_last), which the arena holds NHWC so that no
// transpose runs between them.
struct Partition {
  std::vector<size_t> nodes;
  std::vector<model::TensorId> inputs;
  std::vector<model::TensorId> outputs;
  std::vector<model::TensorId> channels_last;
};

// A prepared partition. Programs are shared by sessions, so run() may be called from several
// threads at once; an executable serializes internally if its state cannot be shared.
class Executable {
 public:
  virtual ~Executable() = default;
  // `tensors` holds a view of every graph tensor (by TensorId): read the partition's inputs,
  // write its outputs.
  virtual Status run(std::span<const TensorView> tensors) = 0;
  // True when the partition's internal tensors live in the session arena too (kernels that run
  // node by node); false when the backend keeps them in memory of its own.
  virtual bool internal_tensors_in_arena() const { return false; }
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string_view name() const = 0;
  // True when the backend works in NHWC and can read and write its partitions' rank-4 boundary
  // tensors in that layout (Partition::channels_last).
  virtual bool channels_last() const { return false; }
  // Per node of `graph` (verified by shape inference): can this backend run it?
  virtual std::vector<bool> claim(const model::Graph& graph) const = 0;
  // Prepares a partition of claimed nodes. kUnsupported when it cannot after all (the nodes then
  // run on the reference kernels, unless this backend was requested explicitly).
  virtual Result<std::unique_ptr<Executable>> prepare(const model::Graph& graph, const Partition& partition,
                                                      ThreadPool& pool) const = 0;
};

}  // namespace edgeloop::runtime

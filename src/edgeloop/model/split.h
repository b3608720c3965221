// Split inference (docs/split-inference.md): a model cut in two at one tensor. The device runs
// the head (the graph's inputs → the cut tensor) and, when the engine escalates, sends the cut
// tensor's value — never the raw input — to a stage server that runs the tail (the cut tensor →
// the graph's outputs). Graph surgery done where the model is prepared (like importing): the
// device library leaves it out and loads the halves (device::EngineModels::head, tail).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "edgeloop/base/error.h"
#include "edgeloop/model/graph.h"

namespace edgeloop::model {

struct SplitModel {
  Graph head;       // the graph's inputs → `cut`, its only output
  Graph tail;       // `cut`, its only input → the graph's outputs
  std::string cut;  // the cut tensor's name, the same in both halves
};

// Cuts `graph` (which must verify) at the tensor named `cut_tensor`.
//
// The head holds the nodes the cut tensor depends on; the tail holds the other nodes the outputs
// need. Nodes that neither needs (dead code) are dropped. Constants go to the half that uses them
// (both if both; the bytes are shared, not copied). Refused with kInvalidArgument, naming the
// tensor, when the cut does not separate the graph — some path from an input to an output avoids
// it, or the tail needs another tensor computed in the head — when it is a graph input, output or
// constant, or when no tensor has that name; the message lists the candidates.
//
// Metadata: both halves keep name, version, variant, producer and min_runtime_version, plus the
// properties "split.half" ("head"/"tail") and "split.cut"; the head keeps the input specs
// (preprocessing of the raw input), the tail the labels. Neither half has a golden vector:
// computing the cut tensor's value needs the runtime, which this module may not use —
// runtime::attach_split_golden derives both from the whole graph's.
Result<SplitModel> split_at(const Graph& graph, std::string_view cut_tensor);

// The tensors where split_at succeeds (single-tensor frontiers), in execution order: the order
// of the nodes producing them. Empty when the graph does not verify.
std::vector<std::string> cut_candidates(const Graph& graph);

}  // namespace edgeloop::model

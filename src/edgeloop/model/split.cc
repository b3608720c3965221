#include "edgeloop/model/split.h"

#include <algorithm>
#include <optional>

#include "edgeloop/model/shape_inference.h"

namespace edgeloop::model {
namespace {

// Which node writes each tensor (-1: none — an input, a constant or an unused tensor).
std::vector<int> producers(const Graph& g) {
  std::vector<int> producer(g.tensors.size(), -1);
  for (size_t n = 0; n < g.nodes.size(); ++n)
    for (TensorId id : g.nodes[n].outputs) producer[id] = static_cast<int>(n);
  return producer;
}

bool is_graph_input(const Graph& g, TensorId id) { return std::find(g.inputs.begin(), g.inputs.end(), id) != g.inputs.end(); }
bool is_graph_output(const Graph& g, TensorId id) {
  return std::find(g.outputs.begin(), g.outputs.end(), id) != g.outputs.end();
}

// The nodes of each half, in execution order, or why `cut` does not separate the graph (the
// reason only; the caller adds the tensor's name).
struct Partition {
  std::vector<size_t> head, tail;
};

Result<Partition> partition(const Graph& g, TensorId cut, const std::vector<int>& producer) {
  const Tensor& c = g.tensors[cut];
  if (c.constant) return make_error(ErrorCode::kInvalidArgument, "it is a constant (a weight), not an activation");
  if (is_graph_input(g, cut)) return make_error(ErrorCode::kInvalidArgument, "it is a graph input: the head would be empty");
  if (is_graph_output(g, cut)) return make_error(ErrorCode::kInvalidArgument, "it is a graph output: the tail would be empty");
  if (producer[cut] < 0) return make_error(ErrorCode::kInvalidArgument, "no node computes it");

  // Head: every node the cut tensor depends on.
  std::vector<char> in_head(g.nodes.size(), 0);
  std::vector<TensorId> stack{cut};
  while (!stack.empty()) {
    const TensorId t = stack.back();
    stack.pop_back();
    const int p = producer[t];
    if (p < 0 || in_head[p]) continue;
    in_head[p] = 1;
    for (TensorId in : g.nodes[p].inputs)
      if (in != kNoTensor) stack.push_back(in);
  }

  // Tail: every node the outputs depend on, walking back until the cut. Anything else from the
  // head side it reaches means the cut does not separate the graph.
  std::vector<char> in_tail(g.nodes.size(), 0), seen(g.tensors.size(), 0);
  bool reaches_cut = false;
  stack.assign(g.outputs.begin(), g.outputs.end());
  while (!stack.empty()) {
    const TensorId t = stack.back();
    stack.pop_back();
    if (seen[t]) continue;
    seen[t] = 1;
    if (t == cut) {
      reaches_cut = true;
      continue;
    }
    const Tensor& tensor = g.tensors[t];
    if (tensor.constant) continue;
    if (is_graph_input(g, t))
      return make_error(ErrorCode::kInvalidArgument,
                        "graph input '{}' reaches the outputs on a path that avoids it (the tail would need the raw input)",
                        tensor.name);
    const int p = producer[t];
    if (p < 0) return make_error(ErrorCode::kInvalidArgument, "the outputs need '{}', which no node computes", tensor.name);
    if (in_head[p])
      return make_error(ErrorCode::kInvalidArgument,
                        "the tail would also need '{}', computed before the cut by node '{}'; a cut must be the only "
                        "tensor crossing from the head to the tail",
                        tensor.name, g.nodes[p].name);
    in_tail[p] = 1;
    for (TensorId in : g.nodes[p].inputs)
      if (in != kNoTensor) stack.push_back(in);
  }
  if (!reaches_cut) return make_error(ErrorCode::kInvalidArgument, "the outputs do not depend on it");

  Partition part;
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    if (in_head[n]) part.head.push_back(n);
    if (in_tail[n]) part.tail.push_back(n);
  }
  return part;
}

// The graph of `nodes` (in order) with the given inputs and outputs; tensors keep their
// relative order, constants share their bytes with `g`.
Graph half(const Graph& g, const std::vector<size_t>& nodes, const std::vector<TensorId>& inputs,
           const std::vector<TensorId>& outputs) {
  std::vector<char> used(g.tensors.size(), 0);
  for (TensorId id : inputs) used[id] = 1;
  for (TensorId id : outputs) used[id] = 1;
  for (size_t n : nodes) {
    for (TensorId id : g.nodes[n].inputs)
      if (id != kNoTensor) used[id] = 1;
    for (TensorId id : g.nodes[n].outputs) used[id] = 1;
  }
  Graph out;
  std::vector<TensorId> remap(g.tensors.size(), kNoTensor);
  for (size_t i = 0; i < g.tensors.size(); ++i)
    if (used[i]) remap[i] = out.add_tensor(g.tensors[i]);
  const auto map = [&](TensorId id) { return id == kNoTensor ? kNoTensor : remap[id]; };
  for (size_t n : nodes) {
    Node node = g.nodes[n];
    for (TensorId& id : node.inputs) id = map(id);
    for (TensorId& id : node.outputs) id = map(id);
    out.nodes.push_back(std::move(node));
  }
  for (TensorId id : inputs) out.inputs.push_back(map(id));
  for (TensorId id : outputs) out.outputs.push_back(map(id));
  return out;
}

Metadata half_metadata(const Metadata& whole, std::string_view which, std::string_view cut) {
  Metadata m;
  m.name = whole.name;
  m.version = whole.version;
  m.variant = whole.variant;
  m.producer = whole.producer;
  m.min_runtime_version = whole.min_runtime_version;
  m.properties = whole.properties;
  m.properties.emplace_back("split.half", std::string(which));
  m.properties.emplace_back("split.cut", std::string(cut));
  return m;
}

std::string candidates_hint(const Graph& g) {
  const std::vector<std::string> all = cut_candidates(g);
  if (all.empty()) return "this graph has no single tensor to cut at";
  constexpr size_t kShown = 12;
  std::string list;
  for (size_t i = 0; i < std::min(all.size(), kShown); ++i) list += (i ? ", " : "") + all[i];
  if (all.size() > kShown) list += fmt::format(", … ({} in all)", all.size());
  return "cut candidates: " + list;
}

}  // namespace

Result<SplitModel> split_at(const Graph& graph, std::string_view cut_tensor) {
  EL_CHECK(verify_graph(graph));
  const std::optional<TensorId> cut = graph.find_tensor(cut_tensor);
  if (!cut)
    return make_error(ErrorCode::kInvalidArgument, "cannot cut at '{}': the model has no tensor of that name ({})",
                      cut_tensor, candidates_hint(graph));
  const std::vector<int> producer = producers(graph);
  auto part = partition(graph, *cut, producer);
  if (!part)
    return make_error(ErrorCode::kInvalidArgument, "cannot cut at '{}': {} ({})", cut_tensor, part.error().message,
                      candidates_hint(graph));

  SplitModel split;
  split.cut = std::string(cut_tensor);
  split.head = half(graph, part->head, graph.inputs, {*cut});
  split.tail = half(graph, part->tail, {*cut}, graph.outputs);
  split.head.meta = half_metadata(graph.meta, "head", cut_tensor);
  split.head.meta.inputs = graph.meta.inputs;
  split.tail.meta = half_metadata(graph.meta, "tail", cut_tensor);
  split.tail.meta.labels = graph.meta.labels;
  // Both halves of a verified graph verify; a failure here is a bug in the partition above.
  if (auto s = verify_graph(split.head); !s)
    return make_error(ErrorCode::kInternal, "the head of the cut at '{}' does not verify: {}", cut_tensor, s.error().message);
  if (auto s = verify_graph(split.tail); !s)
    return make_error(ErrorCode::kInternal, "the tail of the cut at '{}' does not verify: {}", cut_tensor, s.error().message);
  return split;
}

std::vector<std::string> cut_candidates(const Graph& graph) {
  if (!verify_graph(graph)) return {};
  const std::vector<int> producer = producers(graph);
  std::vector<std::string> out;
  for (const Node& node : graph.nodes)
    for (TensorId id : node.outputs)
      if (partition(graph, id, producer)) out.push_back(graph.tensors[id].name);
  return out;
}

}  // namespace edgeloop::model

#include "edgeloop/runtime/program.h"

#include <algorithm>

#include "edgeloop/model/artifact.h"
#include "edgeloop/model/shape_inference.h"
#include "edgeloop/runtime/backends.h"
#include "edgeloop/runtime/reference/kernels.h"

namespace edgeloop::runtime {

namespace {

// The boundary of the nodes [begin, end) of the execution order (backend.h's Partition).
Partition make_partition(const model::Graph& g, size_t begin, size_t end) {
  Partition p;
  std::vector<char> inside(g.tensors.size(), 0);  // produced inside
  for (size_t i = begin; i < end; ++i) {
    p.nodes.push_back(i);
    for (model::TensorId id : g.nodes[i].outputs) inside[id] = 1;
  }
  auto add = [](std::vector<model::TensorId>& v, model::TensorId id) {
    if (std::find(v.begin(), v.end(), id) == v.end()) v.push_back(id);
  };
  for (size_t i = begin; i < end; ++i)
    for (model::TensorId id : g.nodes[i].inputs)
      if (id != model::kNoTensor && !inside[id] && !g.tensors[id].constant) add(p.inputs, id);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (i >= begin && i < end) continue;
    for (model::TensorId id : g.nodes[i].inputs)
      if (id != model::kNoTensor && inside[id]) add(p.outputs, id);
  }
  for (model::TensorId id : g.outputs)
    if (inside[id]) add(p.outputs, id);
  std::sort(p.outputs.begin(), p.outputs.end());
  return p;
}

constexpr size_t kReference = SIZE_MAX;  // owner of a node no backend runs

// Rank-4 activations the arena may hold channels-last (NHWC): made and read only by backends
// that work in that layout, so no transpose is needed between them (Backend::channels_last).
std::vector<char> channels_last_tensors(const model::Graph& g, const std::vector<size_t>& owner,
                                        const std::vector<std::unique_ptr<Backend>>& backends) {
  std::vector<char> ok(g.tensors.size(), 0);
  auto nhwc_node = [&](size_t i) { return owner[i] != kReference && backends[owner[i]]->channels_last(); };
  for (size_t i = 0; i < g.nodes.size(); ++i)
    for (model::TensorId id : g.nodes[i].outputs)
      if (g.tensors[id].shape.size() == 4) ok[id] = nhwc_node(i);
  for (size_t i = 0; i < g.nodes.size(); ++i)
    for (model::TensorId id : g.nodes[i].inputs)
      if (id != model::kNoTensor && !nhwc_node(i)) ok[id] = 0;
  for (model::TensorId id : g.inputs) ok[id] = 0;
  for (model::TensorId id : g.outputs) ok[id] = 0;
  return ok;
}

std::string step_name(const model::Graph& g, std::string_view backend, const Partition& p) {
  const auto& first = g.nodes[p.nodes.front()];
  if (p.nodes.size() == 1) return first.name;
  return fmt::format("{}: {} … {} ({} nodes)", backend, first.name, g.nodes[p.nodes.back()].name, p.nodes.size());
}

}  // namespace

Result<Program> Program::load(const std::filesystem::path& path, const LoadOptions& options) {
  EL_TRY(model::Graph g, model::load_artifact(path));
  return from_graph(std::move(g), options);
}

Result<Program> Program::load(SharedBytes artifact, const LoadOptions& options) {
  EL_TRY(model::Graph g, model::load_artifact(std::move(artifact)));
  return from_graph(std::move(g), options);
}

Result<Program> Program::from_graph(model::Graph graph, const LoadOptions& options) {
  EL_CHECK(model::verify_graph(graph));
  if (options.threads < 1) return make_error(ErrorCode::kInvalidArgument, "threads must be at least 1, got {}", options.threads);
  auto state = std::make_shared<State>();
  state->graph = std::move(graph);  // first: executables may keep pointers into it
  const model::Graph& g = state->graph;
  state->pool = std::make_unique<ThreadPool>(options.threads);

  const bool chosen = !options.backends.empty();
  for (const std::string& name : chosen ? options.backends : default_backends()) {
    if (name == "reference") continue;
    EL_TRY(auto backend, make_backend(name));
    state->backends.push_back(std::move(backend));
  }

  // Each node goes to the first backend that claims it; contiguous runs of one backend's nodes
  // form its partitions.
  const size_t n = g.nodes.size();
  std::vector<size_t> owner(n, kReference);
  for (size_t b = state->backends.size(); b-- > 0;) {
    const std::vector<bool> claimed = state->backends[b]->claim(g);
    for (size_t i = 0; i < n && i < claimed.size(); ++i)
      if (claimed[i]) owner[i] = b;
  }
  std::vector<char> internal;
  for (bool placed = false; !placed;) {
    state->steps.clear();
    state->kernels.clear();
    state->executables.clear();
    internal.assign(g.tensors.size(), 0);
    const std::vector<char> channels_last = channels_last_tensors(g, owner, state->backends);
    placed = true;
    for (size_t begin = 0; begin < n && placed;) {
      size_t end = begin + 1;
      while (end < n && owner[end] == owner[begin] && !options.partition_per_node) ++end;
      if (owner[begin] == kReference) {
        for (size_t i = begin; i < end; ++i) {
          state->steps.push_back({"reference", {i}, g.nodes[i].name});
          state->kernels.push_back(reference::kernel_for(g.nodes[i].op));
          state->executables.push_back(nullptr);
        }
        begin = end;
        continue;
      }
      const Backend& backend = *state->backends[owner[begin]];
      Partition partition = make_partition(g, begin, end);
      for (size_t i : partition.nodes)
        for (const auto* side : {&g.nodes[i].inputs, &g.nodes[i].outputs})
          for (model::TensorId id : *side)
            if (id != model::kNoTensor && channels_last[id] &&
                std::find(partition.channels_last.begin(), partition.channels_last.end(), id) == partition.channels_last.end())
              partition.channels_last.push_back(id);
      auto exec = backend.prepare(g, partition, *state->pool);
      if (!exec) {
        if (chosen || exec.error().code != ErrorCode::kUnsupported)
          return std::unexpected(std::move(exec).error().context(fmt::format("backend {}", backend.name())));
        // A default backend that cannot after all: the reference kernels take these nodes, and
        // the tensor layouts around them are decided again.
        std::fill(owner.begin() + static_cast<std::ptrdiff_t>(begin), owner.begin() + static_cast<std::ptrdiff_t>(end), kReference);
        placed = false;
        break;
      }
      if (!(*exec)->internal_tensors_in_arena())
        for (size_t i : partition.nodes)
          for (model::TensorId id : g.nodes[i].outputs)
            if (std::find(partition.outputs.begin(), partition.outputs.end(), id) == partition.outputs.end()) internal[id] = 1;
      state->steps.push_back({std::string(backend.name()), partition.nodes, step_name(g, backend.name(), partition)});
      state->kernels.push_back(nullptr);
      state->executables.push_back(std::move(*exec));
      begin = end;
    }
  }
  state->plan = plan_memory(g, internal);
  return Program(std::move(state));
}

bool Program::reference_only() const {
  return std::all_of(state_->steps.begin(), state_->steps.end(), [](const Step& s) { return s.backend == "reference"; });
}

std::vector<std::string> Program::backends_used() const {
  std::vector<std::string> used;
  for (const Step& s : state_->steps)
    if (s.backend != "reference" && std::find(used.begin(), used.end(), s.backend) == used.end()) used.push_back(s.backend);
  for (const Step& s : state_->steps)
    if (s.backend == "reference") {
      used.push_back("reference");
      break;
    }
  return used;
}

}  // namespace edgeloop::runtime

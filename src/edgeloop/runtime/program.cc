#include "edgeloop/runtime/program.h"

#include "edgeloop/model/artifact.h"
#include "edgeloop/model/shape_inference.h"
#include "edgeloop/runtime/reference/kernels.h"

namespace edgeloop::runtime {

Result<Program> Program::load(const std::filesystem::path& path) {
  EL_TRY(model::Graph g, model::load_artifact(path));
  return from_graph(std::move(g));
}

Result<Program> Program::load(SharedBytes artifact) {
  EL_TRY(model::Graph g, model::load_artifact(std::move(artifact)));
  return from_graph(std::move(g));
}

Result<Program> Program::from_graph(model::Graph graph) {
  EL_CHECK(model::verify_graph(graph));
  auto state = std::make_shared<State>();
  for (const model::Node& n : graph.nodes) state->kernels.push_back(reference::kernel_for(n.op));
  state->plan = plan_memory(graph);
  state->graph = std::move(graph);
  return Program(std::move(state));
}

}  // namespace edgeloop::runtime

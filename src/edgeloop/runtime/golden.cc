#include "edgeloop/runtime/golden.h"

#include <random>

#include "edgeloop/model/tensor_compare.h"
#include "edgeloop/runtime/session.h"

namespace edgeloop::runtime {

Status attach_golden(model::Graph& graph, uint64_t seed, float rtol, float atol) {
  graph.meta.golden.reset();
  EL_TRY(Program program, Program::from_graph(graph));
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> uniform(-1.f, 1.f);
  model::GoldenVector golden;
  golden.rtol = rtol;
  golden.atol = atol;
  for (model::TensorId id : graph.inputs) {
    const model::Tensor& t = graph.tensors[id];
    auto value = model::TensorData::zeros(t.name, t.dtype, t.shape);
    if (t.dtype == model::DType::kF32)
      for (float& v : value.values<float>()) v = uniform(rng);
    golden.inputs.push_back(std::move(value));
  }
  Session session(program);
  EL_TRY(golden.outputs, session.run(golden.inputs));
  graph.meta.golden = std::move(golden);
  return ok();
}

Status check_golden(const Program& program) {
  const auto& golden = program.graph().meta.golden;
  if (!golden) return make_error(ErrorCode::kFailedPrecondition, "the artifact has no golden test vector to smoke-test with");
  Session session(program);
  auto outputs = session.run(golden->inputs);
  if (!outputs) return std::unexpected(std::move(outputs).error().context("golden test vector"));
  if (outputs->size() != golden->outputs.size())
    return make_error(ErrorCode::kCorrupt, "golden test vector has {} outputs, the model gives {}", golden->outputs.size(),
                      outputs->size());
  for (size_t i = 0; i < outputs->size(); ++i) {
    auto c = model::compare_tensors((*outputs)[i], golden->outputs[i], golden->rtol, golden->atol);
    if (!c.ok) return make_error(ErrorCode::kCorrupt, "golden test vector mismatch: {}", c.message);
  }
  return ok();
}

}  // namespace edgeloop::runtime

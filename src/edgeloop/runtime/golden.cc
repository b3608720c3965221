#include "edgeloop/runtime/golden.h"

#include <random>

#include "edgeloop/model/tensor_compare.h"
#include "edgeloop/runtime/session.h"

namespace edgeloop::runtime {

model::TensorData random_input(const model::Tensor& input, uint64_t seed) {
  auto value = model::TensorData::zeros(input.name, input.dtype, input.shape);
  if (input.dtype == model::DType::kF32) {
    std::mt19937_64 rng(seed);
    for (float& v : value.values<float>()) v = static_cast<float>(rng() >> 40) * 0x1p-23f - 1.f;
  }
  return value;
}

Status attach_golden(model::Graph& graph, uint64_t seed, float rtol, float atol) {
  graph.meta.golden.reset();
  EL_TRY(Program program, Program::from_graph(graph, LoadOptions::reference()));  // the oracle
  model::GoldenVector golden;
  golden.rtol = rtol;
  golden.atol = atol;
  for (size_t k = 0; k < graph.inputs.size(); ++k) golden.inputs.push_back(random_input(graph.tensors[graph.inputs[k]], seed + k));
  Session session(program);
  EL_TRY(golden.outputs, session.run(golden.inputs));
  graph.meta.golden = std::move(golden);
  return ok();
}

namespace {

Status check_golden(const Program& program, const std::atomic<bool>* cancel, const StepObserver& observer) {
  const auto& golden = program.graph().meta.golden;
  if (!golden) return make_error(ErrorCode::kFailedPrecondition, "the artifact has no golden test vector to smoke-test with");
  Session session(program);
  auto outputs = cancel ? session.run(golden->inputs, *cancel, observer) : session.run(golden->inputs);
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

}  // namespace

Status check_golden(const Program& program) { return check_golden(program, nullptr, {}); }
Status check_golden(const Program& program, const std::atomic<bool>& cancel, const StepObserver& observer) {
  return check_golden(program, &cancel, observer);
}

Status attach_split_golden(model::SplitModel& split, const model::Graph& whole) {
  split.head.meta.golden.reset();
  split.tail.meta.golden.reset();
  const auto& golden = whole.meta.golden;
  if (!golden) return make_error(ErrorCode::kFailedPrecondition, "the model has no golden test vector to split");
  EL_TRY(Program head, Program::from_graph(split.head, LoadOptions::reference()));
  Session session(head);
  auto cut = session.run(golden->inputs);
  if (!cut) return std::unexpected(std::move(cut).error().context("running the head on the golden inputs"));
  model::GoldenVector head_golden{golden->inputs, *cut, golden->rtol, golden->atol};
  model::GoldenVector tail_golden{std::move(*cut), golden->outputs, golden->rtol, golden->atol};
  split.head.meta.golden = std::move(head_golden);
  split.tail.meta.golden = std::move(tail_golden);
  return ok();
}

}  // namespace edgeloop::runtime

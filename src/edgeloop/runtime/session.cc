#include "edgeloop/runtime/session.h"

#include <algorithm>
#include <cstring>
#include <new>

namespace edgeloop::runtime {

namespace {
void free_arena(std::byte* p) { ::operator delete[](p, std::align_val_t(kArenaAlignment)); }
// Backends may read a little past a tensor's end (XNNPACK up to 16 bytes); keep that in the arena.
constexpr size_t kArenaTail = 64;
std::byte* alloc_arena(size_t bytes) {
  return static_cast<std::byte*>(::operator new[](bytes + kArenaTail, std::align_val_t(kArenaAlignment)));
}
}  // namespace

Session::Session(const Program& program)
    : program_(program), arena_(alloc_arena(program.plan().arena_bytes), &free_arena) {
  const model::Graph& g = program_.graph();
  const MemoryPlan& plan = program_.plan();
  views_.resize(g.tensors.size());
  for (size_t i = 0; i < g.tensors.size(); ++i) {
    const model::Tensor& t = g.tensors[i];
    TensorView& v = views_[i];
    v.dtype = t.dtype;
    v.shape = t.shape;
    v.quant = &t.quant;
    // Kernels never write their inputs, so constants may point into the read-only mapping.
    if (t.constant) v.data = const_cast<std::byte*>(t.data.data());
    else if (plan.offsets[i] >= 0) v.data = arena_.get() + plan.offsets[i];
  }
  for (const model::Node& n : g.nodes) {
    auto& ins = node_inputs_.emplace_back();
    for (model::TensorId id : n.inputs) ins.push_back(id == model::kNoTensor ? TensorView{} : views_[id]);
    auto& outs = node_outputs_.emplace_back();
    for (model::TensorId id : n.outputs) outs.push_back(views_[id]);
  }
}

Status Session::bind_inputs(std::span<const model::TensorData> inputs) {
  const model::Graph& g = program_.graph();
  if (inputs.size() != g.inputs.size())
    return make_error(ErrorCode::kInvalidArgument, "the model takes {} inputs, {} were given", g.inputs.size(), inputs.size());
  const bool by_name = std::all_of(inputs.begin(), inputs.end(), [](const auto& t) { return !t.name.empty(); });
  for (size_t i = 0; i < g.inputs.size(); ++i) {
    const model::Tensor& want = g.tensors[g.inputs[i]];
    const model::TensorData* have = &inputs[i];
    if (by_name) {
      have = nullptr;
      for (const auto& t : inputs)
        if (t.name == want.name) have = &t;
      if (have == nullptr) return make_error(ErrorCode::kInvalidArgument, "no value given for model input '{}'", want.name);
    }
    if (have->dtype != want.dtype || have->shape != want.shape)
      return make_error(ErrorCode::kInvalidArgument, "input '{}' must be {} {}, got {} {}", want.name,
                        model::dtype_name(want.dtype), model::shape_str(want.shape), model::dtype_name(have->dtype),
                        model::shape_str(have->shape));
    if (have->bytes.size() != want.byte_size())
      return make_error(ErrorCode::kInvalidArgument, "input '{}' has {} bytes, its shape needs {}", want.name,
                        have->bytes.size(), want.byte_size());
    if (!have->bytes.empty()) std::memcpy(views_[g.inputs[i]].data, have->bytes.data(), have->bytes.size());
  }
  return ok();
}

Result<std::vector<model::TensorData>> Session::run(std::span<const model::TensorData> inputs) {
  return run_steps(inputs, StepObserver{}, nullptr);
}

Status Session::run_step(size_t step) {
  const Program::State& s = *program_.state_;
  if (s.executables[step] != nullptr) return s.executables[step]->run(views_);
  const size_t node = s.steps[step].nodes.front();
  return s.kernels[step](KernelContext{s.graph.nodes[node], node_inputs_[node], node_outputs_[node]});
}

Result<std::vector<model::TensorData>> Session::run(std::span<const model::TensorData> inputs,
                                                    const StepObserver& observer) {
  return run_steps(inputs, observer, nullptr);
}

Result<std::vector<model::TensorData>> Session::run(std::span<const model::TensorData> inputs,
                                                    const std::atomic<bool>& cancel, const StepObserver& observer) {
  return run_steps(inputs, observer, &cancel);
}

Result<std::vector<model::TensorData>> Session::run_steps(std::span<const model::TensorData> inputs,
                                                          const StepObserver& observer, const std::atomic<bool>* cancel) {
  EL_CHECK(bind_inputs(inputs));
  const size_t steps = program_.steps().size();
  for (size_t i = 0; i < steps; ++i) {
    // Acquire: whoever cancels may have written state the caller reads after a kCancelled.
    if (cancel != nullptr && cancel->load(std::memory_order_acquire))
      return make_error(ErrorCode::kCancelled, "cancelled before step {} of {} ('{}')", i, steps,
                        program_.steps()[i].name);
    EL_CHECK(run_step(i));
    if (observer) observer(i);
  }
  return collect_outputs();
}

Result<std::vector<model::TensorData>> Session::run(std::span<const model::TensorData> inputs,
                                                    const NodeObserver& observer) {
  const auto& steps = program_.steps();
  if (observer && !program_.reference_only())
    return make_error(ErrorCode::kFailedPrecondition,
                      "observing every node needs a program on the reference kernels (LoadOptions::reference())");
  EL_CHECK(bind_inputs(inputs));
  const model::Graph& g = program_.graph();
  for (size_t i = 0; i < steps.size(); ++i) {
    EL_CHECK(run_step(i));
    if (observer) observer(g.nodes[i], node_outputs_[i]);
  }
  return collect_outputs();
}

std::vector<model::TensorData> Session::collect_outputs() const {
  const model::Graph& g = program_.graph();
  std::vector<model::TensorData> outs;
  for (model::TensorId id : g.outputs) {
    const model::Tensor& t = g.tensors[id];
    const TensorView& v = views_[id];
    model::TensorData out{t.name, t.dtype, t.shape, {}};
    out.bytes.resize(v.bytes());
    if (!out.bytes.empty()) std::memcpy(out.bytes.data(), v.data, out.bytes.size());
    outs.push_back(std::move(out));
  }
  return outs;
}

}  // namespace edgeloop::runtime

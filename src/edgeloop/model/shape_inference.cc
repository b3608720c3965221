#include "edgeloop/model/shape_inference.h"

#include <algorithm>
#include <cmath>

namespace edgeloop::model {

Status ShapeContext::expect_arity(size_t min_inputs, size_t max_inputs, size_t min_outputs, size_t max_outputs) const {
  if (inputs.size() < min_inputs || inputs.size() > max_inputs)
    return fail(ErrorCode::kInvalidArgument, "has {} inputs, expected {} to {}", inputs.size(), min_inputs, max_inputs);
  for (size_t i = 0; i < min_inputs; ++i)
    if (inputs[i] == nullptr) return fail(ErrorCode::kInvalidArgument, "required input {} is missing", i);
  if (outputs.size() < min_outputs || outputs.size() > max_outputs)
    return fail(ErrorCode::kInvalidArgument, "has {} outputs, expected {} to {}", outputs.size(), min_outputs,
                max_outputs);
  return ok();
}

Status ShapeContext::expect_dtype(size_t i, std::initializer_list<DType> allowed) const {
  const Tensor* t = input(i);
  if (t == nullptr) return fail(ErrorCode::kInvalidArgument, "input {} is missing", i);
  if (std::find(allowed.begin(), allowed.end(), t->dtype) != allowed.end()) return ok();
  std::string names;
  for (DType d : allowed) names += (names.empty() ? "" : ", ") + std::string(dtype_name(d));
  return fail(ErrorCode::kUnsupported, "input {} '{}' has dtype {}, supported: {}", i, t->name, dtype_name(t->dtype),
              names);
}

Status ShapeContext::expect_constant(size_t i) const {
  const Tensor* t = input(i);
  if (t == nullptr || !t->constant)
    return fail(ErrorCode::kUnsupported, "input {} must be a constant (weights known at import)", i);
  return ok();
}

ShapeFn shape_fn(OpType op) {
  switch (op) {
#define EL_SHAPE_CASE(name) \
  case OpType::k##name:     \
    return &infer_##name;
    EDGELOOP_OPS(EL_SHAPE_CASE)
#undef EL_SHAPE_CASE
  }
  return nullptr;
}

namespace {

Result<ShapeContext> make_context(const Graph& g, const Node& node, std::vector<Tensor>& scratch) {
  ShapeContext ctx{node, {}, {}};
  const auto n = static_cast<TensorId>(g.tensors.size());
  for (TensorId id : node.inputs) {
    if (id == kNoTensor) {
      ctx.inputs.push_back(nullptr);
      continue;
    }
    if (id < 0 || id >= n) return make_error(ErrorCode::kCorrupt, "node '{}' reads tensor id {} out of range", node.name, id);
    ctx.inputs.push_back(&g.tensors[id]);
  }
  scratch.clear();
  scratch.reserve(node.outputs.size());
  for (TensorId id : node.outputs) {
    if (id < 0 || id >= n) return make_error(ErrorCode::kCorrupt, "node '{}' writes tensor id {} out of range", node.name, id);
    scratch.push_back(g.tensors[id]);  // keeps name and quantization; shape fn sets dtype and shape
  }
  for (Tensor& t : scratch) ctx.outputs.push_back(&t);
  return ctx;
}

}  // namespace

Status infer_node(Graph& graph, size_t index) {
  const Node& node = graph.nodes[index];
  std::vector<Tensor> outs;
  EL_TRY(ShapeContext ctx, make_context(graph, node, outs));
  EL_CHECK(shape_fn(node.op)(ctx));
  for (size_t i = 0; i < node.outputs.size(); ++i) {
    if (num_elements(outs[i].shape) < 0) return ctx.fail(ErrorCode::kInvalidArgument, "output {} has an invalid shape {}", i, shape_str(outs[i].shape));
    Tensor& dst = graph.tensors[node.outputs[i]];
    dst.dtype = outs[i].dtype;
    dst.shape = std::move(outs[i].shape);
  }
  return ok();
}

Status verify_graph(const Graph& g) {
  const size_t n = g.tensors.size();
  std::vector<char> ready(n, 0);  // produced, constant, or a graph input
  for (size_t i = 0; i < n; ++i) {
    const Tensor& t = g.tensors[i];
    if (t.name.empty()) return make_error(ErrorCode::kCorrupt, "tensor {} has no name", i);
    const int64_t elems = t.elements();
    if (elems < 0) return make_error(ErrorCode::kCorrupt, "tensor '{}' has an invalid shape {}", t.name, shape_str(t.shape));
    if (t.shape.size() > 8) return make_error(ErrorCode::kUnsupported, "tensor '{}' has rank {}, at most 8 is supported", t.name, t.shape.size());
    if (auto s = validate_quant(t.quant, t.dtype, t.shape); !s) return std::unexpected(std::move(s).error().context("tensor '" + t.name + "'"));
    if (t.constant) {
      if (t.data.size() != t.byte_size())
        return make_error(ErrorCode::kCorrupt, "constant '{}' has {} bytes of data, its dtype and shape need {}", t.name,
                          t.data.size(), t.byte_size());
      ready[i] = 1;
    }
  }
  for (TensorId id : g.inputs) {
    if (id < 0 || static_cast<size_t>(id) >= n) return make_error(ErrorCode::kCorrupt, "graph input id {} out of range", id);
    if (g.tensors[id].constant) return make_error(ErrorCode::kCorrupt, "graph input '{}' is a constant", g.tensors[id].name);
    if (ready[id]) return make_error(ErrorCode::kCorrupt, "graph input '{}' listed twice", g.tensors[id].name);
    ready[id] = 1;
  }
  std::vector<Tensor> scratch;
  for (const Node& node : g.nodes) {
    EL_TRY(ShapeContext ctx, make_context(g, node, scratch));
    for (size_t i = 0; i < node.inputs.size(); ++i)
      if (node.inputs[i] != kNoTensor && !ready[node.inputs[i]])
        return ctx.fail(ErrorCode::kCorrupt, "reads '{}' before it is produced", g.tensors[node.inputs[i]].name);
    for (TensorId id : node.outputs) {
      if (ready[id]) return ctx.fail(ErrorCode::kCorrupt, "writes '{}', which already has a value", g.tensors[id].name);
    }
    EL_CHECK(shape_fn(node.op)(ctx));
    for (size_t i = 0; i < node.outputs.size(); ++i) {
      const Tensor& stored = g.tensors[node.outputs[i]];
      if (scratch[i].dtype != stored.dtype || scratch[i].shape != stored.shape)
        return ctx.fail(ErrorCode::kCorrupt, "output '{}' is stored as {} {} but computes to {} {}", stored.name,
                        dtype_name(stored.dtype), shape_str(stored.shape), dtype_name(scratch[i].dtype),
                        shape_str(scratch[i].shape));
      ready[node.outputs[i]] = 1;
    }
  }
  if (g.outputs.empty()) return make_error(ErrorCode::kCorrupt, "the graph has no outputs");
  for (TensorId id : g.outputs) {
    if (id < 0 || static_cast<size_t>(id) >= n) return make_error(ErrorCode::kCorrupt, "graph output id {} out of range", id);
    if (!ready[id]) return make_error(ErrorCode::kCorrupt, "graph output '{}' is never produced", g.tensors[id].name);
  }
  return ok();
}

Result<Shape> broadcast_shapes(const Shape& a, const Shape& b) {
  const size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (size_t i = 0; i < rank; ++i) {
    int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da != db && da != 1 && db != 1)
      return make_error(ErrorCode::kInvalidArgument, "shapes {} and {} do not broadcast", shape_str(a), shape_str(b));
    out[i] = da == 1 ? db : da;
  }
  return out;
}

Result<int64_t> normalize_axis(int64_t axis, int64_t rank) {
  if (axis < -rank || axis >= std::max<int64_t>(rank, 1) || (rank == 0 && axis != 0 && axis != -1))
    return make_error(ErrorCode::kInvalidArgument, "axis {} out of range for rank {}", axis, rank);
  return axis < 0 ? axis + rank : axis;
}

bool fits_fixed_point_multiplier(double m) {
  if (!(m >= 0) || !std::isfinite(m)) return false;
  int e = 0;
  const double f = std::frexp(m, &e);
  if (std::llround(f * 2147483648.0) == int64_t{1} << 31) ++e;  // the mantissa rounds up to 1
  return 31 - e >= 1;
}

}  // namespace edgeloop::model

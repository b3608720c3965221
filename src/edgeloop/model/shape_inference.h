// Static shape and dtype inference, one function per op, plus whole-graph verification.
// The importer runs it while building a graph; the loader runs it again on every artifact and
// refuses one whose stored shapes disagree. Shape functions also validate attributes and input
// dtypes, so a kernel may trust what it is given.
#pragma once

#include <vector>

#include "edgeloop/model/graph.h"

namespace edgeloop::model {

struct ShapeContext {
  const Node& node;
  std::vector<const Tensor*> inputs;  // nullptr for an absent optional input
  std::vector<Tensor*> outputs;       // shape functions set dtype and shape

  const Tensor* input(size_t i) const { return i < inputs.size() ? inputs[i] : nullptr; }

  // Errors name the node and op: "node 'conv1' (Conv): <message>".
  template <class... Args>
  std::unexpected<Error> fail(ErrorCode code, fmt::format_string<Args...> format, Args&&... args) const {
    return std::unexpected(Error{code, fmt::format("node '{}' ({}): {}", node.name, op_name(node.op),
                                                   fmt::format(format, std::forward<Args>(args)...))});
  }
  // Checks the number of inputs (absent optional ones count) and outputs.
  Status expect_arity(size_t min_inputs, size_t max_inputs, size_t min_outputs, size_t max_outputs) const;
  // Requires input i present with one of the given dtypes.
  Status expect_dtype(size_t i, std::initializer_list<DType> allowed) const;
  // Requires input i to be a constant (weights).
  Status expect_constant(size_t i) const;
  void set_output(size_t i, DType dtype, Shape shape) const {
    outputs[i]->dtype = dtype;
    outputs[i]->shape = std::move(shape);
  }
};

using ShapeFn = Status (*)(ShapeContext&);

#define EL_DECLARE_SHAPE_FN(name) Status infer_##name(ShapeContext& ctx);
EDGELOOP_OPS(EL_DECLARE_SHAPE_FN)
#undef EL_DECLARE_SHAPE_FN

ShapeFn shape_fn(OpType op);

// Infers the outputs of graph.nodes[index] from its inputs and stores them in graph.tensors.
Status infer_node(Graph& graph, size_t index);

// Checks a whole graph before use: ids in range, every activation produced exactly once before
// it is read, constants sized to their dtype and shape, quantization parameters valid, and every
// node's stored output shapes equal to what inference computes. Never reads out of bounds.
Status verify_graph(const Graph& graph);

// Helpers shared by shape functions.
// Multidirectional (numpy) broadcast of two shapes, or an error message.
Result<Shape> broadcast_shapes(const Shape& a, const Shape& b);
// Maps a possibly negative axis into [0, rank); error when out of range.
Result<int64_t> normalize_axis(int64_t axis, int64_t rank);
// Whether runtime::quantize_multiplier accepts the real multiplier m: finite, >= 0 and below 2^30
// after rounding to 31 bits (docs/quantization.md). Shape inference refuses the others, so a
// kernel never fails on them at run time.
bool fits_fixed_point_multiplier(double m);

}  // namespace edgeloop::model

// Constant folding at import: a small evaluator for the IR ops that are integer/shape arithmetic or
// data movement (Reshape, Transpose, Concat, Split, Slice, Gather, Cast, Add, Sub, Mul, Div) over
// constant inputs. Kept here, not in the runtime: `model` may not depend on `runtime`.
#pragma once

#include <algorithm>
#include <cstring>
#include <optional>
#include <span>
#include <vector>

#include "edgeloop/base/error.h"
#include "edgeloop/model/graph.h"

namespace edgeloop::model::onnx_import {

// Folded results larger than this stay nodes (a hostile file cannot make the importer allocate
// without bound).
inline constexpr size_t kMaxFoldBytes = size_t{256} << 20;
// True when `elements` of `dtype` fit in kMaxFoldBytes (checked before multiplying, which could
// overflow for hostile shapes).
inline bool fits_fold_limit(DType dtype, int64_t elements) {
  const size_t es = std::max<size_t>(element_size(dtype), 1);
  return elements >= 0 && static_cast<uint64_t>(elements) <= kMaxFoldBytes / es;
}

// Evaluates `op` (canonical attributes, docs/ops.md) on constant `inputs`. Returns the outputs
// (constant, unnamed), nullopt when this evaluator does not handle the op or dtypes (emit a node
// instead), or an error when the values are invalid (index out of range, division by zero).
Result<std::optional<std::vector<Tensor>>> fold(OpType op, const Attributes& attrs,
                                                std::span<const Tensor* const> inputs, size_t num_outputs);

// Builds a constant tensor.
using model::make_constant;
template <class T>
Tensor make_constant(std::string name, DType dtype, Shape shape, std::span<const T> values) {
  std::vector<std::byte> bytes(values.size() * sizeof(T));
  if (!values.empty()) std::memcpy(bytes.data(), values.data(), bytes.size());
  return make_constant(std::move(name), dtype, std::move(shape), std::move(bytes));
}

// Reads an integer constant (i64, i32, i8, u8, bool) as int64 values; nullopt for other dtypes.
std::optional<std::vector<int64_t>> read_ints(const Tensor& t);
// Reads a numeric constant (f32, f16, and the integer types) as float values.
std::optional<std::vector<float>> read_floats(const Tensor& t);

}  // namespace edgeloop::model::onnx_import

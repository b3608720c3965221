// What a kernel sees: views of its input and output tensors and the node's attributes.
#pragma once

#include <cstddef>
#include <span>

#include "edgeloop/base/error.h"
#include "edgeloop/model/graph.h"

namespace edgeloop::runtime {

using model::DType;

// A tensor in memory: constants point into the artifact, activations into the session arena.
struct TensorView {
  DType dtype = DType::kF32;
  std::span<const int64_t> shape;
  std::byte* data = nullptr;                     // may be null for a tensor with no elements
  const model::QuantParams* quant = nullptr;     // never null for a present tensor; empty = float

  bool present() const { return quant != nullptr; }  // absent optional inputs are default-constructed
  size_t rank() const { return shape.size(); }
  int64_t dim(size_t i) const { return shape[i]; }
  int64_t elements() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
  size_t bytes() const { return model::storage_bytes(dtype, elements()); }
  template <class T>
  T* as() const { return reinterpret_cast<T*>(data); }
};

struct KernelContext {
  const model::Node& node;
  std::span<const TensorView> inputs;  // absent optional inputs have present() == false
  std::span<const TensorView> outputs;

  const TensorView* input(size_t i) const { return i < inputs.size() && inputs[i].present() ? &inputs[i] : nullptr; }
  template <class... Args>
  std::unexpected<Error> fail(ErrorCode code, fmt::format_string<Args...> format, Args&&... args) const {
    return std::unexpected(Error{code, fmt::format("node '{}' ({}): {}", node.name, model::op_name(node.op),
                                                   fmt::format(format, std::forward<Args>(args)...))});
  }
};

// Kernels may assume shape inference accepted the node: dtypes, ranks and attributes are valid
// and output shapes are final. They check only what depends on run-time values (e.g. indices).
using KernelFn = Status (*)(const KernelContext&);

}  // namespace edgeloop::runtime

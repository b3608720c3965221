// Shared pieces of the op converters (convert_nn.cc, convert_data.cc).
#pragma once

#include <string>
#include <unordered_map>

#include "edgeloop/model/onnx/importer.h"
#include "edgeloop/model/shape_inference.h"

namespace edgeloop::model::onnx_import {

using ConverterTable = std::unordered_map<std::string, Converter>;
void register_nn_converters(ConverterTable& table);

template <class T>
Status discard(Result<T> r) {
  if (!r) return std::unexpected(std::move(r).error());
  return ok();
}

// `id` viewed with another shape (same element count): a relabelled constant, or an internal
// Reshape node for an activation.
Result<TensorId> reshape_value(NodeContext& c, TensorId id, const Shape& shape);

}  // namespace edgeloop::model::onnx_import

// ONNX TensorProto / ValueInfo types → IR tensors. Every count and size is checked against the
// bytes actually present: a hostile file gets an error, never an out-of-bounds read.
#pragma once

#include <onnx/onnx_pb.h>  // defines ONNX_API, then includes onnx-ml.pb.h

#include <optional>
#include <string>

#include "edgeloop/base/error.h"
#include "edgeloop/model/graph.h"

namespace edgeloop::model::onnx_import {

// ONNX TensorProto.DataType → IR dtype; an error names unsupported types (double, string, ...).
Result<DType> dtype_from_onnx(int32_t onnx_type);
// IR dtype → ONNX TensorProto.DataType.
int32_t dtype_to_onnx(DType dtype);
// "double", "string", ... for messages.
std::string onnx_type_name(int32_t onnx_type);

// True when the product of the non-zero dims stays below 2^62, so no partial product of the
// dims can overflow (num_elements alone accepts [0, 2^62, 2^62]).
bool shape_in_range(const Shape& shape);

// Decodes an embedded tensor (raw_data or the typed fields) into a constant. External data is
// refused (kUnsupported); inconsistent sizes are kCorrupt.
Result<Tensor> tensor_from_proto(const ::onnx::TensorProto& proto);

// Same as tensor_from_proto, as an owned value (for binding inputs from ONNX test data).
Result<TensorData> tensor_data_from_proto(const ::onnx::TensorProto& proto);

// A double (f64) tensor's values. The IR has no f64: such constants exist only at import, where a
// Cast to a supported type folds them (PyTorch writes Constant(double) → Cast(float) for clamp
// bounds when it does not fold constants itself).
struct DoubleValues {
  Shape shape;
  std::vector<double> values;
};
Result<DoubleValues> double_values_from_proto(const ::onnx::TensorProto& proto);
// Casts double values to `to` (saturating/truncating like the evaluator's Cast).
Result<Tensor> cast_doubles(const DoubleValues& v, DType to);

}  // namespace edgeloop::model::onnx_import

#include "edgeloop/model/onnx/tensor.h"

#include <cstring>

namespace edgeloop::model::onnx_import {

using ::onnx::TensorProto;

std::string onnx_type_name(int32_t t) {
  switch (t) {
    case TensorProto::FLOAT: return "float";
    case TensorProto::UINT8: return "uint8";
    case TensorProto::INT8: return "int8";
    case TensorProto::UINT16: return "uint16";
    case TensorProto::INT16: return "int16";
    case TensorProto::INT32: return "int32";
    case TensorProto::INT64: return "int64";
    case TensorProto::STRING: return "string";
    case TensorProto::BOOL: return "bool";
    case TensorProto::FLOAT16: return "float16";
    case TensorProto::DOUBLE: return "double (f64)";
    case TensorProto::UINT32: return "uint32";
    case TensorProto::UINT64: return "uint64";
    case TensorProto::COMPLEX64: return "complex64";
    case TensorProto::COMPLEX128: return "complex128";
    case TensorProto::BFLOAT16: return "bfloat16";
    case TensorProto::UNDEFINED: return "undefined";
    default: return fmt::format("type {}", t);
  }
}

Result<DType> dtype_from_onnx(int32_t t) {
  switch (t) {
    case TensorProto::FLOAT: return DType::kF32;
    case TensorProto::UINT8: return DType::kU8;
    case TensorProto::INT8: return DType::kI8;
    case TensorProto::INT32: return DType::kI32;
    case TensorProto::INT64: return DType::kI64;
    case TensorProto::BOOL: return DType::kBool;
    case TensorProto::FLOAT16: return DType::kF16;
    default:
      return make_error(ErrorCode::kUnsupported,
                        "dtype {} is not supported (supported: float, float16, int8, uint8, int32, int64, bool)",
                        onnx_type_name(t));
  }
}

int32_t dtype_to_onnx(DType d) {
  switch (d) {
    case DType::kF32: return TensorProto::FLOAT;
    case DType::kF16: return TensorProto::FLOAT16;
    case DType::kI8: return TensorProto::INT8;
    case DType::kU8: return TensorProto::UINT8;
    case DType::kI32: return TensorProto::INT32;
    case DType::kI64: return TensorProto::INT64;
    case DType::kBool: return TensorProto::BOOL;
    case DType::kI4: return TensorProto::UNDEFINED;
  }
  return TensorProto::UNDEFINED;
}

namespace {

template <class Dst, class Field>
std::vector<std::byte> narrow_copy(const Field& field) {
  std::vector<std::byte> out(static_cast<size_t>(field.size()) * sizeof(Dst));
  for (int i = 0; i < field.size(); ++i) store_le<Dst>(out.data() + static_cast<size_t>(i) * sizeof(Dst), static_cast<Dst>(field.Get(i)));
  return out;
}

}  // namespace

bool shape_in_range(const Shape& shape) {
  Shape nonzero;
  for (int64_t d : shape)
    if (d != 0) nonzero.push_back(d);
  return num_elements(nonzero) >= 0;
}

Result<TensorData> tensor_data_from_proto(const TensorProto& p) {
  const std::string& name = p.name();
  if (p.data_location() == TensorProto::EXTERNAL || p.external_data_size() > 0) {
    std::string file;
    for (const auto& kv : p.external_data())
      if (kv.key() == "location") file = kv.value();
    return make_error(ErrorCode::kUnsupported,
                      "its data is stored outside the model (external data file '{}'); save the model with all "
                      "tensors embedded (onnx.save_model(..., save_as_external_data=False))",
                      file);
  }
  if (p.has_segment()) return make_error(ErrorCode::kUnsupported, "segmented tensors are not supported");
  EL_TRY(DType dtype, dtype_from_onnx(p.data_type()));
  TensorData t;
  t.name = name;
  t.dtype = dtype;
  for (int64_t d : p.dims()) {
    if (d < 0) return make_error(ErrorCode::kCorrupt, "has a negative dim {}", d);
    t.shape.push_back(d);
  }
  const int64_t n = num_elements(t.shape);
  if (n < 0 || !shape_in_range(t.shape))
    return make_error(ErrorCode::kCorrupt, "shape {} is too large", shape_str(t.shape));
  const size_t bytes = storage_bytes(dtype, n);
  if (p.has_raw_data()) {
    if (p.raw_data().size() != bytes)
      return make_error(ErrorCode::kCorrupt, "raw_data has {} bytes, {} {} needs {}", p.raw_data().size(),
                        dtype_name(dtype), shape_str(t.shape), bytes);
    const auto* b = reinterpret_cast<const std::byte*>(p.raw_data().data());
    t.bytes.assign(b, b + bytes);
    if (dtype == DType::kBool)
      for (std::byte& x : t.bytes) x = std::byte{x != std::byte{0}};
    return t;
  }
  int64_t have = 0;
  switch (dtype) {
    case DType::kF32: have = p.float_data_size(); break;
    case DType::kI64: have = p.int64_data_size(); break;
    default: have = p.int32_data_size(); break;
  }
  if (have != n) {
    const char* field = dtype == DType::kF32 ? "float_data" : dtype == DType::kI64 ? "int64_data" : "int32_data";
    return make_error(ErrorCode::kCorrupt, "{} has {} values, {} {} needs {}", field, have, dtype_name(dtype),
                      shape_str(t.shape), n);
  }
  switch (dtype) {
    case DType::kF32: t.bytes = narrow_copy<float>(p.float_data()); break;
    case DType::kI64: t.bytes = narrow_copy<int64_t>(p.int64_data()); break;
    case DType::kI32: t.bytes = narrow_copy<int32_t>(p.int32_data()); break;
    case DType::kI8: t.bytes = narrow_copy<int8_t>(p.int32_data()); break;
    case DType::kU8: t.bytes = narrow_copy<uint8_t>(p.int32_data()); break;
    case DType::kF16: t.bytes = narrow_copy<uint16_t>(p.int32_data()); break;  // the bits of each half
    case DType::kBool:
      t.bytes.resize(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) t.bytes[i] = std::byte{p.int32_data(static_cast<int>(i)) != 0};
      break;
    case DType::kI4: return make_error(ErrorCode::kUnsupported, "int4 tensors cannot come from ONNX");
  }
  return t;
}

Result<Tensor> tensor_from_proto(const TensorProto& p) {
  EL_TRY(TensorData d, tensor_data_from_proto(p));
  Tensor t;
  t.name = std::move(d.name);
  t.dtype = d.dtype;
  t.shape = std::move(d.shape);
  t.constant = true;
  t.data = SharedBytes::adopt(std::move(d.bytes));
  return t;
}

}  // namespace edgeloop::model::onnx_import

#include "edgeloop/model/onnx/tensor.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "edgeloop/model/half.h"

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
  // n * element size must not wrap around: a wrapped size could match a short raw_data.
  if (n < 0 || !shape_in_range(t.shape) || n > (int64_t{1} << 59))
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

Result<DoubleValues> double_values_from_proto(const TensorProto& p) {
  if (p.data_type() != TensorProto::DOUBLE) return make_error(ErrorCode::kInternal, "not a double tensor");
  if (p.data_location() == TensorProto::EXTERNAL || p.external_data_size() > 0)
    return make_error(ErrorCode::kUnsupported, "its data is stored outside the model (external data)");
  DoubleValues v;
  for (int64_t d : p.dims()) {
    if (d < 0) return make_error(ErrorCode::kCorrupt, "has a negative dim {}", d);
    v.shape.push_back(d);
  }
  const int64_t n = num_elements(v.shape);
  if (n < 0 || !shape_in_range(v.shape) || n > (int64_t{1} << 59))
    return make_error(ErrorCode::kCorrupt, "shape {} is too large", shape_str(v.shape));
  if (p.has_raw_data()) {
    if (p.raw_data().size() != static_cast<size_t>(n) * 8)
      return make_error(ErrorCode::kCorrupt, "raw_data has {} bytes, f64 {} needs {}", p.raw_data().size(),
                        shape_str(v.shape), n * 8);
    v.values.resize(static_cast<size_t>(n));
    if (n > 0) std::memcpy(v.values.data(), p.raw_data().data(), v.values.size() * 8);
    return v;
  }
  if (p.double_data_size() != n)
    return make_error(ErrorCode::kCorrupt, "double_data has {} values, f64 {} needs {}", p.double_data_size(),
                      shape_str(v.shape), n);
  v.values.assign(p.double_data().begin(), p.double_data().end());
  return v;
}

namespace {
template <class T>
T saturate(double v) {
  if (std::isnan(v)) return T{0};
  if (v <= static_cast<double>(std::numeric_limits<T>::lowest())) return std::numeric_limits<T>::lowest();
  if (v >= static_cast<double>(std::numeric_limits<T>::max())) return std::numeric_limits<T>::max();
  return static_cast<T>(v);
}
}  // namespace

Result<Tensor> cast_doubles(const DoubleValues& v, DType to) {
  Tensor t;
  t.dtype = to;
  t.shape = v.shape;
  t.constant = true;
  const size_t n = v.values.size();
  if (n > (size_t{256} << 20) / 8)
    return make_error(ErrorCode::kUnsupported, "the constant is too large to fold");
  std::vector<std::byte> bytes(storage_bytes(to, static_cast<int64_t>(n)));
  for (size_t i = 0; i < n; ++i) {
    const double x = v.values[i];
    switch (to) {
      case DType::kF32: store_le<float>(bytes.data() + 4 * i, static_cast<float>(x)); break;
      case DType::kF16: store_le<uint16_t>(bytes.data() + 2 * i, float_to_half(static_cast<float>(x))); break;
      case DType::kI32: store_le<int32_t>(bytes.data() + 4 * i, saturate<int32_t>(x)); break;
      case DType::kI64: store_le<int64_t>(bytes.data() + 8 * i, saturate<int64_t>(x)); break;
      case DType::kI8: store_le<int8_t>(bytes.data() + i, saturate<int8_t>(x)); break;
      case DType::kU8: store_le<uint8_t>(bytes.data() + i, saturate<uint8_t>(x)); break;
      case DType::kBool: store_le<uint8_t>(bytes.data() + i, x != 0); break;
      case DType::kI4: return make_error(ErrorCode::kUnsupported, "cannot cast to i4");
    }
  }
  t.data = SharedBytes::adopt(std::move(bytes));
  return t;
}

}  // namespace edgeloop::model::onnx_import

#include "edgeloop/model/dtype.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "edgeloop/model/half.h"

namespace edgeloop::model {

std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::kF32: return "f32";
    case DType::kF16: return "f16";
    case DType::kI8: return "i8";
    case DType::kU8: return "u8";
    case DType::kI32: return "i32";
    case DType::kI64: return "i64";
    case DType::kBool: return "bool";
    case DType::kI4: return "i4";
  }
  return "?";
}

std::optional<DType> parse_dtype(std::string_view name) {
  for (int i = 0; i < kNumDTypes; ++i)
    if (dtype_name(static_cast<DType>(i)) == name) return static_cast<DType>(i);
  return std::nullopt;
}

bool is_valid_dtype(uint8_t raw) { return raw < kNumDTypes; }

size_t element_size(DType t) {
  switch (t) {
    case DType::kF32: return 4;
    case DType::kF16: return 2;
    case DType::kI8: return 1;
    case DType::kU8: return 1;
    case DType::kI32: return 4;
    case DType::kI64: return 8;
    case DType::kBool: return 1;
    case DType::kI4: return 0;
  }
  return 0;
}

size_t storage_bytes(DType t, int64_t elements) {
  if (elements <= 0) return 0;
  if (t == DType::kI4) return static_cast<size_t>((elements + 1) / 2);
  return static_cast<size_t>(elements) * element_size(t);
}

int64_t num_elements(const Shape& shape) {
  constexpr int64_t kLimit = kMaxElements;
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) return -1;
    if (d != 0 && n > kLimit / d) return -1;
    n *= d;
  }
  return n;
}

std::string shape_str(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? "," : "") + std::to_string(shape[i]);
  return s + "]";
}

GroupLayout group_layout(const Shape& shape, int32_t block_size) {
  GroupLayout l;
  l.block_size = std::max<int64_t>(block_size, 1);
  l.rows = shape.empty() ? 1 : shape[0];
  l.row_length = 1;
  for (size_t d = 1; d < shape.size(); ++d) l.row_length *= shape[d];
  l.groups = (l.row_length + l.block_size - 1) / l.block_size;
  return l;
}

Status validate_quant(const QuantParams& q, DType dtype, const Shape& shape) {
  if (q.empty()) return ok();
  const int64_t rank = static_cast<int64_t>(shape.size());
  size_t expected = 1;
  if (q.axis >= 0) {
    if (q.axis >= rank) return make_error(ErrorCode::kCorrupt, "quantization axis {} out of range for rank {}", q.axis, rank);
    expected = static_cast<size_t>(shape[q.axis]);
  }
  if (q.block_size > 0) {
    if (rank < 2 || q.axis != 0 || q.block_axis != 1)
      return make_error(ErrorCode::kCorrupt,
                        "per-group quantization needs axis 0 and block axis 1 on a tensor of rank >= 2, got axis {}, "
                        "block axis {}, rank {}",
                        q.axis, q.block_axis, rank);
    const GroupLayout layout = group_layout(shape, q.block_size);
    if (layout.rows != 0 && layout.groups > kMaxElements / layout.rows)
      return make_error(ErrorCode::kCorrupt, "per-group quantization of {} has too many groups", shape_str(shape));
    expected = static_cast<size_t>(layout.rows * layout.groups);
  } else if (q.block_size < 0 || q.block_axis != -1) {
    return make_error(ErrorCode::kCorrupt, "block axis set without a block size");
  }
  if (q.scales.size() != expected)
    return make_error(ErrorCode::kCorrupt, "{} quantization scales, expected {}", q.scales.size(), expected);
  for (float s : q.scales)
    if (!(std::isfinite(s) && s > 0)) return make_error(ErrorCode::kCorrupt, "quantization scale {} is not positive and finite", s);
  if (q.scale_dtype != DType::kF32 && q.scale_dtype != DType::kF16)
    return make_error(ErrorCode::kCorrupt, "quantization scales stored as {}; expected f32 or f16", dtype_name(q.scale_dtype));
  if (q.scale_dtype == DType::kF16)
    for (float s : q.scales)
      if (half_to_float(float_to_half(s)) != s)
        return make_error(ErrorCode::kCorrupt, "quantization scale {} is declared f16 but is not an f16 value", s);
  if (!q.zero_points.empty() && q.zero_points.size() != q.scales.size())
    return make_error(ErrorCode::kCorrupt, "{} zero points for {} scales", q.zero_points.size(), q.scales.size());
  int64_t lo = std::numeric_limits<int32_t>::min(), hi = std::numeric_limits<int32_t>::max();
  if (dtype == DType::kI8) lo = -128, hi = 127;
  else if (dtype == DType::kU8) lo = 0, hi = 255;
  else if (dtype == DType::kI4) lo = -8, hi = 7;
  else if (dtype != DType::kI32) return make_error(ErrorCode::kCorrupt, "dtype {} cannot be quantized", dtype_name(dtype));
  for (int32_t z : q.zero_points)
    if (z < lo || z > hi) return make_error(ErrorCode::kCorrupt, "zero point {} out of range for {}", z, dtype_name(dtype));
  return ok();
}

}  // namespace edgeloop::model

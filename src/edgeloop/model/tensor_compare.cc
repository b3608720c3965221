#include "edgeloop/model/tensor_compare.h"

#include <cmath>

#include "edgeloop/model/half.h"

namespace edgeloop::model {

double element_as_double(const TensorData& t, int64_t i) {
  const std::byte* p = t.bytes.data() + static_cast<size_t>(i) * element_size(t.dtype);
  switch (t.dtype) {
    case DType::kF32: return load_le<float>(p);
    case DType::kF16: return half_to_float(load_le<uint16_t>(p));
    case DType::kI8: return load_le<int8_t>(p);
    case DType::kU8: return load_le<uint8_t>(p);
    case DType::kI32: return load_le<int32_t>(p);
    case DType::kI64: return static_cast<double>(load_le<int64_t>(p));
    case DType::kBool: return load_le<uint8_t>(p) != 0;
    case DType::kI4: break;
  }
  return 0;
}

Comparison compare_tensors(const TensorData& got, const TensorData& want, double rtol, double atol) {
  Comparison c;
  if (got.dtype != want.dtype || got.shape != want.shape) {
    c.message = fmt::format("'{}' is {} {}, expected {} {}", want.name, dtype_name(got.dtype), shape_str(got.shape),
                            dtype_name(want.dtype), shape_str(want.shape));
    return c;
  }
  if (got.dtype == DType::kI4 || got.bytes.size() != want.bytes.size()) {
    c.message = fmt::format("'{}' cannot be compared element-wise", want.name);
    return c;
  }
  const int64_t n = want.elements();
  for (int64_t i = 0; i < n; ++i) {
    const double a = element_as_double(got, i), b = element_as_double(want, i);
    if (std::isnan(a) && std::isnan(b)) continue;
    const double diff = std::fabs(a - b);
    bool bad;
    if (std::isinf(a) || std::isinf(b)) bad = a != b;
    else {
      c.max_abs_diff = std::max(c.max_abs_diff, diff);
      if (b != 0) c.max_rel_diff = std::max(c.max_rel_diff, diff / std::fabs(b));
      bad = !(diff <= atol + rtol * std::fabs(b));
    }
    if (bad && c.mismatches++ == 0)
      c.message = fmt::format("'{}'[{}] = {}, expected {} (rtol {}, atol {})", want.name, i, a, b, rtol, atol);
  }
  if (c.mismatches > 1) c.message += fmt::format(" and {} more mismatches", c.mismatches - 1);
  c.ok = c.mismatches == 0;
  return c;
}

}  // namespace edgeloop::model

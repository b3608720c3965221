#include "edgeloop/runtime/quant_math.h"

#include <cmath>
#include <limits>

namespace edgeloop::runtime {

Result<FixedPointMultiplier> quantize_multiplier(double m) {
  if (!(m >= 0) || !std::isfinite(m))
    return make_error(ErrorCode::kInvalidArgument, "requantization multiplier {} must be finite and >= 0", m);
  if (m == 0 || m < std::ldexp(1.0, -32)) return FixedPointMultiplier{0, 1};
  int e = 0;
  const double f = std::frexp(m, &e);  // m = f · 2^e, f ∈ [0.5, 1)
  int64_t q = std::llround(f * 2147483648.0);
  if (q == int64_t{1} << 31) {
    q = int64_t{1} << 30;
    ++e;
  }
  const int shift = 31 - e;
  if (shift < 1)
    return make_error(ErrorCode::kUnsupported, "requantization multiplier {} too large (it must be below 2^30)", m);
  if (shift > 62) return FixedPointMultiplier{0, 1};
  return FixedPointMultiplier{static_cast<int32_t>(q), shift};
}

QuantRange quant_range(model::DType t) {
  switch (t) {
    case model::DType::kI8: return {-128, 127};
    case model::DType::kU8: return {0, 255};
    case model::DType::kI4: return {-8, 7};
    default: return {std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max()};
  }
}

}  // namespace edgeloop::runtime

// The arithmetic of the quantized kernels (docs/quantization.md, "Arithmetic of quantized
// kernels"): fixed-point requantization and rounding. The reference kernels, faster backends and
// the quantization toolchain all use these, so they compute bit-identical results.
#pragma once

#include <cmath>
#include <cstdint>

#include "edgeloop/base/error.h"
#include "edgeloop/model/dtype.h"

namespace edgeloop::runtime {

// A real multiplier m ≈ multiplier · 2^-shift, multiplier in [2^30, 2^31) and shift in [1, 62];
// {0, 1} stands for a multiplier too small to matter (m < 2^-32, or 0).
struct FixedPointMultiplier {
  int32_t multiplier = 0;
  int32_t shift = 1;
  bool operator==(const FixedPointMultiplier&) const = default;
};

// m ≥ 0 and finite. m == 0 or m < 2^-32: {0, 1}. Otherwise frexp(m) = f · 2^e, f ∈ [0.5, 1);
// multiplier = llround(f · 2^31) (when that is 2^31: 2^30 and e + 1); shift = 31 − e.
// m ≥ 2^30 (shift < 1) is refused with kUnsupported; shift > 62 gives {0, 1}.
Result<FixedPointMultiplier> quantize_multiplier(double m);

// (acc · multiplier + 2^(shift−1)) >> shift with an arithmetic (flooring) shift: acc · m rounded
// to nearest, ties toward +∞ (XNNPACK's "rndnu"). Fast kernels compute it in int64, which is exact
// for |acc| < 2^31. This version is exact for every int64 acc and saturates the result to the
// int32 range; every caller then adds a zero point and clamps to an 8-bit range, so the
// saturation never changes an output.
inline int64_t requantize(int64_t acc, FixedPointMultiplier f) {
  constexpr int64_t kLimit = int64_t{1} << 31;
  int64_t q = 0;
  if (acc > -kLimit && acc < kLimit) {
    q = (acc * f.multiplier + (int64_t{1} << (f.shift - 1))) >> f.shift;  // |product| < 2^62
  } else {
    __extension__ using Wide = __int128;  // exact product of any int64 by a 31-bit multiplier
    const Wide wide = (static_cast<Wide>(acc) * f.multiplier + (Wide{1} << (f.shift - 1))) >> f.shift;
    q = wide > INT32_MAX ? INT32_MAX : (wide < INT32_MIN ? INT32_MIN : static_cast<int64_t>(wide));
  }
  return q > INT32_MAX ? INT32_MAX : (q < INT32_MIN ? INT32_MIN : q);
}

// Round half to even, independent of the floating-point environment (std::nearbyint in the
// default rounding mode). NaN and ±inf stay as they are.
inline double round_half_to_even(double v) {
  if (!(std::fabs(v) < 0x1p52)) return v;              // from 2^52 on every double is an integer
  auto lower = static_cast<int64_t>(v);                // truncated toward zero: exact here
  if (static_cast<double>(lower) > v) --lower;         // floor
  const double diff = v - static_cast<double>(lower);  // exact, in [0, 1)
  if (diff > 0.5 || (diff == 0.5 && lower % 2 != 0)) ++lower;
  return static_cast<double>(lower);
}

// The stored range of a quantized dtype: i8 [−128, 127], u8 [0, 255], i4 [−8, 7], i32 its range.
struct QuantRange {
  int32_t lo = 0, hi = 0;
};
QuantRange quant_range(model::DType t);

inline int64_t clamp_to(int64_t v, QuantRange r) { return v < r.lo ? r.lo : (v > r.hi ? r.hi : v); }

// round_half_to_even(v) + zero_point, saturated to r (NaN gives the zero point). v is already in
// output units (e.g. x / scale).
inline int32_t quantize_rounded(double v, int32_t zero_point, QuantRange r) {
  if (std::isnan(v)) return zero_point;
  const double q = round_half_to_even(v) + zero_point;
  if (q <= r.lo) return r.lo;
  if (q >= r.hi) return r.hi;
  return static_cast<int32_t>(q);
}

// q(v) = clamp(round_half_to_even(v / scale) + zero_point, r) with the division in f32, as ONNX
// QuantizeLinear does: it decides which values are ties.
inline int32_t quantize_real(float v, float scale, int32_t zero_point, QuantRange r) {
  return quantize_rounded(static_cast<double>(v / scale), zero_point, r);
}

// The W4A8 arithmetic of one output element. With acc_g the exact integer sum of group g of the
// weight row (Σ (x − x_zero)·w over the group), in row order from sum = 0:
//   sum = w4a8_accumulate(sum, acc_g, scale_g)   i.e. fma((float)acc_g, scale_g, sum) in f32
//   y   = w4a8_output(sum, x_scale, bias, y_scale, y_zero)
//       = clamp(round_half_to_even(fma(sum, x_scale, bias) / y_scale) + y_zero, −128, 127)
inline float w4a8_accumulate(float sum, int64_t group_sum, float group_scale) {
  return std::fma(static_cast<float>(group_sum), group_scale, sum);
}
inline int8_t w4a8_output(float sum, float x_scale, float bias, float y_scale, int32_t y_zero) {
  return static_cast<int8_t>(quantize_real(std::fma(sum, x_scale, bias), y_scale, y_zero, {-128, 127}));
}

}  // namespace edgeloop::runtime

// The arithmetic of the quantized kernels (docs/quantization.md, "Arithmetic of quantized
// kernels"): fixed-point requantization and rounding. The reference kernels, faster backends and
// the quantization toolchain all use these, so they compute bit-identical results.
#pragma once

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
  __extension__ using Wide = __int128;  // exact product of any int64 by a 31-bit multiplier
  const Wide product = static_cast<Wide>(acc) * f.multiplier + (Wide{1} << (f.shift - 1));
  const Wide q = product >> f.shift;  // arithmetic shift: floor
  if (q > INT32_MAX) return INT32_MAX;
  if (q < INT32_MIN) return INT32_MIN;
  return static_cast<int64_t>(q);
}

// Round half to even, independent of the floating-point environment (std::nearbyint in the
// default rounding mode). ±inf stay ±inf.
double round_half_to_even(double v);

// The stored range of a quantized dtype: i8 [−128, 127], u8 [0, 255], i4 [−8, 7], i32 its range.
struct QuantRange {
  int32_t lo = 0, hi = 0;
};
QuantRange quant_range(model::DType t);

inline int64_t clamp_to(int64_t v, QuantRange r) { return v < r.lo ? r.lo : (v > r.hi ? r.hi : v); }

// round_half_to_even(v) + zero_point, saturated to r (NaN gives the zero point). v is already in
// output units (e.g. x / scale).
int32_t quantize_rounded(double v, int32_t zero_point, QuantRange r);

// q(v) = clamp(round_half_to_even(v / scale) + zero_point, r) with the division in f32, as ONNX
// QuantizeLinear does: it decides which values are ties.
inline int32_t quantize_real(float v, float scale, int32_t zero_point, QuantRange r) {
  return quantize_rounded(static_cast<double>(v / scale), zero_point, r);
}

}  // namespace edgeloop::runtime

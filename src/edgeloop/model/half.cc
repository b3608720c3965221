#include "edgeloop/model/half.h"

#include <bit>

namespace edgeloop::model {

namespace {

// Shifts `value` right by `shift` (1..31) bits, rounding the dropped bits to nearest, ties to even.
uint32_t shift_right_round_even(uint32_t value, uint32_t shift) {
  const uint32_t kept = value >> shift;
  const uint32_t dropped = value & ((uint32_t{1} << shift) - 1);
  const uint32_t halfway = uint32_t{1} << (shift - 1);
  if (dropped > halfway || (dropped == halfway && (kept & 1u) != 0)) return kept + 1;
  return kept;
}

}  // namespace

uint16_t float_to_half(float x) {
  const uint32_t bits = std::bit_cast<uint32_t>(x);
  const uint32_t sign = (bits >> 16) & 0x8000u;
  const uint32_t magnitude = bits & 0x7fffffffu;

  if (magnitude >= 0x7f800000u) {  // infinity or NaN
    if (magnitude == 0x7f800000u) return static_cast<uint16_t>(sign | 0x7c00u);
    // Quiet NaN: the quiet bit guarantees a non-zero mantissa whatever payload bits survive.
    return static_cast<uint16_t>(sign | 0x7e00u | ((magnitude >> 13) & 0x03ffu));
  }
  // 65520 is halfway between the largest half (65504, odd mantissa) and 2^16: it and anything
  // above round to infinity.
  if (magnitude >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);

  if (magnitude >= 0x38800000u) {  // >= 2^-14: a normal half
    // Rebias the exponent (127 -> 15) and drop 13 mantissa bits. A carry out of the mantissa
    // correctly bumps the exponent; it cannot reach infinity because of the check above.
    const uint32_t rebiased = magnitude - ((127u - 15u) << 23);
    return static_cast<uint16_t>(sign | shift_right_round_even(rebiased, 13));
  }
  // Below 2^-14: a half subnormal m * 2^-24 (or zero). At or below 2^-25 (halfway between zero
  // and the smallest subnormal) it rounds to zero, ties to even.
  if (magnitude <= 0x33000000u) return static_cast<uint16_t>(sign);
  const uint32_t exponent = magnitude >> 23;                      // 102..112 here
  const uint32_t significand = (magnitude & 0x007fffffu) | 0x00800000u;  // value = significand * 2^(exponent-150)
  // In units of 2^-24: significand * 2^(exponent - 126), a right shift by 126 - exponent (14..24).
  // Rounding up from the largest subnormal yields 0x400, the smallest normal: also correct.
  return static_cast<uint16_t>(sign | shift_right_round_even(significand, 126u - exponent));
}

float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1fu;
  uint32_t mantissa = h & 0x03ffu;

  if (exponent == 0x1fu)  // infinity or NaN: payload kept in the top mantissa bits
    return std::bit_cast<float>(sign | 0x7f800000u | (mantissa << 13));
  if (exponent != 0) return std::bit_cast<float>(sign | ((exponent + 127u - 15u) << 23) | (mantissa << 13));
  if (mantissa == 0) return std::bit_cast<float>(sign);
  // Subnormal m * 2^-24: normalize so the leading one becomes the implicit bit.
  uint32_t float_exponent = 127u - 15u + 1u;  // exponent of 2^-14, the subnormal scale
  while ((mantissa & 0x0400u) == 0) {
    mantissa <<= 1;
    --float_exponent;
  }
  return std::bit_cast<float>(sign | (float_exponent << 23) | ((mantissa & 0x03ffu) << 13));
}

}  // namespace edgeloop::model

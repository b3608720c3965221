// The fixed-point requantization arithmetic against hand-derived values (docs/quantization.md,
// "Arithmetic of quantized kernels").
#include "edgeloop/runtime/quant_math.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>

namespace edgeloop::runtime {
namespace {

FixedPointMultiplier multiplier_of(double m) {
  auto f = quantize_multiplier(m);
  EXPECT_TRUE(f.has_value()) << f.error().message;
  return f.value_or(FixedPointMultiplier{});
}

TEST(QuantizeMultiplier, HandDerivedValues) {
  // 0.5 = 0.5 · 2^0: 2^30 · 2^-31.
  EXPECT_EQ(multiplier_of(0.5), (FixedPointMultiplier{1 << 30, 31}));
  // 1 = 0.5 · 2^1: shift 30.
  EXPECT_EQ(multiplier_of(1.0), (FixedPointMultiplier{1 << 30, 30}));
  // 0.75 = 0.75 · 2^0: 0.75 · 2^31 = 3 · 2^29.
  EXPECT_EQ(multiplier_of(0.75), (FixedPointMultiplier{3 << 29, 31}));
  // 0.1: frexp 0.8 · 2^-3, llround(0.8 · 2^31) = 1717986918 (0.8 · 2^31 = 1717986918.4).
  EXPECT_EQ(multiplier_of(0.1), (FixedPointMultiplier{1717986918, 34}));
  // 2^29 is the largest power of two accepted: shift 1.
  EXPECT_EQ(multiplier_of(std::ldexp(1.0, 29)), (FixedPointMultiplier{1 << 30, 1}));
  // The smallest non-zero multiplier: 2^-32 = 0.5 · 2^-31, shift 62.
  EXPECT_EQ(multiplier_of(std::ldexp(1.0, -32)), (FixedPointMultiplier{1 << 30, 62}));
}

TEST(QuantizeMultiplier, MantissaRoundingUpToTwoToThe31CarriesIntoTheExponent) {
  // f = 1 − 2^-40 rounds to 2^31 at 31 bits: becomes 2^30 with e + 1, i.e. exactly 1.0.
  EXPECT_EQ(multiplier_of(1.0 - std::ldexp(1.0, -40)), multiplier_of(1.0));
  // 0.5 − 2^-40 (f just below 1, e = −1): 2^30 · 2^-31 = 0.5.
  EXPECT_EQ(multiplier_of(0.5 - std::ldexp(1.0, -40)), (FixedPointMultiplier{1 << 30, 31}));
}

TEST(QuantizeMultiplier, ZeroAndTinyMultipliersBecomeZero) {
  EXPECT_EQ(multiplier_of(0.0), (FixedPointMultiplier{0, 1}));
  EXPECT_EQ(multiplier_of(std::ldexp(1.0, -33)), (FixedPointMultiplier{0, 1}));
  EXPECT_EQ(multiplier_of(std::ldexp(1.0, -32) * 0.999), (FixedPointMultiplier{0, 1}));
  EXPECT_EQ(multiplier_of(std::numeric_limits<double>::denorm_min()), (FixedPointMultiplier{0, 1}));
  EXPECT_EQ(requantize(123456789, FixedPointMultiplier{0, 1}), 0);
  EXPECT_EQ(requantize(-123456789, FixedPointMultiplier{0, 1}), 0);
}

TEST(QuantizeMultiplier, RefusesTooLargeNegativeAndNonFinite) {
  for (double m : {std::ldexp(1.0, 30), std::ldexp(1.0, 30) * 1.5, std::ldexp(1.0, 30) - std::ldexp(1.0, -3), 1e300}) {
    auto f = quantize_multiplier(m);
    ASSERT_FALSE(f.has_value()) << m;
    EXPECT_EQ(f.error().code, ErrorCode::kUnsupported);
    EXPECT_NE(f.error().message.find("too large"), std::string::npos) << f.error().message;
  }
  // Just below 2^30 by more than the 31-bit rounding: shift 1.
  EXPECT_TRUE(quantize_multiplier(std::ldexp(1.0, 30) - 1.0).has_value());
  for (double m : {-0.5, std::nan(""), std::numeric_limits<double>::infinity()}) {
    auto f = quantize_multiplier(m);
    ASSERT_FALSE(f.has_value()) << m;
    EXPECT_EQ(f.error().code, ErrorCode::kInvalidArgument);
  }
}

TEST(Requantize, TiesRoundTowardPositiveInfinity) {
  const FixedPointMultiplier half = multiplier_of(0.5);
  // acc · 0.5: 0.5 → 1, 1.5 → 2, 2.5 → 3 (not to even), −0.5 → 0, −1.5 → −1, −2.5 → −2.
  EXPECT_EQ(requantize(1, half), 1);
  EXPECT_EQ(requantize(3, half), 2);
  EXPECT_EQ(requantize(5, half), 3);
  EXPECT_EQ(requantize(-1, half), 0);
  EXPECT_EQ(requantize(-3, half), -1);
  EXPECT_EQ(requantize(-5, half), -2);
  EXPECT_EQ(requantize(4, half), 2);
  EXPECT_EQ(requantize(-4, half), -2);
  EXPECT_EQ(requantize(0, half), 0);
  // acc · 0.25: 0.75 → 1, −0.75 → −1, 0.25 → 0, −0.25 → 0, −1.25 → −1.
  const FixedPointMultiplier quarter = multiplier_of(0.25);
  EXPECT_EQ(requantize(3, quarter), 1);
  EXPECT_EQ(requantize(-3, quarter), -1);
  EXPECT_EQ(requantize(1, quarter), 0);
  EXPECT_EQ(requantize(-1, quarter), 0);
  EXPECT_EQ(requantize(-5, quarter), -1);
  EXPECT_EQ(requantize(-6, quarter), -1);  // −1.5 → −1
  EXPECT_EQ(requantize(6, quarter), 2);    // 1.5 → 2
}

TEST(Requantize, MatchesTheStatedIntegerFormula) {
  // (acc · M + 2^(shift−1)) >> shift in int64, for |acc| < 2^31 and random multipliers.
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<int64_t> accs(-(int64_t{1} << 31) + 1, (int64_t{1} << 31) - 1);
  std::uniform_real_distribution<double> exps(-30, 5);
  for (int i = 0; i < 20000; ++i) {
    const FixedPointMultiplier f = multiplier_of(std::exp2(exps(rng)));
    const int64_t acc = accs(rng);
    int64_t expected = (acc * f.multiplier + (int64_t{1} << (f.shift - 1))) >> f.shift;
    expected = std::clamp<int64_t>(expected, INT32_MIN, INT32_MAX);
    ASSERT_EQ(requantize(acc, f), expected) << acc << " " << f.multiplier << " " << f.shift;
  }
}

TEST(Requantize, IsExactBeyondThirtyOneBitsAndSaturatesToInt32) {
  // 2^40 · 2^-20 = 2^20: the product 2^40 · 2^30 would overflow int64.
  EXPECT_EQ(requantize(int64_t{1} << 40, multiplier_of(std::ldexp(1.0, -20))), int64_t{1} << 20);
  EXPECT_EQ(requantize(-(int64_t{1} << 40) - (int64_t{1} << 19), multiplier_of(std::ldexp(1.0, -20))),
            -(int64_t{1} << 20));  // −2^20 − 0.5 → −2^20 (tie toward +∞)
  EXPECT_EQ(requantize(int64_t{1} << 40, multiplier_of(1.0)), INT32_MAX);
  EXPECT_EQ(requantize(-(int64_t{1} << 40), multiplier_of(1.0)), INT32_MIN);
}

TEST(RoundHalfToEven, TiesGoToTheEvenNeighbour) {
  EXPECT_EQ(round_half_to_even(0.5), 0);
  EXPECT_EQ(round_half_to_even(1.5), 2);
  EXPECT_EQ(round_half_to_even(2.5), 2);
  EXPECT_EQ(round_half_to_even(-0.5), 0);
  EXPECT_EQ(round_half_to_even(-1.5), -2);
  EXPECT_EQ(round_half_to_even(-2.5), -2);
  EXPECT_EQ(round_half_to_even(2.5000001), 3);
  EXPECT_EQ(round_half_to_even(std::numeric_limits<double>::infinity()), std::numeric_limits<double>::infinity());
}

TEST(QuantizeReal, DividesInFloatRoundsToEvenAndSaturates) {
  const QuantRange i8 = quant_range(model::DType::kI8), u8 = quant_range(model::DType::kU8);
  EXPECT_EQ(i8.lo, -128);
  EXPECT_EQ(i8.hi, 127);
  EXPECT_EQ(u8.lo, 0);
  EXPECT_EQ(u8.hi, 255);
  EXPECT_EQ(quant_range(model::DType::kI4).lo, -8);
  EXPECT_EQ(quantize_real(1.f, 2.f, 0, i8), 0);    // 0.5 → 0
  EXPECT_EQ(quantize_real(3.f, 2.f, 0, i8), 2);    // 1.5 → 2
  EXPECT_EQ(quantize_real(5.f, 2.f, 10, i8), 12);  // 2.5 → 2, + 10
  EXPECT_EQ(quantize_real(1000.f, 1.f, 0, i8), 127);
  EXPECT_EQ(quantize_real(-1000.f, 1.f, 3, u8), 0);
  EXPECT_EQ(quantize_real(std::nanf(""), 1.f, 7, u8), 7);
  // 0.7f / 0.2f is exactly 3.5 in f32 (→ 4) but 3.4999999 in double (→ 3): f32 division decides.
  EXPECT_EQ(quantize_real(0.7f, 0.2f, 0, i8), 4);
}

}  // namespace
}  // namespace edgeloop::runtime

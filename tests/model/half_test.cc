#include "edgeloop/model/half.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

namespace edgeloop::model {
namespace {

// Independent value of a half bit pattern, straight from the IEEE 754 definition.
double half_value(uint16_t h) {
  const int sign = (h & 0x8000) ? -1 : 1;
  const int exponent = (h >> 10) & 0x1f;
  const int mantissa = h & 0x3ff;
  if (exponent == 0x1f) return mantissa ? std::numeric_limits<double>::quiet_NaN() : sign * INFINITY;
  if (exponent == 0) return sign * std::ldexp(mantissa, -24);
  return sign * std::ldexp(1024 + mantissa, exponent - 25);
}

// Independent float -> half for finite x: round |x| in units of the half ulp at its binade with
// rint (the default rounding mode is to nearest, ties to even), then encode.
uint16_t oracle_float_to_half(float x) {
  const uint16_t sign = std::signbit(x) ? 0x8000 : 0;
  const double a = std::fabs(static_cast<double>(x));
  if (a >= 65520.0) return sign | 0x7c00;
  const int binade = a == 0 ? -14 : std::max(std::ilogb(a), -14);
  const double ulp = std::ldexp(1.0, binade - 10);
  const double units = std::rint(a / ulp);  // exact division: ulp is a power of two
  const double rounded = units * ulp;
  if (rounded < std::ldexp(1.0, -14)) return sign | static_cast<uint16_t>(rounded / std::ldexp(1.0, -24));
  const int e = std::ilogb(rounded);  // may be binade + 1 after rounding up
  const auto m = static_cast<uint16_t>(rounded / std::ldexp(1.0, e - 10) - 1024);
  return sign | static_cast<uint16_t>((e + 15) << 10) | m;
}

bool is_half_nan(uint16_t h) { return (h & 0x7c00) == 0x7c00 && (h & 0x3ff) != 0; }

TEST(Half, EveryHalfConvertsToItsExactValue) {
  for (uint32_t i = 0; i <= 0xffff; ++i) {
    const auto h = static_cast<uint16_t>(i);
    const float f = half_to_float(h);
    if (is_half_nan(h)) {
      EXPECT_TRUE(std::isnan(f)) << std::hex << i;
      EXPECT_EQ(std::signbit(f), (h & 0x8000) != 0) << std::hex << i;
    } else {
      EXPECT_EQ(static_cast<double>(f), half_value(h)) << std::hex << i;
      EXPECT_EQ(std::signbit(f), (h & 0x8000) != 0) << std::hex << i;  // -0 stays -0
    }
  }
}

TEST(Half, EveryHalfRoundTripsThroughFloat) {
  for (uint32_t i = 0; i <= 0xffff; ++i) {
    const auto h = static_cast<uint16_t>(i);
    const uint16_t back = float_to_half(half_to_float(h));
    if (is_half_nan(h)) {
      EXPECT_TRUE(is_half_nan(back)) << std::hex << i;
      EXPECT_EQ(back & 0x8000, h & 0x8000) << std::hex << i;
      EXPECT_EQ(back & 0x1ff, h & 0x1ff) << std::hex << i;  // payload below the quiet bit survives
    } else {
      EXPECT_EQ(back, h) << std::hex << i;
    }
  }
}

TEST(Half, HandPickedRounding) {
  EXPECT_EQ(float_to_half(0.f), 0x0000);
  EXPECT_EQ(float_to_half(-0.f), 0x8000);
  EXPECT_EQ(float_to_half(1.f), 0x3c00);
  EXPECT_EQ(float_to_half(-2.f), 0xc000);
  EXPECT_EQ(float_to_half(0.5f), 0x3800);
  EXPECT_EQ(float_to_half(65504.f), 0x7bff);  // largest finite half
  EXPECT_EQ(float_to_half(65519.f), 0x7bff);  // just under the halfway point to 2^16
  EXPECT_EQ(float_to_half(65520.f), 0x7c00);  // halfway, ties to even: rounds to infinity
  EXPECT_EQ(float_to_half(1e10f), 0x7c00);
  EXPECT_EQ(float_to_half(-1e10f), 0xfc00);
  EXPECT_EQ(float_to_half(INFINITY), 0x7c00);
  EXPECT_EQ(float_to_half(-INFINITY), 0xfc00);
  EXPECT_TRUE(is_half_nan(float_to_half(std::numeric_limits<float>::quiet_NaN())));
  // A signalling NaN whose payload lives only in the low bits must not become infinity.
  EXPECT_TRUE(is_half_nan(float_to_half(std::bit_cast<float>(0x7f800001u))));
  EXPECT_EQ(float_to_half(std::bit_cast<float>(0xffc00000u)) & 0x8000, 0x8000);

  // Between 1 and 1 + 2^-10 (the next half): the midpoint ties to even (down to 1), just above
  // rounds up. Between 1 + 2^-10 and 1 + 2^-9 the midpoint ties up to the even 1 + 2^-9.
  EXPECT_EQ(float_to_half(1.f + std::ldexp(1.f, -11)), 0x3c00);
  EXPECT_EQ(float_to_half(std::nextafter(1.f + std::ldexp(1.f, -11), 2.f)), 0x3c01);
  EXPECT_EQ(float_to_half(1.f + 3 * std::ldexp(1.f, -11)), 0x3c02);
  EXPECT_EQ(float_to_half(2047.f), 0x67ff);  // exact
  EXPECT_EQ(float_to_half(2049.f), 0x6800);  // tie between 2048 and 2050: to even 2048
  EXPECT_EQ(float_to_half(2051.f), 0x6802);  // tie between 2050 and 2052: to even 2052
  // Mantissa carry into the exponent: 2 - 2^-12 rounds up to 2.
  EXPECT_EQ(float_to_half(2.f - std::ldexp(1.f, -12)), 0x4000);

  // Subnormals: m * 2^-24.
  EXPECT_EQ(float_to_half(std::ldexp(1.f, -24)), 0x0001);
  EXPECT_EQ(float_to_half(std::ldexp(1.f, -25)), 0x0000);  // tie between 0 and 2^-24: to even 0
  EXPECT_EQ(float_to_half(-std::ldexp(1.f, -25)), 0x8000);
  EXPECT_EQ(float_to_half(std::nextafter(std::ldexp(1.f, -25), 1.f)), 0x0001);
  EXPECT_EQ(float_to_half(3 * std::ldexp(1.f, -25)), 0x0002);  // 1.5 units: tie to even 2
  EXPECT_EQ(float_to_half(5 * std::ldexp(1.f, -25)), 0x0002);  // 2.5 units: tie to even 2
  EXPECT_EQ(float_to_half(std::ldexp(1.f, -30)), 0x0000);
  EXPECT_EQ(float_to_half(1e-45f), 0x0000);  // float subnormal
  EXPECT_EQ(float_to_half(1023 * std::ldexp(1.f, -24)), 0x03ff);  // largest subnormal
  EXPECT_EQ(float_to_half(1023.5f * std::ldexp(1.f, -24)), 0x0400);  // rounds up to the smallest normal
  EXPECT_EQ(float_to_half(std::ldexp(1.f, -14)), 0x0400);
  EXPECT_EQ(half_to_float(0x0001), std::ldexp(1.f, -24));
  EXPECT_EQ(half_to_float(0x03ff), 1023 * std::ldexp(1.f, -24));
  EXPECT_EQ(half_to_float(0x7bff), 65504.f);
  EXPECT_EQ(half_to_float(0xfc00), -INFINITY);
}

TEST(Half, EveryMidpointBetweenAdjacentHalvesAndItsNeighboursRoundsLikeTheOracle) {
  // Midpoints between consecutive non-negative finite halves are floats; so are their neighbours.
  for (uint32_t h = 0; h < 0x7bff; ++h) {
    const double mid = (half_value(static_cast<uint16_t>(h)) + half_value(static_cast<uint16_t>(h + 1))) / 2;
    const auto m = static_cast<float>(mid);
    ASSERT_EQ(static_cast<double>(m), mid);
    for (float x : {m, std::nextafter(m, 0.f), std::nextafter(m, INFINITY)}) {
      EXPECT_EQ(float_to_half(x), oracle_float_to_half(x)) << x;
      EXPECT_EQ(float_to_half(-x), oracle_float_to_half(-x)) << -x;
    }
    const uint16_t expected_tie = (h & 1) ? static_cast<uint16_t>(h + 1) : static_cast<uint16_t>(h);
    EXPECT_EQ(float_to_half(m), expected_tie) << m;
  }
}

TEST(Half, SampledFloatsMatchTheOracle) {
  // A prime stride over all 2^32 bit patterns reaches every exponent and many mantissas.
  for (uint64_t bits = 0; bits <= 0xffffffffu; bits += 1021) {
    const float x = std::bit_cast<float>(static_cast<uint32_t>(bits));
    if (std::isnan(x)) {
      EXPECT_TRUE(is_half_nan(float_to_half(x)));
    } else if (std::isinf(x)) {
      EXPECT_EQ(float_to_half(x), x > 0 ? 0x7c00 : 0xfc00);
    } else {
      ASSERT_EQ(float_to_half(x), oracle_float_to_half(x)) << std::hexfloat << x;
    }
  }
}

}  // namespace
}  // namespace edgeloop::model

// IEEE 754 binary16 ("half", DType::kF16) <-> binary32 conversion, portable and exact: the
// loader, Cast and the f16 kernels widen with half_to_float and narrow with float_to_half.
#pragma once

#include <cstdint>

namespace edgeloop::model {

// Rounds to the nearest half, ties to even. Handles subnormals (results below 2^-14 become
// half subnormals, and values at or below 2^-25 round to a signed zero), overflow (|x| >= 65520
// becomes infinity), infinities, and NaN (stays a quiet NaN of the same sign, keeping the top
// payload bits).
uint16_t float_to_half(float x);

// Exact: every half value, subnormals included, is representable as a float.
float half_to_float(uint16_t h);

}  // namespace edgeloop::model

// Internal to the x86 W4A8 kernels: what w4a8_gemm.cc hands to the ISA-specific files.
//
// Those files are compiled with -mavx2/-mavx512*; any inline function or template they emit
// (a standard-library helper, an inline member) is a weak symbol the linker may pick for the whole
// program, which would then fault on a CPU without the extension. So this interface is plain data
// and free functions, and the ISA files include nothing but this header and the intrinsics.
#pragma once

#include <cstdint>

namespace edgeloop::runtime::x86::detail {

// Rows of x converted to u8 (x + 128) per tile; the scratch holds this many rows.
inline constexpr int kMaxTileRows = 4;

struct W4A8Call {
  // Packed weights (w4a8_gemm.h for the layout).
  const uint8_t* nibbles;
  const float* scales;   // [blocks][groups][2L]
  const int32_t* sums;   // Σw, [blocks][groups][2L]
  int64_t n, k, group, groups;
  int64_t quads_full, quads_last, panel_bytes;
  // The call.
  const int8_t* x;
  int64_t m, x_stride;
  float x_scale;
  int32_t x_zero;
  float y_scale;
  int32_t y_zero;
  const float* bias;  // [n] or null
  int8_t* y;
  int64_t y_row_stride, y_col_stride;
  // kMaxTileRows rows of scratch_row_bytes ≥ k + 4 bytes each: a tile's rows of x as u8, padded
  // so the last quad of a row may read 3 bytes past k (their weights are zero).
  uint8_t* scratch;
  int64_t scratch_row_bytes;
};

void w4a8_gemm_avx2(const W4A8Call& call);        // L = 8
void w4a8_gemm_avx512vnni(const W4A8Call& call);  // L = 16

}  // namespace edgeloop::runtime::x86::detail

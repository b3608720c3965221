// Internal to the x86 W8A8 kernels: what w8a8_gemm.cc hands to the ISA-specific files.
//
// Those files are compiled with -mavx2/-mavx512*; any inline function or template they emit
// (a standard-library helper, an inline member) is a weak symbol the linker may pick for the whole
// program, which would then fault on a CPU without the extension. So this interface is plain data
// and free functions, and the ISA files include nothing but this header and the intrinsics.
#pragma once

#include <cstdint>

namespace edgeloop::runtime::x86::detail {

// Rows of x per tile; the scratch holds this many rows.
inline constexpr int kMaxW8A8TileRows = 8;

struct W8A8Call {
  // Packed weights (w8a8_gemm.h for the layouts) and per-channel tables, [blocks · block] each.
  const int8_t* weights;
  const int32_t* sums;        // Σ_k w[j][k]
  const int32_t* bias;        // 0 when the weights came without bias
  const int32_t* multiplier;  // FixedPointMultiplier::multiplier
  const int32_t* shift;       // FixedPointMultiplier::shift, in [1, 62]
  int64_t n, k;
  int64_t steps;        // quads (vnni) or pairs (avx2) per row
  int64_t panel_bytes;  // weight bytes of one block
  // The call.
  const int8_t* x;
  int64_t m, x_stride;
  int32_t x_zero, y_zero, y_min, y_max;
  int8_t* y;
  int64_t y_row_stride, y_col_stride;
  // kMaxW8A8TileRows rows of scratch_row_bytes each: a tile's rows of x as the kernel reads them
  // (vnni: u8, zero-padded to a whole quad; avx2: int16 x − x_zero, zero-padded to a whole pair).
  uint8_t* scratch;
  int64_t scratch_row_bytes;
};

void w8a8_gemm_avx2(const W8A8Call& call);        // blocks of 16 channels
void w8a8_gemm_avx512vnni(const W8A8Call& call);  // blocks of 32 channels

}  // namespace edgeloop::runtime::x86::detail

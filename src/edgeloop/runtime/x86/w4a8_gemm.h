// W4A8 matrix products on x86: int4 weights in groups (f32 scale per group), int8 activations,
// int8 outputs, bit-identical to the reference kernels (runtime/reference/nn.cc, run_w4a8_gemm and
// run_w4a8_conv). One kernel family per ISA (portable, AVX2, AVX-512 VNNI; cpu_features.h), chosen
// when the weights are packed. Pure functions: no state besides the packed weights, which are
// read-only after packing, so concurrent calls (e.g. threads on disjoint row ranges) are safe.
//
// Arithmetic contract (docs/quantization.md, "W4A8 Conv and Gemm"; quant_math.h): for output row
// m and channel n, with acc_g the exact integer Σ (x[m][k] − x_zero) · w[n][k] over group g,
//   sum = 0.f;  for g in order: sum = fmaf((float)acc_g, scale[n][g], sum)     (w4a8_accumulate)
//   y[m][n] = clamp(round_half_even(fmaf(sum, x_scale, bias[n]) / y_scale) + y_zero, −128, 127)
// with the division in f32 and NaN giving y_zero (w4a8_output). The vector kernels compute acc_g
// as Σ x_u8·w − (x_zero + 128)·Σw with x_u8 = x + 128 (vpdpbusd and vpmaddubsw multiply u8 by s8);
// Σw per group is packed with the weights.
//
// Packed layout (L = 16 lanes for avx512vnni, 8 for avx2 and portable): output channels in blocks
// of 2L (the last block padded with zero weights); per block, group after group, each group's
// reduction cut into quads of 4 consecutive k (the last quad of a group zero-padded). A quad is
// 4L bytes: byte j holds w[c0 + j/4][k0 + j%4] in its low nibble and w[c0 + L + j/4][k0 + j%4] in
// its high nibble, so one load and two nibble lookups give the s8 operands for two vectors of L
// channels, and int32 lane i of a product sums the 4 products of channel i. Beside the nibbles:
// the f32 scale and the int32 Σw of every (block, group, channel).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "edgeloop/base/error.h"
#include "edgeloop/runtime/x86/cpu_features.h"

namespace edgeloop::runtime::x86 {

// Groups are at most 2^20 weights long, as in the reference: |x − x_zero| ≤ 255 and |w| ≤ 8 keep
// every group sum (and Σ x_u8·w) inside int32.
inline constexpr int64_t kMaxW4A8Group = int64_t{1} << 20;

struct W4A8Quant;

// W4A8 weights packed once, at load, for one ISA: N output channels × K reduction.
class W4A8Weights {
 public:
  Isa isa() const { return isa_; }
  int64_t n() const { return n_; }
  int64_t k() const { return k_; }
  int64_t group() const { return group_; }
  int64_t groups() const { return groups_; }  // per row: ceil(k / group)
  // Bytes held by the packed form (nibbles, scales, weight sums), for memory budgets.
  size_t packed_bytes() const { return bytes_; }

 private:
  struct Free {
    void operator()(std::byte* p) const noexcept;
  };
  friend Result<W4A8Weights> pack_w4a8(std::span<const std::byte>, std::span<const float>, int64_t, int64_t, int64_t,
                                       Isa);
  friend void w4a8_gemm(const W4A8Weights&, const int8_t*, int64_t, int64_t, const W4A8Quant&, int8_t*, int64_t,
                        int64_t);

  Isa isa_ = Isa::kPortable;
  int64_t n_ = 0, k_ = 0, group_ = 0, groups_ = 0;
  int64_t lanes_ = 0;        // L above
  int64_t blocks_ = 0;       // ceil(n / 2L)
  int64_t quads_full_ = 0;   // quads of a full group: ceil(group / 4)
  int64_t quads_last_ = 0;   // quads of the last group of a row
  int64_t panel_bytes_ = 0;  // nibble bytes of one block
  size_t bytes_ = 0;
  // One 64-byte aligned allocation: nibbles [blocks][panel_bytes], then scales f32 and weight sums
  // int32, each [blocks][groups][2L].
  std::unique_ptr<std::byte[], Free> storage_;
  size_t scales_offset_ = 0, sums_offset_ = 0;
};

// Packs W4A8 weights for `isa`. `i4`: int4 in the IR layout (row-major [n][k], element i at
// model::load_i4(i4, i)), at least ceil(n·k / 2) bytes. `scales`: [n][ceil(k / group)] f32 (an
// artifact's f16 scales widened by the caller). Refused: n, k or group < 1, group > kMaxW4A8Group,
// n·k above model::kMaxElements, short i4 or scales of the wrong length (kInvalidArgument); an ISA
// this CPU cannot run (kUnsupported), since the layout is the ISA's and calls would fault.
Result<W4A8Weights> pack_w4a8(std::span<const std::byte> i4, std::span<const float> scales, int64_t n, int64_t k,
                              int64_t group, Isa isa);

// The per-tensor quantization of one call. bias: [n] f32, or null for 0.
struct W4A8Quant {
  float x_scale = 1.f;
  int32_t x_zero = 0;  // [−128, 127]
  float y_scale = 1.f;
  int32_t y_zero = 0;  // [−128, 127]
  const float* bias = nullptr;
};

// y[i·y_row_stride + j·y_col_stride] for i in [0, m), j in [0, w.n()): row i of x (int8, x_stride
// apart, w.k() each: one Gemm row or one im2col patch, whose padded taps must hold x_zero) times
// the weights. y_col_stride == 1 (NHWC / Gemm) is the fast layout; y_row_stride == 1 with
// y_col_stride == M (NCHW conv output, y[channel][pixel]) goes through a transposing tile store.
// Preconditions (asserted in debug builds): m ≥ 0, x_stride ≥ k, strides ≥ 1, zero points in
// [−128, 127]. To split rows across threads, call it on disjoint row ranges (x and y offset by
// the first row). Each call has its own scratch (4 rows of x as u8: on the stack up to k ≈ 2000,
// else on the heap).
void w4a8_gemm(const W4A8Weights& w, const int8_t* x, int64_t m, int64_t x_stride, const W4A8Quant& q, int8_t* y,
               int64_t y_row_stride, int64_t y_col_stride);

}  // namespace edgeloop::runtime::x86

// W8A8 matrix products on x86: int8 weights per output channel (symmetric, zero point 0), int8
// activations, int32 accumulation and fixed-point requantization, bit-identical to the reference
// W8A8 kernels with requantize = "fixed_point" (runtime/reference/nn.cc, run_quantized_gemm and
// run_quantized_conv; docs/quantization.md, "W8A8 Conv, Gemm, MatMul"). One kernel family per ISA
// (portable, AVX2, AVX-512 VNNI; cpu_features.h), chosen when the weights are packed. Pure
// functions: no state besides the packed weights, read-only after packing, so concurrent calls
// (threads on disjoint row ranges) are safe.
//
// Arithmetic contract, for output row i and channel j (quant_math.h):
//   acc     = Σ_k (x[i][k] − x_zero) · w[j][k] + bias[j]                     exact integer
//   y[i][j] = clamp(requantize(acc, multiplier[j]) + y_zero, y_min, y_max)
// requantize = (acc · M + 2^(shift−1)) >> shift, arithmetic shift (ties toward +∞), saturated to
// int32. The kernels compute acc in int32 (two's complement wrap-around for the intermediate sums,
// which leaves the final value exact whenever it fits), the product in int64 (exact: |acc| < 2^31,
// M < 2^31), and clamp the shifted 64-bit value straight to [y_min − y_zero, y_max − y_zero],
// which gives the same output as saturating to int32 first.
//
// Exactness bound, checked at pack time: every channel must satisfy
//   255 · Σ_k |w[j][k]| + |bias[j]| ≤ 2^31 − 1
// (|x − x_zero| ≤ 255), so that |acc| < 2^31 for every input. With |w| ≤ 128 and no bias that
// holds for every K ≤ 65 793 whatever the weights; real layers (K ≤ a few thousand) are far
// inside. Weights beyond it are refused with kUnsupported (the reference, which accumulates in
// int64, has no such limit: run those nodes there).
//
// The AVX-512 VNNI kernel multiplies with vpdpbusd (u8 × s8): Σ(x − x_zero)·w = Σ x_u8·w −
// (x_zero + 128)·Σw with x_u8 = x ^ 0x80 = x + 128, Σw per channel packed with the weights;
// vpdpbusd (not vpdpbusds) wraps, so only the final value must fit, as above. The AVX2 kernel does
// not use vpmaddubsw (a pair of u8 × s8 products can exceed int16 and saturate): it sign-extends
// x − x_zero and w to int16 and multiplies with vpmaddwd (|pair| ≤ 2 · 255 · 128, exact in int32).
//
// Packed layouts (N padded with zero weights to whole blocks; per channel tables padded too):
//   avx512vnni: blocks of 32 channels; per block, quads of 4 consecutive k (the last zero-padded),
//               each quad 128 bytes: byte 4c + t = w[c0 + c][4q + t].
//   avx2:       blocks of 16 channels; per block, pairs of k (the last zero-padded), each pair
//               32 bytes: byte 2c + t = w[c0 + c][2p + t].
//   portable:   w as given, row-major [n][k].
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "edgeloop/base/error.h"
#include "edgeloop/runtime/quant_math.h"
#include "edgeloop/runtime/x86/cpu_features.h"

namespace edgeloop::runtime::x86 {

struct W8A8Quant;

// W8A8 weights packed once, at load, for one ISA: N output channels × K reduction, with their
// bias, Σw and fixed-point multipliers per channel.
class W8A8Weights {
 public:
  Isa isa() const { return isa_; }
  int64_t n() const { return n_; }
  int64_t k() const { return k_; }
  // Bytes held by the packed form (weights and per-channel tables), for memory budgets.
  size_t packed_bytes() const { return bytes_; }

 private:
  struct Free {
    void operator()(std::byte* p) const noexcept;
  };
  friend Result<W8A8Weights> pack_w8a8(std::span<const int8_t>, std::span<const int32_t>,
                                       std::span<const FixedPointMultiplier>, int64_t, int64_t, Isa);
  friend void w8a8_gemm(const W8A8Weights&, const int8_t*, int64_t, int64_t, const W8A8Quant&, int8_t*, int64_t,
                        int64_t);

  Isa isa_ = Isa::kPortable;
  int64_t n_ = 0, k_ = 0;
  int64_t block_ = 0;        // channels per block (1 for portable)
  int64_t steps_ = 0;        // quads (vnni) or pairs (avx2) per row; k for portable
  int64_t panel_bytes_ = 0;  // weight bytes of one block
  size_t bytes_ = 0;
  // One 64-byte aligned allocation: weights, then four int32 tables of n rounded up to a block:
  // Σw, bias, multiplier, shift.
  std::unique_ptr<std::byte[], Free> storage_;
  size_t tables_offset_ = 0, table_stride_ = 0;  // table t at tables_offset_ + t · table_stride_ bytes
};

// Packs W8A8 weights for `isa`. `w`: int8 row-major [n][k] (symmetric per-channel weights, zero
// points 0); `bias`: int32 [n], or empty for 0; `multipliers`: one per output channel, from
// quantize_multiplier(x_scale · w_scale[c] / y_scale) as the reference computes them. Refused
// (kInvalidArgument): n or k < 1, n·k above model::kMaxElements, spans of the wrong length, a
// multiplier quantize_multiplier cannot produce (M outside [2^30, 2^31) or shift outside [1, 62],
// except {0, 1}). Refused (kUnsupported): a channel beyond the int32 bound above; an ISA this CPU
// cannot run (the layout is the ISA's and calls would fault).
Result<W8A8Weights> pack_w8a8(std::span<const int8_t> w, std::span<const int32_t> bias,
                              std::span<const FixedPointMultiplier> multipliers, int64_t n, int64_t k, Isa isa);

// The per-tensor quantization of one call. y_min/y_max: the output clamp (a fused ReLU/ReLU6
// narrows it), within [−128, 127].
struct W8A8Quant {
  int32_t x_zero = 0;  // [−128, 127]
  int32_t y_zero = 0;  // [−128, 127]
  int32_t y_min = -128, y_max = 127;
};

// y[i·y_row_stride + j·y_col_stride] for i in [0, m), j in [0, w.n()): row i of x (int8, x_stride
// apart, w.k() each: one Gemm row or one im2col patch, whose padded taps must hold x_zero) times
// the weights, as stated above. y_col_stride == 1 (NHWC / Gemm) is the fast layout; y_row_stride
// == 1 with y_col_stride == M (NCHW, y[channel][pixel]) goes through a transposing tile store; any
// other strides work too. Preconditions (asserted in debug builds): m ≥ 0, x_stride ≥ k, strides
// ≥ 1, zero points in [−128, 127], −128 ≤ y_min ≤ y_max ≤ 127. To split rows across threads, call
// it on disjoint row ranges (x and y offset by the first row). Each call has its own scratch (a
// tile's rows of x: on the stack up to k ≈ 1000, else on the heap).
void w8a8_gemm(const W8A8Weights& w, const int8_t* x, int64_t m, int64_t x_stride, const W8A8Quant& q, int8_t* y,
               int64_t y_row_stride, int64_t y_col_stride);

}  // namespace edgeloop::runtime::x86

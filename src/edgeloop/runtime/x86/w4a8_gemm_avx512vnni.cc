// W4A8 GEMM with AVX-512 VNNI (vpdpbusd), L = 16 lanes: tiles of up to kRows rows × 32 output
// channels (two zmm of int32 group sums per row, two of f32 sums). Compiled with
// -mavx512f -mavx512bw -mavx512vl -mavx512vnni; called only when cpu_features says so.
// Nothing here may have external linkage but the entry point (w4a8_gemm_kernels.h says why).
#if defined(__x86_64__)
// GCC 12's AVX-512 intrinsics initialize their "undefined" vectors from themselves, which
// -Wuninitialized reports at every use once inlined (GCC bug 105593, fixed in GCC 13).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#include "edgeloop/runtime/x86/w4a8_gemm_kernels.h"

namespace edgeloop::runtime::x86::detail {
namespace {

constexpr int kLanes = 16, kBlock = 32, kRows = 4;
static_assert(kRows == 4 && kRows <= kMaxTileRows, "the remainder switch below covers 1 to kRows - 1 rows");

int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  __builtin_memcpy(&v, p, 4);
  return v;
}

// acc + the 4 u8×s8 products of each int32 lane: vpdpbusd. Written as assembly because GCC 12
// copies the accumulator in and out of the intrinsic's register on every use ("+v" ties it to
// one register): the inner loop of 4 rows drops from 37 to 23 instructions. No faster on Zen 4,
// where vpdpbusd itself is the bound, but less to issue on cores with narrower front ends.
__m512i dpbusd(__m512i acc, __m512i u8, __m512i s8) {
  asm("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(u8), "v"(s8));
  return acc;
}

// The first `count` of 16 lanes (count may be ≤ 0 or ≥ 16).
__mmask16 first_lanes(int64_t count) {
  if (count <= 0) return 0;
  if (count >= 16) return 0xFFFF;
  return static_cast<__mmask16>((1u << count) - 1);
}

struct Constants {
  __m512i low_nibbles = _mm512_set1_epi8(0x0F);
  // vpshufb table: two's complement nibble → int8 (0..7, then −8..−1), in every 128-bit lane.
  __m512i sign_extend = _mm512_broadcast_i32x4(_mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, -8, -7, -6, -5, -4, -3, -2, -1));
  __m512i neg_x_zero_u8;  // −(x_zero + 128): Σ(x − x_zero)·w = Σ x_u8·w − (x_zero + 128)·Σw
  __m512 x_scale, y_scale;
  // Quotients are clamped to ±2^30 before rounding: exact in f32 and int32, and far enough out
  // that the zero point and the [−128, 127] clamp give the same output as the unclamped value.
  __m512 q_lo = _mm512_set1_ps(-0x1p30f), q_hi = _mm512_set1_ps(0x1p30f);
  __m512i y_zero, out_lo = _mm512_set1_epi32(-128), out_hi = _mm512_set1_epi32(127);
};

// w4a8_output for 16 lanes, as int32: clamp(round_half_even(fma(sum, x_scale, bias) / y_scale) +
// y_zero), NaN → y_zero. The rounding mode is given in the instruction, not taken from MXCSR.
__m512i quantize16(__m512 sum, __m512 bias, const Constants& k) {
  const __m512 q = _mm512_div_ps(_mm512_fmadd_ps(sum, k.x_scale, bias), k.y_scale);
  const __mmask16 nan = _mm512_cmp_ps_mask(q, q, _CMP_UNORD_Q);
  const __m512 clamped = _mm512_min_ps(_mm512_max_ps(q, k.q_lo), k.q_hi);
  __m512i v = _mm512_cvt_roundps_epi32(clamped, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  v = _mm512_min_epi32(_mm512_max_epi32(_mm512_add_epi32(v, k.y_zero), k.out_lo), k.out_hi);
  return _mm512_mask_mov_epi32(v, nan, k.y_zero);
}

// Four rows of 16 outputs in [−128, 127] as one int32 per lane: byte r is row r.
__m512i interleave_rows(__m512i r0, __m512i r1, __m512i r2, __m512i r3) {
  const __m512i byte = _mm512_set1_epi32(0xFF);
  const __m512i low = _mm512_or_si512(_mm512_and_si512(r0, byte), _mm512_slli_epi32(_mm512_and_si512(r1, byte), 8));
  const __m512i high = _mm512_or_si512(_mm512_slli_epi32(_mm512_and_si512(r2, byte), 16), _mm512_slli_epi32(r3, 24));
  return _mm512_or_si512(low, high);
}

// Rows [m0, m0 + R) of x into the scratch as u8 (x ^ 0x80 = x + 128), each followed by 4 zero
// bytes for the padded last quad.
template <int R>
void convert_rows(const W4A8Call& c, int64_t m0) {
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
  for (int r = 0; r < R; ++r) {
    const int8_t* src = c.x + (m0 + r) * c.x_stride;
    uint8_t* dst = c.scratch + r * c.scratch_row_bytes;
    int64_t k = 0;
    for (; k + 64 <= c.k; k += 64)
      _mm512_storeu_si512(dst + k, _mm512_xor_si512(_mm512_loadu_si512(src + k), flip));
    if (k < c.k) {
      const __mmask64 tail = (uint64_t{1} << (c.k - k)) - 1;
      _mm512_mask_storeu_epi8(dst + k, tail, _mm512_xor_si512(_mm512_maskz_loadu_epi8(tail, src + k), flip));
    }
    const uint32_t zero = 0;
    __builtin_memcpy(dst + c.k, &zero, 4);
  }
}

template <int R>
void store_tile(const W4A8Call& c, int64_t m0, int64_t n0, const __m512 (&sum)[R][2], const Constants& k) {
  const int64_t valid = min64(kBlock, c.n - n0);
  __m512 bias[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()};
  if (c.bias != nullptr) {
    bias[0] = _mm512_maskz_loadu_ps(first_lanes(valid), c.bias + n0);
    bias[1] = _mm512_maskz_loadu_ps(first_lanes(valid - kLanes), c.bias + n0 + kLanes);
  }
  if (c.y_col_stride == 1) {
    #pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      int8_t* y = c.y + (m0 + r) * c.y_row_stride + n0;
      const __m128i lo = _mm512_cvtepi32_epi8(quantize16(sum[r][0], bias[0], k));
      const __m128i hi = _mm512_cvtepi32_epi8(quantize16(sum[r][1], bias[1], k));
      if (valid == kBlock) {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(y), lo);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(y + kLanes), hi);
      } else {
        _mm_mask_storeu_epi8(y, first_lanes(valid), lo);
        if (valid > kLanes) _mm_mask_storeu_epi8(y + kLanes, first_lanes(valid - kLanes), hi);
      }
    }
    return;
  }
  if constexpr (R == 4) {
    if (c.y_row_stride == 1) {
      // Channel-major output (NCHW): a channel's 4 rows are 4 consecutive bytes, one int32 store.
      for (int j = 0; j < 2; ++j) {
        alignas(64) uint32_t words[kLanes];
        _mm512_store_si512(words, interleave_rows(quantize16(sum[0][j], bias[j], k), quantize16(sum[1][j], bias[j], k),
                                                  quantize16(sum[2][j], bias[j], k), quantize16(sum[3][j], bias[j], k)));
        const int64_t count = min64(kLanes, valid - j * kLanes);
        for (int64_t ch = 0; ch < count; ++ch)
          __builtin_memcpy(c.y + (n0 + j * kLanes + ch) * c.y_col_stride + m0, &words[ch], 4);
      }
      return;
    }
  }
  // Any other layout: the tile's bytes, then stored channel by channel.
  alignas(64) int8_t tile[R][kBlock];
  #pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    _mm_store_si128(reinterpret_cast<__m128i*>(tile[r]), _mm512_cvtepi32_epi8(quantize16(sum[r][0], bias[0], k)));
    _mm_store_si128(reinterpret_cast<__m128i*>(tile[r] + kLanes), _mm512_cvtepi32_epi8(quantize16(sum[r][1], bias[1], k)));
  }
  for (int64_t ch = 0; ch < valid; ++ch) {
    int8_t* y = c.y + m0 * c.y_row_stride + (n0 + ch) * c.y_col_stride;
    #pragma GCC unroll 8
    for (int r = 0; r < R; ++r) y[r * c.y_row_stride] = tile[r][ch];
  }
}

// Rows [m0, m0 + R) times every block of 32 output channels.
template <int R>
void gemm_rows(const W4A8Call& c, int64_t m0, const Constants& k) {
  convert_rows<R>(c, m0);
  const int64_t blocks = (c.n + kBlock - 1) / kBlock;
  for (int64_t b = 0; b < blocks; ++b) {
    const uint8_t* wp = c.nibbles + b * c.panel_bytes;
    const float* scales = c.scales + b * c.groups * kBlock;
    const int32_t* sums = c.sums + b * c.groups * kBlock;
    const uint8_t* xg = c.scratch;
    __m512 sum[R][2];
    #pragma GCC unroll 8
    for (int r = 0; r < R; ++r) sum[r][0] = sum[r][1] = _mm512_setzero_ps();
    for (int64_t g = 0; g < c.groups; ++g, scales += kBlock, sums += kBlock, xg += c.group) {
      const int64_t quads = g + 1 < c.groups ? c.quads_full : c.quads_last;
      __m512i acc[R][2];
      #pragma GCC unroll 8
      for (int r = 0; r < R; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_si512();
      const uint8_t* xq = xg;
      for (int64_t q = 0; q < quads; ++q, wp += 4 * kLanes, xq += 4) {
        const __m512i v = _mm512_loadu_si512(wp);
        const __m512i w0 = _mm512_shuffle_epi8(k.sign_extend, _mm512_and_si512(v, k.low_nibbles));
        const __m512i w1 = _mm512_shuffle_epi8(k.sign_extend, _mm512_and_si512(_mm512_srli_epi16(v, 4), k.low_nibbles));
        #pragma GCC unroll 8
        for (int r = 0; r < R; ++r) {
          const __m512i xb = _mm512_set1_epi32(static_cast<int>(load_u32(xq + r * c.scratch_row_bytes)));
          acc[r][0] = dpbusd(acc[r][0], xb, w0);
          acc[r][1] = dpbusd(acc[r][1], xb, w1);
        }
      }
      // Σ x_u8·w − (x_zero + 128)·Σw = Σ(x − x_zero)·w, then w4a8_accumulate: one fused
      // multiply-add per group, in group order. (Starting the sums at zero rather than at the
      // correction keeps GCC from copying every accumulator around the loop.)
      const __m512i correction0 = _mm512_mullo_epi32(_mm512_loadu_si512(sums), k.neg_x_zero_u8);
      const __m512i correction1 = _mm512_mullo_epi32(_mm512_loadu_si512(sums + kLanes), k.neg_x_zero_u8);
      const __m512 s0 = _mm512_loadu_ps(scales), s1 = _mm512_loadu_ps(scales + kLanes);
      #pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        sum[r][0] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(acc[r][0], correction0)), s0, sum[r][0]);
        sum[r][1] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(acc[r][1], correction1)), s1, sum[r][1]);
      }
    }
    store_tile<R>(c, m0, b * kBlock, sum, k);
  }
}

}  // namespace

void w4a8_gemm_avx512vnni(const W4A8Call& c) {
  Constants k;
  k.neg_x_zero_u8 = _mm512_set1_epi32(-(c.x_zero + 128));
  k.x_scale = _mm512_set1_ps(c.x_scale);
  k.y_scale = _mm512_set1_ps(c.y_scale);
  k.y_zero = _mm512_set1_epi32(c.y_zero);
  int64_t m0 = 0;
  for (; m0 + kRows <= c.m; m0 += kRows) gemm_rows<kRows>(c, m0, k);
  switch (c.m - m0) {
    case 1: gemm_rows<1>(c, m0, k); break;
    case 2: gemm_rows<2>(c, m0, k); break;
    case 3: gemm_rows<3>(c, m0, k); break;
    default: break;
  }
}

}  // namespace edgeloop::runtime::x86::detail
#endif

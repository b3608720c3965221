// W4A8 GEMM with AVX2 (vpmaddubsw, vpmaddwd), L = 8 lanes: tiles of up to kRows rows × 16
// output channels. Compiled with -mavx2 -mfma; called only when cpu_features says so. Nothing
// here may have external linkage but the entry point (w4a8_gemm_kernels.h says why).
//
// int4 weights let products stay in int16 for a while: a vpmaddubsw pair is at most
// 2·255·8 = 4080 in magnitude, so 8 of them (8 quads) sum to at most 32640 < 2^15 without
// saturating. Quads are therefore summed in int16 (vpaddw) in chunks of 8, and each chunk widened
// to int32 once (vpmaddwd with ones) instead of once per quad.
#if defined(__x86_64__)
#include <immintrin.h>

#include "edgeloop/runtime/x86/w4a8_gemm_kernels.h"

namespace edgeloop::runtime::x86::detail {
namespace {

constexpr int kLanes = 8, kBlock = 16, kRows = 4, kInt16Quads = 8;
static_assert(kRows == 4 && kRows <= kMaxTileRows, "the remainder switch below covers 1 to kRows - 1 rows");

int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  __builtin_memcpy(&v, p, 4);
  return v;
}

struct Constants {
  __m256i low_nibbles = _mm256_set1_epi8(0x0F);
  // vpshufb table: two's complement nibble → int8 (0..7, then −8..−1), in both 128-bit lanes.
  __m256i sign_extend = _mm256_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, -8, -7, -6, -5, -4, -3, -2, -1,  //
                                         0, 1, 2, 3, 4, 5, 6, 7, -8, -7, -6, -5, -4, -3, -2, -1);
  __m256i ones16 = _mm256_set1_epi16(1);
  __m256i neg_x_zero_u8;  // −(x_zero + 128): Σ(x − x_zero)·w = Σ x_u8·w − (x_zero + 128)·Σw
  __m256 x_scale, y_scale;
  // Quotients are clamped to ±2^30 before rounding: exact in f32 and int32, and far enough out
  // that the zero point and the [−128, 127] clamp give the same output as the unclamped value.
  __m256 q_lo = _mm256_set1_ps(-0x1p30f), q_hi = _mm256_set1_ps(0x1p30f);
  __m256i y_zero, out_lo = _mm256_set1_epi32(-128), out_hi = _mm256_set1_epi32(127);
};

// acc + the u8×s8 pair products of each int16 lane: vpmaddubsw then vpaddw in place. The add is
// written as assembly because GCC 12 otherwise rotates the accumulators through other registers
// (a move per add, and spills), which makes the inner loop issue-bound.
__m256i add_pair_products(__m256i acc, __m256i u8, __m256i s8) {
  const __m256i products = _mm256_maddubs_epi16(u8, s8);
  asm("vpaddw %1, %0, %0" : "+x"(acc) : "x"(products));
  return acc;
}

// w4a8_output for 8 lanes, as int32: clamp(round_half_even(fma(sum, x_scale, bias) / y_scale) +
// y_zero), NaN → y_zero. The rounding mode is given in the instruction, not taken from MXCSR.
__m256i quantize8(__m256 sum, __m256 bias, const Constants& k) {
  const __m256 q = _mm256_div_ps(_mm256_fmadd_ps(sum, k.x_scale, bias), k.y_scale);
  const __m256 nan = _mm256_cmp_ps(q, q, _CMP_UNORD_Q);
  const __m256 clamped = _mm256_min_ps(_mm256_max_ps(q, k.q_lo), k.q_hi);
  __m256i v = _mm256_cvttps_epi32(_mm256_round_ps(clamped, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  v = _mm256_min_epi32(_mm256_max_epi32(_mm256_add_epi32(v, k.y_zero), k.out_lo), k.out_hi);
  return _mm256_blendv_epi8(v, k.y_zero, _mm256_castps_si256(nan));
}

// Four rows of 8 outputs in [−128, 127] as one int32 per lane: byte r is row r.
__m256i interleave_rows(__m256i r0, __m256i r1, __m256i r2, __m256i r3) {
  const __m256i byte = _mm256_set1_epi32(0xFF);
  const __m256i low = _mm256_or_si256(_mm256_and_si256(r0, byte), _mm256_slli_epi32(_mm256_and_si256(r1, byte), 8));
  const __m256i high = _mm256_or_si256(_mm256_slli_epi32(_mm256_and_si256(r2, byte), 16), _mm256_slli_epi32(r3, 24));
  return _mm256_or_si256(low, high);
}

// 16 output channels (two vectors of 8 int32 in [−128, 127]) as 16 bytes in channel order.
__m128i pack16(__m256i lo, __m256i hi) {
  // packs works within 128-bit lanes: [lo0-3 hi0-3 | lo4-7 hi4-7] → reorder the 64-bit quarters.
  const __m256i words = _mm256_permute4x64_epi64(_mm256_packs_epi32(lo, hi), 0xD8);
  return _mm_packs_epi16(_mm256_castsi256_si128(words), _mm256_extracti128_si256(words, 1));
}

// Rows [m0, m0 + R) of x into the scratch as u8 (x ^ 0x80 = x + 128), each followed by 4 zero
// bytes for the padded last quad.
template <int R>
void convert_rows(const W4A8Call& c, int64_t m0) {
  const __m256i flip = _mm256_set1_epi8(static_cast<char>(0x80));
  for (int r = 0; r < R; ++r) {
    const int8_t* src = c.x + (m0 + r) * c.x_stride;
    uint8_t* dst = c.scratch + r * c.scratch_row_bytes;
    int64_t k = 0;
    for (; k + 32 <= c.k; k += 32)
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + k),
                          _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + k)), flip));
    for (; k < c.k; ++k) dst[k] = static_cast<uint8_t>(src[k] ^ 0x80);
    const uint32_t zero = 0;
    __builtin_memcpy(dst + c.k, &zero, 4);
  }
}

template <int R>
void store_tile(const W4A8Call& c, int64_t m0, int64_t n0, const __m256 (&sum)[R][2], const Constants& k) {
  const int64_t valid = min64(kBlock, c.n - n0);
  alignas(32) float bias_tile[kBlock] = {};
  if (c.bias != nullptr)
    for (int64_t ch = 0; ch < valid; ++ch) bias_tile[ch] = c.bias[n0 + ch];
  const __m256 bias0 = _mm256_load_ps(bias_tile), bias1 = _mm256_load_ps(bias_tile + kLanes);
  if constexpr (R == 4) {
    if (c.y_row_stride == 1 && c.y_col_stride != 1) {
      // Channel-major output (NCHW): a channel's 4 rows are 4 consecutive bytes, one int32 store.
      const __m256 bias[2] = {bias0, bias1};
      for (int j = 0; j < 2; ++j) {
        alignas(32) uint32_t words[kLanes];
        _mm256_store_si256(reinterpret_cast<__m256i*>(words),
                           interleave_rows(quantize8(sum[0][j], bias[j], k), quantize8(sum[1][j], bias[j], k),
                                           quantize8(sum[2][j], bias[j], k), quantize8(sum[3][j], bias[j], k)));
        const int64_t count = min64(kLanes, valid - j * kLanes);
        for (int64_t ch = 0; ch < count; ++ch)
          __builtin_memcpy(c.y + (n0 + j * kLanes + ch) * c.y_col_stride + m0, &words[ch], 4);
      }
      return;
    }
  }
  alignas(16) int8_t tile[R][kBlock];
  #pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    const __m128i bytes = pack16(quantize8(sum[r][0], bias0, k), quantize8(sum[r][1], bias1, k));
    if (c.y_col_stride == 1 && valid == kBlock)
      _mm_storeu_si128(reinterpret_cast<__m128i*>(c.y + (m0 + r) * c.y_row_stride + n0), bytes);
    else
      _mm_store_si128(reinterpret_cast<__m128i*>(tile[r]), bytes);
  }
  if (c.y_col_stride == 1 && valid == kBlock) return;
  // A partial block, or any other layout (NCHW: y_row_stride 1): stored channel by channel.
  for (int64_t ch = 0; ch < valid; ++ch) {
    int8_t* y = c.y + m0 * c.y_row_stride + (n0 + ch) * c.y_col_stride;
    #pragma GCC unroll 8
    for (int r = 0; r < R; ++r) y[r * c.y_row_stride] = tile[r][ch];
  }
}

// Rows [m0, m0 + R) times every block of 16 output channels.
template <int R>
void gemm_rows(const W4A8Call& c, int64_t m0, const Constants& k) {
  convert_rows<R>(c, m0);
  const int64_t blocks = (c.n + kBlock - 1) / kBlock;
  for (int64_t b = 0; b < blocks; ++b) {
    const uint8_t* wp = c.nibbles + b * c.panel_bytes;
    const float* scales = c.scales + b * c.groups * kBlock;
    const int32_t* sums = c.sums + b * c.groups * kBlock;
    const uint8_t* xg = c.scratch;
    __m256 sum[R][2];
    #pragma GCC unroll 8
    for (int r = 0; r < R; ++r) sum[r][0] = sum[r][1] = _mm256_setzero_ps();
    for (int64_t g = 0; g < c.groups; ++g, scales += kBlock, sums += kBlock, xg += c.group) {
      const int64_t quads = g + 1 < c.groups ? c.quads_full : c.quads_last;
      // The group sums start at −(x_zero + 128)·Σw, so they end as Σ(x − x_zero)·w.
      const __m256i start0 =
          _mm256_mullo_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(sums)), k.neg_x_zero_u8);
      const __m256i start1 =
          _mm256_mullo_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(sums + kLanes)), k.neg_x_zero_u8);
      __m256i acc[R][2];
      #pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        acc[r][0] = start0;
        acc[r][1] = start1;
      }
      const uint8_t* xq = xg;
      for (int64_t q0 = 0; q0 < quads; q0 += kInt16Quads) {
        const int64_t chunk = min64(kInt16Quads, quads - q0);
        __m256i acc16[R][2];
        #pragma GCC unroll 8
        for (int r = 0; r < R; ++r) acc16[r][0] = acc16[r][1] = _mm256_setzero_si256();
        for (int64_t q = 0; q < chunk; ++q, wp += 4 * kLanes, xq += 4) {
          const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wp));
          const __m256i w0 = _mm256_shuffle_epi8(k.sign_extend, _mm256_and_si256(v, k.low_nibbles));
          const __m256i w1 =
              _mm256_shuffle_epi8(k.sign_extend, _mm256_and_si256(_mm256_srli_epi16(v, 4), k.low_nibbles));
          #pragma GCC unroll 8
          for (int r = 0; r < R; ++r) {
            const __m256i xb = _mm256_set1_epi32(static_cast<int>(load_u32(xq + r * c.scratch_row_bytes)));
            acc16[r][0] = add_pair_products(acc16[r][0], xb, w0);
            acc16[r][1] = add_pair_products(acc16[r][1], xb, w1);
          }
        }
        #pragma GCC unroll 8
        for (int r = 0; r < R; ++r) {
          acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(acc16[r][0], k.ones16));
          acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(acc16[r][1], k.ones16));
        }
      }
      // w4a8_accumulate: one fused multiply-add per group, in group order.
      const __m256 s0 = _mm256_loadu_ps(scales), s1 = _mm256_loadu_ps(scales + kLanes);
      #pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        sum[r][0] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc[r][0]), s0, sum[r][0]);
        sum[r][1] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc[r][1]), s1, sum[r][1]);
      }
    }
    store_tile<R>(c, m0, b * kBlock, sum, k);
  }
}

}  // namespace

void w4a8_gemm_avx2(const W4A8Call& c) {
  Constants k;
  k.neg_x_zero_u8 = _mm256_set1_epi32(-(c.x_zero + 128));
  k.x_scale = _mm256_set1_ps(c.x_scale);
  k.y_scale = _mm256_set1_ps(c.y_scale);
  k.y_zero = _mm256_set1_epi32(c.y_zero);
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

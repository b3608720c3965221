// W8A8 GEMM with AVX2, 8 int32 lanes: tiles of up to kRows rows × 16 output channels (two ymm
// accumulators per row). Compiled with -mavx2 -mfma; called only when cpu_features says so.
// Nothing here may have external linkage but the entry point (w8a8_gemm_kernels.h says why).
//
// Not vpmaddubsw: with int8 weights a pair of u8 × s8 products reaches 2 · 255 · 128 = 65280 and
// saturates int16. Instead x − x_zero (in [−255, 255]) and w (sign-extended with vpmovsxbw) are
// int16 and vpmaddwd sums pairs of their products into int32 exactly (|pair| ≤ 65280).
#if defined(__x86_64__)
#include <immintrin.h>

#include "edgeloop/runtime/x86/w8a8_gemm_kernels.h"

namespace edgeloop::runtime::x86::detail {
namespace {

constexpr int kLanes = 8, kBlock = 16, kRows = 4;
static_assert(kRows <= kMaxW8A8TileRows, "the scratch holds a tile's rows");

int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  __builtin_memcpy(&v, p, 4);
  return v;
}

// acc + the pair products of x and w: vpmaddwd then vpaddd in place. The add is written as
// assembly for the reason given in w4a8_gemm_avx2.cc (GCC 12 otherwise rotates the accumulators
// through other registers).
__m256i add_pair_products(__m256i acc, __m256i x16, __m256i w16) {
  const __m256i products = _mm256_madd_epi16(x16, w16);
  asm("vpaddd %1, %0, %0" : "+x"(acc) : "x"(products));
  return acc;
}

struct Constants {
  __m256i lo, hi;  // y_min − y_zero, y_max − y_zero, as int64
  __m256i y_zero;
};

// The requantization parameters of 8 channels, split into even and odd int32 lanes (each in a
// 64-bit lane): vpmuldq multiplies the low halves of 64-bit lanes.
struct Requant {
  __m256i mult_even, mult_odd, shift_even, shift_odd, round_even, round_odd;
};

Requant requant_params(const int32_t* multiplier, const int32_t* shift) {
  const __m256i low32 = _mm256_set1_epi64x(0xFFFFFFFF), one = _mm256_set1_epi64x(1);
  Requant r;
  r.mult_even = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(multiplier));
  r.mult_odd = _mm256_srli_epi64(r.mult_even, 32);
  const __m256i s = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(shift));
  r.shift_even = _mm256_and_si256(s, low32);
  r.shift_odd = _mm256_srli_epi64(s, 32);
  r.round_even = _mm256_sllv_epi64(one, _mm256_sub_epi64(r.shift_even, one));
  r.round_odd = _mm256_sllv_epi64(one, _mm256_sub_epi64(r.shift_odd, one));
  return r;
}

// v >> shift, arithmetic, per 64-bit lane. AVX2 has only the logical variable shift; for v < 0,
// ~(~v >>> s) = floor(v / 2^s), so flip the bits of negative lanes before and after.
__m256i sra64(__m256i v, __m256i shift) {
  const __m256i sign = _mm256_cmpgt_epi64(_mm256_setzero_si256(), v);
  return _mm256_xor_si256(_mm256_srlv_epi64(_mm256_xor_si256(v, sign), shift), sign);
}

__m256i clamp64(__m256i v, const Constants& k) {
  v = _mm256_blendv_epi8(v, k.lo, _mm256_cmpgt_epi64(k.lo, v));
  return _mm256_blendv_epi8(v, k.hi, _mm256_cmpgt_epi64(v, k.hi));
}

// clamp(requantize(acc, multiplier) + y_zero, y_min, y_max) for 8 lanes, as int32 (the arithmetic
// of requantize16 in w8a8_gemm_avx512vnni.cc).
__m256i requantize8(__m256i acc, const Requant& r, const Constants& k) {
  __m256i even = _mm256_mul_epi32(acc, r.mult_even);
  __m256i odd = _mm256_mul_epi32(_mm256_srli_epi64(acc, 32), r.mult_odd);
  even = clamp64(sra64(_mm256_add_epi64(even, r.round_even), r.shift_even), k);
  odd = clamp64(sra64(_mm256_add_epi64(odd, r.round_odd), r.shift_odd), k);
  const __m256i v = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
  return _mm256_add_epi32(v, k.y_zero);
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

// Rows [m0, m0 + R) of x into the scratch as int16 x − x_zero, each followed by two zeros for the
// padded last pair (whose weights are 0 too).
template <int R>
void convert_rows(const W8A8Call& c, int64_t m0) {
  const __m256i zero_point = _mm256_set1_epi16(static_cast<int16_t>(c.x_zero));
  for (int r = 0; r < R; ++r) {
    const int8_t* src = c.x + (m0 + r) * c.x_stride;
    auto* dst = reinterpret_cast<int16_t*>(c.scratch + r * c.scratch_row_bytes);
    int64_t k = 0;
    for (; k + 16 <= c.k; k += 16) {
      const __m256i x16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + k)));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + k), _mm256_sub_epi16(x16, zero_point));
    }
    for (; k < c.k; ++k) dst[k] = static_cast<int16_t>(src[k] - c.x_zero);
    dst[c.k] = 0;
    dst[c.k + 1] = 0;
  }
}

template <int R>
void store_tile(const W8A8Call& c, int64_t m0, int64_t n0, const __m256i (&acc)[R][2], const Constants& k) {
  const int64_t valid = min64(kBlock, c.n - n0);
  const Requant rq[2] = {requant_params(c.multiplier + n0, c.shift + n0),
                         requant_params(c.multiplier + n0 + kLanes, c.shift + n0 + kLanes)};
  if constexpr (R == 4) {
    if (c.y_row_stride == 1 && c.y_col_stride != 1) {
      // Channel-major output (NCHW): a channel's 4 rows are 4 consecutive bytes, one int32 store.
      for (int j = 0; j < 2; ++j) {
        alignas(32) uint32_t words[kLanes];
        _mm256_store_si256(reinterpret_cast<__m256i*>(words),
                           interleave_rows(requantize8(acc[0][j], rq[j], k), requantize8(acc[1][j], rq[j], k),
                                           requantize8(acc[2][j], rq[j], k), requantize8(acc[3][j], rq[j], k)));
        const int64_t count = min64(kLanes, valid - j * kLanes);
        for (int64_t ch = 0; ch < count; ++ch)
          __builtin_memcpy(c.y + (n0 + j * kLanes + ch) * c.y_col_stride + m0, &words[ch], 4);
      }
      return;
    }
  }
  alignas(16) int8_t tile[R][kBlock];
  const bool direct = c.y_col_stride == 1 && valid == kBlock;
  #pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    const __m128i bytes = pack16(requantize8(acc[r][0], rq[0], k), requantize8(acc[r][1], rq[1], k));
    if (direct) _mm_storeu_si128(reinterpret_cast<__m128i*>(c.y + (m0 + r) * c.y_row_stride + n0), bytes);
    else _mm_store_si128(reinterpret_cast<__m128i*>(tile[r]), bytes);
  }
  if (direct) return;
  // A partial block, or any other layout: stored channel by channel.
  for (int64_t ch = 0; ch < valid; ++ch) {
    int8_t* y = c.y + m0 * c.y_row_stride + (n0 + ch) * c.y_col_stride;
    #pragma GCC unroll 8
    for (int r = 0; r < R; ++r) y[r * c.y_row_stride] = tile[r][ch];
  }
}

// Rows [m0, m0 + R) times every block of 16 output channels.
template <int R>
void gemm_rows(const W8A8Call& c, int64_t m0, const Constants& k) {
  convert_rows<R>(c, m0);
  const int64_t blocks = (c.n + kBlock - 1) / kBlock;
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t n0 = b * kBlock;
    const int8_t* wp = c.weights + b * c.panel_bytes;
    __m256i acc[R][2];
    #pragma GCC unroll 8
    for (int r = 0; r < R; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_si256();
    const uint8_t* xp = c.scratch;
    for (int64_t p = 0; p < c.steps; ++p, wp += 2 * kBlock, xp += 4) {
      // Channels 0-7 and 8-15, each as 8 (k, k + 1) pairs of int16.
      const __m256i w0 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(wp)));
      const __m256i w1 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(wp + 2 * kLanes)));
      #pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        const __m256i xb = _mm256_set1_epi32(static_cast<int>(load_u32(xp + r * c.scratch_row_bytes)));
        acc[r][0] = add_pair_products(acc[r][0], xb, w0);
        acc[r][1] = add_pair_products(acc[r][1], xb, w1);
      }
    }
    // + bias: Σ(x − x_zero)·w + bias, exact in int32 under the pack-time bound.
    const __m256i bias0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(c.bias + n0));
    const __m256i bias1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(c.bias + n0 + kLanes));
    #pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      acc[r][0] = _mm256_add_epi32(acc[r][0], bias0);
      acc[r][1] = _mm256_add_epi32(acc[r][1], bias1);
    }
    store_tile<R>(c, m0, n0, acc, k);
  }
}

}  // namespace

void w8a8_gemm_avx2(const W8A8Call& c) {
  Constants k;
  k.lo = _mm256_set1_epi64x(c.y_min - c.y_zero);
  k.hi = _mm256_set1_epi64x(c.y_max - c.y_zero);
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

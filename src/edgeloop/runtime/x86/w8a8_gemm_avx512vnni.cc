// W8A8 GEMM with AVX-512 VNNI (vpdpbusd), 16 int32 lanes: tiles of up to kRows rows × 32 output
// channels (two zmm accumulators per row). Compiled with -mavx512f -mavx512bw -mavx512vl
// -mavx512vnni; called only when cpu_features says so. Nothing here may have external linkage but
// the entry point (w8a8_gemm_kernels.h says why).
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

#include "edgeloop/runtime/x86/w8a8_gemm_kernels.h"

namespace edgeloop::runtime::x86::detail {
namespace {

constexpr int kLanes = 16, kBlock = 32, kRows = 8;
static_assert(kRows <= kMaxW8A8TileRows, "the scratch holds a tile's rows");

int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  __builtin_memcpy(&v, p, 4);
  return v;
}

// acc + the 4 u8×s8 products of each int32 lane, wrapping: vpdpbusd. Written as assembly because
// GCC 12 copies the accumulator in and out of the intrinsic's register on every use ("+v" ties it
// to one register), as in w4a8_gemm_avx512vnni.cc.
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
  __m512i neg_x_zero_u8;  // −(x_zero + 128): Σ(x − x_zero)·w = Σ x_u8·w − (x_zero + 128)·Σw
  __m512i lo, hi;         // y_min − y_zero, y_max − y_zero, as int64
  __m512i y_zero;
};

// The requantization parameters of 16 channels, split into even and odd int32 lanes (each in a
// 64-bit lane): vpmuldq multiplies the low halves of 64-bit lanes.
struct Requant {
  __m512i mult_even, mult_odd, shift_even, shift_odd, round_even, round_odd;
};

Requant requant_params(const int32_t* multiplier, const int32_t* shift) {
  const __m512i low32 = _mm512_set1_epi64(0xFFFFFFFF), one = _mm512_set1_epi64(1);
  Requant r;
  r.mult_even = _mm512_loadu_si512(multiplier);
  r.mult_odd = _mm512_srli_epi64(r.mult_even, 32);
  const __m512i s = _mm512_loadu_si512(shift);
  r.shift_even = _mm512_and_si512(s, low32);
  r.shift_odd = _mm512_srli_epi64(s, 32);
  r.round_even = _mm512_sllv_epi64(one, _mm512_sub_epi64(r.shift_even, one));
  r.round_odd = _mm512_sllv_epi64(one, _mm512_sub_epi64(r.shift_odd, one));
  return r;
}

// clamp(requantize(acc, multiplier) + y_zero, y_min, y_max) for 16 lanes, as int32:
// (acc · M + 2^(shift−1)) >> shift in int64 (|acc| < 2^31 by the pack-time bound, so exact),
// clamped in int64 to [y_min − y_zero, y_max − y_zero] (the same as saturating to int32 first).
__m512i requantize16(__m512i acc, const Requant& r, const Constants& k) {
  __m512i even = _mm512_mul_epi32(acc, r.mult_even);
  __m512i odd = _mm512_mul_epi32(_mm512_srli_epi64(acc, 32), r.mult_odd);
  even = _mm512_srav_epi64(_mm512_add_epi64(even, r.round_even), r.shift_even);
  odd = _mm512_srav_epi64(_mm512_add_epi64(odd, r.round_odd), r.shift_odd);
  even = _mm512_min_epi64(_mm512_max_epi64(even, k.lo), k.hi);
  odd = _mm512_min_epi64(_mm512_max_epi64(odd, k.lo), k.hi);
  const __m512i v = _mm512_mask_blend_epi32(0xAAAA, even, _mm512_slli_epi64(odd, 32));
  return _mm512_add_epi32(v, k.y_zero);
}

// Four rows of 16 outputs in [−128, 127] as one int32 per lane: byte r is row r.
__m512i interleave_rows(__m512i r0, __m512i r1, __m512i r2, __m512i r3) {
  const __m512i byte = _mm512_set1_epi32(0xFF);
  const __m512i low = _mm512_or_si512(_mm512_and_si512(r0, byte), _mm512_slli_epi32(_mm512_and_si512(r1, byte), 8));
  const __m512i high = _mm512_or_si512(_mm512_slli_epi32(_mm512_and_si512(r2, byte), 16), _mm512_slli_epi32(r3, 24));
  return _mm512_or_si512(low, high);
}

// Rows [m0, m0 + R) of x into the scratch as u8 (x ^ 0x80 = x + 128), each followed by 4 zero
// bytes for the padded last quad (whose weights are 0 too).
template <int R>
void convert_rows(const W8A8Call& c, int64_t m0) {
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
void store_tile(const W8A8Call& c, int64_t m0, int64_t n0, const __m512i (&acc)[R][2], const Constants& k) {
  const int64_t valid = min64(kBlock, c.n - n0);
  const Requant rq[2] = {requant_params(c.multiplier + n0, c.shift + n0),
                         requant_params(c.multiplier + n0 + kLanes, c.shift + n0 + kLanes)};
  if (c.y_col_stride == 1) {
    #pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      int8_t* y = c.y + (m0 + r) * c.y_row_stride + n0;
      const __m128i lo = _mm512_cvtepi32_epi8(requantize16(acc[r][0], rq[0], k));
      const __m128i hi = _mm512_cvtepi32_epi8(requantize16(acc[r][1], rq[1], k));
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
  if constexpr (R % 4 == 0) {
    if (c.y_row_stride == 1) {
      // Channel-major output (NCHW): a channel's 4 rows are 4 consecutive bytes, one int32 store.
      for (int g = 0; g < R / 4; ++g)
        for (int j = 0; j < 2; ++j) {
          alignas(64) uint32_t words[kLanes];
          _mm512_store_si512(words, interleave_rows(requantize16(acc[4 * g][j], rq[j], k),
                                                    requantize16(acc[4 * g + 1][j], rq[j], k),
                                                    requantize16(acc[4 * g + 2][j], rq[j], k),
                                                    requantize16(acc[4 * g + 3][j], rq[j], k)));
          const int64_t count = min64(kLanes, valid - j * kLanes);
          for (int64_t ch = 0; ch < count; ++ch)
            __builtin_memcpy(c.y + (n0 + j * kLanes + ch) * c.y_col_stride + m0 + 4 * g, &words[ch], 4);
        }
      return;
    }
  }
  // Any other layout: the tile's bytes, then stored channel by channel.
  alignas(64) int8_t tile[R][kBlock];
  #pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    _mm_store_si128(reinterpret_cast<__m128i*>(tile[r]), _mm512_cvtepi32_epi8(requantize16(acc[r][0], rq[0], k)));
    _mm_store_si128(reinterpret_cast<__m128i*>(tile[r] + kLanes),
                    _mm512_cvtepi32_epi8(requantize16(acc[r][1], rq[1], k)));
  }
  for (int64_t ch = 0; ch < valid; ++ch) {
    int8_t* y = c.y + m0 * c.y_row_stride + (n0 + ch) * c.y_col_stride;
    #pragma GCC unroll 8
    for (int r = 0; r < R; ++r) y[r * c.y_row_stride] = tile[r][ch];
  }
}

// Rows [m0, m0 + R) times every block of 32 output channels.
template <int R>
void gemm_rows(const W8A8Call& c, int64_t m0, const Constants& k) {
  convert_rows<R>(c, m0);
  const int64_t blocks = (c.n + kBlock - 1) / kBlock;
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t n0 = b * kBlock;
    const uint8_t* wp = reinterpret_cast<const uint8_t*>(c.weights) + b * c.panel_bytes;
    __m512i acc[R][2];
    #pragma GCC unroll 8
    for (int r = 0; r < R; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_si512();
    const uint8_t* xq = c.scratch;
    for (int64_t q = 0; q < c.steps; ++q, wp += 4 * kBlock, xq += 4) {
      const __m512i w0 = _mm512_loadu_si512(wp);
      const __m512i w1 = _mm512_loadu_si512(wp + 4 * kLanes);
      #pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        const __m512i xb = _mm512_set1_epi32(static_cast<int>(load_u32(xq + r * c.scratch_row_bytes)));
        acc[r][0] = dpbusd(acc[r][0], xb, w0);
        acc[r][1] = dpbusd(acc[r][1], xb, w1);
      }
    }
    // + bias − (x_zero + 128)·Σw: Σ(x − x_zero)·w + bias, in wrapping int32 arithmetic, exact
    // since the true value fits. (Starting from zero keeps GCC from copying the accumulators.)
    const __m512i start0 = _mm512_add_epi32(_mm512_loadu_si512(c.bias + n0),
                                            _mm512_mullo_epi32(_mm512_loadu_si512(c.sums + n0), k.neg_x_zero_u8));
    const __m512i start1 =
        _mm512_add_epi32(_mm512_loadu_si512(c.bias + n0 + kLanes),
                         _mm512_mullo_epi32(_mm512_loadu_si512(c.sums + n0 + kLanes), k.neg_x_zero_u8));
    #pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      acc[r][0] = _mm512_add_epi32(acc[r][0], start0);
      acc[r][1] = _mm512_add_epi32(acc[r][1], start1);
    }
    store_tile<R>(c, m0, n0, acc, k);
  }
}

}  // namespace

void w8a8_gemm_avx512vnni(const W8A8Call& c) {
  Constants k;
  k.neg_x_zero_u8 = _mm512_set1_epi32(-(c.x_zero + 128));
  k.lo = _mm512_set1_epi64(c.y_min - c.y_zero);
  k.hi = _mm512_set1_epi64(c.y_max - c.y_zero);
  k.y_zero = _mm512_set1_epi32(c.y_zero);
  int64_t m0 = 0;
  for (; m0 + kRows <= c.m; m0 += kRows) gemm_rows<kRows>(c, m0, k);
  switch (c.m - m0) {
    case 1: gemm_rows<1>(c, m0, k); break;
    case 2: gemm_rows<2>(c, m0, k); break;
    case 3: gemm_rows<3>(c, m0, k); break;
    case 4: gemm_rows<4>(c, m0, k); break;
    case 5: gemm_rows<5>(c, m0, k); break;
    case 6: gemm_rows<6>(c, m0, k); break;
    case 7: gemm_rows<7>(c, m0, k); break;
    default: break;
  }
}

}  // namespace edgeloop::runtime::x86::detail
#endif

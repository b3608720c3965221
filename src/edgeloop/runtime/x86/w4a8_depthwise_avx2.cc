// Depthwise W4A8 with AVX2 + FMA: the arithmetic of quant_math.h's w4a8_accumulate and
// w4a8_output, written out with builtins only (see w4a8_depthwise_kernels.h) so the compiler
// vectorizes the channel loops with real fused multiply-adds. Bit-identical to the reference.
#include "edgeloop/runtime/x86/w4a8_depthwise_kernels.h"

namespace edgeloop::runtime::x86::detail {

void depthwise_w4a8_avx2(const DepthwiseW4A8Call& k) {
  const int64_t c = k.c, taps = k.kh * k.kw;
  for (int64_t p = k.p0; p < k.p1; ++p) {
    const int64_t oy = p / k.ow, ox = p % k.ow;
    float* __restrict sum = k.sum;
    int32_t* __restrict acc = k.acc;
    for (int64_t ch = 0; ch < c; ++ch) sum[ch] = 0.f;
    for (int64_t t0 = 0, g = 0; t0 < taps; t0 += k.block, ++g) {
      for (int64_t ch = 0; ch < c; ++ch) acc[ch] = 0;
      const int64_t t1 = t0 + k.block < taps ? t0 + k.block : taps;
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t iy = oy * k.stride_h - k.pad_top + (t / k.kw) * k.dil_h;
        const int64_t ix = ox * k.stride_w - k.pad_left + (t % k.kw) * k.dil_w;
        if (iy < 0 || iy >= k.h || ix < 0 || ix >= k.w) continue;  // padding: x − x_zero = 0
        const int8_t* __restrict xp = k.x + (iy * k.w + ix) * c;
        const int8_t* __restrict wp = k.weights + t * c;
        for (int64_t ch = 0; ch < c; ++ch) acc[ch] += (xp[ch] - k.x_zero) * wp[ch];
      }
      // sum = fma((float)acc_g, scale_g, sum): w4a8_accumulate.
      const float* __restrict s = k.scales + g * c;
      for (int64_t ch = 0; ch < c; ++ch) sum[ch] = __builtin_fmaf(static_cast<float>(acc[ch]), s[ch], sum[ch]);
    }
    // w4a8_output: clamp(round_half_even(fma(sum, x_scale, bias) / y_scale) + y_zero, −128, 127),
    // the division in f32, NaN giving the zero point. Rounding a float to an integer half to even
    // is nearbyintf in the default rounding mode; clamping before adding the zero point keeps
    // the addition exact and saturates as the reference does.
    int8_t* __restrict out = k.y + p * c;
    for (int64_t ch = 0; ch < c; ++ch) {
      const float v = __builtin_fmaf(sum[ch], k.x_scale, k.bias != nullptr ? k.bias[ch] : 0.f) / k.y_scale;
      float r = __builtin_nearbyintf(v);
      r = r < -512.f ? -512.f : (r > 512.f ? 512.f : r);
      r = v != v ? 0.f : r;  // NaN: the zero point
      int32_t q = static_cast<int32_t>(r) + k.y_zero;
      out[ch] = static_cast<int8_t>(q < -128 ? -128 : (q > 127 ? 127 : q));
    }
  }
}

}  // namespace edgeloop::runtime::x86::detail

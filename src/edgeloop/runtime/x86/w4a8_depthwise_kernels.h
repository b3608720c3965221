// Internal to the x86 backend: the depthwise W4A8 rows that x86_backend.cc hands to
// w4a8_depthwise_avx2.cc. Plain data and one free function, for the reason w4a8_gemm_kernels.h
// gives (code compiled with -mavx2 must not leak weak symbols into the rest of the program).
#pragma once

#include <cstdint>

namespace edgeloop::runtime::x86::detail {

// Output pixels [p0, p1) of one image of a depthwise W4A8 convolution, input and output NHWC.
struct DepthwiseW4A8Call {
  const int8_t* x;  // [h][w][c]
  int8_t* y;        // [oh·ow][c]
  int64_t c, h, w, kh, kw, ow;
  int64_t stride_h, stride_w, pad_top, pad_left, dil_h, dil_w;
  int64_t block;            // group length along the kh·kw taps
  const int8_t* weights;    // [tap][c]
  const float* scales;      // [group][c]
  const float* bias;        // [c] or null
  float x_scale, y_scale;
  int32_t x_zero, y_zero;
  int64_t p0, p1;
  int32_t* acc;  // scratch, c entries
  float* sum;    // scratch, c entries
};

// Needs AVX2 and FMA (x86::isa_supported(Isa::kAvx2)).
void depthwise_w4a8_avx2(const DepthwiseW4A8Call& call);

}  // namespace edgeloop::runtime::x86::detail

#include "edgeloop/model/onnx/params.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace edgeloop::model::onnx_import {
namespace {

std::string list_str(std::span<const int64_t> v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s + "]";
}

// Python-style floor division (the ONNX reference implementation's `//`).
int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

Status check_window(std::span<const int64_t> in, std::span<const int64_t> kernel, std::span<const int64_t> strides,
                    std::span<const int64_t> dilations) {
  const size_t n = kernel.size();
  if (in.size() != n || strides.size() != n || dilations.size() != n)
    return make_error(ErrorCode::kInvalidArgument,
                      "kernel {}, strides {}, dilations {} and input spatial dims {} disagree in length",
                      list_str(kernel), list_str(strides), list_str(dilations), list_str(in));
  // Bounds that keep every window computation far from int64 overflow; real models are far below.
  constexpr int64_t kMaxParam = int64_t{1} << 20, kMaxDim = int64_t{1} << 40;
  for (size_t i = 0; i < n; ++i) {
    if (kernel[i] < 1 || strides[i] < 1 || dilations[i] < 1)
      return make_error(ErrorCode::kInvalidArgument, "kernel {}, strides {} and dilations {} must be positive",
                        list_str(kernel), list_str(strides), list_str(dilations));
    if (kernel[i] > kMaxParam || dilations[i] > kMaxParam || strides[i] > kMaxParam || in[i] > kMaxDim)
      return make_error(ErrorCode::kInvalidArgument, "kernel {}, strides {}, dilations {} or input {} too large",
                        list_str(kernel), list_str(strides), list_str(dilations), list_str(in));
  }
  return ok();
}

}  // namespace

Result<std::vector<int64_t>> resolve_auto_pad(std::string_view auto_pad, std::span<const int64_t> in,
                                              std::span<const int64_t> kernel, std::span<const int64_t> strides,
                                              std::span<const int64_t> dilations, std::vector<int64_t> pads) {
  const size_t n = kernel.size();
  EL_CHECK(check_window(in, kernel, strides, dilations));
  if (auto_pad.empty() || auto_pad == "NOTSET") {
    if (pads.empty()) pads.assign(2 * n, 0);
    if (pads.size() != 2 * n)
      return make_error(ErrorCode::kInvalidArgument, "pads {} must have {} values (begins then ends)", list_str(pads),
                        2 * n);
    for (int64_t p : pads)
      if (p < 0) return make_error(ErrorCode::kInvalidArgument, "pads {} must not be negative", list_str(pads));
    return pads;
  }
  if (auto_pad == "VALID") return std::vector<int64_t>(2 * n, 0);
  const bool upper = auto_pad == "SAME_UPPER";
  if (!upper && auto_pad != "SAME_LOWER")
    return make_error(ErrorCode::kUnsupported, "auto_pad '{}' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID",
                      auto_pad);
  std::vector<int64_t> out(2 * n, 0);
  for (size_t i = 0; i < n; ++i) {
    const int64_t o = (in[i] + strides[i] - 1) / strides[i];
    const int64_t extent = (kernel[i] - 1) * dilations[i] + 1;
    const int64_t total = std::max<int64_t>(0, (o - 1) * strides[i] + extent - in[i]);
    const int64_t small = total / 2, big = total - total / 2;
    out[i] = upper ? small : big;
    out[i + n] = upper ? big : small;
  }
  return out;
}

Result<ConvTransposePads> resolve_conv_transpose_pads(std::string_view auto_pad, std::span<const int64_t> in,
                                                      std::span<const int64_t> kernel,
                                                      std::span<const int64_t> strides,
                                                      std::span<const int64_t> dilations,
                                                      std::vector<int64_t> pads, std::vector<int64_t> output_padding,
                                                      std::span<const int64_t> output_shape) {
  const size_t n = kernel.size();
  EL_CHECK(check_window(in, kernel, strides, dilations));
  if (output_padding.empty()) output_padding.assign(n, 0);
  if (output_padding.size() != n)
    return make_error(ErrorCode::kInvalidArgument, "output_padding {} must have {} values", list_str(output_padding), n);
  for (int64_t p : output_padding)
    if (p < 0 || p > (int64_t{1} << 20))
      return make_error(ErrorCode::kInvalidArgument, "output_padding {} out of range", list_str(output_padding));
  const bool same = auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER";
  if (!same && !auto_pad.empty() && auto_pad != "NOTSET" && auto_pad != "VALID")
    return make_error(ErrorCode::kUnsupported, "auto_pad '{}' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID",
                      auto_pad);
  if (output_shape.empty() && !same) {
    if (auto_pad == "VALID") pads.assign(2 * n, 0);
    if (pads.empty()) pads.assign(2 * n, 0);
    if (pads.size() != 2 * n)
      return make_error(ErrorCode::kInvalidArgument, "pads {} must have {} values (begins then ends)", list_str(pads),
                        2 * n);
    return ConvTransposePads{std::move(pads), std::move(output_padding)};
  }
  if (!output_shape.empty() && output_shape.size() != n)
    return make_error(ErrorCode::kInvalidArgument, "output_shape {} must have {} values", list_str(output_shape), n);
  ConvTransposePads r{std::vector<int64_t>(2 * n, 0), std::move(output_padding)};
  for (size_t i = 0; i < n; ++i) {
    const int64_t target = output_shape.empty() ? in[i] * strides[i] : output_shape[i];
    if (target < 1 || target > (int64_t{1} << 40))
      return make_error(ErrorCode::kInvalidArgument, "output_shape {} out of range", list_str(output_shape));
    const int64_t full = strides[i] * (in[i] - 1) + r.output_padding[i] + (kernel[i] - 1) * dilations[i] + 1;
    const int64_t total = full - target;
    if (total < 0) {
      // The requested output is larger than the full transposed convolution: the extra rows at
      // the end see only the bias, which is what output_padding means.
      r.output_padding[i] -= total;
      continue;
    }
    const int64_t half = floor_div(total, 2);
    if (auto_pad == "SAME_UPPER") {
      r.pads[i] = half;
      r.pads[i + n] = total - half;
    } else {
      r.pads[i] = total - half;
      r.pads[i + n] = half;
    }
  }
  return r;
}

}  // namespace edgeloop::model::onnx_import

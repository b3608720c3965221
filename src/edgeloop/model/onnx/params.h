// Parameter math of the ONNX → IR rewrite that is the importer's own: explicit pads for auto_pad
// (Conv, ConvTranspose, pools). Reshape/Flatten/Squeeze/Unsqueeze/Split/Slice/Resize parameters
// are resolved by model/shapes/data_params.h, next to the shape functions that check them.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "edgeloop/base/error.h"
#include "edgeloop/model/dtype.h"

namespace edgeloop::model::onnx_import {

// Pads (begins then ends, 2n values) for a convolution or pooling window over `in` spatial dims.
// auto_pad "NOTSET" returns `pads` (zeros when empty), "VALID" zeros, "SAME_UPPER"/"SAME_LOWER" the
// padding that makes out = ceil(in / stride), the odd pixel at the end (UPPER) or begin (LOWER).
Result<std::vector<int64_t>> resolve_auto_pad(std::string_view auto_pad, std::span<const int64_t> in,
                                              std::span<const int64_t> kernel, std::span<const int64_t> strides,
                                              std::span<const int64_t> dilations, std::vector<int64_t> pads);

// ConvTranspose: pads and output_padding that produce `output_shape` (spatial dims), or, for
// SAME_UPPER/SAME_LOWER without an output_shape, in * stride.
struct ConvTransposePads {
  std::vector<int64_t> pads;
  std::vector<int64_t> output_padding;
};
Result<ConvTransposePads> resolve_conv_transpose_pads(std::string_view auto_pad, std::span<const int64_t> in,
                                                      std::span<const int64_t> kernel,
                                                      std::span<const int64_t> strides,
                                                      std::span<const int64_t> dilations,
                                                      std::vector<int64_t> pads, std::vector<int64_t> output_padding,
                                                      std::span<const int64_t> output_shape);

}  // namespace edgeloop::model::onnx_import

// Post-training quantization: rewrites an FP32 graph into a quantized variant, layer by layer
// (docs/quantization.md, "Quantization").
//
// The unit of choice is a *weighted layer*: a Conv, Gemm or MatMul whose weight is a constant.
// A plan gives each one a mode; everything else follows from the modes:
//   fp32   unchanged
//   fp16   f16 weights, widened by a Cast before the float op
//   int8   W8A8: i8 weights per output channel (symmetric), i32 bias, i8 activations
//   w4a8   i4 weights per group of `group_size` along the reduction (f16 scales), f32 bias,
//          i8 activations
//   w4a32  the same i4 weights, widened by a DequantizeLinear before the float op
// Activations are i8 per tensor with a zero point, from calibration. The ops around integer
// layers run on integers when the reference runtime has an integer kernel for them (Relu and
// Clip fused into the layer before them as clamps, Add, MaxPool, GlobalAveragePool, Reshape,
// Transpose); every other op runs in float, with DequantizeLinear/QuantizeLinear inserted at the
// boundary, and the report lists it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "edgeloop/base/error.h"
#include "edgeloop/compress/calibration.h"
#include "edgeloop/model/graph.h"

namespace edgeloop::compress {

enum class LayerMode { kFp32, kFp16, kInt8, kW4A8, kW4A32 };
std::string_view layer_mode_name(LayerMode m);  // "fp32", "fp16", "int8", "w4a8", "w4a32"
Result<LayerMode> parse_layer_mode(std::string_view name);
bool uses_int8_activations(LayerMode m);  // int8, w4a8

// A weighted layer of an FP32 graph.
struct Layer {
  std::string node;    // node name
  model::OpType op{};  // Conv, Gemm or MatMul
  std::string weight;  // weight tensor name
  int64_t out_channels = 0;
  int64_t reduction = 0;  // weights per output channel
  bool has_bias = false;
  // Empty when the layer can be quantized; else why it stays fp32 (e.g. a Gemm with transA).
  std::string ineligible;
};

// The weighted layers in execution order.
std::vector<Layer> weighted_layers(const model::Graph& graph);

// Bytes a layer's weights and bias take in a mode (data only, without alignment and scales'
// framing), as the artifact stores them.
int64_t layer_bytes(const Layer& layer, LayerMode mode, int group_size);

// Per-layer modes by node name; layers not listed stay fp32.
struct QuantPlan {
  std::vector<std::pair<std::string, LayerMode>> layers;

  LayerMode mode_of(std::string_view node) const;
  void set(const std::string& node, LayerMode mode);
  bool operator==(const QuantPlan&) const = default;
};

// {"<node>": "<mode>", ...}: how plans appear in artifacts, variants.json and --json output.
nlohmann::ordered_json plan_to_json(const QuantPlan& plan);

// Every eligible layer in `mode`, except that with int4 modes a layer whose rows are shorter than
// one group (reduction < group_size: a first conv over one channel, a 3x3 depthwise conv) stays
// int8 (w4a8) or fp16 (w4a32): one scale per handful of weights saves little, and these layers
// are the most sensitive to 4 bits.
QuantPlan uniform_plan(const model::Graph& graph, LayerMode mode, int group_size = 32);

struct QuantizeOptions {
  RangeMethod range = RangeMethod::kPercentile;  // activation ranges
  RangeOptions range_options;
  std::vector<std::pair<std::string, RangeMethod>> range_overrides;  // per activation tensor name
  int group_size = 32;                                               // int4: weights per group
  // int8 weights with one scale per tensor instead of per output channel: only to show what
  // per-channel scales buy (a depthwise conv's channels differ by orders of magnitude).
  bool per_tensor_int8_weights = false;
  std::string variant;       // metadata variant name; default: the single mode used, or "mixed"
  std::string calibration;   // description of the calibration data, recorded in the metadata
};

struct QuantizeReport {
  struct LayerReport {
    std::string node, op, mode;
    int64_t bytes_before = 0, bytes_after = 0;
    double weight_sqnr_db = 0;  // stored weights vs FP32: 10·log10(Σw² / Σ(w − ŵ)²); inf when exact
    std::string note;  // e.g. why an ineligible layer stayed fp32
  };
  std::vector<LayerReport> layers;
  std::vector<std::string> integer_ops;  // "node (Op)": run on integers
  std::vector<std::string> fused;        // "node (Relu) into conv": activations fused as clamps
  std::vector<std::string> float_ops;    // "node (Op)": no integer kernel, run in float between Dequantize/Quantize
  int quantize_nodes = 0, dequantize_nodes = 0;
  int64_t weight_bytes_before = 0, weight_bytes_after = 0;
};

struct Quantized {
  model::Graph graph;
  QuantizeReport report;
};

// Refuses graphs that are already quantized (quantized tensors, non-f32 weights, or a variant
// other than fp32): quantizing twice compounds the error.
Status expect_fp32_graph(const model::Graph& graph);

// Rewrites `fp32` according to `plan`. `stats` are the calibration statistics of the same graph;
// they are required when any layer runs on int8 activations. The result is verified, carries a
// fresh golden vector computed on the quantized graph, and records the plan in its metadata
// property "edgeloop.quantization" (JSON).
Result<Quantized> quantize_graph(const model::Graph& fp32, const QuantPlan& plan, const CalibrationStats* stats,
                                 const QuantizeOptions& options = {});

}  // namespace edgeloop::compress

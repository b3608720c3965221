// Calibration: run representative inputs through the FP32 model, collect per-tensor activation
// statistics, and choose the range [lo, hi] each activation is quantized to
// (docs/quantization.md, "Calibration").
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "edgeloop/base/error.h"
#include "edgeloop/model/graph.h"
#include "edgeloop/runtime/program.h"

namespace edgeloop::compress {

// One calibration sample: one value per model input, in graph input order.
using Sample = std::vector<model::TensorData>;

// Where calibration samples come from. Samples are produced on demand, so a large set is never
// held in memory at once.
class CalibrationSource {
 public:
  // spec: "fashion-mnist:train[:N]", "fashion-mnist:test[:N]" (the model's input preprocessing
  // applied, see image_to_input), "random:N" (uniform [-1, 1], deterministic, f32 inputs only) or
  // a folder of .npy files, one sample per file in name order (one-input models only), or a .npz
  // file: per input, the array named after it (or a one-input model's only array) holding N
  // samples as [N, *shape], or [N, *shape[1:]] when the input's first dimension is 1.
  // Checked against the model's inputs; errors say what was expected.
  static Result<CalibrationSource> parse(std::string_view spec, const model::Graph& graph);
  // Explicit samples, each checked against the model's inputs.
  static Result<CalibrationSource> from_samples(std::vector<Sample> samples, const model::Graph& graph,
                                                std::string description = "samples");

  int64_t size() const { return count_; }
  const std::string& description() const { return description_; }
  // The i-th sample, checked against the model (dtype, shape, byte size) before it is returned.
  Result<Sample> sample(int64_t index) const;

 private:
  using Generator = std::function<Result<Sample>(int64_t)>;
  CalibrationSource(std::string description, int64_t count, Generator gen, std::vector<model::Tensor> inputs)
      : description_(std::move(description)), count_(count), gen_(std::move(gen)), inputs_(std::move(inputs)) {}

  std::string description_;
  int64_t count_ = 0;
  Generator gen_;
  std::vector<model::Tensor> inputs_;  // the model's inputs (no data): what every sample must match
};

// Statistics of one activation tensor over all calibration samples.
struct TensorStats {
  static constexpr int kBins = 2048;  // even, so the histogram is symmetric around 0

  std::string name;
  model::TensorId tensor = model::kNoTensor;
  float min = 0.f, max = 0.f;  // meaningful once count > 0
  int64_t count = 0;
  // Histogram over [-edge, edge] (edge > absmax) in kBins equal bins (bin i covers [-edge + i·w, -edge + (i+1)·w),
  // w = 2·edge / kBins). When a value exceeds the edge, the edge doubles and neighbouring bins
  // merge pairwise, which is exact: no count moves to a bin that does not contain it.
  double edge = 0.0;  // double: doubling never overflows for any finite float
  std::vector<double> bins;

  // Non-finite values (NaN, ±inf) are skipped: they have no quantized representation.
  void add(std::span<const float> values);
  double bin_width() const { return 2.0 * edge / kBins; }
  double absmax() const;
};

struct CalibrationStats {
  int64_t samples = 0;
  std::vector<TensorStats> tensors;  // graph inputs first, then node outputs in execution order
  const TensorStats* find(std::string_view name) const;
};

// Runs every sample through the model and collects statistics for every f32 non-constant
// tensor (graph inputs and node outputs). progress(done, total) is called after each sample.
Result<CalibrationStats> collect_statistics(const runtime::Program& program, const CalibrationSource& source,
                                            const std::function<void(int64_t, int64_t)>& progress = {});

enum class RangeMethod { kMinMax, kPercentile, kMse, kEntropy };
// "minmax", "percentile", "mse", "entropy".
Result<RangeMethod> parse_range_method(std::string_view name);
std::string_view range_method_name(RangeMethod m);

struct RangeOptions {
  double percentile = 99.99;  // kPercentile: keeps this share of values on each side
  int entropy_bins = 128;     // kEntropy: quantized levels the KL divergence compares against
  int mse_levels = 256;       // kMse: quantization levels the error is computed for (int8)
};

struct Range {
  float lo = 0.f, hi = 0.f;
};

// The range an activation is quantized to, always within [min, max] of the observed values.
Result<Range> select_range(const TensorStats& stats, RangeMethod method, const RangeOptions& options = {});

// Asymmetric affine quantization: x ≈ scale · (q − zero_point), q in [qmin, qmax].
struct AffineParams {
  float scale = 1.f;
  int32_t zero_point = 0;
  int32_t qmin = 0, qmax = 255;
};

// Range widened to include 0 (so 0 is exact, as zero padding needs); scale = (hi − lo)/(qmax − qmin)
// (1 when the range is empty); zero_point = clamp(qmin − round(lo / scale), qmin, qmax), rounding
// half to even like ONNX QuantizeLinear. uint8: [0, 255]; int8: [−128, 127].
AffineParams affine_params(Range range, bool is_signed);
// q = clamp(round_half_even(x / scale) + zero_point, qmin, qmax), as ONNX QuantizeLinear.
int32_t quantize(float x, const AffineParams& p);
float dequantize(int32_t q, const AffineParams& p);

}  // namespace edgeloop::compress

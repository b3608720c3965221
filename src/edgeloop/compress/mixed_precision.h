// Mixed precision to an accuracy floor (docs/quantization.md, "Mixed precision"): measure how
// much each weighted layer suffers alone in each mode, then spend bytes where they buy the most.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "edgeloop/base/stats.h"
#include "edgeloop/compress/dataset.h"
#include "edgeloop/compress/quantize.h"

namespace edgeloop::compress {

// How a quantized graph does against the FP32 model on held-out images.
struct Score {
  double accuracy = 0;  // top-1
  double kl = 0;        // mean KL(softmax(fp32 logits) || softmax(logits)), nats
  Summary latency_us;   // per inference, reference runtime
};

// Scores plans on a fixed image set against the FP32 model's own outputs there. `stats` must
// outlive the scorer.
class PlanScorer {
 public:
  static Result<PlanScorer> create(const model::Graph& fp32, const CalibrationStats& stats, ImageDataset holdout,
                                   QuantizeOptions options, int threads);
  Result<Score> score(const QuantPlan& plan) const;
  // Scores already measured on these same images (e.g. a uniform variant the matrix built), used
  // instead of evaluating the plan again. Must outlive the scorer.
  void set_known(const std::vector<std::pair<QuantPlan, Score>>* known) { known_ = known; }
  double fp32_accuracy() const { return fp32_accuracy_; }
  const Summary& fp32_latency_us() const { return fp32_latency_us_; }
  const model::Graph& fp32() const { return *fp32_; }
  const CalibrationStats& stats() const { return *stats_; }
  int threads() const { return threads_; }
  const QuantizeOptions& options() const { return options_; }
  int64_t images() const { return holdout_.count; }

 private:
  PlanScorer() = default;
  std::shared_ptr<const model::Graph> fp32_;
  const CalibrationStats* stats_ = nullptr;
  ImageDataset holdout_;
  QuantizeOptions options_;
  int threads_ = 1;
  const std::vector<std::pair<QuantPlan, Score>>* known_ = nullptr;
  std::vector<float> fp32_probs_;  // softmax of the FP32 logits, images × classes
  double fp32_accuracy_ = 0;
  Summary fp32_latency_us_;
};

// One layer quantized alone (every other layer FP32).
struct LayerSensitivity {
  Layer layer;
  struct Entry {
    LayerMode mode;
    Score score;
    int64_t bytes = 0;
  };
  std::vector<Entry> modes;  // int8 and w4a8; fp16 is taken as lossless (Score{fp32 accuracy, 0})
  const Entry* find(LayerMode m) const;
};

using Progress = std::function<void(std::string_view step, int64_t done, int64_t total)>;

Result<std::vector<LayerSensitivity>> measure_sensitivity(const PlanScorer& scorer, const Progress& progress = {});

struct MixedPlan {
  QuantPlan plan;
  Score score;  // on the scorer's images
  int64_t bytes = 0;
  std::vector<std::string> steps;  // the search, one line per evaluated plan
};

// The smallest plan over {fp16, int8, w4a8} the greedy search finds with accuracy >= floor on the
// scorer's images: start with every layer at w4a8 (or at `start`, to resume a search on other
// images); while below the floor, upgrade (w4a8 → int8
// → fp16) the layer whose upgrade removes the most KL per added byte, and score again. Fails
// with kFailedPrecondition when even FP16 everywhere stays below the floor, naming the layers
// that cost the most accuracy.
Result<MixedPlan> search_mixed_plan(const PlanScorer& scorer, const std::vector<LayerSensitivity>& sensitivity,
                                    double floor, const Progress& progress = {}, const QuantPlan* start = nullptr);

// The accuracy floor: absolute top-1, or a maximum drop from FP32 in percentage points.
struct Floor {
  std::optional<double> absolute;
  std::optional<double> max_drop_pp;
  bool set() const { return absolute || max_drop_pp; }
  // The floor for a model whose FP32 accuracy is `fp32`.
  double resolve(double fp32) const;
  std::string describe() const;
};

struct FloorPlan {
  MixedPlan mixed;  // scored on the eval images
  std::vector<LayerSensitivity> sensitivity;
  std::vector<std::string> steps;  // the whole search
};

// Mixed precision to a floor on `eval`'s images: the sensitivity sweep and the search run on the
// (smaller) held-out images with the floor carried over as a drop from FP32; the plan found is
// then scored on the eval images and, if it falls short there, the search resumes on them.
Result<FloorPlan> plan_to_floor(const PlanScorer& eval, const ImageDataset& holdout, const Floor& floor,
                                const Progress& progress = {}, const std::function<void(std::string_view)>& log = {});

// "the most sensitive layers: a (int8 −0.40 pp, w4a8 −2.10 pp), b (...)": for error messages.
std::string most_sensitive(const std::vector<LayerSensitivity>& sensitivity, size_t count = 3);

}  // namespace edgeloop::compress

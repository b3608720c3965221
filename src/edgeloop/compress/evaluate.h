// Accuracy and latency of a classifier over a labelled image set, on the reference runtime.
#pragma once

#include <functional>
#include <vector>

#include "edgeloop/base/stats.h"
#include "edgeloop/compress/dataset.h"
#include "edgeloop/model/graph.h"
#include "edgeloop/runtime/program.h"

namespace edgeloop::compress {

struct EvalOptions {
  bool keep_logits = false;
  // Sessions run in parallel on contiguous slices of the images (one Session per thread); the
  // results are the same for any thread count.
  int threads = 1;
  // Called every few hundred images with (done, total) for progress display.
  std::function<void(int64_t, int64_t)> progress;
};

struct EvalReport {
  int64_t count = 0;
  int64_t correct = 0;
  double accuracy() const { return count ? static_cast<double>(correct) / count : 0.0; }
  Summary latency_us;              // per inference, microseconds
  std::vector<int32_t> predicted;  // top-1 class per image
  std::vector<float> logits;       // count × classes, when keep_logits
  int64_t classes = 0;
};

// Turns raw 8-bit pixels into the model input using the input's IoSpec:
// x = (pixel * scale - mean) / std (defaults: scale 1/255, mean 0, std 1 when the spec is empty).
Result<model::TensorData> image_to_input(const model::Graph& graph, const ImageDataset& data, int64_t index);

// The model must have one f32 input whose element count equals one image (channels 1) and one
// output with one score per class.
Result<EvalReport> evaluate_classifier(const runtime::Program& program, const ImageDataset& data,
                                       const EvalOptions& options = {});

}  // namespace edgeloop::compress

#include "edgeloop/compress/evaluate.h"

#include <algorithm>
#include <chrono>

#include "edgeloop/runtime/session.h"

namespace edgeloop::compress {

Result<model::TensorData> image_to_input(const model::Graph& graph, const ImageDataset& data, int64_t index) {
  if (graph.inputs.size() != 1)
    return make_error(ErrorCode::kInvalidArgument, "an image classifier must have one input, this model has {}", graph.inputs.size());
  const model::Tensor& in = graph.tensors[graph.inputs[0]];
  if (in.dtype != model::DType::kF32 || in.elements() != data.rows * data.cols)
    return make_error(ErrorCode::kInvalidArgument, "model input '{}' is {} {}, which does not hold one {}x{} image",
                      in.name, model::dtype_name(in.dtype), model::shape_str(in.shape), data.rows, data.cols);
  float scale = 1.f / 255.f, mean = 0.f, stddev = 1.f;
  for (const model::IoSpec& s : graph.meta.inputs)
    if (s.name == in.name) {
      scale = s.scale;
      if (!s.mean.empty()) mean = s.mean[0];
      if (!s.std.empty()) stddev = s.std[0];
    }
  auto t = model::TensorData::zeros(in.name, in.dtype, in.shape);
  auto values = t.values<float>();
  const uint8_t* px = data.image(index);
  for (size_t i = 0; i < values.size(); ++i) values[i] = (static_cast<float>(px[i]) * scale - mean) / stddev;
  return t;
}

Result<EvalReport> evaluate_classifier(const runtime::Program& program, const ImageDataset& data, const EvalOptions& options) {
  const model::Graph& g = program.graph();
  if (g.outputs.empty()) return make_error(ErrorCode::kInvalidArgument, "the model has no outputs");
  const model::Tensor& out = g.tensors[g.outputs[0]];
  if (out.dtype != model::DType::kF32 || out.elements() < data.num_classes)
    return make_error(ErrorCode::kInvalidArgument, "model output '{}' is {} {}, expected {} f32 class scores", out.name,
                      model::dtype_name(out.dtype), model::shape_str(out.shape), data.num_classes);
  EvalReport r;
  r.classes = out.elements();
  runtime::Session session(program);
  std::vector<double> latencies;
  latencies.reserve(data.count);
  for (int64_t i = 0; i < data.count; ++i) {
    EL_TRY(auto input, image_to_input(g, data, i));
    const auto start = std::chrono::steady_clock::now();
    auto outputs = session.run({&input, 1});
    latencies.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count());
    if (!outputs) return std::unexpected(std::move(outputs).error().context(fmt::format("image {}", i)));
    auto scores = (*outputs)[0].values<float>();
    const auto best = static_cast<int32_t>(std::max_element(scores.begin(), scores.end()) - scores.begin());
    r.predicted.push_back(best);
    r.correct += best == data.labels[i];
    if (options.keep_logits) r.logits.insert(r.logits.end(), scores.begin(), scores.end());
    ++r.count;
    if (options.progress && (r.count % 500 == 0 || r.count == data.count)) options.progress(r.count, data.count);
  }
  r.latency_us = summarize(std::move(latencies));
  return r;
}

}  // namespace edgeloop::compress

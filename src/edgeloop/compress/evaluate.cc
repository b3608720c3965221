#include "edgeloop/compress/evaluate.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

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
  r.count = data.count;
  r.predicted.resize(static_cast<size_t>(data.count));
  if (options.keep_logits) r.logits.resize(static_cast<size_t>(data.count * r.classes));
  std::vector<double> latencies(static_cast<size_t>(data.count));
  const int threads = static_cast<int>(std::clamp<int64_t>(options.threads, 1, std::max<int64_t>(data.count, 1)));
  std::vector<Status> status(static_cast<size_t>(threads), ok());
  std::atomic<int64_t> done{0};
  auto work = [&](int t) {
    const int64_t begin = data.count * t / threads, end = data.count * (t + 1) / threads;
    runtime::Session session(program);
    for (int64_t i = begin; i < end; ++i) {
      auto input = image_to_input(g, data, i);
      if (!input) {
        status[t] = std::unexpected(std::move(input).error());
        return;
      }
      const auto start = std::chrono::steady_clock::now();
      auto outputs = session.run({&*input, 1});
      latencies[i] = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
      if (!outputs) {
        status[t] = std::unexpected(std::move(outputs).error().context(fmt::format("image {}", i)));
        return;
      }
      auto scores = (*outputs)[0].values<float>();
      r.predicted[i] = static_cast<int32_t>(std::max_element(scores.begin(), scores.end()) - scores.begin());
      if (options.keep_logits) std::copy(scores.begin(), scores.end(), r.logits.begin() + i * r.classes);
      const int64_t n = done.fetch_add(1) + 1;
      // One thread reports, so the callback needs no locking.
      if (t == 0 && options.progress && (n % 500 < 1 + threads || i + 1 == end)) options.progress(n, data.count);
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work, t);
  work(0);
  for (auto& th : pool) th.join();
  for (Status& s : status) EL_CHECK(std::move(s));
  if (options.progress) options.progress(data.count, data.count);
  for (int64_t i = 0; i < data.count; ++i) r.correct += r.predicted[i] == data.labels[i];
  r.latency_us = summarize(std::move(latencies));
  return r;
}

}  // namespace edgeloop::compress

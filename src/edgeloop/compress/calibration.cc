#include "edgeloop/compress/calibration.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <limits>
#include <optional>

#include "edgeloop/compress/dataset.h"
#include "edgeloop/compress/evaluate.h"
#include "edgeloop/model/npy.h"
#include "edgeloop/model/npz.h"
#include "edgeloop/runtime/golden.h"
#include "edgeloop/runtime/session.h"

namespace edgeloop::compress {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kSpecHelp =
    "expected fashion-mnist:SPLIT[:N|:A-B] (SPLIT train or test), random:N, a folder of .npy files or a .npz file";
constexpr uint64_t kRandomSeed = 0x5eed'ca11'b4a7'e000ULL;

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  for (size_t start = 0;;) {
    size_t end = s.find(sep, start);
    parts.push_back(s.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) return parts;
    start = end + 1;
  }
}

Result<int64_t> parse_count(std::string_view text, std::string_view spec) {
  int64_t n = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc{} || ptr != text.data() + text.size() || n <= 0)
    return make_error(ErrorCode::kInvalidArgument, "calibration data '{}': '{}' is not a positive sample count", spec, text);
  return n;
}

std::vector<model::Tensor> input_tensors(const model::Graph& graph) {
  std::vector<model::Tensor> inputs;
  for (model::TensorId id : graph.inputs) {
    model::Tensor t = graph.tensors[id];
    t.data = {};
    inputs.push_back(std::move(t));
  }
  return inputs;
}

// "[N,1,4]": `shape` with a leading sample axis N, from dimension `from` on.
std::string stacked_shape_str(const model::Shape& shape, size_t from) {
  std::string s = "[N";
  for (size_t d = from; d < shape.size(); ++d) s += fmt::format(",{}", shape[d]);
  return s + "]";
}

// .npz calibration data: per model input, the array of its samples stacked on a new leading axis.
struct StackedInputs {
  std::vector<model::TensorData> arrays;  // in graph input order
  std::vector<size_t> sample_bytes;       // bytes of one sample of each array
  int64_t count = 0;                      // N, the same for every input
};

Result<StackedInputs> read_stacked_inputs(std::string_view spec, const std::vector<model::Tensor>& inputs) {
  auto read = model::read_npz(fs::path(spec));
  if (!read) return std::unexpected(std::move(read).error().context(fmt::format("calibration data '{}'", spec)));
  std::vector<model::TensorData> arrays = std::move(*read);
  StackedInputs out;
  for (const model::Tensor& in : inputs) {
    // The array named after the input or, for a one-input model, the archive's only array.
    auto it = std::find_if(arrays.begin(), arrays.end(), [&](const model::TensorData& a) { return a.name == in.name; });
    if (it == arrays.end() && inputs.size() == 1 && arrays.size() == 1) it = arrays.begin();
    if (it == arrays.end()) {
      std::string names;
      for (const model::TensorData& a : arrays) names += (names.empty() ? "'" : ", '") + a.name + "'";
      return make_error(ErrorCode::kInvalidArgument, "calibration data '{}': no array '{}' for input '{}' (the archive holds {})", spec,
                        in.name, in.name, names.empty() ? "no arrays" : names);
    }
    model::TensorData& a = *it;
    if (a.dtype != in.dtype)
      return make_error(ErrorCode::kInvalidArgument, "calibration data '{}': array '{}' for input '{}' must be {}, got {}", spec, a.name,
                        in.name, model::dtype_name(in.dtype), model::dtype_name(a.dtype));
    // [N, *shape], or [N, *shape[1:]] when the input has batch 1.
    const model::Shape& want = in.shape;
    const bool stacked = a.shape.size() == want.size() + 1 && std::equal(want.begin(), want.end(), a.shape.begin() + 1);
    const bool batch_one = !want.empty() && want[0] == 1 && a.shape.size() == want.size() &&
                           std::equal(want.begin() + 1, want.end(), a.shape.begin() + 1);
    if (!stacked && !batch_one)
      return make_error(ErrorCode::kInvalidArgument, "calibration data '{}': array '{}' for input '{}' {} must be {}{} (N samples), got {}",
                        spec, a.name, in.name, model::shape_str(want), stacked_shape_str(want, 0),
                        !want.empty() && want[0] == 1 ? " or " + stacked_shape_str(want, 1) : "", model::shape_str(a.shape));
    const int64_t n = a.shape[0];
    if (n == 0) return make_error(ErrorCode::kInvalidArgument, "calibration data '{}': array '{}' is empty (0 samples)", spec, a.name);
    if (out.arrays.empty()) {
      out.count = n;
    } else if (n != out.count) {
      return make_error(ErrorCode::kInvalidArgument,
                        "calibration data '{}': array '{}' holds {} samples but '{}' holds {}; every input needs the same number", spec,
                        a.name, n, out.arrays.front().name, out.count);
    }
    out.sample_bytes.push_back(a.bytes.size() / static_cast<size_t>(n));
    // Graph inputs have distinct names, so no array serves two inputs: its bytes can move.
    out.arrays.push_back({a.name, a.dtype, a.shape, std::move(a.bytes)});
  }
  if (out.count == 0) return make_error(ErrorCode::kInvalidArgument, "calibration data '{}' is empty", spec);
  return out;
}

}  // namespace

// ---- sources ----

Result<Sample> CalibrationSource::sample(int64_t index) const {
  if (index < 0 || index >= count_)
    return make_error(ErrorCode::kOutOfRange, "calibration sample {} does not exist ({} has {})", index, description_, count_);
  EL_TRY(Sample s, gen_(index));
  if (s.size() != inputs_.size())
    return make_error(ErrorCode::kInvalidArgument, "calibration sample {} of {} has {} tensors, the model takes {} inputs",
                      index, description_, s.size(), inputs_.size());
  for (size_t k = 0; k < s.size(); ++k) {
    const model::Tensor& want = inputs_[k];
    model::TensorData& have = s[k];
    if (have.dtype != want.dtype || have.shape != want.shape || have.bytes.size() != want.byte_size())
      return make_error(ErrorCode::kInvalidArgument, "calibration sample {} of {}: input '{}' must be {} {}, got {} {}", index,
                        description_, want.name, model::dtype_name(want.dtype), model::shape_str(want.shape),
                        model::dtype_name(have.dtype), model::shape_str(have.shape));
    have.name = want.name;
  }
  return s;
}

Result<CalibrationSource> CalibrationSource::from_samples(std::vector<Sample> samples, const model::Graph& graph,
                                                          std::string description) {
  if (samples.empty()) return make_error(ErrorCode::kInvalidArgument, "calibration data '{}' is empty", description);
  auto shared = std::make_shared<const std::vector<Sample>>(std::move(samples));
  CalibrationSource src(std::move(description), static_cast<int64_t>(shared->size()),
                        [shared](int64_t i) -> Result<Sample> { return (*shared)[i]; }, input_tensors(graph));
  for (int64_t i = 0; i < src.size(); ++i) EL_CHECK(src.sample(i));
  return src;
}

Result<CalibrationSource> CalibrationSource::parse(std::string_view spec, const model::Graph& graph) {
  const auto parts = split(spec, ':');
  std::optional<CalibrationSource> src;
  if (parts[0] == "fashion-mnist") {
    EL_TRY(ImageDataset data, load_image_set(spec));
    // image_to_input needs the input tensor and its preprocessing only, not the weights.
    auto mini = std::make_shared<model::Graph>();
    mini->tensors = input_tensors(graph);
    for (size_t k = 0; k < mini->tensors.size(); ++k) mini->inputs.push_back(static_cast<model::TensorId>(k));
    mini->meta.inputs = graph.meta.inputs;
    auto images = std::make_shared<const ImageDataset>(std::move(data));
    src = CalibrationSource(std::string(spec), images->count,
                            [mini, images](int64_t i) -> Result<Sample> {
                              EL_TRY(auto t, image_to_input(*mini, *images, i));
                              return Sample{std::move(t)};
                            },
                            input_tensors(graph));
  } else if (parts[0] == "random") {
    if (parts.size() != 2) return make_error(ErrorCode::kInvalidArgument, "calibration data '{}': {}", spec, kSpecHelp);
    EL_TRY(int64_t n, parse_count(parts[1], spec));
    auto inputs = input_tensors(graph);
    for (const model::Tensor& t : inputs)
      if (t.dtype != model::DType::kF32)
        return make_error(ErrorCode::kInvalidArgument, "random calibration data needs f32 inputs; input '{}' is {}", t.name,
                          model::dtype_name(t.dtype));
    src = CalibrationSource(std::string(spec), n,
                            [inputs](int64_t i) -> Result<Sample> {
                              Sample s;
                              for (size_t k = 0; k < inputs.size(); ++k) {
                                // Seeded by (sample, input): any sample can be regenerated alone.
                                s.push_back(runtime::random_input(inputs[k], kRandomSeed + static_cast<uint64_t>(i) * 1'000'003u + k));
                              }
                              return s;
                            },
                            input_tensors(graph));
  } else if (spec.ends_with(".npz")) {
    EL_TRY(StackedInputs data, read_stacked_inputs(spec, input_tensors(graph)));
    auto stacked = std::make_shared<const StackedInputs>(std::move(data));
    src = CalibrationSource(std::string(spec), stacked->count,
                            [stacked, inputs = input_tensors(graph)](int64_t i) -> Result<Sample> {
                              Sample s;
                              for (size_t k = 0; k < inputs.size(); ++k) {
                                const model::TensorData& a = stacked->arrays[k];
                                const size_t n = stacked->sample_bytes[k], at = static_cast<size_t>(i) * n;
                                s.push_back({inputs[k].name, a.dtype, inputs[k].shape, {a.bytes.begin() + at, a.bytes.begin() + at + n}});
                              }
                              return s;
                            },
                            input_tensors(graph));
  } else if (std::error_code ec; !spec.empty() && fs::is_directory(fs::path(spec), ec)) {
    if (graph.inputs.size() != 1)
      return make_error(ErrorCode::kInvalidArgument,
                        "calibration data '{}': a folder of .npy files feeds one-input models, this model has {} inputs", spec,
                        graph.inputs.size());
    std::vector<fs::path> files;
    // The error_code overloads throughout: filesystem errors become values, never exceptions.
    for (fs::directory_iterator it(fs::path(spec), ec), end; !ec && it != end; it.increment(ec)) {
      std::error_code type_ec;
      if (it->path().extension() == ".npy" && it->is_regular_file(type_ec)) files.push_back(it->path());
    }
    if (ec) return make_error(ErrorCode::kIo, "calibration data '{}': cannot list the folder: {}", spec, ec.message());
    if (files.empty()) return make_error(ErrorCode::kInvalidArgument, "calibration data '{}': the folder holds no .npy files", spec);
    std::sort(files.begin(), files.end());
    auto shared = std::make_shared<const std::vector<fs::path>>(std::move(files));
    src = CalibrationSource(std::string(spec), static_cast<int64_t>(shared->size()),
                            [shared](int64_t i) -> Result<Sample> {
                              const fs::path& f = (*shared)[i];
                              auto t = model::read_npy(f);
                              if (!t) return std::unexpected(std::move(t).error().context(f.filename().string()));
                              return Sample{std::move(*t)};
                            },
                            input_tensors(graph));
  } else {
    return make_error(ErrorCode::kInvalidArgument, "unknown calibration data '{}': {}", spec, kSpecHelp);
  }
  // Fail early on data that does not fit the model; every later sample is checked when read.
  EL_CHECK(src->sample(0));
  return std::move(*src);
}

// ---- statistics ----

void TensorStats::add(std::span<const float> values) {
  float lo = std::numeric_limits<float>::infinity(), hi = -lo;
  int64_t n = 0;
  for (float v : values)
    if (std::isfinite(v)) {
      lo = std::min(lo, v);
      hi = std::max(hi, v);
      ++n;
    }
  if (n == 0) return;
  min = count == 0 ? lo : std::min(min, lo);
  max = count == 0 ? hi : std::max(max, hi);
  count += n;
  const double a = std::max(std::abs(static_cast<double>(lo)), std::abs(static_cast<double>(hi)));
  if (bins.empty()) {
    bins.assign(kBins, 0.0);
    // Just above the first absmax, so every value lies strictly inside and keeps its bin when
    // the range doubles.
    edge = (a > 0 ? a : static_cast<double>(std::numeric_limits<float>::min())) * (1.0 + 1.0 / kBins);
  }
  while (a >= edge) {  // double the range: bins 2j and 2j+1 become bin kBins/4 + j
    std::vector<double> merged(kBins, 0.0);
    for (int i = 0; i < kBins; ++i) merged[kBins / 4 + i / 2] += bins[i];
    bins = std::move(merged);
    edge *= 2;
  }
  const double inv_w = kBins / (2 * edge);
  for (float v : values)
    if (std::isfinite(v)) {
      const auto i = static_cast<int64_t>(std::floor((v + edge) * inv_w));
      bins[std::clamp<int64_t>(i, 0, kBins - 1)] += 1;
    }
}

double TensorStats::absmax() const {
  return std::max(std::abs(static_cast<double>(min)), std::abs(static_cast<double>(max)));
}

const TensorStats* CalibrationStats::find(std::string_view name) const {
  for (const TensorStats& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

Result<CalibrationStats> collect_statistics(const runtime::Program& program, const CalibrationSource& source,
                                            const std::function<void(int64_t, int64_t)>& progress) {
  const model::Graph& g = program.graph();
  CalibrationStats out;
  std::vector<int> slot(g.tensors.size(), -1);
  auto track = [&](model::TensorId id) {
    if (id == model::kNoTensor || slot[id] >= 0) return;
    const model::Tensor& t = g.tensors[id];
    if (t.constant || t.dtype != model::DType::kF32) return;
    slot[id] = static_cast<int>(out.tensors.size());
    TensorStats s;
    s.name = t.name;
    s.tensor = id;
    out.tensors.push_back(std::move(s));
  };
  for (model::TensorId id : g.inputs) track(id);
  for (const model::Node& n : g.nodes)
    for (model::TensorId id : n.outputs) track(id);

  // Observing every node needs every node on the reference kernels.
  std::optional<runtime::Program> reference;
  if (!program.reference_only()) {
    EL_TRY(runtime::Program p, runtime::Program::from_graph(g, runtime::LoadOptions::reference()));
    reference.emplace(std::move(p));
  }
  runtime::Session session(reference ? *reference : program);
  auto observe = [&](const model::Node& node, std::span<const runtime::TensorView> outputs) {
    for (size_t j = 0; j < outputs.size() && j < node.outputs.size(); ++j) {
      const model::TensorId id = node.outputs[j];
      if (id == model::kNoTensor || slot[id] < 0) continue;
      const runtime::TensorView& v = outputs[j];
      out.tensors[slot[id]].add({v.as<const float>(), static_cast<size_t>(v.elements())});
    }
  };
  for (int64_t i = 0; i < source.size(); ++i) {
    EL_TRY(Sample s, source.sample(i));
    for (size_t k = 0; k < g.inputs.size(); ++k)
      if (slot[g.inputs[k]] >= 0) out.tensors[slot[g.inputs[k]]].add(s[k].values<float>());
    auto r = session.run(s, observe);
    if (!r) return std::unexpected(std::move(r).error().context(fmt::format("calibration sample {}", i)));
    ++out.samples;
    if (progress) progress(i + 1, source.size());
  }
  return out;
}

// ---- range selection ----

Result<RangeMethod> parse_range_method(std::string_view name) {
  for (RangeMethod m : {RangeMethod::kMinMax, RangeMethod::kPercentile, RangeMethod::kMse, RangeMethod::kEntropy})
    if (range_method_name(m) == name) return m;
  return make_error(ErrorCode::kInvalidArgument, "unknown range method '{}': expected minmax, percentile, mse or entropy", name);
}

std::string_view range_method_name(RangeMethod m) {
  switch (m) {
    case RangeMethod::kMinMax: return "minmax";
    case RangeMethod::kPercentile: return "percentile";
    case RangeMethod::kMse: return "mse";
    case RangeMethod::kEntropy: return "entropy";
  }
  return "?";
}

namespace {

// The value below which `fraction` of the histogram's mass lies, linear within a bin.
double quantile(const TensorStats& s, double fraction) {
  const double target = fraction * static_cast<double>(s.count), w = s.bin_width();
  double cum = 0;
  for (int i = 0; i < TensorStats::kBins; ++i) {
    if (s.bins[i] > 0 && cum + s.bins[i] >= target)
      return -s.edge + (i + (target - cum) / s.bins[i]) * w;
    cum += s.bins[i];
  }
  return s.max;
}

// Symmetric clipping threshold t applied to the observed range.
Range clip(const TensorStats& s, double t) {
  return {static_cast<float>(std::max<double>(s.min, -t)), static_cast<float>(std::min<double>(s.max, t))};
}

// Expected squared error of quantizing the histogram to `levels` levels over [lo, hi]: values
// inside get the rounding error Δ²/12 of a uniform quantizer, values outside the clipping error
// (taken at the bin centre). The smooth model avoids the aliasing that fake-quantizing bin centres
// shows when bin width and step are similar.
double expected_mse(const TensorStats& s, Range r, int levels) {
  const double lo = std::min(0.0, static_cast<double>(r.lo)), hi = std::max(0.0, static_cast<double>(r.hi));
  const double step = (hi - lo) / (levels - 1), w = s.bin_width();
  double err = 0;
  for (int i = 0; i < TensorStats::kBins; ++i) {
    if (s.bins[i] == 0) continue;
    const double c = -s.edge + (i + 0.5) * w;
    const double d = c < lo ? lo - c : c > hi ? c - hi : 0.0;
    err += s.bins[i] * (d == 0 ? step * step / 12 : d * d);
  }
  return err;
}

// ORT's smoothing: move a little mass onto empty bins so KL(P||Q) stays finite.
bool smooth(std::vector<double>& p) {
  const auto zeros = std::count(p.begin(), p.end(), 0.0);
  const auto nonzeros = static_cast<int64_t>(p.size()) - zeros;
  if (nonzeros == 0) return false;
  constexpr double eps = 1e-4;
  const double eps1 = eps * static_cast<double>(zeros) / static_cast<double>(nonzeros);
  for (double& v : p) {
    v += v == 0 ? eps : -eps1;
    if (v <= 0) return false;
  }
  return true;
}

double kl_divergence(std::vector<double> p, std::vector<double> q) {
  if (!smooth(p) || !smooth(q)) return std::numeric_limits<double>::infinity();
  double sp = 0, sq = 0;
  for (size_t i = 0; i < p.size(); ++i) sp += p[i], sq += q[i];
  double kl = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    const double a = p[i] / sp, b = q[i] / sq;
    kl += a * std::log(a / b);
  }
  return kl;
}

// TensorRT's entropy calibration on the |x| histogram: for each candidate of i bins, P is the
// histogram cut at i with the outliers added to its last bin, Q is the same bins merged into
// `target` levels and spread back over the bins P uses; the threshold minimizes KL(P||Q).
double entropy_threshold(const TensorStats& s, int target) {
  const int half = TensorStats::kBins / 2;
  std::vector<double> a(half);
  for (int j = 0; j < half; ++j) a[j] = s.bins[half + j] + s.bins[half - 1 - j];
  std::vector<double> tail(half + 1, 0.0);  // tail[i] = sum of a[i..]
  for (int j = half - 1; j >= 0; --j) tail[j] = tail[j + 1] + a[j];
  double best_kl = std::numeric_limits<double>::infinity();
  int best = half;
  for (int i = target; i <= half; ++i) {
    std::vector<double> p(a.begin(), a.begin() + i), q(i, 0.0);
    p[i - 1] += tail[i];
    const int merged = i / target;
    for (int g = 0; g < target; ++g) {
      const int start = g * merged, stop = g == target - 1 ? i : start + merged;
      double sum = 0;
      int used = 0;
      for (int j = start; j < stop; ++j) sum += a[j], used += p[j] != 0;
      if (used == 0) continue;
      for (int j = start; j < stop; ++j)
        if (p[j] != 0) q[j] = sum / used;
    }
    const double kl = kl_divergence(std::move(p), std::move(q));
    if (kl < best_kl) best_kl = kl, best = i;
  }
  return best * s.bin_width();
}

}  // namespace

Result<Range> select_range(const TensorStats& s, RangeMethod method, const RangeOptions& o) {
  if (s.count == 0) return make_error(ErrorCode::kFailedPrecondition, "tensor '{}': no values observed, cannot choose a range", s.name);
  if (s.min == s.max || method == RangeMethod::kMinMax) return Range{s.min, s.max};
  switch (method) {
    case RangeMethod::kMinMax: break;
    case RangeMethod::kPercentile: {
      if (!(o.percentile >= 50 && o.percentile <= 100))
        return make_error(ErrorCode::kInvalidArgument, "percentile must be in [50, 100], got {}", o.percentile);
      const double f = o.percentile / 100;
      const double lo = std::clamp<double>(quantile(s, 1 - f), s.min, s.max);
      const double hi = std::clamp<double>(quantile(s, f), s.min, s.max);
      return Range{o.percentile == 100 ? s.min : static_cast<float>(lo), o.percentile == 100 ? s.max : static_cast<float>(hi)};
    }
    case RangeMethod::kMse: {
      if (o.mse_levels < 2) return make_error(ErrorCode::kInvalidArgument, "mse_levels must be at least 2, got {}", o.mse_levels);
      // Candidate thresholds at every bin edge of the |x| axis, from 1/64 of the range up.
      const int half = TensorStats::kBins / 2;
      Range best{s.min, s.max};
      double best_err = expected_mse(s, best, o.mse_levels);
      for (int k = half / 64; k < half; ++k) {
        const Range r = clip(s, k * s.bin_width());
        const double err = expected_mse(s, r, o.mse_levels);
        if (err < best_err) best_err = err, best = r;
      }
      return best;
    }
    case RangeMethod::kEntropy: {
      if (o.entropy_bins < 2 || o.entropy_bins > TensorStats::kBins / 2)
        return make_error(ErrorCode::kInvalidArgument, "entropy_bins must be in [2, {}], got {}", TensorStats::kBins / 2,
                          o.entropy_bins);
      return clip(s, entropy_threshold(s, o.entropy_bins));
    }
  }
  return make_error(ErrorCode::kInvalidArgument, "unknown range method");
}

// ---- affine parameters ----

AffineParams affine_params(Range range, bool is_signed) {
  AffineParams p;
  p.qmin = is_signed ? -128 : 0;
  p.qmax = is_signed ? 127 : 255;
  const double lo = std::min(0.0, static_cast<double>(range.lo)), hi = std::max(0.0, static_cast<double>(range.hi));
  const double scale = (hi - lo) / (p.qmax - p.qmin);
  p.scale = scale > 0 ? static_cast<float>(scale) : 1.f;
  const double zp = p.qmin - std::nearbyint(lo / p.scale);  // default rounding mode: half to even
  p.zero_point = static_cast<int32_t>(std::clamp<double>(zp, p.qmin, p.qmax));
  return p;
}

int32_t quantize(float x, const AffineParams& p) {
  // Division in f32 as QuantizeLinear does; the sum in double cannot overflow.
  const double q = static_cast<double>(std::nearbyint(x / p.scale)) + p.zero_point;
  return static_cast<int32_t>(std::clamp<double>(q, p.qmin, p.qmax));
}

float dequantize(int32_t q, const AffineParams& p) { return p.scale * static_cast<float>(q - p.zero_point); }

}  // namespace edgeloop::compress

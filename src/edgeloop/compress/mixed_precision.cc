#include "edgeloop/compress/mixed_precision.h"

#include <algorithm>
#include <cmath>
#include <memory>

#include "edgeloop/compress/evaluate.h"

namespace edgeloop::compress {

namespace {

// Softmax of each row of `logits`, in double then stored as float.
std::vector<float> softmax_rows(const std::vector<float>& logits, int64_t classes) {
  std::vector<float> p(logits.size());
  for (size_t row = 0; row + classes <= logits.size(); row += classes) {
    const float top = *std::max_element(logits.begin() + row, logits.begin() + row + classes);
    double sum = 0;
    for (int64_t c = 0; c < classes; ++c) sum += std::exp(double{logits[row + c]} - top);
    for (int64_t c = 0; c < classes; ++c) p[row + c] = static_cast<float>(std::exp(double{logits[row + c]} - top) / sum);
  }
  return p;
}

}  // namespace

Result<PlanScorer> PlanScorer::create(const model::Graph& fp32, const CalibrationStats& stats, ImageDataset holdout,
                                      QuantizeOptions options, int threads) {
  if (holdout.count == 0) return make_error(ErrorCode::kInvalidArgument, "the held-out image set is empty");
  PlanScorer s;
  s.fp32_ = std::make_shared<const model::Graph>(fp32);
  s.stats_ = &stats;
  s.holdout_ = std::move(holdout);
  s.options_ = std::move(options);
  s.threads_ = threads;
  EL_TRY(runtime::Program program, runtime::Program::from_graph(fp32, runtime::LoadOptions::reference()));
  EvalOptions eval;
  eval.keep_logits = true;
  eval.threads = threads;
  EL_TRY(EvalReport r, evaluate_classifier(program, s.holdout_, eval));
  s.fp32_probs_ = softmax_rows(r.logits, r.classes);
  s.fp32_accuracy_ = r.accuracy();
  s.fp32_latency_us_ = r.latency_us;
  return s;
}

Result<Score> PlanScorer::score(const QuantPlan& plan) const {
  if (known_ != nullptr)
    for (const auto& [p, s] : *known_)
      if (p == plan) return s;
  EL_TRY(Quantized q, quantize_graph(*fp32_, plan, stats_, options_));
  EL_TRY(runtime::Program program, runtime::Program::from_graph(std::move(q.graph), runtime::LoadOptions::reference()));
  EvalOptions eval;
  eval.keep_logits = true;
  eval.threads = threads_;
  EL_TRY(EvalReport r, evaluate_classifier(program, holdout_, eval));
  const std::vector<float> probs = softmax_rows(r.logits, r.classes);
  double kl = 0;
  constexpr double kTiny = 1e-12;
  for (size_t i = 0; i < probs.size(); ++i)
    if (fp32_probs_[i] > 0) kl += fp32_probs_[i] * std::log((fp32_probs_[i] + kTiny) / (probs[i] + kTiny));
  return Score{r.accuracy(), kl / static_cast<double>(std::max<int64_t>(r.count, 1)), r.latency_us};
}

const LayerSensitivity::Entry* LayerSensitivity::find(LayerMode m) const {
  for (const Entry& e : modes)
    if (e.mode == m) return &e;
  return nullptr;
}

Result<std::vector<LayerSensitivity>> measure_sensitivity(const PlanScorer& scorer, const Progress& progress) {
  std::vector<LayerSensitivity> out;
  std::vector<Layer> layers = weighted_layers(scorer.fp32());
  std::erase_if(layers, [](const Layer& l) { return !l.ineligible.empty(); });
  constexpr LayerMode kModes[] = {LayerMode::kInt8, LayerMode::kW4A8};
  const int64_t total = static_cast<int64_t>(layers.size() * std::size(kModes));
  int64_t done = 0;
  for (const Layer& layer : layers) {
    LayerSensitivity s{layer, {}};
    for (LayerMode mode : kModes) {
      QuantPlan alone;
      alone.set(layer.node, mode);
      EL_TRY(Score score, scorer.score(alone));
      s.modes.push_back({mode, score, layer_bytes(layer, mode, scorer.options().group_size)});
      if (progress) progress("sensitivity", ++done, total);
    }
    out.push_back(std::move(s));
  }
  return out;
}

std::string most_sensitive(const std::vector<LayerSensitivity>& sensitivity, size_t count) {
  std::vector<const LayerSensitivity*> order;
  for (const auto& s : sensitivity) order.push_back(&s);
  auto kl = [](const LayerSensitivity* s) {
    double worst = 0;
    for (const auto& e : s->modes) worst = std::max(worst, e.score.kl);
    return worst;
  };
  std::stable_sort(order.begin(), order.end(), [&](auto* a, auto* b) { return kl(a) > kl(b); });
  std::string text;
  for (size_t i = 0; i < std::min(count, order.size()); ++i) {
    text += (i ? ", " : "") + order[i]->layer.node + " (";
    for (size_t k = 0; k < order[i]->modes.size(); ++k) {
      const auto& e = order[i]->modes[k];
      text += fmt::format("{}{} KL {:.4f}", k ? ", " : "", layer_mode_name(e.mode), e.score.kl);
    }
    text += ")";
  }
  return text;
}

Result<MixedPlan> search_mixed_plan(const PlanScorer& scorer, const std::vector<LayerSensitivity>& sensitivity,
                                    double floor, const Progress& progress, const QuantPlan* start) {
  if (scorer.fp32_accuracy() < floor)
    return make_error(ErrorCode::kFailedPrecondition,
                      "the floor {:.2f}% is unreachable: the FP32 model itself reaches {:.2f}% on these {} images",
                      100 * floor, 100 * scorer.fp32_accuracy(), scorer.images());
  const int group = scorer.options().group_size;
  // The ladder each layer climbs, cheapest first.
  constexpr LayerMode kLadder[] = {LayerMode::kW4A8, LayerMode::kInt8, LayerMode::kFp16};
  auto rung = [&](LayerMode m) { return static_cast<size_t>(std::find(std::begin(kLadder), std::end(kLadder), m) - std::begin(kLadder)); };
  auto kl_of = [&](const LayerSensitivity& s, LayerMode m) {
    const auto* e = s.find(m);
    return e != nullptr ? e->score.kl : 0.0;  // fp16: lossless
  };

  MixedPlan best;
  for (const auto& s : sensitivity) best.plan.set(s.layer.node, start != nullptr ? start->mode_of(s.layer.node) : kLadder[0]);
  auto bytes_of = [&](const QuantPlan& plan) {
    int64_t total = 0;
    for (const auto& s : sensitivity) total += layer_bytes(s.layer, plan.mode_of(s.layer.node), group);
    return total;
  };
  const size_t max_steps = sensitivity.size() * (std::size(kLadder) - 1) + 1;
  for (size_t step = 0;; ++step) {
    EL_TRY(best.score, scorer.score(best.plan));
    best.bytes = bytes_of(best.plan);
    const std::string kl = std::isnan(best.score.kl) ? "KL not measured (known variant)" : fmt::format("KL {:.5f}", best.score.kl);
    std::string line = fmt::format("plan {}: {:.2f}% (floor {:.2f}%), {}, {} weight bytes:", step + 1,
                                   100 * best.score.accuracy, 100 * floor, kl, best.bytes);
    for (const auto& [node, mode] : best.plan.layers) line += fmt::format(" {}={}", node, layer_mode_name(mode));
    best.steps.push_back(std::move(line));
    if (progress) progress("mixed-precision search", static_cast<int64_t>(step + 1), static_cast<int64_t>(max_steps));
    if (best.score.accuracy >= floor) return best;
    // Upgrade the layer whose next rung removes the most KL per added byte.
    const LayerSensitivity* pick = nullptr;
    double pick_value = -1;
    for (const auto& s : sensitivity) {
      const LayerMode now = best.plan.mode_of(s.layer.node);
      const size_t r = rung(now);
      if (r + 1 >= std::size(kLadder)) continue;
      const LayerMode next = kLadder[r + 1];
      const double gain = kl_of(s, now) - kl_of(s, next);
      const double cost = static_cast<double>(std::max<int64_t>(1, layer_bytes(s.layer, next, group) - layer_bytes(s.layer, now, group)));
      const double value = std::max(gain, 0.0) / cost;
      if (pick == nullptr || value > pick_value) pick = &s, pick_value = value;
    }
    if (pick == nullptr)
      return make_error(ErrorCode::kFailedPrecondition,
                        "the floor {:.2f}% is unreachable: with every layer at fp16 the model reaches {:.2f}% (FP32 "
                        "{:.2f}%); the most sensitive layers: {}",
                        100 * floor, 100 * best.score.accuracy, 100 * scorer.fp32_accuracy(), most_sensitive(sensitivity));
    best.plan.set(pick->layer.node, kLadder[rung(best.plan.mode_of(pick->layer.node)) + 1]);
  }
}

double Floor::resolve(double fp32) const {
  if (absolute) return *absolute;
  return fp32 - (max_drop_pp ? *max_drop_pp : 0.0) / 100.0;
}

std::string Floor::describe() const {
  if (absolute) return fmt::format("top-1 >= {:.2f}%", 100 * *absolute);
  return fmt::format("top-1 >= FP32 - {:.2f} pp", max_drop_pp ? *max_drop_pp : 0.0);
}

Result<FloorPlan> plan_to_floor(const PlanScorer& eval, const ImageDataset& holdout, const Floor& floor,
                                const Progress& progress, const std::function<void(std::string_view)>& log) {
  auto say = [&](std::string_view m) {
    if (log) log(m);
  };
  const double eval_floor = floor.resolve(eval.fp32_accuracy());
  const double drop = eval.fp32_accuracy() - eval_floor;
  if (drop < 0)
    return make_error(ErrorCode::kFailedPrecondition,
                      "the floor {:.2f}% is unreachable: the FP32 model itself reaches {:.2f}% on these {} images",
                      100 * eval_floor, 100 * eval.fp32_accuracy(), eval.images());
  EL_TRY(PlanScorer held, PlanScorer::create(eval.fp32(), eval.stats(), holdout, eval.options(), eval.threads()));
  FloorPlan out;
  say(fmt::format("sensitivity sweep: each layer quantized alone, scored on {} held-out images", held.images()));
  EL_TRY(out.sensitivity, measure_sensitivity(held, progress));
  say(fmt::format("searching for the smallest plan within {:.2f} pp of FP32", 100 * drop));
  EL_TRY(MixedPlan first, search_mixed_plan(held, out.sensitivity, held.fp32_accuracy() - drop, progress));
  for (const std::string& s : first.steps) out.steps.push_back(fmt::format("held-out ({} images) {}", held.images(), s));
  say(fmt::format("confirming the plan on the {} eval images", eval.images()));
  EL_TRY(out.mixed, search_mixed_plan(eval, out.sensitivity, eval_floor, progress, &first.plan));
  for (const std::string& s : out.mixed.steps) out.steps.push_back(fmt::format("eval ({} images) {}", eval.images(), s));
  return out;
}

}  // namespace edgeloop::compress

#include "edgeloop/eval/guardrail_metrics.h"

#include <cmath>
#include <limits>

namespace edgeloop::eval {

std::string_view to_string(Source source) {
  switch (source) {
    case Source::kLocal: return "local";
    case Source::kLocalDegraded: return "local-degraded";
    case Source::kRemote: return "remote";
    case Source::kHeuristic: return "heuristic";
  }
  return "?";
}

std::string_view to_string(FallbackReason reason) {
  switch (reason) {
    case FallbackReason::kNone: return "none";
    case FallbackReason::kDeadline: return "deadline";
    case FallbackReason::kBusy: return "busy";
    case FallbackReason::kModelError: return "model-error";
    case FallbackReason::kBelowFloorOffline: return "below-floor-offline";
    case FallbackReason::kBelowFloorNoBudget: return "below-floor-no-budget";
    case FallbackReason::kRemoteFailed: return "remote-failed";
    case FallbackReason::kLadderSmaller: return "ladder-smaller";
    case FallbackReason::kLadderRemote: return "ladder-remote";
    case FallbackReason::kLadderHeuristic: return "ladder-heuristic";
  }
  return "?";
}

template <size_t N>
double LogHistogram<N>::upper_bound(double min_value, size_t bucket) {
  if (bucket + 1 >= N) return std::numeric_limits<double>::infinity();
  return min_value * std::exp2(static_cast<double>(bucket) / 4.0);
}

template <size_t N>
void LogHistogram<N>::add(double value) {
  size_t b = 0;
  if (value > min) {
    // The smallest bucket whose bound holds `value`: log2(value / min) * 4, rounded up.
    const double k = std::ceil(std::log2(value / min) * 4.0 - 1e-9);
    b = k >= static_cast<double>(N - 1) ? N - 1 : static_cast<size_t>(k);
  }
  ++counts[b];
  ++total;
  sum += value;
}

template <size_t N>
double LogHistogram<N>::quantile(double q) const {
  if (total == 0) return 0;
  const auto rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(total)));
  uint64_t seen = 0;
  for (size_t b = 0; b < N; ++b) {
    seen += counts[b];
    if (seen >= std::max<uint64_t>(rank, 1)) return upper_bound(min, b);
  }
  return upper_bound(min, N - 1);
}

template <size_t N>
LogHistogram<N>& LogHistogram<N>::operator+=(const LogHistogram& other) {
  for (size_t b = 0; b < N; ++b) counts[b] += other.counts[b];
  total += other.total;
  sum += other.sum;
  return *this;
}

template struct LogHistogram<72>;

namespace {

template <size_t N>
nlohmann::ordered_json histogram_json(const LogHistogram<N>& h) {
  nlohmann::ordered_json bounds = nlohmann::ordered_json::array();
  for (size_t b = 0; b + 1 < N; ++b) bounds.push_back(LogHistogram<N>::upper_bound(h.min, b));
  return {{"upper_bounds", bounds},  // the last bucket is unbounded
          {"counts", h.counts},
          {"total", h.total},
          {"sum", h.sum},
          {"p50", h.quantile(0.5)},
          {"p95", h.quantile(0.95)},
          {"p99", h.quantile(0.99)}};
}

}  // namespace

GuardrailMetrics& GuardrailMetrics::operator+=(const GuardrailMetrics& o) {
  auto add = [](auto& into, const auto& from) {
    for (size_t i = 0; i < into.size(); ++i) into[i] += from[i];
  };
  frames_offered += o.frames_offered;
  frames_dropped += o.frames_dropped;
  inferences += o.inferences;
  deadline_overruns += o.deadline_overruns;
  model_errors += o.model_errors;
  throttle_events += o.throttle_events;
  ladder_transitions += o.ladder_transitions;
  add(seconds_per_level, o.seconds_per_level);
  add(fallbacks, o.fallbacks);
  add(answers_by_source, o.answers_by_source);
  latency_us += o.latency_us;
  add(confidence, o.confidence);
  shadow_runs += o.shadow_runs;
  shadow_skipped += o.shadow_skipped;
  shadow_disagreements += o.shadow_disagreements;
  shadow_failures += o.shadow_failures;
  shadow_confidence_delta_sum += o.shadow_confidence_delta_sum;
  shadow_latency_delta_us_sum += o.shadow_latency_delta_us_sum;
  shadow_latency_us += o.shadow_latency_us;
  return *this;
}

double GuardrailMetrics::fallback_rate() const {
  if (inferences == 0) return 0;
  return static_cast<double>(inferences - fallbacks[static_cast<size_t>(FallbackReason::kNone)]) /
         static_cast<double>(inferences);
}

nlohmann::ordered_json GuardrailMetrics::to_json() const {
  nlohmann::ordered_json levels = nlohmann::ordered_json::object();
  for (size_t l = 0; l < kLevelNames.size(); ++l) levels[std::string(kLevelNames[l])] = seconds_per_level[l];
  nlohmann::ordered_json reasons = nlohmann::ordered_json::object();
  for (size_t r = 0; r < kFallbackReasonCount; ++r) reasons[std::string(to_string(static_cast<FallbackReason>(r)))] = fallbacks[r];
  nlohmann::ordered_json sources = nlohmann::ordered_json::object();
  for (size_t s = 0; s < answers_by_source.size(); ++s) sources[std::string(to_string(static_cast<Source>(s)))] = answers_by_source[s];
  return {{"schema", "edgeloop-guardrails"},
          {"schema_version", kSchemaVersion},
          {"frames_offered", frames_offered},
          {"frames_dropped", frames_dropped},
          {"inferences", inferences},
          {"deadline_overruns", deadline_overruns},
          {"model_errors", model_errors},
          {"throttle_events", throttle_events},
          {"ladder_transitions", ladder_transitions},
          {"seconds_per_level", levels},
          {"fallbacks", reasons},
          {"fallback_rate", fallback_rate()},
          {"answers_by_source", sources},
          {"latency_us", histogram_json(latency_us)},
          {"confidence", {{"bucket_width", 0.1}, {"counts", confidence}}},
          {"shadow",
           {{"runs", shadow_runs},
            {"skipped", shadow_skipped},
            {"disagreements", shadow_disagreements},
            {"failures", shadow_failures},
            // Of the runs that answered (failed runs have no top-1 to compare).
            {"disagreement_rate", shadow_runs > shadow_failures
                                      ? static_cast<double>(shadow_disagreements) / static_cast<double>(shadow_runs - shadow_failures)
                                      : 0.0},
            {"confidence_delta_sum", shadow_confidence_delta_sum},
            {"latency_delta_us_sum", shadow_latency_delta_us_sum},
            {"latency_us", histogram_json(shadow_latency_us)}}}};
}

}  // namespace edgeloop::eval

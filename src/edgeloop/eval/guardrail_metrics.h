// Guardrail metrics (docs/engine.md, "Metrics"): the one fixed-schema record a device's engine
// keeps — every field always present, histogram bucket bounds fixed — so that records from a
// whole fleet can be summed field by field (`+=`): the privacy-preserving aggregation sums
// exactly this record. The evaluation plane owns the schema; the device fills it in.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include <nlohmann/json.hpp>

namespace edgeloop::eval {

// The degradation ladder's levels, cheapest recovery first, as the record names them
// (device/ladder.h's Level is indexed the same way).
inline constexpr std::array<std::string_view, 5> kLevelNames = {"L0-full", "L1-smaller", "L2-lower-rate", "L3-remote",
                                                                "L4-heuristic"};

// Where an answer came from.
enum class Source {
  kLocal,          // the main variant
  kLocalDegraded,  // the smaller variant, or the local answer under the accuracy floor, flagged
  kRemote,         // the remote stage
  kHeuristic,      // no model answered in time (or L4)
};
inline constexpr size_t kSourceCount = 4;
std::string_view to_string(Source source);  // "local", "local-degraded", "remote", "heuristic"

// Why the caller got something other than the main model's answer.
enum class FallbackReason {
  kNone = 0,
  kDeadline,           // the model did not finish before the deadline: the heuristic answered
  kBusy,               // every worker was still busy with an overrunning model: the heuristic answered
  kModelError,         // the model failed (it is counted, the heuristic answered)
  kBelowFloorOffline,  // under the accuracy floor and the remote stage unavailable: the local answer, flagged
  kBelowFloorNoBudget, // under the floor, remote online, but not enough budget left: the local answer, flagged
  kRemoteFailed,       // under the floor, the remote stage failed: the local answer, flagged
  kLadderSmaller,      // the governor runs the smaller variant (L1/L2)
  kLadderRemote,       // the governor sends every frame to the remote stage (L3)
  kLadderHeuristic,    // the governor stopped running models (L4)
};
inline constexpr size_t kFallbackReasonCount = 10;
std::string_view to_string(FallbackReason reason);

// Counts in fixed buckets whose upper bounds grow geometrically (4 per doubling) from `min`.
// Bucket 0 holds everything <= min; the last bucket everything above the second-to-last bound.
template <size_t N>
struct LogHistogram {
  static constexpr size_t kBuckets = N;
  double min = 1;  // set once, part of the schema
  std::array<uint64_t, N> counts{};
  uint64_t total = 0;
  double sum = 0;

  static double upper_bound(double min_value, size_t bucket);  // +inf for the last bucket
  void add(double value);
  double quantile(double q) const;  // the upper bound of the bucket holding the q-th value (0 when empty)
  LogHistogram& operator+=(const LogHistogram& other);  // same schema (min) assumed: the fleet's records share it
};

// Latency in microseconds from 10 µs: 72 buckets, 4 per doubling, reach 2.6 s (18 doublings);
// the last bucket holds everything beyond (its quantile is infinite: JSON null).
using LatencyHistogram = LogHistogram<72>;

struct GuardrailMetrics {
  static constexpr int kSchemaVersion = 1;
  uint64_t frames_offered = 0;   // frames the app handed to the engine
  uint64_t frames_dropped = 0;   // not run, by the frame-rate level (L2) — the app's frame rate is above the level's
  uint64_t inferences = 0;       // infer() calls answered (any source)
  uint64_t deadline_overruns = 0;
  uint64_t model_errors = 0;
  uint64_t throttle_events = 0;  // governor steps down caused by temperature
  uint64_t ladder_transitions = 0;
  std::array<double, kLevelNames.size()> seconds_per_level{};
  std::array<uint64_t, kFallbackReasonCount> fallbacks{};  // by FallbackReason (kNone counts answers with no fallback)
  std::array<uint64_t, kSourceCount> answers_by_source{};  // by Source
  LatencyHistogram latency_us{10};                         // what the caller waited
  std::array<uint64_t, 10> confidence{};                   // [0, .1), [.1, .2), ... [.9, 1]
  // Shadow challenger (docs/engine.md, "Shadow").
  uint64_t shadow_runs = 0;
  uint64_t shadow_skipped = 0;           // sampled, but the governor or a busy shadow worker said no
  uint64_t shadow_disagreements = 0;     // top-1 differs from the champion's
  uint64_t shadow_failures = 0;          // the challenger errored or ran over its time limit
  double shadow_confidence_delta_sum = 0;  // challenger − champion, summed over runs
  double shadow_latency_delta_us_sum = 0;  // challenger − champion, each run's CPU time (its latency on an idle core)
  LatencyHistogram shadow_latency_us{10};  // the challenger's runs, CPU time

  // Field by field: the sum of two devices' (or two periods') records.
  GuardrailMetrics& operator+=(const GuardrailMetrics& other);
  // Every field above, plus derived views (rates, histogram quantiles) for reading by eye.
  nlohmann::ordered_json to_json() const;
  double fallback_rate() const;  // answers with a reason other than kNone / inferences
};

}  // namespace edgeloop::eval

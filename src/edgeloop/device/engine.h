// The engine an app embeds (docs/engine.md): the budget, not the model, has the final say.
// `infer` answers within its deadline whatever the model does — on a worker thread, cancelled
// between ops when it overruns — and degrades along the ladder the governor picks (smaller
// variant, lower frame rate, remote stage, heuristic) instead of failing. Below the accuracy
// floor it escalates to the remote stage when that is online and the budget allows, sending
// the activation of the cut tensor, never the raw input. A challenger model runs in the shadow
// of the main one on sampled frames and never changes an answer. Everything it does is counted
// in one fixed-schema GuardrailMetrics record.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "edgeloop/base/clock.h"
#include "edgeloop/device/budget.h"
#include "edgeloop/device/governor.h"
#include "edgeloop/device/ladder.h"
#include "edgeloop/eval/guardrail_metrics.h"
#include "edgeloop/device/remote_stage.h"
#include "edgeloop/device/sensors.h"
#include "edgeloop/runtime/program.h"

namespace edgeloop::device {

// The loaded models. `main` answers at L0. When `head` and `tail` are given (main split at the
// cut tensor, model/split.h), L0 runs head then tail — the same arithmetic — so the cut
// activation is at hand for an escalation, and L3 runs only the head.
struct EngineModels {
  runtime::Program main;
  std::optional<runtime::Program> smaller;     // L1 and L2 (the main model when absent)
  std::optional<runtime::Program> challenger;  // the shadow
  std::optional<runtime::Program> head, tail;  // main, split at the cut tensor
};

// What may leave the device for the remote stage. There is no value that sends the raw input:
// raw user data never leaves the device (docs/engine.md, "Cascade and the fallback contract").
enum class RemotePolicy {
  kCutActivation,  // the activation of the cut tensor (EngineModels::head's output): split inference
  kNothing,        // never call the remote stage, even when one is configured and online
};

struct EngineOptions {
  Envelope envelope;                 // the tier's budget (frame rate, thermal threshold, memory, …)
  GovernorOptions governor;
  // Confidence (the top softmax probability of the first output) under which the local answer
  // escalates to the remote stage, or is flagged.
  double accuracy_floor = 0.5;
  // The least budget left for an escalation to be tried: below it the local answer is returned
  // flagged (kBelowFloorNoBudget) rather than waiting on the network.
  std::chrono::nanoseconds remote_min_budget = std::chrono::milliseconds(5);
  RemotePolicy remote_policy = RemotePolicy::kCutActivation;
  // Share of the frames sampled for the challenger (before they run). A sampled frame goes to it
  // when the governor allows extra work (Governor::allows_extra_work; else it counts as skipped)
  // and the main model answers it locally; the challenger takes one at a time (a frame that finds
  // it busy is skipped).
  double shadow_rate = 0.1;
  uint64_t shadow_seed = 1;          // its sampling
  // A challenger run that uses more CPU time than this is cancelled between ops and counted as a
  // failure: a model that would blow the latency budget fails in the shadow before it ever
  // answers. CPU time, not wall time: the challenger runs at SCHED_IDLE (only on a CPU nobody
  // else wants), and waiting for the CPU is not held against it. Zero: the envelope's
  // latency_p95_ms (a run over the budget; whether a model fails for it is the judge's call, as
  // one run in twenty may be over a p95: device/trial_judge.h).
  std::chrono::nanoseconds shadow_time_limit{0};
  // The heuristic (L4, and any fallback): the last model answer while younger than this, else
  // "no answer" (top1 = -1).
  std::chrono::nanoseconds heuristic_max_age = std::chrono::seconds(1);
  int workers = 2;  // a worker stuck past its deadline leaves the others to answer
  // > 0: the workers run SCHED_FIFO at this priority (Linux; needs CAP_SYS_NICE or RLIMIT_RTPRIO,
  // else they stay as they are: see realtime_workers()). The deadline itself is kept by the
  // calling thread waking on time: under a CPU-saturating load that needs the caller at a
  // real-time priority above this one (docs/engine.md, "Deadlines").
  int worker_priority = 0;
  // With worker_priority 0: the workers' nice value (0..19; Linux, per thread, no privilege
  // needed). Above the caller's (0), so that a model running past its deadline yields the CPU to
  // the caller's wake-up instead of delaying it (under a CPU-saturating load that took the p99
  // past the deadline from 0.1 ms to 3.8 ms at nice 0: docs/benchmarks.md).
  int worker_nice = 10;
  // Bypasses the governor and holds this level (comparisons: "L0 at full rate alone").
  std::optional<Level> pin_level;
  // Called on the shadow thread after every challenger run (true: it answered). A model on
  // trial earns its successes here (ota::Installer::record_success) before it ever answers.
  std::function<void(bool ok)> on_shadow_result;
};

// The local model that ran to the end for an answer: what its energy went on.
enum class LocalModel {
  kNone,     // none (the heuristic; or the run overran and was cancelled)
  kMain,     // the main model (whole, or head then tail)
  kSmaller,  // the smaller variant
  kHead,     // the head only (L3: the remote stage ran the tail)
};

struct InferResult {
  std::vector<model::TensorData> outputs;  // the model's outputs; empty for the heuristic
  int top1 = -1;                           // argmax of the first output; -1: no answer
  double confidence = 0;                   // 0 for the heuristic
  Source source = Source::kHeuristic;
  FallbackReason reason = FallbackReason::kNone;
  Level level = Level::kFull;              // the ladder level in force for this frame
  LocalModel ran = LocalModel::kNone;      // what ran here (an escalated answer ran the main or smaller model first)
  std::chrono::nanoseconds latency{0};     // what the caller waited (real time)
};

class Engine {
 public:
  // `clock` drives the governor, the frame rate and the metrics' time (virtual in the
  // simulator); deadlines are real time. Sensors and the remote stage may be null (no thermal
  // input, mains power, offline, no platform memory reading); all must outlive the engine.
  // Checks that the models' first inputs agree and that the envelope and options are valid.
  static Result<std::unique_ptr<Engine>> create(EngineModels models, EngineOptions options, const Clock& clock,
                                                const ThermalSensor* thermal = nullptr, const PowerSensor* power = nullptr,
                                                RemoteStage* remote = nullptr, const MemorySensor* memory = nullptr);
  ~Engine();  // cancels what runs and joins the workers
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // One inference, answered within `deadline` (relative, real time) plus scheduling slack.
  // Thread-safe for one producer (one caller at a time).
  InferResult infer(const model::TensorData& input, std::chrono::nanoseconds deadline);
  // A camera frame at the clock's current time: nullopt when the level's frame rate drops it
  // (counted in frames_dropped), else infer().
  std::optional<InferResult> offer_frame(const model::TensorData& input, std::chrono::nanoseconds deadline);

  GuardrailMetrics metrics() const;
  // The ladder's transitions with their causes, oldest first: the newest
  // GovernorOptions::max_transitions of them (metrics().ladder_transitions counts every one).
  std::vector<Transition> transitions() const;
  Level level() const;
  // Waits until every frame handed to the shadow has been run or skipped and the challenger is
  // idle (tests, simulations, end-of-run summaries).
  void drain_shadow();
  // How many workers got the real-time priority asked for (0 when none was asked).
  int realtime_workers() const;

 private:
  struct Impl;
  explicit Engine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The top softmax probability and its index of a float output (logits or probabilities).
std::pair<int, double> top1_softmax(const model::TensorData& output);

}  // namespace edgeloop::device

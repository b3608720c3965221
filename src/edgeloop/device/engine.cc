#include "edgeloop/device/engine.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <mutex>
#include <random>
#include <thread>

#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>
#include <sched.h>
#include <time.h>

#include "edgeloop/runtime/session.h"

namespace edgeloop::device {

using std::chrono::nanoseconds;
using SteadyTime = std::chrono::steady_clock::time_point;

std::pair<int, double> top1_softmax(const model::TensorData& output) {
  if (output.dtype != model::DType::kF32 || output.bytes.empty()) return {-1, 0.0};
  auto v = output.values<float>();
  const auto best = std::max_element(v.begin(), v.end());
  double sum = 0;
  for (float x : v) sum += std::exp(static_cast<double>(x) - static_cast<double>(*best));
  return {static_cast<int>(best - v.begin()), sum > 0 ? 1.0 / sum : 0.0};
}

namespace {

double seconds(nanoseconds t) { return static_cast<double>(t.count()) / 1e9; }

// CPU time the calling thread has used.
nanoseconds thread_cpu_time() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return std::chrono::seconds(ts.tv_sec) + nanoseconds(ts.tv_nsec);
}

// The challenger's own thread takes one frame at a time (frames offered while it is busy are
// skipped), with what the champion — the main model — answered for it.
struct ShadowJob {
  model::TensorData input;
  int champion_top1 = -1;
  double champion_confidence = 0;
  nanoseconds champion_cpu{0};  // the champion's run on its worker, in CPU time
};

// Where frames wait for the challenger: one at a time; a frame that finds it taken is skipped.
// The worker that ran the champion hands its frame over after the caller has its answer, so
// the hand-off (a copy and a wake-up) costs the caller nothing.
struct ShadowInbox {
  std::mutex mutex;
  std::condition_variable cv;
  std::optional<ShadowJob> job;
  bool busy = false, stop = false;
  int pending = 0;            // frames flagged for the shadow that their worker has not handed over yet
  uint64_t skipped_busy = 0;  // frames that found the challenger busy

  void expect() {
    std::lock_guard lock(mutex);
    ++pending;
  }
  // The flagged frame's job, or nullopt when the champion did not answer (no shadow run).
  void hand_over(std::optional<ShadowJob> offered) {
    {
      std::lock_guard lock(mutex);
      --pending;
      if (offered) {
        if (busy || job)
          ++skipped_busy;
        else
          job = std::move(offered);
      }
    }
    cv.notify_all();
  }
};

// What a worker runs for one frame.
enum class TaskKind {
  kMain,     // L0: main (or head then tail, keeping the cut activation)
  kSmaller,  // L1/L2: the smaller variant (or main)
  kHead,     // L3: the head only; the remote stage runs the tail
};

struct Task {
  TaskKind kind = TaskKind::kMain;
  model::TensorData input;
  std::atomic<bool> cancel{false};
  std::mutex mutex;
  std::condition_variable cv;
  bool done = false;
  Result<std::vector<model::TensorData>> outputs = std::vector<model::TensorData>{};
  std::optional<model::TensorData> activation;  // the cut tensor (kMain with a split, kHead)
  nanoseconds cpu{0};                           // the model's run on the worker, in CPU time
  bool shadow = false;                          // kMain: hand the frame to the challenger once answered
};

// One worker thread with its own sessions (a Session is one execution context).
class Worker {
 public:
  Worker(const EngineModels& m, int priority, int nice, std::atomic<int>& realtime, ShadowInbox& inbox)
      : priority_(priority), nice_(nice), realtime_(&realtime), inbox_(&inbox), main_(m.head ? std::nullopt : std::optional<runtime::Session>(std::in_place, m.main)),
        head_(m.head ? std::optional<runtime::Session>(std::in_place, *m.head) : std::nullopt),
        tail_(m.tail ? std::optional<runtime::Session>(std::in_place, *m.tail) : std::nullopt),
        smaller_(m.smaller ? std::optional<runtime::Session>(std::in_place, *m.smaller) : std::nullopt),
        thread_([this] { loop(); }) {}
  ~Worker() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
      if (task_) task_->cancel = true;
    }
    cv_.notify_all();
    thread_.join();
  }

  // Takes `task` if idle.
  bool try_start(std::shared_ptr<Task> task) {
    {
      std::lock_guard lock(mutex_);
      if (task_ || stop_) return false;
      task_ = std::move(task);
    }
    cv_.notify_all();
    return true;
  }
  bool idle() const {
    std::lock_guard lock(mutex_);
    return !task_;
  }

 private:
  void loop() {
    if (priority_ > 0) {
      sched_param sp{};
      sp.sched_priority = priority_;
      if (pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp) == 0) ++*realtime_;
    } else if (nice_ != 0) {
      // Linux: a thread's own nice value (raising it needs no privilege).
      ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), nice_);
    }
    while (true) {
      std::shared_ptr<Task> task;
      {
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [&] { return stop_ || task_; });
        if (stop_ && !task_) return;
        task = task_;
      }
      if (task->shadow) inbox_->expect();
      const nanoseconds cpu0 = thread_cpu_time();
      run(*task);
      task->cpu = thread_cpu_time() - cpu0;
      std::optional<ShadowJob> job;
      if (task->shadow && task->outputs && !task->outputs->empty()) {
        auto [top1, confidence] = top1_softmax(task->outputs->front());  // before the caller takes the outputs
        job = ShadowJob{{}, top1, confidence, task->cpu};
      }
      {
        // Idle before the caller hears "done", so its next task finds this worker free.
        std::lock_guard lock(mutex_);
        task_.reset();
      }
      {
        std::lock_guard lock(task->mutex);
        task->done = true;
      }
      task->cv.notify_all();
      // The caller has its answer (and no longer reads the input): now the challenger's turn.
      if (task->shadow) {
        if (job) job->input = std::move(task->input);
        inbox_->hand_over(std::move(job));
      }
      std::lock_guard lock(mutex_);
      if (stop_) return;
    }
  }

  void run(Task& t) {
    std::span<const model::TensorData> in(&t.input, 1);
    switch (t.kind) {
      case TaskKind::kSmaller:
        t.outputs = smaller_ ? smaller_->run(in, t.cancel) : run_main(t, in);
        return;
      case TaskKind::kMain:
        t.outputs = run_main(t, in);
        return;
      case TaskKind::kHead: {
        auto act = head_->run(in, t.cancel);
        if (!act) {
          t.outputs = std::unexpected(std::move(act).error());
          return;
        }
        t.activation = act->front();
        t.outputs = std::move(*act);  // the head's one output: the activation
        return;
      }
    }
  }

  Result<std::vector<model::TensorData>> run_main(Task& t, std::span<const model::TensorData> in) {
    if (!head_) return main_->run(in, t.cancel);
    EL_TRY(auto act, head_->run(in, t.cancel));
    t.activation = act.front();
    return tail_->run(std::span<const model::TensorData>(&act.front(), 1), t.cancel);
  }

  int priority_, nice_;
  std::atomic<int>* realtime_;
  ShadowInbox* inbox_;
  std::optional<runtime::Session> main_, head_, tail_, smaller_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::shared_ptr<Task> task_;
  bool stop_ = false;
  std::thread thread_;  // last: starts after the sessions exist
};

}  // namespace

struct Engine::Impl {
  EngineModels models;
  EngineOptions options;
  const Clock* clock;
  const ThermalSensor* thermal;
  const PowerSensor* power;
  RemoteStage* remote;
  const MemorySensor* memory;

  std::vector<std::unique_ptr<Worker>> workers;
  std::atomic<int> realtime_workers{0};

  mutable std::mutex mutex;  // guards everything below
  Governor governor;
  GuardrailMetrics metrics;
  GovernorInputs last_inputs;  // what the governor saw for the frame in progress
  double overrun_ewma = 0;
  double held_memory_pressure = 0;  // the engine's own weights and arenas against the envelope
  std::optional<double> remote_ms_ewma;  // the remote stage's answers, when it has given any
  std::optional<InferResult> last_answer;
  nanoseconds last_answer_at{0};
  std::optional<nanoseconds> last_frame_at;
  Level current_level = Level::kFull;
  std::optional<double> level_since;
  std::mt19937_64 rng;

  // Shadow.
  ShadowInbox inbox;
  std::atomic<bool> shadow_cancel{false};  // set on destruction: the challenger stops at its next op
  std::thread shadow_thread;

  Impl(EngineModels m, EngineOptions o, const Clock& c, const ThermalSensor* t, const PowerSensor* p, RemoteStage* r,
       const MemorySensor* mem)
      : models(std::move(m)), options(std::move(o)), clock(&c), thermal(t), power(p), remote(r), memory(mem),
        governor(options.governor), rng(options.shadow_seed) {}

  double now_s() const { return seconds(clock->now()); }

  // The governor's inputs now. Sensor errors count as "no reading": no pressure from them.
  GovernorInputs inputs() const {
    GovernorInputs in;
    in.throttle_c = options.envelope.thermal_throttle_c;
    in.temperature_c = NAN;
    if (thermal)
      if (auto c = thermal->celsius()) in.temperature_c = *c;
    if (power)
      if (auto p = power->read()) in.power = *p;
    in.overrun_rate = overrun_ewma;
    in.memory_pressure = held_memory_pressure;
    if (memory)
      if (auto p = memory->pressure()) in.memory_pressure = std::max(in.memory_pressure, *p);
    in.smaller_available = models.smaller.has_value();
    in.remote_available = remote_ready() && remote_within_budget();
    return in;
  }
  // The remote stage can be asked now: configured, allowed by the policy, the model split, online.
  bool remote_ready() const {
    return remote && options.remote_policy == RemotePolicy::kCutActivation && models.head && remote->online();
  }
  // L3 needs the remote stage's answers to fit the latency budget (until it has answered, it is
  // given the benefit of the doubt; a failure makes it offline for a while anyway).
  bool remote_within_budget() const { return !remote_ms_ewma || *remote_ms_ewma <= options.envelope.latency_p95_ms; }
  void note_remote(nanoseconds took) {
    const double ms = static_cast<double>(took.count()) / 1e6;
    remote_ms_ewma = remote_ms_ewma ? 0.9 * *remote_ms_ewma + 0.1 * ms : ms;
  }

  Level step_governor() {
    last_inputs = inputs();
    if (options.pin_level) return account(*options.pin_level);
    const uint64_t before = governor.transition_count();
    Level level = governor.update(last_inputs, now_s());
    const uint64_t changes = governor.transition_count() - before;  // 0 or 1: one level per call
    if (changes) {
      metrics.ladder_transitions += changes;
      const Transition& t = governor.transitions().back();
      if (t.to > t.from && t.cause.starts_with("temperature")) ++metrics.throttle_events;
    }
    return account(level);
  }

  // Time per level, on the engine's clock: each frame's level holds until the next frame.
  Level account(Level level) {
    const double now = now_s();
    if (level_since) metrics.seconds_per_level[static_cast<size_t>(current_level)] += now - *level_since;
    level_since = now;
    current_level = level;
    return level;
  }

  // Runs `task` on an idle worker and waits until it is done or `until`. nullopt: no idle worker.
  std::optional<bool> run_on_worker(const std::shared_ptr<Task>& task, SteadyTime until) {
    bool started = false;
    for (auto& w : workers)
      if (w->try_start(task)) {
        started = true;
        break;
      }
    if (!started) return std::nullopt;
    std::unique_lock lock(task->mutex);
    if (task->cv.wait_until(lock, until, [&] { return task->done; })) return true;
    task->cancel = true;  // the worker stops at the next op boundary and becomes idle again
    return false;
  }

  // The heuristic answer: the last model answer while it is fresh, else none.
  InferResult heuristic(FallbackReason reason, Level level) const {
    InferResult r;
    r.source = Source::kHeuristic;
    r.reason = reason;
    r.level = level;
    if (last_answer && clock->now() - last_answer_at <= options.heuristic_max_age) r.top1 = last_answer->top1;
    return r;
  }

  void record(const InferResult& r) {
    ++metrics.inferences;
    ++metrics.fallbacks[static_cast<size_t>(r.reason)];
    ++metrics.answers_by_source[static_cast<size_t>(r.source)];
    metrics.latency_us.add(static_cast<double>(r.latency.count()) / 1e3);
    const size_t bucket = std::min<size_t>(9, static_cast<size_t>(std::max(0.0, r.confidence) * 10.0));
    ++metrics.confidence[bucket];
  }

  // Under the engine's lock, before the frame runs: whether it goes to the challenger once the
  // champion has answered it — sampled, and only when the governor allows extra work.
  bool want_shadow(Level level) {
    if (!models.challenger || options.shadow_rate <= 0) return false;
    if (std::uniform_real_distribution<double>(0, 1)(rng) >= options.shadow_rate) return false;
    if (!governor.allows_extra_work(last_inputs, level)) {
      ++metrics.shadow_skipped;
      return false;
    }
    return true;
  }

  void shadow_loop() {
    // Below the workers (and the caller): on a busy core the challenger waits, the answer does not.
    sched_param idle{};
    pthread_setschedparam(pthread_self(), SCHED_IDLE, &idle);
    runtime::Session session(*models.challenger);
    const nanoseconds limit = options.shadow_time_limit > nanoseconds::zero()
                                  ? options.shadow_time_limit
                                  : std::chrono::duration_cast<nanoseconds>(
                                        std::chrono::duration<double, std::milli>(options.envelope.latency_p95_ms));
    while (true) {
      ShadowJob job;
      {
        std::unique_lock lock(inbox.mutex);
        inbox.cv.wait(lock, [&] { return inbox.stop || inbox.job; });
        if (inbox.stop) return;
        job = std::move(*inbox.job);
        inbox.job.reset();
        inbox.busy = true;
      }
      // Times are the runs' own CPU time, the challenger's and the champion's: at SCHED_IDLE the
      // challenger may wait for the CPU as long as others need it, and waiting is neither held
      // against it nor part of what it costs (for a single-threaded model, its CPU time is its
      // latency on an otherwise idle core).
      const nanoseconds cpu0 = thread_cpu_time();
      std::atomic<bool> cancel{false};
      auto out = session.run(std::span<const model::TensorData>(&job.input, 1), cancel, [&](size_t) {
        if (shadow_cancel.load(std::memory_order_relaxed) || thread_cpu_time() - cpu0 > limit) cancel = true;
      });
      if (shadow_cancel) return;
      const nanoseconds cpu = thread_cpu_time() - cpu0;
      {
        std::lock_guard lock(mutex);
        ++metrics.shadow_runs;
        metrics.shadow_latency_us.add(static_cast<double>(cpu.count()) / 1e3);
        // Over the limit is a failure even when the run finished: a step cannot be interrupted
        // (a backend's fused partition is one step), so a cancel may land only at its end.
        if (!out || cpu > limit) {
          ++metrics.shadow_failures;
        } else {
          auto [top1, conf] = top1_softmax(out->front());
          if (top1 != job.champion_top1) ++metrics.shadow_disagreements;
          metrics.shadow_confidence_delta_sum += conf - job.champion_confidence;
          metrics.shadow_latency_delta_us_sum += static_cast<double>((cpu - job.champion_cpu).count()) / 1e3;
        }
      }
      if (options.on_shadow_result) options.on_shadow_result(out.has_value() && cpu <= limit);
      {
        std::lock_guard lock(inbox.mutex);
        inbox.busy = false;
      }
      inbox.cv.notify_all();
    }
  }

  InferResult infer(const model::TensorData& input, nanoseconds deadline) {
    const SteadyTime t0 = std::chrono::steady_clock::now();
    const SteadyTime until = t0 + deadline;
    std::unique_lock lock(mutex);
    const Level level = step_governor();
    InferResult r = answer(input, level, until, lock, want_shadow(level));
    r.level = level;
    r.latency = std::chrono::steady_clock::now() - t0;
    record(r);
    if (r.source != Source::kHeuristic) {
      last_answer = r;
      last_answer.value().outputs.clear();
      last_answer_at = clock->now();
    }
    return r;
  }

  // Runs a task without holding the engine's lock (the shadow thread records under it).
  std::optional<bool> run_unlocked(const std::shared_ptr<Task>& task, SteadyTime until, std::unique_lock<std::mutex>& lock) {
    lock.unlock();
    auto r = run_on_worker(task, until);
    lock.lock();
    return r;
  }

  void note_overrun(bool overran) {
    overrun_ewma = 0.95 * overrun_ewma + (overran ? 0.05 : 0.0);
    if (overran) ++metrics.deadline_overruns;
  }

  // Runs `task` on a worker. nullopt: it answered (task->outputs holds a value); else the
  // heuristic answer saying why not.
  std::optional<InferResult> run_or_fallback(const std::shared_ptr<Task>& task, Level level, SteadyTime until,
                                             std::unique_lock<std::mutex>& lock) {
    auto done = run_unlocked(task, until, lock);
    if (!done) {
      // Every worker is still finishing an overrun: pressure for the governor like an overrun,
      // though this answer is not late (it is counted under its own reason, busy).
      overrun_ewma = 0.95 * overrun_ewma + 0.05;
      return heuristic(FallbackReason::kBusy, level);
    }
    note_overrun(!*done);
    if (!*done) return heuristic(FallbackReason::kDeadline, level);
    if (!task->outputs || task->outputs->empty()) {
      ++metrics.model_errors;
      return heuristic(FallbackReason::kModelError, level);
    }
    return std::nullopt;
  }

  static InferResult answer_from(std::vector<model::TensorData> outputs, Source source, FallbackReason reason) {
    InferResult r;
    std::tie(r.top1, r.confidence) = top1_softmax(outputs.front());
    r.outputs = std::move(outputs);
    r.source = source;
    r.reason = reason;
    return r;
  }

  // Asks the remote stage with the cut activation, within what is left until `until`.
  Result<std::vector<model::TensorData>> ask_remote(const model::TensorData& activation, SteadyTime until,
                                                    std::unique_lock<std::mutex>& lock) {
    const auto t0 = std::chrono::steady_clock::now();
    lock.unlock();
    auto out = remote->run(activation, until - t0);
    lock.lock();
    if (out && !out->empty()) note_remote(std::chrono::steady_clock::now() - t0);
    if (out && out->empty()) return make_error(ErrorCode::kCorrupt, "the remote stage answered with no outputs");
    return out;
  }

  // `shadow`: the frame goes to the challenger if the main model answers it locally — judged
  // against the champion's own answer, whatever the caller gets (an escalation under the floor
  // included).
  InferResult answer(const model::TensorData& input, Level level, SteadyTime until, std::unique_lock<std::mutex>& lock,
                     bool shadow) {
    if (level == Level::kHeuristic) return heuristic(FallbackReason::kLadderHeuristic, level);

    auto task = std::make_shared<Task>();
    task->input = input;
    if (level == Level::kRemote && remote_ready()) {
      // L3: the head here, the tail there. A failed request leaves no local answer to fall back
      // on (the main model was not run: that is what L3 saves), so the heuristic answers.
      task->kind = TaskKind::kHead;
      if (auto fallback = run_or_fallback(task, level, until, lock)) return *fallback;
      auto out = ask_remote(*task->activation, until, lock);
      InferResult r = out ? answer_from(std::move(*out), Source::kRemote, FallbackReason::kLadderRemote)
                          : heuristic(FallbackReason::kRemoteFailed, level);
      r.ran = LocalModel::kHead;
      return r;
    }

    const bool degraded = level != Level::kFull && models.smaller;
    task->kind = degraded ? TaskKind::kSmaller : TaskKind::kMain;
    task->shadow = shadow && !degraded;
    if (auto fallback = run_or_fallback(task, level, until, lock)) return *fallback;
    InferResult r = answer_from(std::move(*task->outputs), degraded ? Source::kLocalDegraded : Source::kLocal,
                                degraded ? FallbackReason::kLadderSmaller : FallbackReason::kNone);
    r.ran = degraded ? LocalModel::kSmaller : LocalModel::kMain;
    if (r.confidence >= options.accuracy_floor) return r;

    // The cascade: under the floor, the remote stage if it is online and the budget allows.
    r.source = Source::kLocalDegraded;
    if (!remote_ready() || !task->activation) {
      r.reason = FallbackReason::kBelowFloorOffline;
      return r;
    }
    if (until - std::chrono::steady_clock::now() < options.remote_min_budget) {
      r.reason = FallbackReason::kBelowFloorNoBudget;
      return r;
    }
    auto out = ask_remote(*task->activation, until, lock);
    if (!out) {
      r.reason = FallbackReason::kRemoteFailed;
      return r;
    }
    InferResult escalated = answer_from(std::move(*out), Source::kRemote, FallbackReason::kNone);
    escalated.ran = r.ran;
    return escalated;
  }

  std::optional<InferResult> offer_frame(const model::TensorData& input, nanoseconds deadline) {
    {
      std::lock_guard lock(mutex);
      ++metrics.frames_offered;
      // L2 and L3 run at the envelope's lower rate (what their declared power assumes).
      const Level level = current_level;
      if ((level == Level::kLowerRate || level == Level::kRemote) && last_frame_at) {
        const nanoseconds period(static_cast<int64_t>(1e9 / options.envelope.effective_lower_rate_fps()));
        // A frame is run when a period has passed since the last one run (with a little slack
        // for the frame clock's jitter), else dropped.
        if (clock->now() - *last_frame_at < period - period / 10) {
          ++metrics.frames_dropped;
          return std::nullopt;
        }
      }
      last_frame_at = clock->now();
    }
    return infer(input, deadline);
  }
};

Result<std::unique_ptr<Engine>> Engine::create(EngineModels models, EngineOptions options, const Clock& clock,
                                               const ThermalSensor* thermal, const PowerSensor* power, RemoteStage* remote,
                                               const MemorySensor* memory) {
  if (options.workers < 1) return make_error(ErrorCode::kInvalidArgument, "the engine needs at least one worker");
  if (options.worker_nice < 0 || options.worker_nice > 19)
    return make_error(ErrorCode::kInvalidArgument, "worker_nice must be within 0..19 (lowering it needs privilege), not {}",
                      options.worker_nice);
  EL_CHECK(validate(options.envelope, "the engine's envelope"));
  EL_CHECK(validate(options.governor));
  if (options.shadow_rate < 0 || options.shadow_rate > 1)
    return make_error(ErrorCode::kInvalidArgument, "shadow_rate must be within [0, 1], not {}", options.shadow_rate);
  if (models.head.has_value() != models.tail.has_value())
    return make_error(ErrorCode::kInvalidArgument, "a split model needs both its head and its tail");
  const auto& in = models.main.graph().tensors[models.main.graph().inputs.at(0)];
  auto same_input = [&](const runtime::Program& p, std::string_view what) -> Status {
    const auto& other = p.graph().tensors[p.graph().inputs.at(0)];
    if (other.dtype != in.dtype || other.shape != in.shape)
      return make_error(ErrorCode::kInvalidArgument, "the {} model's input does not match the main model's", what);
    return ok();
  };
  if (models.smaller) EL_CHECK(same_input(*models.smaller, "smaller"));
  if (models.challenger) EL_CHECK(same_input(*models.challenger, "challenger"));
  if (models.head) EL_CHECK(same_input(*models.head, "head"));

  auto impl = std::make_unique<Impl>(std::move(models), std::move(options), clock, thermal, power, remote, memory);
  // Memory pressure: what the engine holds (weights and arenas of every worker's sessions)
  // against the envelope's memory budget.
  if (impl->options.envelope.memory_bytes > 0) {
    auto held = [](const runtime::Program& p) { return p.graph().weight_bytes() + p.plan().arena_bytes; };
    double bytes = static_cast<double>(held(impl->models.main)) * impl->options.workers;
    if (impl->models.smaller) bytes += static_cast<double>(held(*impl->models.smaller)) * impl->options.workers;
    if (impl->models.challenger) bytes += static_cast<double>(held(*impl->models.challenger));
    impl->held_memory_pressure = bytes / static_cast<double>(impl->options.envelope.memory_bytes);
  }
  for (int i = 0; i < impl->options.workers; ++i) impl->workers.push_back(std::make_unique<Worker>(impl->models, impl->options.worker_priority, impl->options.worker_nice,
                                                     impl->realtime_workers, impl->inbox));
  if (impl->models.challenger) impl->shadow_thread = std::thread([p = impl.get()] { p->shadow_loop(); });
  return std::unique_ptr<Engine>(new Engine(std::move(impl)));
}

Engine::Engine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Engine::~Engine() {
  {
    std::lock_guard lock(impl_->inbox.mutex);
    impl_->inbox.stop = true;
  }
  impl_->shadow_cancel = true;
  impl_->inbox.cv.notify_all();
  if (impl_->shadow_thread.joinable()) impl_->shadow_thread.join();
  impl_->workers.clear();
}

InferResult Engine::infer(const model::TensorData& input, nanoseconds deadline) { return impl_->infer(input, deadline); }

std::optional<InferResult> Engine::offer_frame(const model::TensorData& input, nanoseconds deadline) {
  return impl_->offer_frame(input, deadline);
}

GuardrailMetrics Engine::metrics() const {
  std::lock_guard lock(impl_->mutex);
  GuardrailMetrics m = impl_->metrics;
  {
    std::lock_guard inbox(impl_->inbox.mutex);
    m.shadow_skipped += impl_->inbox.skipped_busy;
  }
  if (impl_->level_since)
    m.seconds_per_level[static_cast<size_t>(impl_->current_level)] += impl_->now_s() - *impl_->level_since;
  return m;
}

std::vector<Transition> Engine::transitions() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->governor.transitions();
}

Level Engine::level() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->current_level;
}

int Engine::realtime_workers() const { return impl_->realtime_workers.load(); }

void Engine::drain_shadow() {
  ShadowInbox& in = impl_->inbox;
  std::unique_lock lock(in.mutex);
  in.cv.wait(lock, [&] { return in.pending == 0 && !in.busy && !in.job; });
}

}  // namespace edgeloop::device

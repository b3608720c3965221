#include "edgeloop/device/engine.h"

#include <gtest/gtest.h>

#include <sched.h>
#include <time.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <map>
#include <set>
#include <thread>

#include "edgeloop/runtime/session.h"
#include "fixtures.h"
#include "testing/graph_builder.h"

namespace edgeloop::device {
namespace {

using namespace std::chrono_literals;
using model::DType;
using model::OpType;

// A chain of `depth` dense layers over `rows` x `width` activations, then logits [rows, 10]:
// slow enough on the reference kernels (rows*width*width MACs per layer) to overrun a deadline.
model::Graph chain(int depth, int64_t rows, int64_t width, uint32_t seed) {
  testing::GraphBuilder b(seed);
  auto x = b.input(DType::kF32, {rows, width});
  auto h = x;
  for (int i = 0; i < depth; ++i) h = b.node(OpType::kRelu, {b.node(OpType::kMatMul, {h, b.weights_f32({width, width})})});
  auto y = b.node(OpType::kMatMul, {h, b.weights_f32({width, 10})});
  model::Graph g = b.finish({y});
  g.meta.name = "chain";
  g.meta.version = "1";
  return g;
}

runtime::Program load(model::Graph g) {
  auto p = runtime::Program::from_graph(std::move(g), runtime::LoadOptions::reference());
  EXPECT_TRUE(p) << p.error().message;
  return std::move(*p);
}

model::TensorData input(int64_t rows, int64_t width, float v = 0.5f) {
  model::TensorData t{"x0", DType::kF32, {rows, width}, {}};
  std::vector<float> values(static_cast<size_t>(rows * width));
  for (size_t i = 0; i < values.size(); ++i) values[i] = v * static_cast<float>((i % 7) + 1) / 7.f;
  t.bytes.resize(values.size() * 4);
  std::memcpy(t.bytes.data(), values.data(), t.bytes.size());
  return t;
}

// A clock the test moves by hand (the governor's and the frame rate's time).
class ManualClock final : public Clock {
 public:
  std::chrono::nanoseconds now() const override { return t; }
  int64_t unix_seconds() const override { return 1'800'000'000; }
  std::chrono::nanoseconds t{0};
};

EngineOptions options() { return fixtures::engine_options(); }

// Work is measured in CPU time, not in wall time, which a loaded machine stretches.
std::chrono::nanoseconds cpu_time(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}
// The CPU time of every thread but the calling one: the engine's work. Read while another thread
// runs, it may miss up to a scheduler tick of that thread's work.
std::chrono::nanoseconds engine_cpu() { return cpu_time(CLOCK_PROCESS_CPUTIME_ID) - cpu_time(CLOCK_THREAD_CPUTIME_ID); }

TEST(Engine, AnswersWithTheMainModelsOutput) {
  ManualClock clock;
  auto main = load(chain(2, 1, 16, 1));
  runtime::Session direct(main);
  auto x = input(1, 16);
  auto want = direct.run(std::span(&x, 1));
  ASSERT_TRUE(want);
  auto engine = Engine::create({main, {}, {}, {}, {}}, options(), clock);
  ASSERT_TRUE(engine) << engine.error().message;
  InferResult r = (*engine)->infer(x, 1s);
  EXPECT_EQ(r.source, Source::kLocal);
  EXPECT_EQ(r.reason, FallbackReason::kNone);
  ASSERT_EQ(r.outputs.size(), 1u);
  EXPECT_EQ(r.outputs[0].bytes, want->front().bytes);
  EXPECT_EQ(r.top1, top1_softmax(want->front()).first);
  EXPECT_GT(r.confidence, 0.0);
  auto m = (*engine)->metrics();
  EXPECT_EQ(m.inferences, 1u);
  EXPECT_EQ(m.answers_by_source[static_cast<size_t>(Source::kLocal)], 1u);
  EXPECT_EQ(m.latency_us.total, 1u);
}

TEST(Engine, AnOverrunReturnsTheFallbackAtTheDeadlineAndTheWorkerRecovers) {
  ManualClock clock;
  // ~40 layers of 64x256x256 on the reference kernels: far longer than the 5 ms deadline.
  auto slow = load(chain(40, 64, 256, 2));
  EngineOptions o = options();
  o.workers = 1;
  auto engine = Engine::create({slow, {}, {}, {}, {}}, o, clock);
  ASSERT_TRUE(engine);
  auto x = input(64, 256);
  // A first answer, so the heuristic has something to say; it also measures a whole run's work.
  const auto cpu0 = engine_cpu();
  InferResult first = (*engine)->infer(x, 60s);
  ASSERT_EQ(first.source, Source::kLocal);
  const auto whole_run = engine_cpu() - cpu0;

  const auto cpu_at_start = engine_cpu();
  const auto t0 = std::chrono::steady_clock::now();
  InferResult r = (*engine)->infer(x, 5ms);
  const auto waited = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(r.source, Source::kHeuristic);
  EXPECT_EQ(r.reason, FallbackReason::kDeadline);
  EXPECT_EQ(r.top1, first.top1);  // the last answer, while fresh
  EXPECT_LT(waited, 5ms + 100ms) << "the caller was blocked past its deadline";  // generous: a shared machine
  EXPECT_EQ((*engine)->metrics().deadline_overruns, 1u);

  // The overrunning run is cancelled between ops: the single worker is free again after about
  // one layer's work (a 40th of a run) past the cancel, not after the rest of the run. Until the
  // cancel, its one thread did at most `waited` of work.
  InferResult again{};
  auto work_until_free = whole_run;
  for (int i = 0; i < 20000; ++i) {
    work_until_free = engine_cpu() - cpu_at_start;
    again = (*engine)->infer(x, 60s);
    if (again.reason != FallbackReason::kBusy) break;
    std::this_thread::sleep_for(100us);
  }
  EXPECT_EQ(again.source, Source::kLocal);
  EXPECT_LT(work_until_free, waited + whole_run / 4) << "the overrunning model was not cancelled between ops";
  EXPECT_EQ(again.outputs[0].bytes, first.outputs[0].bytes);
}

TEST(Engine, WithoutAFreshAnswerTheHeuristicSaysNothing) {
  ManualClock clock;
  auto slow = load(chain(40, 64, 256, 3));
  auto engine = Engine::create({slow, {}, {}, {}, {}}, options(), clock);
  ASSERT_TRUE(engine);
  InferResult r = (*engine)->infer(input(64, 256), 1ms);
  EXPECT_EQ(r.source, Source::kHeuristic);
  EXPECT_EQ(r.top1, -1);
  EXPECT_TRUE(r.outputs.empty());
}

TEST(Engine, UnderTheFloorOfflineTheLocalAnswerIsFlagged) {
  ManualClock clock;
  EngineOptions o = options();
  o.accuracy_floor = 1.01;  // nothing is confident enough
  auto engine = Engine::create({load(chain(2, 1, 16, 4)), {}, {}, {}, {}}, o, clock);
  ASSERT_TRUE(engine);
  InferResult r = (*engine)->infer(input(1, 16), 1s);
  EXPECT_EQ(r.source, Source::kLocalDegraded);
  EXPECT_EQ(r.reason, FallbackReason::kBelowFloorOffline);
  EXPECT_FALSE(r.outputs.empty());
  EXPECT_EQ((*engine)->metrics().fallbacks[static_cast<size_t>(FallbackReason::kBelowFloorOffline)], 1u);
}

TEST(Engine, HeatMovesDownTheLadderToTheSmallerVariantAndALowerFrameRate) {
  ManualClock clock;
  // 79 °C and staying there: over throttle − critical margin (80 − 2), so the governor keeps
  // stepping down (docs/governor.md): L1 (smaller variant), L2 (lower rate), L4 (no remote).
  SimulatedThermal hot(ThermalModel{}, /*initial_c=*/79);
  auto main = load(chain(2, 1, 16, 5));
  auto smaller = load(chain(1, 1, 16, 6));
  auto engine = Engine::create({main, smaller, {}, {}, {}}, options(), clock, &hot);
  ASSERT_TRUE(engine);
  auto x = input(1, 16);
  int dropped = 0;
  std::map<Level, std::set<std::pair<Source, FallbackReason>>> seen;
  for (int frame = 0; frame < 30 * 20; ++frame) {  // 20 s at 30 fps
    clock.t += 33'333'333ns;
    auto r = (*engine)->offer_frame(x, 1s);
    if (!r) {
      ++dropped;
      continue;
    }
    seen[r->level].insert({r->source, r->reason});
  }
  using P = std::pair<Source, FallbackReason>;
  EXPECT_TRUE(seen[Level::kSmaller].count(P{Source::kLocalDegraded, FallbackReason::kLadderSmaller}));
  EXPECT_TRUE(seen[Level::kLowerRate].count(P{Source::kLocalDegraded, FallbackReason::kLadderSmaller}));
  EXPECT_EQ((*engine)->level(), Level::kHeuristic);
  EXPECT_TRUE(seen[Level::kHeuristic].count(P{Source::kHeuristic, FallbackReason::kLadderHeuristic}));
  auto transitions = (*engine)->transitions();
  ASSERT_GE(transitions.size(), 3u);
  EXPECT_EQ(transitions.front().from, Level::kFull);
  EXPECT_NE(transitions.front().cause.find("temperature"), std::string::npos) << transitions.front().cause;
  auto m = (*engine)->metrics();
  EXPECT_EQ(m.throttle_events, transitions.size());
  EXPECT_EQ(m.frames_offered, 600u);
  EXPECT_EQ(m.frames_dropped, static_cast<uint64_t>(dropped));
  EXPECT_GT(dropped, 0);  // at L2, every other frame
  double total = 0;
  for (double sec : m.seconds_per_level) total += sec;
  EXPECT_NEAR(total, 20.0, 0.1);
}

TEST(Engine, TheShadowChallengerNeverChangesAnswersAndRecordsDisagreement) {
  ManualClock clock;
  auto main = load(chain(2, 1, 16, 7));
  auto challenger = load(chain(2, 1, 16, 8));  // other weights: disagrees some of the time
  EngineOptions o = options();
  o.shadow_rate = 1;
  auto with = Engine::create({main, {}, challenger, {}, {}}, o, clock);
  auto without = Engine::create({main, {}, {}, {}, {}}, options(), clock);
  ASSERT_TRUE(with && without);
  int disagreements = 0;
  runtime::Session challenger_session(challenger);
  for (int i = 0; i < 40; ++i) {
    auto x = input(1, 16, static_cast<float>(i % 9) - 4.f);
    InferResult a = (*with)->infer(x, 1s), b = (*without)->infer(x, 1s);
    EXPECT_EQ(a.outputs[0].bytes, b.outputs[0].bytes);
    EXPECT_EQ(a.source, Source::kLocal);
    (*with)->drain_shadow();  // one frame at a time in the shadow: none skipped
    auto c = challenger_session.run(std::span(&x, 1));
    if (top1_softmax(c->front()).first != a.top1) ++disagreements;
  }
  auto m = (*with)->metrics();
  EXPECT_EQ(m.shadow_runs, 40u);
  EXPECT_EQ(m.shadow_skipped, 0u);
  EXPECT_EQ(m.shadow_failures, 0u);
  EXPECT_EQ(m.shadow_disagreements, static_cast<uint64_t>(disagreements));
  EXPECT_EQ(m.shadow_latency_us.total, 40u);
}

TEST(Engine, AChallengerOverItsTimeLimitIsCancelledAndCountedAsAFailure) {
  ManualClock clock;
  auto main = load(chain(0, 64, 256, 12));
  auto slow = load(chain(40, 64, 256, 13));  // ~170 M multiply-adds on the reference kernels
  EngineOptions o = options();
  o.shadow_rate = 1;
  o.shadow_time_limit = 5ms;
  std::vector<bool> results;
  o.on_shadow_result = [&](bool ok) { results.push_back(ok); };
  auto engine = Engine::create({main, {}, slow, {}, {}}, o, clock);
  ASSERT_TRUE(engine);
  InferResult r = (*engine)->infer(input(64, 256), 1s);
  EXPECT_EQ(r.source, Source::kLocal);  // the caller's answer is the champion's
  (*engine)->drain_shadow();
  auto m = (*engine)->metrics();
  EXPECT_EQ(m.shadow_runs, 1u);
  EXPECT_EQ(m.shadow_failures, 1u);
  EXPECT_EQ(results, std::vector<bool>{false});
  EXPECT_LT(m.shadow_latency_us.quantile(1.0), 5e3 * 20) << "cancelled between ops, not run to the end";
}

TEST(Engine, AChallengerThatFinishesOverItsTimeLimitIsStillAFailure) {
  // One step (a fused backend partition is one too): no op boundary for the cancel to land on.
  ManualClock clock;
  EngineOptions o = options();
  o.shadow_rate = 1;
  o.shadow_time_limit = 1us;
  std::vector<bool> results;
  o.on_shadow_result = [&](bool ok) { results.push_back(ok); };
  auto engine = Engine::create({load(chain(0, 4096, 1024, 16)), {}, load(chain(0, 4096, 1024, 17)), {}, {}}, o, clock);
  ASSERT_TRUE(engine);
  (*engine)->infer(input(4096, 1024), 10s);
  (*engine)->drain_shadow();
  auto m = (*engine)->metrics();
  EXPECT_EQ(m.shadow_runs, 1u);
  EXPECT_EQ(m.shadow_failures, 1u);
  EXPECT_EQ(m.shadow_disagreements, 0u) << "a failed run has no answer to compare";
  EXPECT_EQ(results, std::vector<bool>{false});
}

TEST(Engine, AChallengerWaitingForTheCpuIsNotFailedForIt) {
  // Everything on one CPU; a busy thread of normal priority holds it while the challenger (at
  // SCHED_IDLE) has a frame: the challenger waits far past its time limit in wall time, but its
  // own CPU time stays under it — it is not failed for waiting.
  cpu_set_t saved, one;
  ASSERT_EQ(sched_getaffinity(0, sizeof(saved), &saved), 0);
  CPU_ZERO(&one);
  CPU_SET(sched_getcpu(), &one);
  ASSERT_EQ(sched_setaffinity(0, sizeof(one), &one), 0);
  {
    ManualClock clock;
    EngineOptions o = options();
    o.shadow_rate = 1;
    o.shadow_time_limit = 100ms;
    std::vector<bool> results;
    std::chrono::steady_clock::time_point answered_at;
    o.on_shadow_result = [&](bool ok) {
      results.push_back(ok);
      answered_at = std::chrono::steady_clock::now();
    };
    auto engine = Engine::create({load(chain(0, 64, 256, 32)), {}, load(chain(4, 64, 256, 33)), {}, {}}, o, clock);
    ASSERT_TRUE(engine);
    std::atomic<bool> stop{false};
    std::thread busy([&] {
      while (!stop) {
      }
    });
    const auto t0 = std::chrono::steady_clock::now();
    (*engine)->infer(input(64, 256), 10s);
    std::this_thread::sleep_for(300ms);  // the busy thread has the CPU; the challenger waits
    stop = true;
    busy.join();
    (*engine)->drain_shadow();
    auto m = (*engine)->metrics();
    EXPECT_EQ(m.shadow_runs, 1u);
    EXPECT_EQ(m.shadow_failures, 0u);
    EXPECT_EQ(results, std::vector<bool>{true});
    EXPECT_GT(answered_at - t0, 100ms) << "it took past its limit in wall time";
    EXPECT_LT(m.shadow_latency_us.sum, 100e3) << "its own CPU time";
  }
  sched_setaffinity(0, sizeof(saved), &saved);
}

TEST(Engine, DestroyingTheEngineStopsAChallengerMidRun) {
  ManualClock clock;
  EngineOptions o = options();
  o.shadow_rate = 1;
  o.shadow_time_limit = 1h;
  o.envelope.memory_bytes = 1ll << 30;  // the challenger's 100 MB of weights are no memory pressure
  auto challenger = load(chain(400, 64, 256, 15));
  // What one whole run of the challenger costs.
  runtime::Session alone(challenger);
  const auto x = input(64, 256);
  const auto cpu0 = cpu_time(CLOCK_THREAD_CPUTIME_ID);  // it runs on this thread
  ASSERT_TRUE(alone.run(std::span(&x, 1)));
  const auto whole_run = cpu_time(CLOCK_THREAD_CPUTIME_ID) - cpu0;

  auto engine = Engine::create({load(chain(0, 64, 256, 14)), {}, challenger, {}, {}}, o, clock);
  ASSERT_TRUE(engine);
  const auto cpu1 = engine_cpu();
  (*engine)->infer(x, 1s);
  // Wait until the challenger is 20 ops in (at SCHED_IDLE, on a busy machine, that can take seconds).
  const auto give_up = std::chrono::steady_clock::now() + 60s;
  while (engine_cpu() - cpu1 < whole_run / 20 && std::chrono::steady_clock::now() < give_up) std::this_thread::sleep_for(1ms);
  ASSERT_GE(engine_cpu() - cpu1, whole_run / 20) << "the challenger never ran";
  engine->reset();
  // Stopped at its next op (a 400th of a run), not run to its end.
  EXPECT_LT(engine_cpu() - cpu1, whole_run / 2);
}

TEST(Engine, TheShadowWaitsForHeadroom) {
  ManualClock clock;
  SimulatedThermal hot(ThermalModel{}, 90);  // above the threshold: the governor steps down at once
  auto main = load(chain(2, 1, 16, 9));
  EngineOptions o = options();
  o.shadow_rate = 1;
  auto engine = Engine::create({main, {}, load(chain(2, 1, 16, 10)), {}, {}}, o, clock, &hot);
  ASSERT_TRUE(engine);
  for (int i = 0; i < 10; ++i) {
    clock.t += 100ms;
    (*engine)->infer(input(1, 16), 1s);
  }
  (*engine)->drain_shadow();
  EXPECT_EQ((*engine)->metrics().shadow_runs, 0u);
}

TEST(Engine, TheShadowJudgesFramesUnderTheFloorAgainstTheChampionsOwnAnswer) {
  // Every local answer is under the floor (offline: flagged). The champion still answered each
  // frame, so the challenger is judged on all of them — not only on the easy, confident ones.
  ManualClock clock;
  auto main = load(chain(2, 1, 16, 20));
  auto challenger = load(chain(2, 1, 16, 21));
  EngineOptions o = options();
  o.accuracy_floor = 1.01;
  o.shadow_rate = 1;
  auto engine = Engine::create({main, {}, challenger, {}, {}}, o, clock);
  ASSERT_TRUE(engine);
  runtime::Session champion(main), other(challenger);
  double want_confidence_delta = 0;
  for (int i = 0; i < 12; ++i) {
    auto x = input(1, 16, static_cast<float>(i) - 6.f);
    InferResult r = (*engine)->infer(x, 1s);
    ASSERT_EQ(r.reason, FallbackReason::kBelowFloorOffline);
    (*engine)->drain_shadow();
    auto a = champion.run(std::span(&x, 1));
    auto b = other.run(std::span(&x, 1));
    want_confidence_delta += top1_softmax(b->front()).second - top1_softmax(a->front()).second;
  }
  auto m = (*engine)->metrics();
  EXPECT_EQ(m.shadow_runs, 12u);
  EXPECT_NEAR(m.shadow_confidence_delta_sum, want_confidence_delta, 1e-9);
}

TEST(Engine, TheShadowRecordsTheChallengersExtraTime) {
  ManualClock clock;
  auto main = load(chain(0, 64, 256, 22));
  auto slower = load(chain(8, 64, 256, 23));  // 8 more layers of the same size: several times the work
  EngineOptions o = options();
  o.shadow_rate = 1;
  o.shadow_time_limit = 10s;
  auto engine = Engine::create({main, {}, slower, {}, {}}, o, clock);
  ASSERT_TRUE(engine);
  for (int i = 0; i < 5; ++i) {
    (*engine)->infer(input(64, 256), 10s);
    (*engine)->drain_shadow();
  }
  auto m = (*engine)->metrics();
  ASSERT_EQ(m.shadow_runs, 5u);
  EXPECT_EQ(m.shadow_failures, 0u);
  // The delta is the challenger's run minus the champion's run (both on their own threads):
  // positive, and at most the challenger's whole time.
  EXPECT_GT(m.shadow_latency_delta_us_sum, 0);
  EXPECT_LE(m.shadow_latency_delta_us_sum, m.shadow_latency_us.sum);
}

TEST(Engine, TheShadowNeedsAChargerOrABatteryAboveTheSaverLine) {
  auto runs = [](int percent, bool charging) {
    ManualClock clock;
    SimulatedBattery battery(15000, percent, charging);
    EngineOptions o = options();
    o.shadow_rate = 1;
    o.pin_level = Level::kFull;  // the level stays; only the headroom rule decides
    auto engine = Engine::create({load(chain(1, 1, 16, 24)), {}, load(chain(1, 1, 16, 25)), {}, {}}, o, clock, nullptr, &battery);
    EXPECT_TRUE(engine);
    for (int i = 0; i < 5; ++i) {
      (*engine)->infer(input(1, 16), 1s);
      (*engine)->drain_shadow();
    }
    auto m = (*engine)->metrics();
    return std::pair{m.shadow_runs, m.shadow_skipped};
  };
  EXPECT_EQ(runs(80, false), (std::pair<uint64_t, uint64_t>{5, 0}));
  EXPECT_EQ(runs(16, false), (std::pair<uint64_t, uint64_t>{0, 5})) << "under 15% + 5% hysteresis, on battery";
  EXPECT_EQ(runs(16, true), (std::pair<uint64_t, uint64_t>{5, 0})) << "on the charger";
}

TEST(Engine, AModelErrorFallsBackToTheHeuristicAndIsCounted) {
  ManualClock clock;
  auto engine = Engine::create({load(chain(1, 1, 16, 26)), {}, {}, {}, {}}, options(), clock);
  ASSERT_TRUE(engine);
  auto good = (*engine)->infer(input(1, 16), 1s);
  ASSERT_EQ(good.source, Source::kLocal);
  auto wrong = input(1, 16);
  wrong.bytes.resize(8);  // not the input's shape: the session refuses it
  InferResult r = (*engine)->infer(wrong, 1s);
  EXPECT_EQ(r.source, Source::kHeuristic);
  EXPECT_EQ(r.reason, FallbackReason::kModelError);
  EXPECT_EQ(r.top1, good.top1) << "the last answer, while fresh";
  auto m = (*engine)->metrics();
  EXPECT_EQ(m.model_errors, 1u);
  EXPECT_EQ(m.fallbacks[static_cast<size_t>(FallbackReason::kModelError)], 1u);
}

TEST(Engine, OverrunsMoveTheLadderToTheSmallerVariant) {
  ManualClock clock;
  auto slow = load(chain(40, 64, 256, 27));
  auto fast = load(chain(0, 64, 256, 28));
  EngineOptions o = options();
  auto engine = Engine::create({slow, fast, {}, {}, {}}, o, clock);
  ASSERT_TRUE(engine);
  auto x = input(64, 256);
  for (int i = 0; i < 100 && (*engine)->level() == Level::kFull; ++i) {
    clock.t += 100ms;
    (*engine)->infer(x, 1ms);
  }
  ASSERT_EQ((*engine)->level(), Level::kSmaller);
  auto t = (*engine)->transitions();
  ASSERT_FALSE(t.empty());
  EXPECT_NE(t.back().cause.find("deadline overruns"), std::string::npos) << t.back().cause;
  InferResult r;
  for (int i = 0; i < 1000; ++i) {  // the workers finish the cancelled step they were in first
    clock.t += 10ms;
    r = (*engine)->infer(x, 10s);
    if (r.reason != FallbackReason::kBusy) break;
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_EQ(r.reason, FallbackReason::kLadderSmaller);
  EXPECT_GT((*engine)->metrics().deadline_overruns, 0u);
}

TEST(Engine, PlatformMemoryPressureHoldsTheSmallerVariant) {
  ManualClock clock;
  SimulatedMemory memory(0.5);
  auto engine = Engine::create({load(chain(2, 1, 16, 29)), load(chain(1, 1, 16, 30)), {}, {}, {}}, options(), clock,
                               nullptr, nullptr, nullptr, &memory);
  ASSERT_TRUE(engine);
  clock.t += 100ms;
  EXPECT_EQ((*engine)->infer(input(1, 16), 1s).level, Level::kFull);
  memory.set(0.95);  // other apps took the memory
  clock.t += 100ms;
  EXPECT_EQ((*engine)->infer(input(1, 16), 1s).level, Level::kSmaller);
  EXPECT_NE((*engine)->transitions().back().cause.find("memory pressure 0.95"), std::string::npos);
  memory.set(0.5);
  for (int i = 0; i < 100 && (*engine)->level() != Level::kFull; ++i) {
    clock.t += 1s;
    (*engine)->infer(input(1, 16), 1s);
  }
  EXPECT_EQ((*engine)->level(), Level::kFull) << "back once the pressure clears and the dwell has passed";
}

// The nice values of this process's threads (Linux: field 19 of /proc/self/task/TID/stat).
std::multiset<int> thread_nice_values() {
  std::multiset<int> out;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream in(task.path() / "stat");
    std::string stat((std::istreambuf_iterator<char>(in)), {});
    std::istringstream rest(stat.substr(stat.rfind(')') + 2));  // after "pid (comm) "
    std::string field;
    for (int i = 3; i <= 19 && rest >> field; ++i)
      if (i == 19) out.insert(std::stoi(field));
  }
  return out;
}

TEST(Engine, WorkersRunBelowTheCallersPriority) {
  ManualClock clock;
  const auto before = thread_nice_values();
  EngineOptions o = options();
  o.workers = 3;
  auto engine = Engine::create({load(chain(1, 1, 16, 31)), {}, {}, {}, {}}, o, clock);
  ASSERT_TRUE(engine);
  std::multiset<int> after;  // the workers set their nice value as they start
  for (int i = 0; i < 200 && (after = thread_nice_values()).count(10) < before.count(10) + 3; ++i)
    std::this_thread::sleep_for(1ms);
  EXPECT_EQ(after.count(10), before.count(10) + 3) << "the three workers at nice 10";
  o.worker_nice = -1;
  EXPECT_FALSE(Engine::create({load(chain(1, 1, 16, 31)), {}, {}, {}, {}}, o, clock)) << "a negative nice needs privilege";
}

TEST(Engine, MetricsExportEveryFieldOfTheSchema) {
  ManualClock clock;
  auto engine = Engine::create({load(chain(1, 1, 16, 11)), {}, {}, {}, {}}, options(), clock);
  ASSERT_TRUE(engine);
  (*engine)->infer(input(1, 16), 1s);
  auto j = (*engine)->metrics().to_json();
  for (const char* key : {"schema", "schema_version", "frames_offered", "frames_dropped", "inferences", "deadline_overruns",
                          "model_errors", "throttle_events", "ladder_transitions", "seconds_per_level", "fallbacks",
                          "fallback_rate", "answers_by_source", "latency_us", "confidence", "shadow"})
    EXPECT_TRUE(j.contains(key)) << key;
  EXPECT_EQ(j["fallbacks"].size(), kFallbackReasonCount);
  EXPECT_EQ(j["seconds_per_level"].size(), kLevelCount);
  EXPECT_EQ(j["latency_us"]["counts"].size(), LatencyHistogram::kBuckets);
  EXPECT_EQ(j["inferences"], 1);
}

TEST(Engine, RefusesModelsThatDoNotFitTogether) {
  ManualClock clock;
  auto e = Engine::create({load(chain(1, 1, 16, 12)), load(chain(1, 1, 8, 13)), {}, {}, {}}, options(), clock);
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().message.find("smaller"), std::string::npos);
  EngineOptions bad = options();
  bad.envelope.fps = 0;
  EXPECT_FALSE(Engine::create({load(chain(1, 1, 16, 14)), {}, {}, {}, {}}, bad, clock));
  bad = options();
  bad.envelope.lower_rate_fps = 60;  // the lower rate above the frame rate
  auto e2 = Engine::create({load(chain(1, 1, 16, 14)), {}, {}, {}, {}}, bad, clock);
  ASSERT_FALSE(e2);
  EXPECT_NE(e2.error().message.find("lower_rate_fps"), std::string::npos) << e2.error().message;
  bad = options();
  bad.governor.derate_margin_c = -1;
  EXPECT_FALSE(Engine::create({load(chain(1, 1, 16, 14)), {}, {}, {}, {}}, bad, clock));
}

}  // namespace
}  // namespace edgeloop::device

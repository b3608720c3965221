// The engine's cascade and its fallback contract against the real stage server on 127.0.0.1
// (split inference of the Fashion-MNIST CNN): what leaves the device is the cut activation,
// never the raw input; a remote stage that is down, stalled or short of budget never holds the
// caller past its deadline and leaves the local answer, flagged.
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <csignal>
#include <thread>

#include "edgeloop/device/engine.h"
#include "edgeloop/device/remote_stage_http.h"
#include "edgeloop/device/stage_server.h"
#include "edgeloop/runtime/golden.h"
#include "edgeloop/runtime/session.h"
#include "fixtures.h"

namespace edgeloop::device {
namespace {

using namespace std::chrono_literals;

runtime::Program load(const model::Graph& g) {
  auto p = runtime::Program::from_graph(g, runtime::LoadOptions::reference());
  EXPECT_TRUE(p) << p.error().message;
  return std::move(*p);
}

EngineModels split_models() {
  return {load(fixtures::fashion_cnn()), {}, {}, load(fixtures::fashion_cnn_split().head), load(fixtures::fashion_cnn_split().tail)};
}

model::TensorData image(uint64_t seed = 3) {
  const model::Graph& g = fixtures::fashion_cnn();
  return runtime::random_input(g.tensors[g.inputs[0]], seed);
}

std::vector<std::byte> whole_output(const model::TensorData& x) {
  auto program = load(fixtures::fashion_cnn());
  runtime::Session s(program);
  auto out = s.run(std::span(&x, 1));
  EXPECT_TRUE(out) << out.error().message;
  return out ? out->front().bytes : std::vector<std::byte>{};
}

EngineOptions options() {
  EngineOptions o = fixtures::engine_options();
  o.accuracy_floor = 1.01;  // every local answer is under the floor: always escalate
  return o;
}

std::unique_ptr<StageServer> start_server() {
  std::signal(SIGPIPE, SIG_IGN);
  StageServerOptions o;
  o.load = runtime::LoadOptions::reference();
  auto server = StageServer::start(fixtures::fashion_cnn_split(), o);
  EXPECT_TRUE(server) << server.error().message;
  return server ? std::move(*server) : nullptr;
}

// Forwards to the real HTTP stage and keeps what was sent: the test's window on the wire.
class Recording final : public RemoteStage {
 public:
  explicit Recording(RemoteStage& inner) : inner_(inner) {}
  Result<std::vector<model::TensorData>> run(const model::TensorData& activation, std::chrono::nanoseconds budget) override {
    sent.push_back(activation);
    return inner_.run(activation, budget);
  }
  bool online() const override { return inner_.online(); }
  std::string describe() const override { return inner_.describe(); }
  std::vector<model::TensorData> sent;

 private:
  RemoteStage& inner_;
};

TEST(Cascade, UnderTheFloorTheRemoteStageAnswersFromTheCutActivationNotTheImage) {
  auto server = start_server();
  ASSERT_TRUE(server);
  SystemClock clock;
  HttpRemoteStage http(server->url(), clock);
  Recording remote(http);
  auto engine = Engine::create(split_models(), options(), clock, nullptr, nullptr, &remote);
  ASSERT_TRUE(engine) << engine.error().message;
  const auto x = image();
  InferResult r = (*engine)->infer(x, 5s);
  EXPECT_EQ(r.source, Source::kRemote);
  EXPECT_EQ(r.reason, FallbackReason::kNone);
  ASSERT_EQ(r.outputs.size(), 1u);
  EXPECT_EQ(r.outputs[0].bytes, whole_output(x)) << "the server's tail of the device's head is the whole model";
  ASSERT_EQ(remote.sent.size(), 1u);
  EXPECT_EQ(remote.sent[0].name, fixtures::fashion_cnn_split().cut);
  EXPECT_NE(remote.sent[0].shape, x.shape);
  EXPECT_NE(remote.sent[0].bytes, x.bytes);
  EXPECT_EQ(server->stats().served, 1u);
  EXPECT_EQ((*engine)->metrics().answers_by_source[static_cast<size_t>(Source::kRemote)], 1u);
}

TEST(Cascade, TheRemoteLevelRunsOnlyTheHeadOnTheDevice) {
  auto server = start_server();
  ASSERT_TRUE(server);
  SystemClock clock;
  HttpRemoteStage remote(server->url(), clock);
  EngineOptions o = options();
  o.accuracy_floor = 0;
  o.pin_level = Level::kRemote;
  auto engine = Engine::create(split_models(), o, clock, nullptr, nullptr, &remote);
  ASSERT_TRUE(engine);
  const auto x = image(5);
  InferResult r = (*engine)->infer(x, 5s);
  EXPECT_EQ(r.source, Source::kRemote);
  EXPECT_EQ(r.reason, FallbackReason::kLadderRemote);
  EXPECT_EQ(r.level, Level::kRemote);
  ASSERT_EQ(r.outputs.size(), 1u);
  EXPECT_EQ(r.outputs[0].bytes, whole_output(x));
  EXPECT_EQ(server->stats().served, 1u);
}

TEST(Cascade, AStageThatIsDownLeavesTheLocalAnswerFlaggedAndIsNotAskedAgain) {
  auto server = start_server();
  ASSERT_TRUE(server);
  const std::string url = server->url();
  server->stop();  // nobody listens on the port any more
  SystemClock clock;
  HttpRemoteStage http(url, clock);
  Recording remote(http);
  auto engine = Engine::create(split_models(), options(), clock, nullptr, nullptr, &remote);
  ASSERT_TRUE(engine);
  const auto x = image();
  const auto t0 = std::chrono::steady_clock::now();
  InferResult first = (*engine)->infer(x, 2s);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
  EXPECT_EQ(first.source, Source::kLocalDegraded);
  EXPECT_EQ(first.reason, FallbackReason::kRemoteFailed);
  ASSERT_EQ(first.outputs.size(), 1u);
  EXPECT_EQ(first.outputs[0].bytes, whole_output(x)) << "the local answer, flagged";
  // Offline is a mode: the next frames do not try the network.
  InferResult second = (*engine)->infer(x, 2s);
  EXPECT_EQ(second.reason, FallbackReason::kBelowFloorOffline);
  EXPECT_EQ(second.source, Source::kLocalDegraded);
  EXPECT_EQ(remote.sent.size(), 1u);
  auto m = (*engine)->metrics();
  EXPECT_EQ(m.fallbacks[static_cast<size_t>(FallbackReason::kRemoteFailed)], 1u);
  EXPECT_EQ(m.fallbacks[static_cast<size_t>(FallbackReason::kBelowFloorOffline)], 1u);
}

TEST(Cascade, AStalledStageCannotHoldTheCallerPastTheDeadline) {
  std::signal(SIGPIPE, SIG_IGN);
  httplib::Server stalled;
  std::atomic<bool> stop{false};
  stalled.Post("/v1/tail", [&](const httplib::Request&, httplib::Response& res) {
    for (int i = 0; i < 300 && !stop; ++i) std::this_thread::sleep_for(10ms);  // up to 3 s
    res.status = 500;
  });
  const int port = stalled.bind_to_any_port("127.0.0.1");
  ASSERT_GT(port, 0);
  std::thread serving([&] { stalled.listen_after_bind(); });
  {
    SystemClock clock;
    HttpRemoteStage remote("http://127.0.0.1:" + std::to_string(port), clock);
    auto engine = Engine::create(split_models(), options(), clock, nullptr, nullptr, &remote);
    ASSERT_TRUE(engine);
    const auto t0 = std::chrono::steady_clock::now();
    InferResult r = (*engine)->infer(image(), 300ms);
    const auto waited = std::chrono::steady_clock::now() - t0;
    EXPECT_LT(waited, 300ms + 150ms) << "generous: a shared machine";
    EXPECT_EQ(r.reason, FallbackReason::kRemoteFailed);
    EXPECT_EQ(r.source, Source::kLocalDegraded);
    EXPECT_FALSE(r.outputs.empty());
  }
  stop = true;
  stalled.stop();
  serving.join();
}

TEST(Cascade, TooLittleBudgetLeftNeverTriesTheNetwork) {
  auto server = start_server();
  ASSERT_TRUE(server);
  SystemClock clock;
  HttpRemoteStage remote(server->url(), clock);
  EngineOptions o = options();
  o.remote_min_budget = 1h;  // no deadline leaves that much
  auto engine = Engine::create(split_models(), o, clock, nullptr, nullptr, &remote);
  ASSERT_TRUE(engine);
  InferResult r = (*engine)->infer(image(), 2s);
  EXPECT_EQ(r.reason, FallbackReason::kBelowFloorNoBudget);
  EXPECT_EQ(r.source, Source::kLocalDegraded);
  EXPECT_EQ(server->stats().served, 0u);
}

TEST(Cascade, WithThePolicyNothingTheStageIsNeverAsked) {
  auto server = start_server();
  ASSERT_TRUE(server);
  SystemClock clock;
  HttpRemoteStage remote(server->url(), clock);
  EngineOptions o = options();
  o.remote_policy = RemotePolicy::kNothing;  // e.g. the user turned off "improve answers online"
  auto engine = Engine::create(split_models(), o, clock, nullptr, nullptr, &remote);
  ASSERT_TRUE(engine);
  InferResult r = (*engine)->infer(image(), 2s);
  EXPECT_EQ(r.reason, FallbackReason::kBelowFloorOffline);
  EXPECT_EQ(r.source, Source::kLocalDegraded);
  EXPECT_EQ(server->stats().served, 0u);
}

// A clock the test moves by hand (the engine's frame rate and governor time).
class ManualClock final : public Clock {
 public:
  std::chrono::nanoseconds now() const override { return t; }
  int64_t unix_seconds() const override { return 1'800'000'000; }
  std::chrono::nanoseconds t{0};
};

TEST(Cascade, TheRemoteLevelRunsAtTheLowerFrameRate) {
  auto server = start_server();
  ASSERT_TRUE(server);
  SystemClock wall;
  HttpRemoteStage remote(server->url(), wall);
  ManualClock clock;
  EngineOptions o = options();  // 30 fps; the lower rate is 15 fps
  o.accuracy_floor = 0;
  o.pin_level = Level::kRemote;
  auto engine = Engine::create(split_models(), o, clock, nullptr, nullptr, &remote);
  ASSERT_TRUE(engine);
  const auto x = image();
  int answered = 0;
  for (int frame = 0; frame < 60; ++frame) {  // 2 s at 30 fps
    clock.t += 33'333'333ns;
    if ((*engine)->offer_frame(x, 5s)) ++answered;
  }
  EXPECT_EQ(answered, 30);
  EXPECT_EQ((*engine)->metrics().frames_dropped, 30u);
  EXPECT_EQ(server->stats().served, 30u);
}

// The network made slow: every request waits `delay` before it goes out.
class Delayed final : public RemoteStage {
 public:
  Delayed(RemoteStage& inner, std::chrono::nanoseconds delay) : inner_(inner), delay_(delay) {}
  Result<std::vector<model::TensorData>> run(const model::TensorData& activation, std::chrono::nanoseconds budget) override {
    std::this_thread::sleep_for(delay_);
    return inner_.run(activation, budget - delay_);
  }
  bool online() const override { return inner_.online(); }
  std::string describe() const override { return inner_.describe(); }

 private:
  RemoteStage& inner_;
  std::chrono::nanoseconds delay_;
};

TEST(Cascade, AStageSlowerThanTheLatencyBudgetIsNoLadderLevel) {
  auto server = start_server();
  ASSERT_TRUE(server);
  SystemClock wall;
  HttpRemoteStage http(server->url(), wall);
  Delayed remote(http, 60ms);  // the envelope's latency p95 is 33 ms
  ManualClock clock;
  SimulatedThermal hot(ThermalModel{}, 79);  // over throttle - critical margin: steps down every frame
  EngineOptions o = options();
  o.accuracy_floor = 0;
  auto engine = Engine::create(split_models(), o, clock, &hot, nullptr, &remote);
  ASSERT_TRUE(engine);
  std::vector<Level> levels;
  for (int frame = 0; frame < 10; ++frame) {
    clock.t += 100ms;
    levels.push_back((*engine)->infer(image(), 5s).level);
  }
  // L0 -> L2 (no smaller variant) -> L3, whose first answer takes 60 ms -> L4.
  EXPECT_EQ(levels.back(), Level::kHeuristic);
  EXPECT_EQ(server->stats().served, 1u) << "one answer shows the stage is over budget";
  bool left_l3 = false;
  for (const auto& t : (*engine)->transitions())
    if (t.from == Level::kRemote && t.to == Level::kHeuristic) {
      left_l3 = true;
      EXPECT_NE(t.cause.find("L3-remote unavailable"), std::string::npos) << t.cause;
    }
  EXPECT_TRUE(left_l3);
}

}  // namespace
}  // namespace edgeloop::device

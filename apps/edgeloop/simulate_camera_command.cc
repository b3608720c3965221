// `edgeloop device simulate-camera`: Fashion-MNIST test images as a camera stream through the
// on-device engine, on a simulated die and battery (docs/engine.md, "Simulated camera").
#include <filesystem>
#include <optional>

#include "cli.h"
#include "edgeloop/compress/dataset.h"
#include "edgeloop/compress/evaluate.h"
#include "edgeloop/device/boot.h"
#include "edgeloop/device/budget.h"
#include "edgeloop/device/data_dir.h"
#include "edgeloop/device/engine.h"
#include "edgeloop/device/remote_stage_http.h"
#include "edgeloop/device/trial_judge.h"
#include "edgeloop/model/split.h"
#include "edgeloop/ota/installer.h"
#include "edgeloop/ota/slot_store.h"
#include "edgeloop/sim/camera.h"

namespace edgeloop::cli {
namespace {

namespace fs = std::filesystem;

struct CameraArgs {
  std::string data_dir, tier = "mid", budgets, smaller, challenger, images = "fashion-mnist:test", pin_level, remote, cut;
  double fps = 0, seconds = 60, ambient = 25, device_watts = 2.5, battery = 80, shadow_rate = 0.1, floor = 0.5;
  int max_shadow_failures = 3;
  bool charging = false, offline = false, json = false, realtime = false;
  RuntimeFlags runtime;
};

runtime::Program load_model(const fs::path& path, const runtime::LoadOptions& load, std::string_view what) {
  return unwrap(runtime::Program::load(path, load), fmt::format("loading the {} model {}", what, path.string()));
}

// The judge's verdict in words.
std::string trial_verdict(const device::TrialJudge& judge, const ota::SlotState& s, ota::Slot slot,
                          const device::EngineOptions& options) {
  if (auto error = judge.error()) return fmt::format("the judge stopped: {}", error->message);
  switch (judge.verdict()) {
    case device::TrialVerdict::kMarkedGood:
      return "the challenger reached its successes in the shadow: marked good; it answers from the next start";
    case device::TrialVerdict::kReverted: {
      const auto& lkg = s.info(*s.active);
      return fmt::format("slot {} failed in the shadow ({} challenger runs failed or ran over the {:.0f} ms budget) "
                         "before it ever answered: reverted to slot {} ({}), nothing downloaded",
                         ota::to_string(slot), judge.failures(), options.envelope.latency_p95_ms, ota::to_string(*s.active),
                         lkg ? fmt::format("{} {} ({})", lkg->model, lkg->version, lkg->variant) : "empty");
    }
    case device::TrialVerdict::kOnTrial:
    case device::TrialVerdict::kNoTrial: break;
  }
  return fmt::format("still on trial: {} successes recorded, {} failures", s.trial ? s.trial->successes : 0, judge.failures());
}

void simulate(const CameraArgs& a) {
  const auto load = a.runtime.load();
  // The device's models, after the watchdog step, as every process start does (device::boot).
  auto slots = unwrap(device::DeviceSlots::open(a.data_dir));
  device::BootOptions boot_options;
  boot_options.load = load;
  boot_options.companion_dir = device::companion_dir(a.data_dir);
  auto booted = unwrap(device::boot(slots->store(), boot_options));
  if (!booted.models) throw CommandError{fmt::format("{} has no model installed: run `edgeloop device update` first", a.data_dir)};
  const device::BootReport& start = booted.report;
  ota::Installer installer(slots->store(), SystemClock::instance());
  // On trial, the new model is the challenger in the shadow of the last-known-good, which
  // answers; its successful shadow runs count towards marking it good.
  device::EngineModels models = std::move(*booted.models);
  std::string champion = fmt::format("slot {}", ota::to_string(*start.answering));
  std::string challenger;
  if (start.challenger) {
    challenger = fmt::format("slot {} (on trial)", ota::to_string(*start.challenger));
  } else if (!a.challenger.empty()) {
    models.challenger = load_model(a.challenger, load, "challenger");
    challenger = a.challenger;
  }
  // L1's smaller variant: the companion installed beside the answering model's release
  // (device/companion.h), unless --smaller names one.
  std::string smaller = start.companion ? fmt::format("the companion {} {} ({})", start.companion->model, start.companion->version,
                                                      start.companion->variant)
                                        : fmt::format("none ({}): L1 unavailable", start.companion_unavailable);
  if (!a.smaller.empty()) {
    models.smaller = load_model(a.smaller, load, "smaller");
    smaller = a.smaller + " (--smaller)";
  }
  // Split inference: the answering model cut at --cut; the device runs the head, the stage
  // server at --remote the tail (docs/split-inference.md).
  if (!a.remote.empty()) {
    model::SplitModel split = unwrap(model::split_at(models.main.graph(), a.cut), "--cut");
    models.head = unwrap(runtime::Program::from_graph(std::move(split.head), load), "preparing the head");
    models.tail = unwrap(runtime::Program::from_graph(std::move(split.tail), load), "preparing the tail");
  }

  fs::path budgets = a.budgets.empty() ? fs::path(a.data_dir) / "budgets.json" : fs::path(a.budgets);
  const device::BudgetConfig config = fs::exists(budgets) || !a.budgets.empty()
                                          ? unwrap(device::load_budget_config(budgets), "--budgets")
                                          : device::default_budget_config();
  device::EngineOptions options;
  options.envelope = unwrap(config.for_tier(a.tier), "--tier");
  // --fps: the stream at another rate than the tier's, re-validated; L2's lower rate must stay
  // below it (else it becomes half of it: device::with_fps).
  bool lower_rate_clamped = false;
  if (a.fps > 0) {
    auto at = unwrap(device::with_fps(options.envelope, a.fps, "--fps with tier " + a.tier));
    options.envelope = at.envelope;
    lower_rate_clamped = at.lower_rate_clamped;
  }
  const double fps = options.envelope.fps;
  options.accuracy_floor = a.floor;
  options.shadow_rate = a.shadow_rate;
  if (!a.pin_level.empty()) {
    options.pin_level = device::level_from_string(a.pin_level);
    if (!options.pin_level) throw CommandError{fmt::format("--pin-level: '{}' is not a level (L0-full … L4-heuristic)", a.pin_level)};
  }

  sim::VirtualClock clock;
  device::ThermalModel thermal_model;
  thermal_model.ambient_c = a.ambient;
  thermal_model.idle_w = a.device_watts;
  device::SimulatedThermal thermal(thermal_model);
  device::SimulatedBattery battery(15000, a.battery, a.charging);
  auto data = unwrap(compress::load_image_set(a.images), "--images");
  std::vector<sim::CameraFrame> frames;
  frames.reserve(static_cast<size_t>(data.count));
  for (int64_t i = 0; i < data.count; ++i)
    frames.push_back({unwrap(compress::image_to_input(models.main.graph(), data, i), "preparing the frames"),
                      data.labels[static_cast<size_t>(i)]});
  // A trial model earns its trust in the shadow (device::TrialJudge): each successful shadow run
  // is a success, and --max-shadow-failures failures (errors, or runs over the time limit)
  // before it is trusted revert it to the last-known-good, with nothing to download.
  device::TrialJudge judge(installer, {a.max_shadow_failures});
  const bool on_trial = start.challenger.has_value();
  const ota::Slot trial_slot = start.challenger.value_or(ota::Slot::kA);
  if (on_trial) options.on_shadow_result = judge.callback();
  // --offline: the device has no network. A configured stage is then never called (the engine
  // gets none): answers under the floor are flagged below-floor-offline and L3 is skipped.
  std::optional<device::HttpRemoteStage> remote;
  if (!a.remote.empty() && !a.offline) remote.emplace(a.remote, clock);  // retry_after runs on simulated time
  auto engine = unwrap(device::Engine::create(std::move(models), options, clock, &thermal, &battery, remote ? &*remote : nullptr),
                       "starting the engine");

  sim::CameraOptions co;
  co.fps = fps;
  co.seconds = a.seconds;
  co.realtime = a.realtime;
  if (!a.json) {
    fmt::print("start       {}{}\n", ota::to_string(start.action),
               start.trial_refused.empty() ? "" : fmt::format(" (the trial model does not load: {}; reverted)", start.trial_refused));
    fmt::print("engine      tier {}: {} fps, deadline {} ms, throttle {:.0f} °C; ambient {:.0f} °C; answering: {}{}\n", a.tier,
               fps, options.envelope.latency_p95_ms, options.envelope.thermal_throttle_c, a.ambient, champion,
               challenger.empty() ? "" : fmt::format("; in its shadow: {}", challenger));
    fmt::print("smaller     {}\n", smaller);
    if (lower_rate_clamped)
      fmt::print("rates       L2's lower rate of tier {} is not below --fps {}: L2 runs at {} fps (half of it)\n", a.tier, fps,
                 options.envelope.effective_lower_rate_fps());
    fmt::print("remote      {}\n", remote       ? fmt::format("{} (the tail after '{}'; the device sends that activation, never the image)",
                                                        remote->describe(), a.cut)
                           : a.remote.empty() ? std::string("offline (no remote stage: answers under the floor are flagged)")
                                              : fmt::format("offline (--offline: the stage at {} is never called; answers under "
                                                            "the floor are flagged, L3 is skipped)",
                                                            a.remote));
    co.on_transition = [](const device::Transition& t) {
      fmt::print("{:8.1f} s  {} -> {}: {}\n", t.at_s, device::to_string(t.from), device::to_string(t.to), t.cause);
    };
  }
  auto report = sim::run_camera(*engine, clock, thermal, battery, options.envelope,
                                [&](int64_t i) -> const sim::CameraFrame& { return frames[static_cast<size_t>(i % data.count)]; }, co);
  const auto& m = report.metrics;
  const double accuracy = report.labelled_answers ? 100.0 * report.correct_answers / report.labelled_answers : 0.0;
  if (a.json) {
    Json trace = Json::array();
    for (const auto& p : report.trace)
      trace.push_back({{"t_s", p.t_s}, {"temperature_c", p.temperature_c}, {"level", device::to_string(p.level)},
                       {"battery_percent", p.battery_percent}});
    Json transitions = Json::array();
    for (const auto& t : report.transitions)
      transitions.push_back({{"at_s", t.at_s}, {"from", device::to_string(t.from)}, {"to", device::to_string(t.to)}, {"cause", t.cause}});
    print_json(Json{{"tier", a.tier},
                    {"fps", fps},
                    {"lower_rate_fps", options.envelope.effective_lower_rate_fps()},
                    {"offline", !remote.has_value()},
                    {"smaller", smaller},
                    {"seconds", report.simulated_seconds},
                    {"ambient_c", a.ambient},
                    {"throttle_c", report.throttle_c},
                    {"peak_temperature_c", report.peak_temperature_c},
                    {"seconds_at_or_above_throttle", report.seconds_at_or_above_throttle},
                    {"energy_j", report.energy_j},
                    {"accuracy_percent", accuracy},
                    {"wall_seconds", report.wall_seconds},
                    {"transitions", transitions},
                    {"trace", trace},
                    {"metrics", m.to_json()},
                    {"trial", on_trial ? Json{{"slot", ota::to_string(trial_slot)},
                                              {"outcome", device::to_string(judge.verdict())},
                                              {"shadow_successes", judge.successes()},
                                              {"shadow_failures", judge.failures()},
                                              {"active", ota::to_string(*installer.state().active)}}
                                       : Json(nullptr)}});
    return;
  }
  fmt::print("summary     {:.0f} s simulated in {:.1f} s: {} frames, {} answered, {} dropped by the frame-rate level\n",
             report.simulated_seconds, report.wall_seconds, m.frames_offered, m.inferences, m.frames_dropped);
  fmt::print("            die peaked at {:.1f} °C (throttle {:.0f} °C), {:.0f} s at or above it; {:.0f} J used\n",
             report.peak_temperature_c, report.throttle_c, report.seconds_at_or_above_throttle, report.energy_j);
  fmt::print("            latency p50 {:.2f} ms, p99 {:.2f} ms (log buckets); {} deadline overruns; top-1 {:.2f}% on {} labelled answers\n",
             m.latency_us.quantile(0.5) / 1e3, m.latency_us.quantile(0.99) / 1e3, m.deadline_overruns, accuracy,
             report.labelled_answers);
  std::string levels;
  for (device::Level l : device::kAllLevels)
    if (m.seconds_per_level[static_cast<size_t>(l)] > 0)
      levels += fmt::format("{} {:.0f} s  ", device::to_string(l), m.seconds_per_level[static_cast<size_t>(l)]);
  fmt::print("ladder      {}({} transitions, {} for heat)\n", levels, m.ladder_transitions, m.throttle_events);
  std::string sources;
  for (size_t i = 0; i < m.answers_by_source.size(); ++i)
    if (m.answers_by_source[i]) sources += fmt::format("{} {}  ", device::to_string(static_cast<device::Source>(i)), m.answers_by_source[i]);
  fmt::print("answers     {}\n", sources);
  std::string reasons;
  for (size_t r = 1; r < device::kFallbackReasonCount; ++r)
    if (m.fallbacks[r]) reasons += fmt::format("{} {}  ", device::to_string(static_cast<device::FallbackReason>(r)), m.fallbacks[r]);
  fmt::print("fallbacks   {:.1f}% of answers{}{}\n", 100 * m.fallback_rate(), reasons.empty() ? "" : ": ", reasons);
  if (m.shadow_runs || m.shadow_skipped) {
    const uint64_t answered = m.shadow_runs - m.shadow_failures;
    fmt::print("shadow      {} runs ({} skipped for lack of headroom or a busy worker), {} failed (errors, or over the time limit){}\n",
               m.shadow_runs, m.shadow_skipped, m.shadow_failures,
               answered ? fmt::format("; of the {} that answered: top-1 disagreement {:.1f}%, latency {:+.2f} ms vs the champion on average",
                                      answered, 100.0 * m.shadow_disagreements / answered, m.shadow_latency_delta_us_sum / answered / 1e3)
                        : std::string());
  }
  if (on_trial) fmt::print("trial       {}\n", trial_verdict(judge, installer.state(), trial_slot, options));
}

}  // namespace

void add_simulate_camera_command(CLI::App* device) {
  static CameraArgs a;
  auto* c = device->add_subcommand(
      "simulate-camera",
      "Stream Fashion-MNIST test images as camera frames through the on-device engine (deadline, degradation ladder, "
      "shadow challenger) on a simulated die and battery: prints the ladder's transitions and the guardrail summary");
  c->add_option("--data-dir", a.data_dir, "the device's data folder (its installed model is the one that answers)")->required();
  c->add_option("--fps", a.fps,
                "frame rate of the stream (default: the tier's); the budget is validated again at this rate, and an L2 "
                "lower rate not below it becomes half of it")
      ->check(CLI::Range(1.0, 240.0));
  c->add_option("--seconds", a.seconds, "simulated seconds (default 60)")->check(CLI::Range(1.0, 86400.0));
  c->add_option("--ambient", a.ambient, "ambient temperature in °C (default 25)")->check(CLI::Range(-40.0, 60.0));
  c->add_option("--device-watts", a.device_watts,
                 "what the rest of the device draws while the camera runs (display, ISP, radio), W (default 2.5)")
      ->check(CLI::Range(0.0, 50.0));
  c->add_option("--tier", a.tier, "the device's tier, for its budget (default mid)");
  c->add_option("--budgets", a.budgets, "budget config (docs/governor.md; default DATA_DIR/budgets.json, else built-in)");
  c->add_option("--smaller", a.smaller,
                "the smaller variant the ladder's L1 and L2 run, instead of the companion `device update` installed beside "
                "the answering model (e.g. the variant matrix's w4a8)");
  c->add_option("--challenger", a.challenger, "a model to run in the shadow (default: the model on trial, if any)");
  c->add_option("--shadow-rate", a.shadow_rate, "share of frames the challenger sees (default 0.1)")->check(CLI::Range(0.0, 1.0));
  c->add_option("--max-shadow-failures", a.max_shadow_failures,
                 "on trial: this many failed shadow runs (errors, or over the latency budget), when they are also more than 5% "
                 "of the runs (the budget is a p95), revert the trial (default 3)")
      ->check(CLI::Range(1, 1000000));
  c->add_option("--floor", a.floor, "accuracy floor: answers under this confidence escalate to the remote stage, or are flagged (default 0.5)")->check(CLI::Range(0.0, 1.0));
  c->add_option("--battery", a.battery, "battery level at the start, percent (default 80)")->check(CLI::Range(0.0, 100.0));
  c->add_flag("--charging", a.charging, "the device is on a charger");
  c->add_flag("--offline", a.offline,
             "the device is offline: never wait for the network; a --remote stage is never called (answers under the floor "
             "are flagged below-floor-offline, L3 is skipped); the default without --remote");
  auto* remote = c->add_option("--remote", a.remote,
                               "a stage server (`edgeloop stage-server`), e.g. http://127.0.0.1:8090: answers under the floor "
                               "escalate to it, and the ladder's L3 sends every frame's cut activation");
  auto* cut = c->add_option("--cut", a.cut, "the tensor the model is cut at, the stage server's --cut (`edgeloop model cuts` lists them)");
  remote->needs(cut);
  cut->needs(remote);
  c->add_option("--pin-level", a.pin_level, "hold one ladder level, bypassing the governor (comparisons), e.g. L0-full");
  c->add_flag("--realtime", a.realtime,
              "pace the frames in real time too, so the shadow sees the gaps a device would (default: as fast as possible)");
  c->add_option("--images", a.images, "the frames (default fashion-mnist:test)");
  add_runtime_flags(c, a.runtime);
  c->add_flag("--json", a.json, "print JSON (summary, transitions, a temperature trace per second, the metrics record)");
  c->callback([] { simulate(a); });
}

}  // namespace edgeloop::cli

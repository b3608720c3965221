#include "edgeloop/device/boot.h"

#include "edgeloop/base/clock.h"

namespace edgeloop::device {
namespace {

Result<runtime::Program> load_slot(const ota::SlotStore& store, ota::Slot slot, const runtime::LoadOptions& load) {
  auto bytes = store.read_slot(slot);
  if (!bytes) return std::unexpected(std::move(bytes).error().context(fmt::format("reading slot {}", ota::to_string(slot))));
  auto program = runtime::Program::load(std::move(*bytes), load);
  if (!program) return std::unexpected(std::move(program).error().context(fmt::format("loading slot {}", ota::to_string(slot))));
  return program;
}

// The engine refuses a smaller variant whose first input differs from the main model's.
bool same_first_input(const runtime::Program& a, const runtime::Program& b) {
  const model::Graph& ga = a.graph();
  const model::Graph& gb = b.graph();
  if (ga.inputs.empty() || gb.inputs.empty()) return false;
  const model::Tensor& x = ga.tensors[ga.inputs[0]];
  const model::Tensor& y = gb.tensors[gb.inputs[0]];
  return x.dtype == y.dtype && x.shape == y.shape;
}

}  // namespace

Result<Booted> boot(ota::SlotStore& store, const BootOptions& options) {
  Booted booted;
  BootReport& report = booted.report;
  report.before = store.state();
  // The clock only times install smoke tests; the watchdog step does not read it.
  ota::Installer installer(store, SystemClock::instance());
  // 1. The watchdog, before any model is loaded, let alone run.
  auto start = installer.on_start();
  if (!start) return std::unexpected(std::move(start).error().context("the watchdog step"));
  report.action = start->action;
  report.state = start->state;
  if (report.action == ota::StartAction::kEmpty) return booted;

  // 2. A trial model that no longer loads has failed its trial: back to the last-known-good.
  std::optional<runtime::Program> challenger;
  if (const auto& trial = report.state.trial) {
    auto program = load_slot(store, trial->slot, options.load);
    if (program) {
      challenger = std::move(*program);
      report.challenger = trial->slot;
    } else {
      report.trial_refused = program.error().message;
      auto reverted = installer.revert();
      if (!reverted) return std::unexpected(std::move(reverted).error().context("reverting the unloadable trial"));
      report.state = installer.state();
    }
  }

  // 3. The answering model: the last-known-good while a trial is on, else the active one.
  const ota::SlotState& s = report.state;
  const ota::Slot answering = s.trial ? *s.last_known_good : *s.active;
  EL_TRY(auto main, load_slot(store, answering, options.load));
  report.answering = answering;

  // 4. The smaller variant of the answering model's release, if one is stored and loads.
  std::optional<runtime::Program> smaller;
  if (!options.companion_dir.empty()) {
    const ota::SlotInfo& info = *s.info(answering);
    auto companion = CompanionStore(options.companion_dir).find(info.model, info.version);
    auto program = companion ? runtime::Program::load(companion->bytes, options.load)
                             : Result<runtime::Program>(std::unexpected(companion.error()));
    if (!program) {
      report.companion_unavailable = program.error().message;
    } else if (!same_first_input(*program, main)) {
      report.companion_unavailable = fmt::format("the companion {} {} ({}) takes another input than the model that answers",
                                                 companion->info.model, companion->info.version, companion->info.variant);
    } else {
      smaller = std::move(*program);
      report.companion = companion->info;
    }
  }
  booted.models.emplace(EngineModels{std::move(main), std::move(smaller), std::move(challenger), std::nullopt, std::nullopt});
  return booted;
}

}  // namespace edgeloop::device

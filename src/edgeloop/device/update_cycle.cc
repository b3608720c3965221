#include "edgeloop/device/update_cycle.h"

#include "edgeloop/device/data_dir.h"

namespace edgeloop::device {

std::string_view to_string(UpdateAction action) {
  switch (action) {
    case UpdateAction::kAlreadyActive: return "already-active";
    case UpdateAction::kFlippedToLastKnownGood: return "flipped-to-last-known-good";
    case UpdateAction::kFailedHere: return "failed-here";
    case UpdateAction::kProvisioned: return "provisioned";
    case UpdateAction::kInstalledOnTrial: return "installed-on-trial";
  }
  return "?";
}

std::string_view to_string(UpdateStep step) {
  switch (step) {
    case UpdateStep::kChecked: return "checked";
    case UpdateStep::kReconciled: return "reconciled";
    case UpdateStep::kFetched: return "fetched";
    case UpdateStep::kInstalled: return "installed";
    case UpdateStep::kCompanion: return "companion";
  }
  return "?";
}

Result<CheckOutcome> check_for_update(ota::Client& client, ota::Transport& transport, const fleet::DeviceProfile& device,
                                      std::string_view model) {
  CheckOutcome out;
  auto report = client.update(transport);
  if (!report) return std::unexpected(std::move(report).error().context("updating from " + transport.describe()));
  out.metadata = std::move(*report);
  const auto& trusted = client.trusted();
  if (!trusted.targets || !trusted.rollout)
    return make_error(ErrorCode::kFailedPrecondition, "the repository has no targets or rollout metadata");
  auto resolution = fleet::resolve(trusted.targets->meta, trusted.rollout->meta, device, model);
  if (!resolution) return std::unexpected(std::move(resolution).error().context("resolving the target"));
  out.resolution = std::move(*resolution);
  const auto& models = trusted.rollout->meta.models;
  if (auto m = models.find(out.resolution.model); m != models.end()) out.floor = m->second.floor;
  return out;
}

Result<UpdateOutcome> run_update_cycle(const std::filesystem::path& data_dir, const UpdateEnvironment& env,
                                       const UpdateCycleOptions& options, const UpdateStepCallback& on_step) {
  auto step = [&](UpdateStep s, const UpdateOutcome& o) {
    if (on_step) on_step(s, o);
  };
  UpdateOutcome out;
  auto client = ota::Client::open(data_dir, env.clock);
  if (!client) return std::unexpected(std::move(client).error().context("loading the trusted metadata"));
  EL_TRY(out.check, check_for_update(*client, env.transport, options.device, options.model));
  EL_TRY(auto slots, DeviceSlots::open(data_dir));
  out.state = slots->state();
  step(UpdateStep::kChecked, out);

  const fleet::Resolution& r = out.check.resolution;
  const ota::TargetInfo& t = r.target;
  ota::Installer installer(slots->store(), env.clock, options.installer);
  auto reconciled = installer.reconcile({t.sha256, t.model_version, out.check.floor});
  if (!reconciled) return std::unexpected(std::move(reconciled).error().context("reconciling the slots"));
  out.reconcile = *reconciled;
  out.state = installer.state();
  switch (out.reconcile) {
    case ota::ReconcileAction::kAlreadyActive: out.action = UpdateAction::kAlreadyActive; break;
    case ota::ReconcileAction::kFlippedToLastKnownGood: out.action = UpdateAction::kFlippedToLastKnownGood; break;
    case ota::ReconcileAction::kFailedHere: out.action = UpdateAction::kFailedHere; break;
    case ota::ReconcileAction::kNeedsInstall: break;
  }
  step(UpdateStep::kReconciled, out);
  ota::Downloader downloader(env.clock, env.sleep, env.conditions);

  // The release's smaller variant, once the main model is settled; the store keeps the
  // companions of the versions in the slots.
  auto companion_step = [&] {
    if (!options.companion || out.action == UpdateAction::kFailedHere) return;
    CompanionStore store(companion_dir(data_dir));
    auto chosen = choose_companion(client->trusted().targets->meta, r.path, options.device.runtime_version);
    if (chosen) {
      CompanionOptions co;
      co.fetch = options.fetch;
      co.load = options.installer.load;
      co.smoke_budget = options.installer.smoke_budget;
      auto bases = ota::slot_artifacts(installer.store());
      out.companion = install_companion(store, downloader, env.transport, *chosen, bases ? *bases : std::vector<ota::LocalArtifact>{},
                                        env.clock, co);
    } else {
      out.companion = CompanionOutcome{};
    }
    std::vector<std::string> versions;
    for (ota::Slot slot : {ota::Slot::kA, ota::Slot::kB})
      if (const auto& info = out.state.info(slot); info && info->model == r.model) versions.push_back(info->version);
    (void)store.keep_only(r.model, versions);  // a leftover costs space, not correctness
    step(UpdateStep::kCompanion, out);
  };
  if (out.reconcile != ota::ReconcileAction::kNeedsInstall) {
    companion_step();
    return out;
  }

  // Refused before anything is downloaded: a trial must end before another model comes in.
  if (const auto& trial = installer.state().trial)
    return make_error(ErrorCode::kFailedPrecondition,
                      "slot {} is on trial; mark it good or revert it before installing another model",
                      ota::to_string(trial->slot));
  auto installed = ota::install_target(installer, downloader, env.transport, r.path, t, downloads_dir(data_dir), options.fetch,
                                       [&](const ota::FetchReport& fetch) {
                                         out.fetch = fetch;
                                         step(UpdateStep::kFetched, out);
                                       });
  if (!installed) return std::unexpected(std::move(installed).error().context("updating to " + r.path));
  out.fetch = installed->fetch;
  out.install = installed->install;
  out.action = installed->install.provisioned ? UpdateAction::kProvisioned : UpdateAction::kInstalledOnTrial;
  out.state = installer.state();
  step(UpdateStep::kInstalled, out);
  companion_step();
  return out;
}

}  // namespace edgeloop::device

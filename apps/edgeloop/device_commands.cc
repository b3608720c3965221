// `edgeloop device …`: the device side of the repository, driven by hand or by scripts.
#include <filesystem>

#include "cli.h"
#include "edgeloop/base/file.h"
#include "edgeloop/device/boot.h"
#include "edgeloop/device/conditions.h"
#include "edgeloop/device/data_dir.h"
#include "edgeloop/device/update_cycle.h"
#include "edgeloop/fleet/rollout_resolver.h"
#include "edgeloop/model/artifact.h"
#include "edgeloop/ota/client.h"
#include "edgeloop/ota/installer.h"
#include "edgeloop/ota/slot_store.h"
#include "edgeloop/ota/updater.h"

namespace edgeloop::cli {
namespace {

struct CheckArgs {
  std::string repo, data_dir, device_id, tier, model, root, download;
  std::string runtime_version = model::kRuntimeVersion;
  bool json = false;
};

// First trust: a device that trusts no root yet is provisioned with --root (the repository's
// 1.root.json, obtained out of band); --root is refused once a root is trusted.
void ensure_provisioned(const CheckArgs& a) {
  namespace fs = std::filesystem;
  if (!fs::exists(fs::path(a.data_dir) / "metadata" / "root.json")) {
    if (a.root.empty())
      throw CommandError{fmt::format("{} holds no trusted root yet: provision the device once with --root ROOT.json "
                                     "(the repository's 1.root.json, obtained out of band)",
                                     a.data_dir)};
    auto root = unwrap(read_file(a.root, ota::kMaxRootBytes), "--root");
    unwrap(ota::Client::provision(a.data_dir, root), "provisioning " + a.data_dir);
  } else if (!a.root.empty()) {
    throw CommandError{fmt::format("{} already trusts a root; --root is only for the first check", a.data_dir)};
  }
}

fleet::DeviceProfile profile(const CheckArgs& a) { return {a.device_id, a.tier, a.runtime_version}; }

// The TUF update and the resolution (`device check`).
struct Checked {
  ota::Client client;
  std::unique_ptr<ota::Transport> transport;
  ota::UpdateReport report;
  fleet::Resolution resolution;
};

Checked run_check(const CheckArgs& a) {
  ensure_provisioned(a);
  auto client = unwrap(ota::Client::open(a.data_dir, SystemClock::instance()), "loading the trusted metadata");
  auto transport = unwrap(ota::make_transport(a.repo), "--repo");
  auto checked = unwrap(device::check_for_update(client, *transport, profile(a), a.model));
  return Checked{std::move(client), std::move(transport), std::move(checked.metadata), std::move(checked.resolution)};
}

void check(const CheckArgs& a) {
  auto checked = run_check(a);
  auto& client = checked.client;
  auto& transport = checked.transport;
  const auto& report = checked.report;
  const auto& resolution = checked.resolution;
  const auto& trusted = client.trusted();

  if (!a.download.empty()) {
    auto bytes = unwrap(client.fetch_target(*transport, resolution.path), "downloading " + resolution.path);
    unwrap(write_file_durable(a.download, bytes), "writing " + a.download);
  }

  const auto& t = resolution.target;
  if (a.json) {
    Json j{{"repository", transport->describe()},
           {"device", {{"id", a.device_id}, {"tier", a.tier}, {"runtime_version", a.runtime_version}}},
           {"metadata",
            {{"root", trusted.root.meta.version},
             {"timestamp", trusted.timestamp ? trusted.timestamp->meta.version : 0},
             {"snapshot", trusted.snapshot ? trusted.snapshot->meta.version : 0},
             {"targets", trusted.targets->meta.version},
             {"rollout", trusted.rollout->meta.version},
             {"root_rotated_from", report.root_from},
             {"new_timestamp", report.timestamp_changed}}},
           {"model", resolution.model},
           {"target",
            {{"path", resolution.path},
             {"model_version", t.model_version},
             {"variant", t.variant},
             {"tiers", t.tiers},
             {"length", t.length},
             {"sha256", t.sha256},
             {"min_runtime_version", t.min_runtime_version}}},
           {"reason", resolution.reason},
           {"rollout_id", resolution.rollout_id},
           {"bucket", resolution.bucket}};
    if (!a.download.empty()) j["downloaded"] = a.download;
    print_json(j);
    return;
  }
  fmt::print("repository  {}\n", transport->describe());
  fmt::print("metadata    root v{}{}, timestamp v{}, snapshot v{}, targets v{}, rollout v{}{}\n", trusted.root.meta.version,
             report.root_to != report.root_from ? fmt::format(" (rotated from v{})", report.root_from) : "",
             trusted.timestamp->meta.version, trusted.snapshot->meta.version, trusted.targets->meta.version,
             trusted.rollout->meta.version, report.timestamp_changed ? "" : " (nothing new)");
  fmt::print("device      {}, tier {}, runtime {}\n", a.device_id, a.tier, a.runtime_version);
  fmt::print("target      {} {} ({}), {}, {} bytes\n", resolution.model, t.model_version, t.variant, resolution.path, t.length);
  fmt::print("why         {}\n", resolution.reason);
  if (!a.download.empty()) fmt::print("downloaded  {} (length and SHA-256 verified)\n", a.download);
}

// ---------------------------------------------------------------------------------------------
// The model slots (docs/device-storage.md): update, status, mark-good, revert, start.

std::unique_ptr<device::DeviceSlots> open_slots(const std::string& data_dir) {
  return unwrap(device::DeviceSlots::open(data_dir));
}

std::string describe(const ota::SlotState& s, ota::Slot slot) {
  const auto& info = s.info(slot);
  if (!info) return "empty";
  return fmt::format("{} {} ({})", info->model, info->version, info->variant);
}

std::string describe_opt(const ota::SlotState& s, const std::optional<ota::Slot>& slot) {
  if (!slot) return "none";
  return fmt::format("slot {} ({})", ota::to_string(*slot), describe(s, *slot));
}

Json state_json(const ota::SlotState& s) {
  auto slot_json = [](const std::optional<ota::Slot>& slot) {
    return slot ? Json(std::string(ota::to_string(*slot))) : Json(nullptr);
  };
  Json slots = Json::object();
  for (ota::Slot slot : {ota::Slot::kA, ota::Slot::kB}) {
    const auto& info = s.info(slot);
    slots[std::string(ota::to_string(slot))] =
        info ? Json{{"model", info->model},   {"version", info->version}, {"variant", info->variant},
                    {"sha256", info->sha256}, {"length", info->length},   {"failed", info->failed}}
             : Json(nullptr);
  }
  return Json{{"generation", s.generation},
              {"active", slot_json(s.active)},
              {"last_known_good", slot_json(s.last_known_good)},
              {"trial", s.trial ? Json{{"slot", ota::to_string(s.trial->slot)},
                                 {"attempts_left", s.trial->attempts_left},
                                 {"successes", s.trial->successes}}
                                : Json(nullptr)},
              {"slots", slots}};
}

void print_state(const ota::SlotState& s) {
  for (ota::Slot slot : {ota::Slot::kA, ota::Slot::kB}) {
    std::string tags;
    if (s.active == slot) tags += " [active]";
    if (s.last_known_good == slot) tags += " [last-known-good]";
    if (s.trial && s.trial->slot == slot) tags += fmt::format(" [on trial, {} attempts left]", s.trial->attempts_left);
    if (s.info(slot) && s.info(slot)->failed) tags += " [failed its trial]";
    const auto& info = s.info(slot);
    fmt::print("slot {}      {}{}{}\n", ota::to_string(slot), describe(s, slot),
               info ? fmt::format(", {} bytes, sha256 {}…", info->length, info->sha256.substr(0, 12)) : "", tags);
  }
}

struct UpdateArgs : CheckArgs {
  int attempts = 3;
  bool no_delta = false, no_companion = false;
  uint64_t max_rate = 0;   // bytes per second, 0 = no cap
  // The download policy's inputs: read from the device (device::PlatformConditions), each one
  // the flags state overriding its reading.
  std::string power_supply = "/sys/class/power_supply", network_state;
  bool metered = false, charging = false;
  int battery = -1;
  const CLI::Option* battery_flag = nullptr;
  ota::DownloadPolicy policy;
};

// "3,801 bytes" and a share of the full artifact.
std::string share(uint64_t part, uint64_t whole) {
  return fmt::format("{} of {} bytes ({:.2f}% of the full artifact)", part, whole, whole ? 100.0 * part / whole : 0.0);
}

// One line per step, printed as the step completes.
void print_step(device::UpdateStep step, const device::UpdateOutcome& o) {
  const auto& r = o.check.resolution;
  const auto& t = r.target;
  const auto& s = o.state;
  switch (step) {
    case device::UpdateStep::kChecked:
      fmt::print("check       {} {} ({}), {}, {} bytes\n", r.model, t.model_version, t.variant, r.path, t.length);
      fmt::print("why         {}\n", r.reason);
      break;
    case device::UpdateStep::kReconciled:
      switch (o.reconcile) {
        case ota::ReconcileAction::kAlreadyActive:
          fmt::print("slots       already active in slot {}: nothing to do\n", ota::to_string(*s.active));
          break;
        case ota::ReconcileAction::kFlippedToLastKnownGood:
          fmt::print("recall      flipped to the last-known-good: active {}; nothing downloaded\n", describe_opt(s, s.active));
          break;
        case ota::ReconcileAction::kFailedHere:
          fmt::print("refused     this target failed its trial on this device; it is not installed again "
                     "(the active model stays: {})\n",
                     describe_opt(s, s.active));
          break;
        case ota::ReconcileAction::kNeedsInstall: break;
      }
      break;
    case device::UpdateStep::kFetched: {
      const auto& f = *o.fetch;
      if (!f.fallback_reason.empty()) fmt::print("fallback    {}: the full artifact instead\n", f.fallback_reason);
      std::string resumed = f.resumed_from ? fmt::format(", resumed after {} bytes of an earlier run", f.resumed_from) : "";
      if (f.already_there)
        fmt::print("download    nothing: already on this device ({})\n", f.local_source);
      else if (f.delta)
        fmt::print("download    delta from {}: {}{}\n", f.delta_base, share(f.bytes_downloaded, t.length), resumed);
      else
        fmt::print("download    full artifact: {} bytes{}\n", f.bytes_downloaded, resumed);
      if (f.apply)
        fmt::print("apply       patched into {} bytes (buffers at peak: {} bytes); SHA-256 matches the signed targets\n",
                   f.apply->target_bytes, f.apply->peak_buffer_bytes);
      else if (!f.already_there)
        fmt::print("            length and SHA-256 match the signed targets\n");
      break;
    }
    case device::UpdateStep::kInstalled: {
      const auto& report = *o.install;
      fmt::print("verify      loader verification passed; name, version and variant match the targets\n");
      fmt::print("smoke test  golden vector passed in {:.1f} ms\n", report.smoke_time.count() / 1e6);
      fmt::print("install     written to slot {} (durable)\n", ota::to_string(report.slot));
      if (report.provisioned)
        fmt::print("switch      active slot {}: the first model, nothing to fall back to, so no trial\n",
                   ota::to_string(report.slot));
      else
        fmt::print("switch      active slot {} on trial ({} attempts), last-known-good {}\n", ota::to_string(report.slot),
                   s.trial->attempts_left, describe_opt(s, s.last_known_good));
      break;
    }
    case device::UpdateStep::kCompanion: {
      const auto& c = *o.companion;
      const auto what = [&] {
        const auto& ct = c.target->info;
        return fmt::format("{} {} ({}), {} bytes", ct.model, ct.model_version, ct.variant, ct.length);
      };
      switch (c.status) {
        case device::CompanionStatus::kNone:
          fmt::print("companion   none: the release has no smaller variant this device can run (L1 unavailable)\n");
          break;
        case device::CompanionStatus::kStored: fmt::print("companion   {}: already beside the model\n", what()); break;
        case device::CompanionStatus::kInstalled: {
          const auto& f = *c.fetch;
          fmt::print("companion   {}: {}, verified, smoke test passed in {:.1f} ms; stored for L1\n", what(),
                     f.already_there ? std::string("already downloaded")
                     : f.delta       ? fmt::format("delta from {}, {} bytes", f.delta_base, c.downloaded_bytes())
                                     : fmt::format("full artifact, {} bytes", c.downloaded_bytes()),
                     c.smoke_time.count() / 1e6);
          break;
        }
        case device::CompanionStatus::kRefused:
          fmt::print("companion   {} refused: {} (L1 unavailable; the model is not affected)\n", what(), c.reason);
          break;
      }
      break;
    }
  }
  std::fflush(stdout);  // each step shows as it happens, also through a pipe
}

Json update_json(const device::UpdateOutcome& o) {
  const auto& r = o.check.resolution;
  const auto& t = r.target;
  Json j{{"target",
          {{"path", r.path}, {"model", r.model}, {"model_version", t.model_version}, {"variant", t.variant},
           {"length", t.length}, {"sha256", t.sha256}}},
         {"reason", r.reason},
         {"action", device::to_string(o.action)}};
  if (o.fetch) {
    const auto& f = *o.fetch;
    j["download"] = {{"via", f.already_there ? "on-device" : f.delta ? "delta" : "full"},
                     {"local_source", f.already_there ? Json(f.local_source) : Json(nullptr)},
                     {"delta_from", f.delta ? Json(f.delta_base) : Json(nullptr)},
                     {"delta_path", f.delta ? Json(f.delta->path) : Json(nullptr)},
                     {"fallback_reason", f.fallback_reason.empty() ? Json(nullptr) : Json(f.fallback_reason)},
                     {"resumed_from", f.resumed_from},
                     {"transfers", f.transfers}};
  }
  if (o.install) j["smoke_ms"] = o.install->smoke_time.count() / 1e6;
  j["downloaded_bytes"] = o.downloaded_bytes();
  if (o.companion) {
    const auto& c = *o.companion;
    Json cj{{"status", device::to_string(c.status)}};
    if (c.target)
      cj["target"] = {{"path", c.target->path},         {"model_version", c.target->info.model_version},
                      {"variant", c.target->info.variant}, {"length", c.target->info.length},
                      {"sha256", c.target->info.sha256}};
    if (c.fetch) cj["via"] = c.fetch->already_there ? "on-device" : c.fetch->delta ? "delta" : "full";
    cj["downloaded_bytes"] = c.downloaded_bytes();
    if (!c.reason.empty()) cj["reason"] = c.reason;
    j["companion"] = cj;
  }
  j["state"] = state_json(o.state);
  return j;
}

void update(const UpdateArgs& a) {
  ensure_provisioned(a);
  auto transport = unwrap(ota::make_transport(a.repo), "--repo");
  device::UpdateCycleOptions options;
  options.device = profile(a);
  options.model = a.model;
  options.installer.trial_attempts = a.attempts;
  options.fetch.use_deltas = !a.no_delta;
  options.companion = !a.no_companion;
  options.fetch.download.max_bytes_per_second = a.max_rate;
  options.fetch.download.policy = a.policy;
  if (!a.json) options.fetch.download.on_progress = [](uint64_t done, uint64_t total) { progress("download", done, total); };
  // No power_supply folder (a board without one, a container): mains, as the policy reads it.
  auto power = device::sysfs_power(a.power_supply);
  device::ConditionOverrides overrides;
  if (a.metered) overrides.metered = true;
  if (a.charging) overrides.charging = true;
  if (a.battery_flag && a.battery_flag->count()) overrides.battery_percent = a.battery;
  const device::NetworkStateFile network{a.network_state.empty() ? device::network_state_file(a.data_dir)
                                                                 : std::filesystem::path(a.network_state)};
  const device::PlatformConditions conditions(power ? power->get() : nullptr, network, SystemClock::instance(), overrides);
  const device::ConditionsReading reading = conditions.reading();
  if (!a.json)
    fmt::print("conditions  network {} ({}); {} ({})\n", reading.metered ? "metered" : "unmetered", reading.network_source,
               reading.battery_percent < 0 ? std::string("no battery")
                                           : fmt::format("battery {}%{}", reading.battery_percent,
                                                         reading.charging ? ", charging" : ", not charging"),
               power ? reading.power_source : fmt::format("{}: {}", reading.power_source, power.error().message));
  const device::UpdateEnvironment env{*transport, SystemClock::instance(), ota::real_sleep(), conditions};
  device::UpdateStepCallback on_step;
  if (!a.json) on_step = print_step;
  auto outcome = unwrap(device::run_update_cycle(a.data_dir, env, options, on_step));
  if (a.json) {
    Json j = update_json(outcome);
    j["conditions"] = {{"metered", reading.metered},
                       {"charging", reading.charging},
                       {"battery_percent", reading.battery_percent},
                       {"network_source", reading.network_source},
                       {"power_source", reading.power_source}};
    print_json(j);
  }
}

struct SlotArgs {
  std::string data_dir;
  bool json = false;
};

void status(const SlotArgs& a) {
  auto slots = open_slots(a.data_dir);
  const auto& s = slots->state();
  if (a.json) {
    print_json(state_json(s));
    return;
  }
  print_state(s);
  fmt::print("active      {}\n", describe_opt(s, s.active));
  fmt::print("fallback    {}\n", describe_opt(s, s.last_known_good));
  fmt::print("trial       {}\n", s.trial ? fmt::format("slot {}, {} attempts left, {} successful inferences recorded",
                                                          ota::to_string(s.trial->slot), s.trial->attempts_left,
                                                          s.trial->successes)
                                         : "none");
}

void mark_good(const SlotArgs& a) {
  auto slots = open_slots(a.data_dir);
  ota::Installer installer(slots->store(), SystemClock::instance());
  auto before = installer.state();
  unwrap(installer.mark_good(), "mark-good");
  const auto& s = installer.state();
  if (a.json) {
    print_json(Json{{"action", "marked-good"},
                    {"slot", ota::to_string(*s.active)},
                    {"successes_recorded", before.trial->successes},
                    {"state", state_json(s)}});
    return;
  }
  fmt::print("marked good {}: the trial is over; last-known-good stays {}\n", describe_opt(s, s.active),
             describe_opt(s, s.last_known_good));
}

void revert(const SlotArgs& a) {
  auto slots = open_slots(a.data_dir);
  ota::Installer installer(slots->store(), SystemClock::instance());
  auto before = installer.state();
  unwrap(installer.revert(), "revert");
  const auto& s = installer.state();
  if (a.json) {
    print_json(Json{{"action", "reverted"},
                    {"from", ota::to_string(*before.active)},
                    {"to", ota::to_string(*s.active)},
                    {"trial_failed", before.trial.has_value()},
                    {"downloaded_bytes", 0},
                    {"state", state_json(s)}});
    return;
  }
  fmt::print("reverted    from {} to {} (a pointer flip, nothing downloaded); last-known-good now {}\n",
             describe_opt(before, before.active), describe_opt(s, s.active), describe_opt(s, s.last_known_good));
}

void start(const SlotArgs& a) {
  auto slots = open_slots(a.data_dir);
  // The watchdog step, then the models loaded as an app would run them (device::boot).
  auto booted = unwrap(device::boot(slots->store()));
  const auto& r = booted.report;
  const auto& s = r.state;
  if (a.json) {
    auto slot_json = [](const std::optional<ota::Slot>& slot) {
      return slot ? Json(std::string(ota::to_string(*slot))) : Json(nullptr);
    };
    print_json(Json{{"action", ota::to_string(r.action)},
                    {"answering", slot_json(r.answering)},
                    {"challenger", slot_json(r.challenger)},
                    {"trial_refused", r.trial_refused.empty() ? Json(nullptr) : Json(r.trial_refused)},
                    {"state", state_json(s)}});
    return;
  }
  switch (r.action) {
    case ota::StartAction::kEmpty: fmt::print("start       no model installed\n"); return;
    case ota::StartAction::kNoTrial: fmt::print("start       no trial: running {}\n", describe_opt(s, s.active)); return;
    case ota::StartAction::kAttemptSpent:
      if (!r.trial_refused.empty()) break;
      fmt::print("start       trial of {}: one attempt spent before it runs, {} left; {} answers, the trial runs in its shadow\n",
                 describe_opt(s, s.active), s.trial->attempts_left, describe_opt(s, r.answering));
      return;
    case ota::StartAction::kReverted:
      fmt::print("start       trial of {} used all its attempts: reverted to {} (no network); running it\n",
                 describe_opt(r.before, r.before.active), describe_opt(s, s.active));
      return;
  }
  fmt::print("start       trial of {} does not load ({}): reverted to {} (no network); running it\n",
             describe_opt(r.before, r.before.active), r.trial_refused, describe_opt(s, s.active));
}

}  // namespace

void add_device_commands(CLI::App& app) {
  auto* device = app.add_subcommand(
      "device",
      "The device side (docs/device-storage.md, docs/engine.md): check (verify the repository, resolve this device's "
      "model), update (one update cycle into the inactive slot, on trial, with the smaller variant beside it), status, "
      "mark-good, revert (a pointer flip, no network), start (the watchdog step a process runs first), simulate-camera "
      "(the on-device engine on a simulated die and battery), sensors (what the governor and the download policy read "
      "here)");
  device->require_subcommand(1);

  static CheckArgs a;
  auto* c = device->add_subcommand(
      "check",
      "Update the trusted metadata from a repository the TUF way (root chain, timestamp, snapshot, targets, rollout; "
      "signatures, thresholds, versions, expiry, lengths and hashes) and print which target this device runs and why");
  c->add_option("--repo", a.repo, "the repository's public folder: a path, file://DIR, or http(s)://HOST/PATH")->required();
  c->add_option("--data-dir", a.data_dir, "the device's trusted state (created at provisioning)")->required();
  c->add_option("--device-id", a.device_id, "this device's id (decides its cohort bucket)")->required();
  c->add_option("--tier", a.tier, "this device's capability tier, e.g. flagship, mid, low")->required();
  c->add_option("--runtime-version", a.runtime_version, "this device's edgeloop runtime version (default: this build's)");
  c->add_option("--model", a.model, "the model to resolve (default: the only model the rollout names)");
  c->add_option("--root", a.root, "first check only: the root metadata to trust (the repository's 1.root.json)");
  c->add_option("--download", a.download, "also download the resolved artifact to this file (length and hash checked)");
  c->add_flag("--json", a.json, "print JSON");
  c->callback([] { check(a); });

  static UpdateArgs u;
  auto* up = device->add_subcommand(
      "update",
      "One update cycle: check (as `device check`), download the resolved target — the signed delta from a model "
      "this device holds when the targets list one, else the whole artifact; resumable, rate-capped, deferred by the "
      "download policy (exit 1, 'deferred: …') — verify it, smoke-test it (golden vector), install it into the "
      "inactive slot and switch to it on trial; a recall to the last-known-good is a flip with no download. Then the "
      "release's smallest variant is installed beside it for the ladder's L1 (verified the same way; a refused one only "
      "leaves L1 unavailable). The download policy reads the battery from sysfs and the network from the platform's "
      "state file; --metered, --battery and --charging override. Each step is printed as it completes");
  up->add_option("--repo", u.repo, "the repository's public folder: a path, file://DIR, or http(s)://HOST/PATH")->required();
  up->add_option("--data-dir", u.data_dir, "the device's trusted state and model slots")->required();
  up->add_option("--device-id", u.device_id, "this device's id (decides its cohort bucket)")->required();
  up->add_option("--tier", u.tier, "this device's capability tier")->required();
  up->add_option("--runtime-version", u.runtime_version, "this device's edgeloop runtime version (default: this build's)");
  up->add_option("--model", u.model, "the model to resolve (default: the only model the rollout names)");
  up->add_option("--root", u.root, "first update only: the root metadata to trust (the repository's 1.root.json)");
  up->add_option("--attempts", u.attempts, "process starts the new model gets on trial before the watchdog reverts")
      ->check(CLI::Range(1, 1000));
  up->add_flag("--no-delta", u.no_delta, "always download the whole artifact, even when the targets list a delta from a "
                                         "model this device holds");
  up->add_option("--max-rate", u.max_rate, "download at most this many bytes per second on average (default: no cap)");
  up->add_option("--power-supply", u.power_supply,
                 "the sysfs power_supply folder the battery and charging are read from (default /sys/class/power_supply; "
                 "absent: mains power)");
  up->add_option("--network-state", u.network_state,
                 "the file the platform writes 'metered' or 'unmetered' to (default DATA_DIR/network-state; absent: "
                 "unmetered; docs/downloads.md)");
  up->add_flag("--metered", u.metered, "this device's network costs by the byte (cellular), whatever the platform says");
  up->add_flag("--allow-metered", u.policy.allow_metered, "download on a metered network too (default: defer)");
  u.battery_flag = up->add_option("--battery", u.battery, "battery level in percent, instead of the power supply's reading")
      ->check(CLI::Range(0, 100));
  up->add_flag("--charging", u.charging, "the device is on a charger, whatever the power supply says");
  up->add_flag("--require-charging", u.policy.require_charging, "download only while charging");
  up->add_option("--min-battery", u.policy.min_battery_percent,
                 "below this battery level download only while charging (default: 20)")
      ->check(CLI::Range(0, 100));
  up->add_flag("--no-companion", u.no_companion,
                "do not install the release's smaller variant beside the model (the ladder's L1; docs/device-storage.md)");
  up->add_flag("--json", u.json, "print JSON");
  up->callback([] { update(u); });

  static SlotArgs sa;
  auto slot_command = [&](const char* name, const char* help, void (*fn)(const SlotArgs&), bool json) {
    auto* cmd = device->add_subcommand(name, help);
    cmd->add_option("--data-dir", sa.data_dir, "the device's data folder (its model slots are in slots/)")->required();
    if (json) cmd->add_flag("--json", sa.json, "print JSON");
    cmd->callback([fn] { fn(sa); });
  };
  slot_command("status", "Show the model slots: what each holds, which is active, the last-known-good, the trial", status,
               true);
  slot_command("mark-good", "End the trial: the active model is trusted", mark_good, true);
  slot_command("revert", "Go back to the last-known-good model now (a pointer flip, no network)", revert, true);
  add_simulate_camera_command(device);
  add_sensors_command(device);
  slot_command("start",
               "The watchdog step a process runs at start: on trial, spend one attempt before the model runs; with "
               "none left, revert to the last-known-good",
               start, true);
}

}  // namespace edgeloop::cli

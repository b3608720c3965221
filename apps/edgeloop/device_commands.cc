// `edgeloop device …`: the device side of the repository, driven by hand or by scripts.
#include <filesystem>

#include "cli.h"
#include "edgeloop/base/file.h"
#include "edgeloop/fleet/rollout_resolver.h"
#include "edgeloop/model/artifact.h"
#include "edgeloop/ota/client.h"

namespace edgeloop::cli {
namespace {

struct CheckArgs {
  std::string repo, data_dir, device_id, tier, model, root, download;
  std::string runtime_version = model::kRuntimeVersion;
  bool json = false;
};

void check(const CheckArgs& a) {
  namespace fs = std::filesystem;
  const Clock& clock = SystemClock::instance();
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
  auto client = unwrap(ota::Client::open(a.data_dir, clock), "loading the trusted metadata");
  auto transport = unwrap(ota::make_transport(a.repo), "--repo");
  auto report = unwrap(client.update(*transport), "updating from " + transport->describe());
  const auto& trusted = client.trusted();
  if (!trusted.targets || !trusted.rollout) throw CommandError{"the repository has no targets or rollout metadata"};
  fleet::DeviceProfile device{a.device_id, a.tier, a.runtime_version};
  auto resolution = unwrap(fleet::resolve(trusted.targets->meta, trusted.rollout->meta, device, a.model), "resolving the target");

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

}  // namespace

void add_device_commands(CLI::App& app) {
  auto* device = app.add_subcommand("device", "The device side: verify the repository and resolve this device's model");
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
}

}  // namespace edgeloop::cli

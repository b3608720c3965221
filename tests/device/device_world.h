// A device and a real repository for the update-cycle, companion and boot tests: the repository
// is made with the operator's tool (ota::Repository: signed metadata, artifacts, deltas) and
// served over loopback HTTP (tests/ota/test_server.h); the device is a data folder provisioned
// with the repository's root, updated through device::run_update_cycle.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "edgeloop/base/clock.h"
#include "edgeloop/base/file.h"
#include "edgeloop/device/update_cycle.h"
#include "edgeloop/model/artifact.h"
#include "edgeloop/ota/client.h"
#include "edgeloop/ota/repository.h"
#include "edgeloop/runtime/golden.h"
#include "ota/test_server.h"
#include "testing/graphs.h"
#include "testing/temp_dir.h"

namespace edgeloop::device::world {

namespace fs = std::filesystem;

inline const std::string kModel = "tiny";

// The tiny MLP (tests/testing/graphs.h) as model "tiny" at `version` and `variant`, its bias
// shifted by the version so every version has other bytes, with its golden vector. `pad` bytes
// of metadata make the file larger (a "bigger variant" of the same arithmetic); `weights_shift`
// changes the weights (another variant's numbers).
struct ReleaseSpec {
  int version = 1;
  std::string variant = "fp32";
  size_t pad = 0;
  float weights_shift = 0;
  std::string min_runtime_version = "0.1.0";
};

inline model::Graph release_graph(const ReleaseSpec& spec) {
  model::Graph g = testing::tiny_mlp();
  g.meta.name = kModel;
  g.meta.version = std::to_string(spec.version);
  g.meta.variant = spec.variant;
  g.meta.min_runtime_version = spec.min_runtime_version;
  const float shift = static_cast<float>(spec.version);
  g.tensors[2] = testing::constant_f32("b", {3}, {0.5f + shift, -0.5f + shift, 0.25f + shift});
  if (spec.weights_shift != 0) {
    std::vector<float> w(g.tensors[1].values<float>().begin(), g.tensors[1].values<float>().end());
    for (float& v : w) v += spec.weights_shift;
    g.tensors[1] = testing::constant_f32("w", {4, 3}, w);
  }
  if (spec.pad) g.meta.properties.emplace_back("pad", std::string(spec.pad, 'p'));
  if (!runtime::attach_golden(g)) std::abort();
  return g;
}

class DeviceWorld {
 public:
  DeviceWorld() {
    auto repo = ota::Repository::init(repo_dir());
    if (!repo) {
      ADD_FAILURE() << repo.error().message;
      std::abort();
    }
    repo_ = std::make_unique<ota::Repository>(std::move(*repo));
    server_ = std::make_unique<testing::TestServer>(repo_dir() / "public");
    transport_ = ota::make_http_transport(server_->url());
    auto root = read_file(repo_dir() / "public" / "metadata" / "1.root.json");
    EXPECT_TRUE(root && ota::Client::provision(data_dir(), *root));
    options.device = {"device-1", "mid", std::string(model::kRuntimeVersion)};
    options.fetch.download.initial_backoff = std::chrono::milliseconds(1);
    options.installer.load = runtime::LoadOptions::reference();
  }

  fs::path repo_dir() const { return scratch_.path() / "repo"; }
  fs::path data_dir() const { return scratch_.path() / "device"; }
  fs::path public_dir() const { return repo_dir() / "public"; }
  ota::Repository& repo() { return *repo_; }
  testing::TestServer& server() { return *server_; }
  ota::Transport& transport() { return *transport_; }

  // Writes the release's artifact and adds it to the repository for `tiers` (deltas from the
  // earlier versions of its variant, as `edgeloop repo add` makes them). Returns its
  // repository path, "artifacts/<sha256>.edge".
  std::string release(const ReleaseSpec& spec, std::vector<std::string> tiers = {"mid"}) {
    const fs::path file = scratch_.path() / fmt::format("{}-{}-{}.edge", kModel, spec.version, spec.variant);
    EXPECT_TRUE(model::write_artifact(release_graph(spec), file));
    ota::AddOptions add;
    add.tiers = std::move(tiers);
    auto added = repo_->add({file}, add);
    EXPECT_TRUE(added) << (added ? "" : added.error().message);
    return added ? added->at(0).path : std::string();
  }
  void roll_out(int version, const std::string& tier = "mid") {
    auto r = repo_->rollout(kModel, tier, std::to_string(version), 100);
    EXPECT_TRUE(r) << (r ? "" : r.error().message);
  }
  // A file of the repository, changed in place (a tampered mirror).
  void tamper(const std::string& relative) {
    const fs::path file = public_dir() / relative;
    auto bytes = read_file(file);
    ASSERT_TRUE(bytes) << relative;
    (*bytes)[bytes->size() / 2] ^= std::byte{0x5a};
    std::ofstream(file, std::ios::binary | std::ios::trunc)
        .write(reinterpret_cast<const char*>(bytes->data()), static_cast<std::streamsize>(bytes->size()));
  }

  // One update cycle; the steps it reported, in order, land in `steps`.
  Result<UpdateOutcome> update() {
    steps.clear();
    const UpdateEnvironment env{*transport_, SystemClock::instance(), [](std::chrono::nanoseconds) {}, conditions};
    return run_update_cycle(data_dir(), env, options,
                            [this](UpdateStep step, const UpdateOutcome&) { steps.push_back(step); });
  }

  UpdateCycleOptions options;
  ota::FixedConditions conditions;
  std::vector<UpdateStep> steps;

 private:
  testing::TempDir scratch_;
  std::unique_ptr<ota::Repository> repo_;
  std::unique_ptr<testing::TestServer> server_;
  std::unique_ptr<ota::Transport> transport_;
};

}  // namespace edgeloop::device::world

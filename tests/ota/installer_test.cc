#include "edgeloop/ota/installer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>

#include "edgeloop/runtime/backends.h"
#include "ota/slot_fixture.h"
#include "testing/graph_builder.h"

namespace edgeloop::ota {
namespace {

using testing::slot_artifact;

struct Device {
  MemoryStorage storage;
  SlotStore store = *SlotStore::open(storage);
  testing::SteppingClock clock;
  Installer installer;
  explicit Device(InstallerOptions options = {}) : installer(store, clock, std::move(options)) {}

  std::string active_version() const { return state().info(*state().active)->version; }
  const SlotState& state() const { return installer.state(); }
};

TEST(Installer, FirstModelIsProvisionedWithoutTrial) {
  Device d;
  auto v1 = slot_artifact(1);
  auto r = d.installer.install(v1.shared(), v1.expected);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->provisioned);
  EXPECT_EQ(d.state().active, Slot::kA);
  EXPECT_FALSE(d.state().trial);
  EXPECT_FALSE(d.state().last_known_good);
  auto program = d.installer.load_active();
  ASSERT_TRUE(program);
  EXPECT_TRUE(runtime::check_golden(*program));
}

TEST(Installer, NewModelGoesToTheInactiveSlotOnTrial) {
  Device d;
  auto v1 = slot_artifact(1), v2 = slot_artifact(2);
  ASSERT_TRUE(d.installer.install(v1.shared(), v1.expected));
  auto r = d.installer.install(v2.shared(), v2.expected);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->slot, Slot::kB);
  EXPECT_EQ(d.state().active, Slot::kB);
  EXPECT_EQ(d.state().last_known_good, Slot::kA);
  EXPECT_EQ(d.state().trial, (Trial{Slot::kB, 3}));
  EXPECT_EQ(d.active_version(), "2");
  // No second install while the trial runs.
  auto v3 = slot_artifact(3);
  EXPECT_EQ(d.installer.install(v3.shared(), v3.expected).error().code, ErrorCode::kFailedPrecondition);
  ASSERT_TRUE(d.installer.mark_good());
  EXPECT_FALSE(d.state().trial);
  EXPECT_EQ(d.state().last_known_good, Slot::kA);
  // The next model replaces the old last-known-good (slot a); v2 becomes the fallback.
  ASSERT_TRUE(d.installer.install(v3.shared(), v3.expected));
  EXPECT_EQ(d.state().active, Slot::kA);
  EXPECT_EQ(d.state().last_known_good, Slot::kB);
  EXPECT_EQ(d.active_version(), "3");
  EXPECT_EQ(d.state().info(Slot::kB)->version, "2");
}

TEST(Installer, BadArtifactsAreRefusedAndChangeNothing) {
  Device d;
  auto v1 = slot_artifact(1), v2 = slot_artifact(2);
  ASSERT_TRUE(d.installer.install(v1.shared(), v1.expected));
  SlotState before = d.state();

  auto wrong_hash = v2.expected;
  wrong_hash.sha256 = v1.expected.sha256;
  EXPECT_EQ(d.installer.install(v2.shared(), wrong_hash).error().code, ErrorCode::kCorrupt);
  auto wrong_length = v2.expected;
  wrong_length.length += 1;
  EXPECT_EQ(d.installer.install(v2.shared(), wrong_length).error().code, ErrorCode::kCorrupt);
  auto wrong_version = v2.expected;
  wrong_version.version = "9";
  EXPECT_EQ(d.installer.install(v2.shared(), wrong_version).error().code, ErrorCode::kCorrupt);
  auto garbage = v2;
  garbage.bytes.assign(garbage.bytes.size(), std::byte{0x42});
  garbage.expected.sha256 = to_hex(sha256(garbage.bytes));
  EXPECT_FALSE(d.installer.install(garbage.shared(), garbage.expected));
  auto bad_golden = slot_artifact(2, /*break_golden=*/true);
  auto r = d.installer.install(bad_golden.shared(), bad_golden.expected);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("smoke test"), std::string::npos) << r.error().message;
  EXPECT_EQ(d.installer.install(v1.shared(), v1.expected).error().code, ErrorCode::kFailedPrecondition);  // already active
  EXPECT_EQ(d.state(), before);
}

TEST(Installer, SmokeTestOverItsBudgetIsRefused) {
  InstallerOptions options;
  options.smoke_budget = std::chrono::milliseconds(10);
  Device d(options);
  d.clock = testing::SteppingClock(std::chrono::milliseconds(20));  // every reading 20 ms later
  auto v1 = slot_artifact(1);
  auto r = d.installer.install(v1.shared(), v1.expected);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("budget"), std::string::npos) << r.error().message;
  EXPECT_FALSE(d.state().active);
}

// An artifact of `g` as the targets would list it.
testing::TestArtifact artifact_of(model::Graph g) {
  g.meta.name = "test";
  g.meta.version = "1";
  auto bytes = model::serialize_artifact(g);
  EXPECT_TRUE(bytes) << (bytes ? "" : bytes.error().message);
  testing::TestArtifact a;
  if (!bytes) return a;
  a.bytes = std::move(*bytes);
  a.expected = {a.bytes.size(), to_hex(sha256(a.bytes)), g.meta.name, g.meta.version, g.meta.variant};
  return a;
}

// A model far too slow for its smoke-test budget: 400 MatMuls of [64, 1024] x [1024, 1024] on
// the reference kernels (27 G multiply-adds: many seconds). Its golden outputs are never reached.
TEST(Installer, ASlowSmokeTestIsCutAtItsBudget) {
  testing::GraphBuilder b;
  const auto x = b.input(model::DType::kF32, {64, 1024});
  const auto w = b.weights_f32({1024, 1024});
  auto y = x;
  for (int i = 0; i < 400; ++i) y = b.node(model::OpType::kMatMul, {y, w});
  model::Graph g = b.finish({y});
  model::GoldenVector golden;
  golden.inputs.push_back(runtime::random_input(g.tensors[x], 1));
  golden.outputs.push_back(model::TensorData::zeros(g.tensors[y].name, model::DType::kF32, {64, 1024}));
  g.meta.golden = std::move(golden);
  auto slow = artifact_of(std::move(g));

  InstallerOptions options;
  options.load = runtime::LoadOptions::reference();  // one step per node: cut between any two
  options.smoke_budget = std::chrono::milliseconds(50);
  MemoryStorage storage;
  SlotStore store = *SlotStore::open(storage);
  Installer installer(store, SystemClock::instance(), options);  // the device's clock: real time
  const auto t0 = std::chrono::steady_clock::now();
  auto r = installer.install(slow.shared(), slow.expected);
  const auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(r.error().message.find("cut at its budget of 50 ms"), std::string::npos) << r.error().message;
  EXPECT_LT(took, std::chrono::seconds(3)) << "the smoke test ran on past its budget";
  EXPECT_FALSE(installer.state().active);
  // A model that fits its budget is not cut.
  auto v1 = slot_artifact(1);
  EXPECT_TRUE(installer.install(v1.shared(), v1.expected));
}

// The smoke test runs on the kernels the device will run: a golden vector computed on the
// reference kernels with zero tolerance passes there and fails on XNNPACK's (another summation
// order, fused multiply-adds), so the install is refused when the device runs XNNPACK.
TEST(Installer, SmokeTestLoadsWithTheDevicesLoadOptions) {
  EXPECT_TRUE(InstallerOptions{}.load.backends.empty()) << "the default is this CPU's backends";
  const auto backends = runtime::default_backends();
  if (std::find(backends.begin(), backends.end(), "xnnpack") == backends.end()) GTEST_SKIP() << "no XNNPACK on this CPU";
  testing::GraphBuilder b;
  const auto x = b.input(model::DType::kF32, {4, 1024});
  model::Graph g = b.finish({b.node(model::OpType::kMatMul, {x, b.weights_f32({1024, 256})})});
  ASSERT_TRUE(runtime::attach_golden(g, 0x5eed, 0.f, 0.f));
  auto exact = artifact_of(std::move(g));

  InstallerOptions reference;
  reference.load = runtime::LoadOptions::reference();
  Device on_reference(reference);
  auto ok = on_reference.installer.install(exact.shared(), exact.expected);
  EXPECT_TRUE(ok) << ok.error().message;

  InstallerOptions xnnpack;
  xnnpack.load.backends = {"xnnpack"};
  Device on_xnnpack(xnnpack);
  auto refused = on_xnnpack.installer.install(exact.shared(), exact.expected);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("golden test vector mismatch"), std::string::npos) << refused.error().message;
  EXPECT_FALSE(on_xnnpack.state().active);

  Device on_defaults;  // InstallerOptions{}: this CPU's backends, XNNPACK among them
  EXPECT_FALSE(on_defaults.installer.install(exact.shared(), exact.expected));
}

// A revert asked for on a view another process has since changed (the trial it meant to fail
// was marked good there) is refused, not turned into a swap of two trusted models; every other
// operation re-reads the record under the lock and applies to what it finds.
TEST(Installer, ARevertOnAStaleViewIsRefused) {
  testing::TempDir dir;
  auto storage = DirectoryStorage::open(dir.path() / "slots");
  ASSERT_TRUE(storage);
  auto app_store = SlotStore::open(*storage), cli_store = SlotStore::open(*storage);
  testing::SteppingClock clock;
  Installer app(*app_store, clock), cli(*cli_store, clock);
  auto v1 = slot_artifact(1), v2 = slot_artifact(2);
  ASSERT_TRUE(app.install(v1.shared(), v1.expected));
  ASSERT_TRUE(app.install(v2.shared(), v2.expected));
  ASSERT_TRUE(cli.mark_good());  // re-reads: it sees the trial app made
  auto r = app.revert();          // app still believes slot b is on trial
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(r.error().message.find("changed in another process"), std::string::npos) << r.error().message;
  EXPECT_EQ(app.state().active, Slot::kB);  // re-read: the truth
  EXPECT_FALSE(app.state().trial);
  EXPECT_FALSE(app.state().info(Slot::kB)->failed);
  ASSERT_TRUE(app.revert());  // asked again on what it now sees: a swap
  EXPECT_EQ(app.state().active, Slot::kA);
}

TEST(Installer, WatchdogSpendsAttemptsThenRevertsWithoutNetwork) {
  Device d;
  auto v1 = slot_artifact(1), v2 = slot_artifact(2);
  ASSERT_TRUE(d.installer.install(v1.shared(), v1.expected));
  ASSERT_TRUE(d.installer.install(v2.shared(), v2.expected));
  for (int left = 2; left >= 0; --left) {
    auto s = d.installer.on_start();
    ASSERT_TRUE(s);
    EXPECT_EQ(s->action, StartAction::kAttemptSpent);
    EXPECT_EQ(d.state().trial->attempts_left, left);
    EXPECT_EQ(d.active_version(), "2");
  }
  auto s = d.installer.on_start();
  ASSERT_TRUE(s);
  EXPECT_EQ(s->action, StartAction::kReverted);
  EXPECT_EQ(d.state().active, Slot::kA);
  EXPECT_FALSE(d.state().trial);
  EXPECT_FALSE(d.state().last_known_good);
  EXPECT_TRUE(d.state().info(Slot::kB)->failed);
  EXPECT_EQ(d.installer.on_start()->action, StartAction::kNoTrial);
  // The rollout still wants v2: it failed here, so it is not installed again.
  EXPECT_EQ(*d.installer.reconcile({v2.expected.sha256, "2", ""}), ReconcileAction::kFailedHere);
}

TEST(Installer, SuccessfulInferencesEndTheTrial) {
  InstallerOptions options;
  options.successes_to_mark_good = 3;
  Device d(options);
  auto v1 = slot_artifact(1), v2 = slot_artifact(2);
  ASSERT_TRUE(d.installer.install(v1.shared(), v1.expected));
  EXPECT_FALSE(*d.installer.record_success());  // no trial: nothing to count
  ASSERT_TRUE(d.installer.install(v2.shared(), v2.expected));
  ASSERT_TRUE(d.installer.on_start());
  EXPECT_FALSE(*d.installer.record_success());
  EXPECT_FALSE(*d.installer.record_success());
  EXPECT_TRUE(*d.installer.record_success());
  EXPECT_FALSE(d.state().trial);
  EXPECT_EQ(d.state().last_known_good, Slot::kA);
  EXPECT_EQ(d.installer.mark_good().error().code, ErrorCode::kFailedPrecondition);
}

TEST(Installer, SuccessesAreCheckpointedAndCountAcrossRestarts) {
  InstallerOptions options;
  options.successes_to_mark_good = 16;  // checkpoint every 16 / 8 = 2
  Device d(options);
  auto v1 = slot_artifact(1), v2 = slot_artifact(2);
  ASSERT_TRUE(d.installer.install(v1.shared(), v1.expected));
  ASSERT_TRUE(d.installer.install(v2.shared(), v2.expected));
  ASSERT_TRUE(d.installer.on_start());
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(*d.installer.record_success());
  EXPECT_EQ(d.state().trial->successes, 4);  // the 5th is not checkpointed yet

  // The process restarts: a new installer over the same store; the 5th success is lost.
  auto store = SlotStore::open(d.storage);
  ASSERT_TRUE(store);
  Installer restarted(*store, d.clock, options);
  ASSERT_EQ(restarted.on_start()->action, StartAction::kAttemptSpent);
  EXPECT_EQ(restarted.state().trial->successes, 4);
  for (int i = 0; i < 11; ++i) EXPECT_FALSE(*restarted.record_success()) << i;
  EXPECT_TRUE(*restarted.record_success());  // 4 + 12 = 16
  EXPECT_FALSE(restarted.state().trial);
}

TEST(Installer, RevertFlipsAndWritesOnlyTheStateRecord) {
  Device d;
  auto v1 = slot_artifact(1), v2 = slot_artifact(2);
  EXPECT_EQ(d.installer.revert().error().code, ErrorCode::kFailedPrecondition);
  ASSERT_TRUE(d.installer.install(v1.shared(), v1.expected));
  EXPECT_EQ(d.installer.revert().error().code, ErrorCode::kFailedPrecondition);  // nothing to go back to
  ASSERT_TRUE(d.installer.install(v2.shared(), v2.expected));
  ASSERT_TRUE(d.installer.mark_good());
  uint64_t before = d.storage.bytes_written();
  ASSERT_TRUE(d.installer.revert());  // from a trusted model: the two swap
  EXPECT_EQ(d.active_version(), "1");
  EXPECT_EQ(d.state().last_known_good, Slot::kB);
  EXPECT_LT(d.storage.bytes_written() - before, 1024u);  // the state record, no artifact
  ASSERT_TRUE(d.installer.revert());
  EXPECT_EQ(d.active_version(), "2");
}

TEST(Installer, RecallFlipsToTheLastKnownGoodWithoutADownload) {
  Device d;
  auto v1 = slot_artifact(1), v2 = slot_artifact(2), v3 = slot_artifact(3);
  ASSERT_TRUE(d.installer.install(v1.shared(), v1.expected));
  ASSERT_TRUE(d.installer.install(v2.shared(), v2.expected));
  EXPECT_EQ(*d.installer.reconcile({v2.expected.sha256, "2", ""}), ReconcileAction::kAlreadyActive);
  EXPECT_EQ(*d.installer.reconcile({v3.expected.sha256, "3", ""}), ReconcileAction::kNeedsInstall);
  // Pinned back to v1: a flip.
  EXPECT_EQ(*d.installer.reconcile({v1.expected.sha256, "1", ""}), ReconcileAction::kFlippedToLastKnownGood);
  EXPECT_EQ(d.active_version(), "1");
  EXPECT_FALSE(d.state().trial);
  EXPECT_FALSE(d.state().info(Slot::kB)->failed);  // recalled, not failed

  // Floor rises past the active version while the last-known-good is at it: flip, then install.
  Device e;
  ASSERT_TRUE(e.installer.install(v2.shared(), v2.expected));
  ASSERT_TRUE(e.installer.install(v1.shared(), v1.expected));  // an older model on trial (a pin)
  EXPECT_EQ(*e.installer.reconcile({v3.expected.sha256, "3", "2"}), ReconcileAction::kFlippedToLastKnownGood);
  EXPECT_EQ(e.active_version(), "2");
  EXPECT_EQ(*e.installer.reconcile({v3.expected.sha256, "3", "3"}), ReconcileAction::kNeedsInstall);
}

// The wanted version is checked against the floor too: a rollout pinning back below its own floor
// neither flips nor asks for an install.
TEST(Installer, ReconcileRefusesAWantedVersionBelowTheFloor) {
  Device d;
  auto v1 = slot_artifact(1), v2 = slot_artifact(2);
  ASSERT_TRUE(d.installer.install(v1.shared(), v1.expected));
  ASSERT_TRUE(d.installer.install(v2.shared(), v2.expected));
  const SlotState before = d.state();
  auto r = d.installer.reconcile({v1.expected.sha256, "1", "2"});  // the last-known-good, but below the floor
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(r.error().message.find("below its floor"), std::string::npos) << r.error().message;
  EXPECT_EQ(d.state(), before);
  EXPECT_FALSE(d.installer.reconcile({v1.expected.sha256, "not a version", "2"}));
  EXPECT_EQ(*d.installer.reconcile({v2.expected.sha256, "2", "2"}), ReconcileAction::kAlreadyActive);
}

TEST(Installer, InstallsFromADownloadedFile) {
  testing::TempDir dir;
  auto storage = DirectoryStorage::open(dir.path() / "slots");
  ASSERT_TRUE(storage);
  auto store = SlotStore::open(*storage);
  ASSERT_TRUE(store);
  testing::SteppingClock clock;
  Installer installer(*store, clock);
  auto v1 = slot_artifact(1);
  ASSERT_TRUE(write_file_durable(dir.path() / "download.edge", v1.bytes));
  ASSERT_TRUE(installer.install_file(dir.path() / "download.edge", v1.expected));
  auto reopened = SlotStore::open(*storage);
  ASSERT_TRUE(reopened);
  EXPECT_EQ(reopened->state(), store->state());
  EXPECT_TRUE(reopened->read_slot(Slot::kA));
}

}  // namespace
}  // namespace edgeloop::ota

#include "edgeloop/ota/installer.h"

#include <gtest/gtest.h>

#include "ota/slot_fixture.h"

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

TEST(Installer, InstallsFromADownloadedFile) {
  testing::SlotTempDir dir;
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

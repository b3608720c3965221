#include "edgeloop/ota/slot_store.h"

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <vector>

#include "ota/slot_fixture.h"

namespace edgeloop::ota {
namespace {

namespace fs = std::filesystem;

SlotInfo info(char c) { return {"tiny", "1", "fp32", std::string(64, c), 100, false}; }

TEST(SlotState, RoundTripsThroughItsRecord) {
  SlotState s;
  s.generation = 7;
  s.active = Slot::kB;
  s.last_known_good = Slot::kA;
  s.trial = Trial{Slot::kB, 2};
  s.info(Slot::kA) = info('a');
  s.info(Slot::kB) = info('b');
  s.info(Slot::kB)->failed = true;
  auto bytes = serialize_state(s);
  auto back = parse_state(bytes);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(*back, s);
}

TEST(SlotState, InconsistentRecordsAreCorrupt) {
  SlotState s;
  s.active = Slot::kA;  // active but empty
  EXPECT_EQ(validate(s).error().code, ErrorCode::kCorrupt);
  s.info(Slot::kA) = info('a');
  EXPECT_TRUE(validate(s));
  s.trial = Trial{Slot::kA, 3};  // a trial with nothing to revert to
  EXPECT_EQ(validate(s).error().code, ErrorCode::kCorrupt);
  s.info(Slot::kB) = info('b');
  s.last_known_good = Slot::kB;
  EXPECT_TRUE(validate(s));
  s.trial = Trial{Slot::kB, 3};  // trial of the inactive slot
  EXPECT_EQ(validate(s).error().code, ErrorCode::kCorrupt);
  s.trial = Trial{Slot::kA, -1};
  EXPECT_EQ(validate(s).error().code, ErrorCode::kCorrupt);
  s.trial.reset();
  s.last_known_good = Slot::kA;  // same as active
  EXPECT_EQ(validate(s).error().code, ErrorCode::kCorrupt);

  for (std::string text : {"", "[]", "{}", R"({"format":"edgeloop-slots","format_version":2})",
                           R"({"format":"edgeloop-slots","format_version":1,"generation":1,"active":"c",)"
                           R"("last_known_good":null,"trial":null,"slots":{"a":null,"b":null}})"}) {
    auto r = parse_state(as_bytes(std::span(text)));
    ASSERT_FALSE(r) << text;
    EXPECT_EQ(r.error().code, ErrorCode::kCorrupt) << text;
  }
}

TEST(SlotStore, EmptyStoreThenCommitsAndReopens) {
  testing::TempDir dir;
  auto storage = DirectoryStorage::open(dir.path() / "slots");
  ASSERT_TRUE(storage);
  auto store = SlotStore::open(*storage);
  ASSERT_TRUE(store);
  EXPECT_EQ(store->state(), SlotState{});
  EXPECT_EQ(store->read_slot(Slot::kA).error().code, ErrorCode::kNotFound);

  auto art = testing::slot_artifact(1);
  ASSERT_TRUE(store->write_slot(Slot::kA, art.bytes));
  SlotState next;
  next.active = Slot::kA;
  next.info(Slot::kA) = SlotInfo{"tiny", "1", "fp32", art.expected.sha256, art.bytes.size(), false};
  ASSERT_TRUE(store->commit(next));
  EXPECT_EQ(store->state().generation, 1u);
  // A slot in use is never overwritten in place.
  EXPECT_EQ(store->write_slot(Slot::kA, art.bytes).error().code, ErrorCode::kFailedPrecondition);
  // An inconsistent state is refused and changes nothing.
  SlotState bad = store->state();
  bad.last_known_good = Slot::kB;
  EXPECT_FALSE(store->commit(bad));
  EXPECT_EQ(store->state().generation, 1u);

  auto again = SlotStore::open(*storage);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->state(), store->state());
  auto bytes = again->read_slot(Slot::kA);
  ASSERT_TRUE(bytes);
  EXPECT_EQ(bytes->size(), art.bytes.size());
}

TEST(SlotStore, TamperedSlotIsCorruptAndLeftoversAreRemoved) {
  testing::TempDir dir;
  auto storage = DirectoryStorage::open(dir.path());
  ASSERT_TRUE(storage);
  auto store = SlotStore::open(*storage);
  ASSERT_TRUE(store);
  auto art = testing::slot_artifact(1);
  ASSERT_TRUE(store->write_slot(Slot::kA, art.bytes));
  SlotState next;
  next.active = Slot::kA;
  next.info(Slot::kA) = SlotInfo{"tiny", "1", "fp32", art.expected.sha256, art.bytes.size(), false};
  ASSERT_TRUE(store->commit(next));

  auto flipped = art.bytes;
  flipped[flipped.size() / 2] ^= std::byte{1};
  std::ofstream(dir.path() / "slot-a.edge", std::ios::binary)
      .write(reinterpret_cast<const char*>(flipped.data()), static_cast<std::streamsize>(flipped.size()));
  EXPECT_EQ(store->read_slot(Slot::kA).error().code, ErrorCode::kCorrupt);

  std::ofstream(dir.path() / ".state.json.tmp.abc123") << "torn";
  ASSERT_TRUE(SlotStore::open(*storage));
  EXPECT_FALSE(fs::exists(dir.path() / ".state.json.tmp.abc123"));

  std::ofstream(dir.path() / "state.json") << "{\"format\": \"edgeloop-sl";
  auto broken = SlotStore::open(*storage);
  ASSERT_FALSE(broken);
  EXPECT_EQ(broken.error().code, ErrorCode::kCorrupt);
  EXPECT_NE(broken.error().message.find("state.json"), std::string::npos);
}

TEST(SlotStore, CrashHookSeesEveryDurableStepInOrder) {
  testing::TempDir dir;
  std::vector<std::string> steps;
  auto storage = DirectoryStorage::open(
      dir.path(), [&](std::string_view step, const fs::path&) { steps.emplace_back(step); });
  ASSERT_TRUE(storage);
  ASSERT_TRUE(storage->write("state.json", as_bytes(std::span("x", 1))));
  EXPECT_EQ(steps, (std::vector<std::string>{"write", "fsync", "rename", "fsync-dir"}));
}

// Two stores on one folder (two processes): the second one's view is stale after the first
// commits, so its commit is refused rather than undoing the first; re-read, it goes through.
TEST(SlotStore, ACommitOnAStaleViewIsRefused) {
  testing::TempDir dir;
  auto storage = DirectoryStorage::open(dir.path());
  ASSERT_TRUE(storage);
  auto first = SlotStore::open(*storage), second = SlotStore::open(*storage);
  ASSERT_TRUE(first && second);
  ASSERT_TRUE(first->write_slot(Slot::kA, as_bytes(std::span("x", 1))));
  SlotState s;
  s.info(Slot::kA) = info('a');
  ASSERT_TRUE(first->commit(s));
  auto refused = second->commit(SlotState{});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(refused.error().message.find("changed in another process"), std::string::npos) << refused.error().message;
  EXPECT_EQ(second->write_slot(Slot::kB, as_bytes(std::span("y", 1))).error().code, ErrorCode::kFailedPrecondition);
  EXPECT_FALSE(fs::exists(dir.path() / "slot-b.edge"));
  ASSERT_TRUE(second->refresh());
  EXPECT_EQ(second->state(), first->state());
  EXPECT_TRUE(second->commit(SlotState{}));
  EXPECT_TRUE(fs::exists(dir.path() / std::string(kLockFile)));
}

// Three processes change one device's slots at once, as `device start` (the watchdog),
// `device update` and the app recording successes can: every change survives (no lost update).
TEST(SlotStore, ProcessesChangingOneFolderAtOnceLoseNoUpdate) {
  testing::TempDir dir;
  InstallerOptions options;
  options.trial_attempts = 1000;
  options.successes_to_mark_good = 1000000;
  options.success_checkpoint = 1;  // every success is a commit
  testing::SteppingClock clock;
  uint64_t generation = 0;
  {
    auto storage = DirectoryStorage::open(dir.path());
    auto store = SlotStore::open(*storage);
    Installer installer(*store, clock, options);
    auto v1 = testing::slot_artifact(1), v2 = testing::slot_artifact(2);
    ASSERT_TRUE(installer.install(v1.shared(), v1.expected));
    ASSERT_TRUE(installer.install(v2.shared(), v2.expected));
    generation = installer.state().generation;
  }
  constexpr int kEach = 60;
  int go[2];
  ASSERT_EQ(::pipe(go), 0);
  std::vector<pid_t> children;
  for (int role = 0; role < 3; ++role) {
    ::fflush(nullptr);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(go[1]);
      char c;
      (void)!::read(go[0], &c, 1);  // all start together: the write end closes
      auto storage = DirectoryStorage::open(dir.path());
      if (!storage) ::_exit(2);
      auto store = SlotStore::open(*storage);
      if (!store) ::_exit(2);
      Installer installer(*store, clock, options);
      for (int i = 0; i < kEach; ++i) {
        const bool done = role < 2 ? installer.on_start().has_value() : installer.record_success().has_value();
        if (!done) ::_exit(3);
      }
      ::_exit(0);
    }
    children.push_back(pid);
  }
  ::close(go[0]);
  ::close(go[1]);
  for (pid_t pid : children) {
    int wstatus = 0;
    ASSERT_EQ(::waitpid(pid, &wstatus, 0), pid);
    ASSERT_TRUE(WIFEXITED(wstatus));
    EXPECT_EQ(WEXITSTATUS(wstatus), 0);
  }
  auto storage = DirectoryStorage::open(dir.path());
  auto store = SlotStore::open(*storage);
  ASSERT_TRUE(store);
  const SlotState& s = store->state();
  ASSERT_TRUE(s.trial);
  EXPECT_EQ(s.trial->attempts_left, 1000 - 2 * kEach);  // both watchdogs' attempts
  EXPECT_EQ(s.trial->successes, kEach);                 // and every success
  EXPECT_EQ(s.generation, generation + 3 * kEach);
}

TEST(MemoryStorage, ReadsWhatItWrote) {
  MemoryStorage storage;
  auto none = storage.read("state.json");
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->has_value());
  ASSERT_TRUE(storage.write("state.json", as_bytes(std::span("abc", 3))));
  auto got = storage.read("state.json");
  ASSERT_TRUE(got && got->has_value());
  EXPECT_EQ((*got)->size(), 3u);
  EXPECT_EQ(storage.bytes_written(), 3u);
  EXPECT_EQ(storage.write("../x", {}).error().code, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace edgeloop::ota

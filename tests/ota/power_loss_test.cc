// Power loss at every durable step of every slot flow (docs/device-storage.md): a child process
// runs the flow and dies (_exit) at crash point k — optionally leaving a torn or truncated
// temporary file behind, as a power cut mid-write would — then the parent "restarts" the
// device: opens the store, runs the watchdog step, and checks that the device is not bricked.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <functional>
#include <set>

#include "edgeloop/ota/installer.h"
#include "edgeloop/ota/updater.h"
#include "ota/download_fakes.h"
#include "ota/update_fixture.h"

namespace edgeloop::ota {
namespace {

namespace fs = std::filesystem;
using testing::slot_artifact;
using testing::TestArtifact;

constexpr int kCrashExit = 77;

const TestArtifact& artifact(int version) {
  static const std::vector<TestArtifact> all = {slot_artifact(1), slot_artifact(2), slot_artifact(3)};
  return all.at(static_cast<size_t>(version - 1));
}

// The device's state before a flow, built through the installer itself.
//   kRecalled: v2's trial recalled (the rollout pinned back to v1): v1 active, v2 still in slot b.
//   kTwoGoodReverted: v2 trusted, then reverted: v1 active, v2 the last-known-good.
//   kTwoGoodBadPartial: kTwoGood, and a partial download of v3 longer than v3 (a torn leftover).
enum class Setup { kEmpty, kOne, kTrial, kTrialExhausted, kTwoGood, kRecalled, kTwoGoodReverted, kTwoGoodBadPartial };

void prepare(Installer& in, Setup setup) {
  auto install = [&](int v) { ASSERT_TRUE(in.install(artifact(v).shared(), artifact(v).expected)); };
  if (setup == Setup::kEmpty) return;
  install(1);
  if (setup == Setup::kOne) return;
  install(2);
  if (setup == Setup::kRecalled) {
    ASSERT_EQ(*in.reconcile({artifact(1).expected.sha256, "1", ""}), ReconcileAction::kFlippedToLastKnownGood);
    return;
  }
  if (setup == Setup::kTwoGood || setup == Setup::kTwoGoodReverted || setup == Setup::kTwoGoodBadPartial) {
    ASSERT_TRUE(in.mark_good());
    if (setup == Setup::kTwoGoodReverted) {
      ASSERT_TRUE(in.revert());
    }
    return;
  }
  if (setup == Setup::kTrialExhausted) {
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(in.on_start());
  }
}

// A repository folder with v2 (a delta from v1 listed) and v3 (no delta), made once.
struct UpdateRepo {
  testing::TempDir dir;
  testing::PublishedTarget v2 = testing::publish_target(dir.path(), artifact(2), {&artifact(1)});
  testing::PublishedTarget v3 = testing::publish_target(dir.path(), artifact(3));
};
const UpdateRepo& update_repo() {
  static const UpdateRepo repo;
  return repo;
}

// The device's whole update of a target: download (delta or full) into DIR/downloads, apply,
// verify, install; `hook` sees the download's and the apply's durable steps as well.
Status update_to(Installer& in, const testing::PublishedTarget& t, const CrashHook& hook) {
  testing::FakeClock clock;
  FixedConditions conditions;
  Downloader downloader(clock, clock.sleeper(), conditions);
  auto transport = make_directory_transport(update_repo().dir.path().string());
  FetchOptions options;
  options.download.crash_hook = hook;
  const auto& storage = dynamic_cast<const DirectoryStorage&>(in.store().storage());
  EL_CHECK(install_target(in, downloader, *transport, t.path, t.info, storage.dir() / "downloads", options));
  return ok();
}

struct Flow {
  std::string name;
  Setup setup;
  std::function<Status(Installer&, const CrashHook&)> run;
  bool rerun_completes = false;  // after the restart, running the flow again must finish it
};

std::vector<Flow> flows() {
  auto install = [](int v) {
    return [v](Installer& in, const CrashHook&) -> Status {
      EL_CHECK(in.install(artifact(v).shared(), artifact(v).expected));
      return ok();
    };
  };
  auto plain = [](std::function<Status(Installer&)> f) {
    return [f](Installer& in, const CrashHook&) { return f(in); };
  };
  return {
      {"provision", Setup::kEmpty, install(1)},
      {"install into the empty slot + switch", Setup::kOne, install(2)},
      {"install over the old last-known-good + switch", Setup::kTwoGood, install(3)},
      {"mark-good", Setup::kTrial, plain([](Installer& in) { return in.mark_good(); })},
      {"success count checkpoint (K = 100: every 12)", Setup::kTrial, plain([](Installer& in) -> Status {
         for (int i = 0; i < 12; ++i) EL_CHECK(in.record_success());
         return ok();
       })},
      {"revert from trial", Setup::kTrial, plain([](Installer& in) { return in.revert(); })},
      {"revert from a trusted model", Setup::kTwoGood, plain([](Installer& in) { return in.revert(); })},
      {"watchdog: spend an attempt", Setup::kTrial, plain([](Installer& in) -> Status {
         EL_CHECK(in.on_start());
         return ok();
       })},
      {"watchdog: revert", Setup::kTrialExhausted, plain([](Installer& in) -> Status {
         EL_CHECK(in.on_start());
         return ok();
       })},
      {"recall to the last-known-good", Setup::kTrial, plain([](Installer& in) -> Status {
         EL_CHECK(in.reconcile({artifact(1).expected.sha256, "1", ""}));
         return ok();
       })},
      {"update by delta: download, apply, install, switch", Setup::kOne,
       [](Installer& in, const CrashHook& hook) { return update_to(in, update_repo().v2, hook); }, true},
      {"update by full download: download, install, switch", Setup::kTwoGood,
       [](Installer& in, const CrashHook& hook) { return update_to(in, update_repo().v3, hook); }, true},
      {"update over a torn partial: truncate, fetch, install", Setup::kTwoGoodBadPartial,
       [](Installer& in, const CrashHook& hook) { return update_to(in, update_repo().v3, hook); }, true},
      {"reinstall a recalled trial from its slot (no download)", Setup::kRecalled,
       [](Installer& in, const CrashHook& hook) { return update_to(in, update_repo().v2, hook); }, true},
      {"recall: the floor rose past the active model", Setup::kTwoGoodReverted, plain([](Installer& in) -> Status {
         EL_TRY(auto action, in.reconcile({artifact(3).expected.sha256, "3", "2"}));
         if (action != ReconcileAction::kFlippedToLastKnownGood) return make_error(ErrorCode::kInternal, "not flipped");
         return ok();
       })},
  };
}

// Runs `flow` on a device in `dir` prepared to its setup; `hook` sees every durable step.
Status run_flow(const fs::path& dir, const Flow& flow, const CrashHook& hook) {
  EL_TRY(auto storage, DirectoryStorage::open(dir, hook));
  EL_TRY(auto store, SlotStore::open(storage));
  testing::SteppingClock clock;
  Installer installer(store, clock);
  return flow.run(installer, hook);
}

void prepare_dir(const fs::path& dir, Setup setup) {
  auto storage = DirectoryStorage::open(dir);
  ASSERT_TRUE(storage);
  auto store = SlotStore::open(*storage);
  ASSERT_TRUE(store);
  testing::SteppingClock clock;
  Installer installer(*store, clock);
  prepare(installer, setup);
  if (setup == Setup::kTwoGoodBadPartial) {
    const auto& v3 = update_repo().v3;
    std::vector<std::byte> junk(v3.info.length + 100, std::byte{0x42});
    fs::create_directories(dir / "downloads");
    ASSERT_TRUE(write_file_durable(Downloader::partial_path(dir / "downloads" / (v3.info.sha256 + ".edge")), junk));
  }
}

SlotState state_of(const fs::path& dir) {
  auto storage = DirectoryStorage::open(dir);
  auto store = SlotStore::open(*storage);
  return store ? store->state() : SlotState{};
}

// What a power cut can leave: the temporary file half-written (at "write"), or its data never
// reaching the disk (truncated, at "fsync"/"rename"), or a stray temporary (at "fsync-dir").
void tear(std::string_view step, const fs::path& file) {
  fs::path torn = step == "fsync-dir" ? file / ".state.json.tmp.TORN01" : file;
  int fd = ::open(torn.c_str(), O_WRONLY | O_CREAT, 0644);
  if (fd < 0) return;
  if (step == "write" || step == "fsync-dir") {
    const char junk[] = "EDGE\x01 torn by a power cut";
    (void)!::write(fd, junk, sizeof junk);
  } else {
    off_t size = ::lseek(fd, 0, SEEK_END);
    (void)!::ftruncate(fd, size / 2);
  }
  ::close(fd);
}

// The device after a restart: the store opens, the watchdog runs, the active model is one the
// flow started or ended with (or their fallback), every recorded slot matches its bytes, and
// every model the state names loads and passes its golden test. Returns what is wrong ("" = fine).
std::string check_restart(const fs::path& dir, const std::set<std::string>& allowed, bool may_be_empty) {
  auto storage = DirectoryStorage::open(dir);
  if (!storage) return storage.error().message;
  auto store = SlotStore::open(*storage);
  if (!store) return "the store does not open: " + store.error().message;
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.path().filename().string().starts_with(".")) return "leftover " + entry.path().string();
  testing::SteppingClock clock;
  Installer installer(*store, clock);
  auto start = installer.on_start();
  if (!start) return "the watchdog step fails: " + start.error().message;
  const SlotState& s = installer.state();
  if (auto v = validate(s); !v) return v.error().message;
  if (!s.active) return may_be_empty ? "" : "bricked: no active model";
  if (!allowed.count(s.info(*s.active)->sha256)) return "the active slot holds neither the old nor the new model";
  for (Slot slot : {Slot::kA, Slot::kB}) {
    if (!s.info(slot)) continue;
    auto bytes = store->read_slot(slot);
    if (!bytes) return fmt::format("slot {}: {}", to_string(slot), bytes.error().message);
    auto program = runtime::Program::load(*bytes, runtime::LoadOptions::reference());
    if (!program) return fmt::format("slot {} does not load: {}", to_string(slot), program.error().message);
    if (auto g = runtime::check_golden(*program); !g) return fmt::format("slot {}: {}", to_string(slot), g.error().message);
  }
  if (s.trial && s.trial->attempts_left > 3) return "a trial with more attempts than it was given";
  return "";
}

std::set<std::string> active_and_fallback(const SlotState& s) {
  std::set<std::string> out;
  if (s.active) out.insert(s.info(*s.active)->sha256);
  if (s.last_known_good) out.insert(s.info(*s.last_known_good)->sha256);
  return out;
}

TEST(PowerLoss, EveryCrashPointOfEveryFlowLeavesAWorkingDevice) {
  int points = 0, runs = 0, bricked = 0;
  for (const Flow& flow : flows()) {
    // Count the crash points, and learn the state before and after.
    testing::TempDir counted;
    prepare_dir(counted.path(), flow.setup);
    SlotState before = state_of(counted.path());
    int n = 0;
    ASSERT_TRUE(run_flow(counted.path(), flow, [&](std::string_view, const fs::path&) { ++n; })) << flow.name;
    SlotState after = state_of(counted.path());
    ASSERT_GT(n, 0) << flow.name;
    std::printf("  %-55s %2d crash points\n", flow.name.c_str(), n);
    points += n;
    std::set<std::string> allowed = active_and_fallback(before);
    allowed.merge(active_and_fallback(after));

    for (int k = 0; k < n; ++k) {
      for (bool torn : {false, true}) {
        testing::TempDir dir;
        prepare_dir(dir.path(), flow.setup);
        ::fflush(nullptr);
        pid_t pid = ::fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
          int seen = 0;
          auto status = run_flow(dir.path(), flow, [&](std::string_view step, const fs::path& file) {
            if (seen++ != k) return;
            if (torn) tear(step, file);
            ::_exit(kCrashExit);
          });
          ::_exit(status ? 0 : 1);
        }
        int wstatus = 0;
        ASSERT_EQ(::waitpid(pid, &wstatus, 0), pid);
        ASSERT_TRUE(WIFEXITED(wstatus));
        ASSERT_EQ(WEXITSTATUS(wstatus), kCrashExit) << flow.name << " did not reach crash point " << k;
        ++runs;
        std::string where = fmt::format("{}: crash point {} of {}{}", flow.name, k + 1, n, torn ? " (torn)" : "");
        std::string problem = check_restart(dir.path(), allowed, !before.active);
        EXPECT_EQ(problem, "") << where;
        if (!problem.empty()) ++bricked;
        if (flow.rerun_completes && problem.empty()) {
          // The update runs again after the restart (a trial the restart's watchdog step began
          // is a finished install: nothing to redo) and ends where the uninterrupted run did.
          SlotState now = state_of(dir.path());
          bool installed = now.active && now.info(*now.active)->sha256 == after.info(*after.active)->sha256;
          if (!installed) {
            auto rerun = run_flow(dir.path(), flow, {});
            EXPECT_TRUE(rerun) << where << ": the update does not complete after the restart: " << rerun.error().message;
          }
          SlotState done = state_of(dir.path());
          ASSERT_TRUE(done.active) << where;
          EXPECT_EQ(done.info(*done.active)->sha256, after.info(*after.active)->sha256) << where;
        }
      }
    }
  }
  std::printf("power loss: %d crash points in %zu flows, %d crash runs (clean and torn), %d bricked\n", points,
              flows().size(), runs, bricked);
  EXPECT_GE(points, 50);
  EXPECT_EQ(bricked, 0);
}

// A model that kills the process whenever it runs: every start spends an attempt, then dies.
// The watchdog must bring the last-known-good back on its own, with no network and no help.
TEST(PowerLoss, AModelThatCrashesTheProcessIsRevertedByTheWatchdog) {
  testing::TempDir dir;
  prepare_dir(dir.path(), Setup::kTrial);
  const std::string v1 = artifact(1).expected.sha256, v2 = artifact(2).expected.sha256;
  int starts = 0;
  bool reverted = false;
  while (!reverted && starts < 10) {
    ++starts;
    ::fflush(nullptr);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      auto storage = DirectoryStorage::open(dir.path());
      auto store = SlotStore::open(*storage);
      if (!store) ::_exit(2);
      testing::SteppingClock clock;
      Installer installer(*store, clock);
      auto start = installer.on_start();
      if (!start) ::_exit(2);
      auto program = installer.load_active();
      if (!program) ::_exit(2);
      const SlotState& s = installer.state();
      if (s.info(*s.active)->sha256 == v2) ::_exit(3);  // the bad model "crashes the process"
      ::_exit(start->action == StartAction::kReverted ? 0 : 4);
    }
    int wstatus = 0;
    ASSERT_EQ(::waitpid(pid, &wstatus, 0), pid);
    ASSERT_TRUE(WIFEXITED(wstatus));
    int code = WEXITSTATUS(wstatus);
    ASSERT_TRUE(code == 0 || code == 3) << "start " << starts << " exited " << code;
    reverted = code == 0;
  }
  EXPECT_TRUE(reverted);
  EXPECT_EQ(starts, 4);  // three attempts (InstallerOptions::trial_attempts) crash; the fourth start reverts
  SlotState s = state_of(dir.path());
  ASSERT_TRUE(s.active);
  EXPECT_EQ(s.info(*s.active)->sha256, v1);
  EXPECT_FALSE(s.trial);
  EXPECT_TRUE(s.info(Slot::kB)->failed);
}

}  // namespace
}  // namespace edgeloop::ota

#include "edgeloop/ota/updater.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/file.h>

#include <filesystem>
#include <fstream>

#include "edgeloop/base/file.h"
#include "ota/download_fakes.h"
#include "ota/test_server.h"
#include "ota/update_fixture.h"
#include "testing/result.h"

namespace edgeloop::ota {
namespace {

namespace fs = std::filesystem;
using testing::publish_target;
using testing::slot_artifact;
using testing::TestArtifact;
using testing::TestServer;


const TestArtifact& artifact(int version) {
  static const std::vector<TestArtifact> all = {slot_artifact(1), slot_artifact(2), slot_artifact(3)};
  return all.at(static_cast<size_t>(version - 1));
}

size_t files_in(const fs::path& dir) {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++n;
  return n;
}

// A device (slots + download folder) and a repository folder, served as a directory or over HTTP.
class UpdaterTest : public ::testing::Test {
 protected:
  UpdaterTest()
      : storage_(*DirectoryStorage::open(dir_.path() / "slots")),
        store_(*SlotStore::open(storage_)),
        installer_(store_, step_clock_),
        downloader_(clock_, clock_.sleeper(), conditions_) {
    options_.download.initial_backoff = std::chrono::milliseconds(1);
  }

  fs::path repo() const { return dir_.path() / "repo"; }
  fs::path work() const { return dir_.path() / "downloads"; }
  std::unique_ptr<Transport> directory() { return make_directory_transport(repo().string()); }
  TestServer& server() {
    if (!server_) server_ = std::make_unique<TestServer>(repo());
    return *server_;
  }

  void provision(int version) { ASSERT_TRUE(installer_.install(artifact(version).shared(), artifact(version).expected)); }

  Result<TargetInstallReport> install(Transport& transport, const testing::PublishedTarget& t) {
    return install_target(installer_, downloader_, transport, t.path, t.info, work(), options_);
  }

  const std::string& active_sha() const { return state().info(*state().active)->sha256; }
  const SlotState& state() const { return installer_.state(); }

  testing::TempDir dir_;
  DirectoryStorage storage_;
  SlotStore store_;
  testing::SteppingClock step_clock_;
  Installer installer_;
  testing::FakeClock clock_;
  FixedConditions conditions_;
  Downloader downloader_;
  FetchOptions options_;
  std::unique_ptr<TestServer> server_;
};

TEST_F(UpdaterTest, InstallsFromTheDeltaOfTheActiveModel) {
  provision(1);
  auto t = publish_target(repo(), artifact(2), {&artifact(1)});
  auto transport = directory();
  auto r = install(*transport, t);
  ASSERT_OK(r);
  ASSERT_TRUE(r->fetch.delta);
  EXPECT_EQ(r->fetch.delta->from_sha256, artifact(1).expected.sha256);
  EXPECT_EQ(r->fetch.bytes_downloaded, t.info.deltas[0].length);  // the patch, not the artifact
  EXPECT_TRUE(r->fetch.fallback_reason.empty());
  ASSERT_TRUE(r->fetch.apply);
  EXPECT_EQ(r->fetch.apply->target_bytes, artifact(2).bytes.size());
  EXPECT_EQ(active_sha(), artifact(2).expected.sha256);
  ASSERT_TRUE(state().trial);
  EXPECT_EQ(files_in(work()), 0u);  // nothing left behind once installed
}

TEST_F(UpdaterTest, ADeltaFromTheOtherSlotIsUsedToo) {
  provision(1);
  ASSERT_TRUE(installer_.install(artifact(2).shared(), artifact(2).expected));
  ASSERT_TRUE(installer_.mark_good());
  // Only a delta from v1, which is now the last-known-good, not the active model.
  auto t = publish_target(repo(), artifact(3), {&artifact(1)});
  auto transport = directory();
  auto r = install(*transport, t);
  ASSERT_OK(r);
  ASSERT_TRUE(r->fetch.delta);
  EXPECT_NE(r->fetch.delta_base.find("1"), std::string::npos) << r->fetch.delta_base;
  EXPECT_EQ(active_sha(), artifact(3).expected.sha256);
}

TEST_F(UpdaterTest, NoDeltaFromAModelTheDeviceHoldsMeansTheFullArtifact) {
  provision(3);
  auto t = publish_target(repo(), artifact(2), {&artifact(1)});
  auto transport = directory();
  auto r = install(*transport, t);
  ASSERT_OK(r);
  EXPECT_FALSE(r->fetch.delta);
  EXPECT_EQ(r->fetch.bytes_downloaded, artifact(2).bytes.size());
  EXPECT_NE(r->fetch.fallback_reason.find("none of the 1 listed deltas"), std::string::npos) << r->fetch.fallback_reason;
  EXPECT_EQ(active_sha(), artifact(2).expected.sha256);
}

TEST_F(UpdaterTest, DeltasCanBeTurnedOff) {
  provision(1);
  auto t = publish_target(repo(), artifact(2), {&artifact(1)});
  options_.use_deltas = false;
  auto transport = directory();
  auto r = install(*transport, t);
  ASSERT_OK(r);
  EXPECT_FALSE(r->fetch.delta);
  EXPECT_TRUE(r->fetch.fallback_reason.empty());
  EXPECT_EQ(r->fetch.bytes_downloaded, artifact(2).bytes.size());
}

TEST_F(UpdaterTest, ATamperedDeltaFallsBackToTheFullArtifact) {
  provision(1);
  auto t = publish_target(repo(), artifact(2), {&artifact(1)});
  // The server's copy of the patch is changed after signing: its hash no longer matches.
  auto patch = *read_file(repo() / t.info.deltas[0].path);
  patch[patch.size() / 2] ^= std::byte{0x5a};
  ASSERT_TRUE(write_file_durable(repo() / t.info.deltas[0].path, patch));
  auto transport = directory();
  auto r = install(*transport, t);
  ASSERT_OK(r);
  EXPECT_FALSE(r->fetch.delta);
  EXPECT_NE(r->fetch.fallback_reason.find("SHA-256"), std::string::npos) << r->fetch.fallback_reason;
  EXPECT_EQ(r->fetch.bytes_downloaded, t.info.deltas[0].length + artifact(2).bytes.size());
  EXPECT_EQ(active_sha(), artifact(2).expected.sha256);
  EXPECT_EQ(files_in(work()), 0u);
}

TEST_F(UpdaterTest, ASignedDeltaThatMakesAnotherModelFallsBack) {
  provision(1);
  // Listed (and hashed) as a delta to v2, but it makes v3: the applier refuses it before writing.
  auto v3 = publish_target(repo(), artifact(3), {&artifact(1)});
  auto t = publish_target(repo(), artifact(2));
  t.info.deltas = v3.info.deltas;
  auto transport = directory();
  auto r = install(*transport, t);
  ASSERT_OK(r);
  EXPECT_FALSE(r->fetch.delta);
  EXPECT_NE(r->fetch.fallback_reason.find("not the expected target"), std::string::npos) << r->fetch.fallback_reason;
  EXPECT_EQ(active_sha(), artifact(2).expected.sha256);
}

TEST_F(UpdaterTest, AMissingDeltaFallsBack) {
  provision(1);
  auto t = publish_target(repo(), artifact(2), {&artifact(1)});
  fs::remove(repo() / t.info.deltas[0].path);
  auto transport = directory();
  auto r = install(*transport, t);
  ASSERT_OK(r);
  EXPECT_FALSE(r->fetch.delta);
  EXPECT_FALSE(r->fetch.fallback_reason.empty());
  EXPECT_EQ(active_sha(), artifact(2).expected.sha256);
}

TEST_F(UpdaterTest, APolicyDeferralIsReturnedNotFallenBackFrom) {
  provision(1);
  auto t = publish_target(repo(), artifact(2), {&artifact(1)});
  conditions_.is_metered = true;
  auto transport = directory();
  auto r = install(*transport, t);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kDeferred) << r.error().message;
  EXPECT_EQ(active_sha(), artifact(1).expected.sha256);
  EXPECT_FALSE(state().trial);
  conditions_.is_metered = false;
  ASSERT_OK(install(*transport, t));
  EXPECT_EQ(active_sha(), artifact(2).expected.sha256);
}

// The server refuses the delta (a 403 from a CDN's access rule, a 500 from a broken origin) but
// serves the artifact: the device installs the full artifact, the delta never blocks it.
TEST_F(UpdaterTest, ADeltaTheServerRefusesFallsBackToTheFullArtifact) {
  provision(1);
  int version = 1;
  for (int status : {500, 403}) {
    SCOPED_TRACE(status);
    ++version;  // v2 from v1 against a 500, then v3 from v2 against a 403
    auto t = publish_target(repo(), artifact(version), {&artifact(version - 1)});
    const auto& d = t.info.deltas[0];
    server().on("/" + d.path, TestServer::status(status, "no"));
    auto http = make_http_transport(server().url());
    auto r = install(*http, t);
    ASSERT_OK(r);
    EXPECT_FALSE(r->fetch.delta);
    EXPECT_NE(r->fetch.fallback_reason.find(std::to_string(status)), std::string::npos) << r->fetch.fallback_reason;
    EXPECT_EQ(r->fetch.bytes_downloaded, artifact(version).bytes.size());
    EXPECT_EQ(active_sha(), artifact(version).expected.sha256);
    ASSERT_TRUE(state().trial);
    EXPECT_EQ(files_in(work()), 0u);  // the delta's partial file is gone too
    EXPECT_GE(server().request_count("/" + d.path), 1u);
    EXPECT_EQ(server().request_count("/" + t.path), 1u);
    ASSERT_TRUE(installer_.mark_good());
  }
}

// Another download holds the delta's partial file (its lock): not a reason to wait, the full
// artifact comes instead, and the other download's partial file is left to it.
TEST_F(UpdaterTest, ADeltaLockedByAnotherDownloadFallsBackAndLeavesItsPartialAlone) {
  provision(1);
  auto t = publish_target(repo(), artifact(2), {&artifact(1)});
  const fs::path partial = Downloader::partial_path(work() / (t.info.sha256 + ".edge.delta"));
  fs::create_directories(work());
  ASSERT_TRUE(write_file_durable(partial, as_bytes("abc")));
  UniqueFd held(::open(partial.c_str(), O_RDWR | O_CLOEXEC));
  ASSERT_GE(held.get(), 0);
  ASSERT_EQ(::flock(held.get(), LOCK_EX | LOCK_NB), 0);
  auto transport = directory();
  auto r = install(*transport, t);
  ASSERT_OK(r);
  EXPECT_FALSE(r->fetch.delta);
  EXPECT_NE(r->fetch.fallback_reason.find("locked"), std::string::npos) << r->fetch.fallback_reason;
  EXPECT_EQ(active_sha(), artifact(2).expected.sha256);
  EXPECT_TRUE(fs::exists(partial));
}

TEST_F(UpdaterTest, ADroppedDeltaDownloadResumesOnTheNextCallWhenTheFullOneFailsToo) {
  provision(1);
  auto t = publish_target(repo(), artifact(2), {&artifact(1)});
  const auto& d = t.info.deltas[0];
  auto patch = *read_file(repo() / d.path);
  ASSERT_GT(patch.size(), 16u);
  const size_t cut = patch.size() / 2;
  // The network goes down mid-patch: the patch is cut, and the full artifact does not come either.
  server().on("/" + d.path, TestServer::ranged(std::string(reinterpret_cast<const char*>(patch.data()), patch.size()), cut));
  server().on("/" + t.path, TestServer::status(503));
  options_.download.max_attempts = 1;
  auto http = make_http_transport(server().url());
  auto first = install(*http, t);
  ASSERT_FALSE(first.has_value());
  EXPECT_EQ(first.error().code, ErrorCode::kIo) << first.error().message;
  EXPECT_NE(first.error().message.find("the delta from"), std::string::npos) << first.error().message;
  EXPECT_EQ(server().request_count("/" + t.path), 1u);  // the full artifact was tried
  EXPECT_EQ(active_sha(), artifact(1).expected.sha256);
  EXPECT_EQ(fs::file_size(Downloader::partial_path(work() / (t.info.sha256 + ".edge.delta"))), cut);

  server().remove("/" + d.path);  // the network is back
  server().remove("/" + t.path);
  auto second = install(*http, t);
  ASSERT_OK(second);
  ASSERT_TRUE(second->fetch.delta);
  EXPECT_EQ(second->fetch.resumed_from, cut);
  EXPECT_EQ(second->fetch.bytes_downloaded, patch.size() - cut);
  EXPECT_EQ(active_sha(), artifact(2).expected.sha256);
}

TEST_F(UpdaterTest, AVerifiedArtifactFromACrashedRunIsInstalledWithoutADownload) {
  provision(1);
  auto t = publish_target(repo(), artifact(2), {&artifact(1)});
  fs::create_directories(work());
  ASSERT_TRUE(write_file_durable(work() / (t.info.sha256 + ".edge"), artifact(2).bytes));
  // And what an update of another target left behind.
  ASSERT_TRUE(write_file_durable(work() / "0123.edge.partial", artifact(3).bytes));
  auto transport = directory();
  auto r = install(*transport, t);
  ASSERT_OK(r);
  EXPECT_TRUE(r->fetch.already_there);
  EXPECT_EQ(r->fetch.bytes_downloaded, 0u);
  EXPECT_EQ(active_sha(), artifact(2).expected.sha256);
  EXPECT_EQ(files_in(work()), 0u);
}

TEST_F(UpdaterTest, ARecalledModelStillInItsSlotIsReinstalledWithoutADownload) {
  provision(1);
  auto t = publish_target(repo(), artifact(2), {&artifact(1)});
  auto transport = directory();
  ASSERT_OK(install(*transport, t));
  // Recalled (the rollout pins back to v1): a flip; v2's bytes stay in slot b.
  ASSERT_EQ(*installer_.reconcile({artifact(1).expected.sha256, "1", ""}), ReconcileAction::kFlippedToLastKnownGood);
  ASSERT_EQ(active_sha(), artifact(1).expected.sha256);
  fs::remove_all(repo());  // nothing could be downloaded now
  auto again = install(*transport, t);
  ASSERT_OK(again);
  EXPECT_TRUE(again->fetch.already_there);
  EXPECT_NE(again->fetch.local_source.find("slot b"), std::string::npos) << again->fetch.local_source;
  EXPECT_EQ(again->fetch.bytes_downloaded, 0u);
  EXPECT_EQ(active_sha(), artifact(2).expected.sha256);
  ASSERT_TRUE(state().trial);
  auto program = installer_.load_active();
  ASSERT_OK(program);
}

TEST_F(UpdaterTest, AWrongFileWhereTheArtifactGoesIsReplaced) {
  provision(1);
  auto t = publish_target(repo(), artifact(2), {&artifact(1)});
  fs::create_directories(work());
  ASSERT_TRUE(write_file_durable(work() / (t.info.sha256 + ".edge"), artifact(3).bytes));
  auto transport = directory();
  auto r = install(*transport, t);
  ASSERT_OK(r);
  EXPECT_FALSE(r->fetch.already_there);
  EXPECT_TRUE(r->fetch.delta);
  EXPECT_EQ(active_sha(), artifact(2).expected.sha256);
}

TEST_F(UpdaterTest, AnArtifactThatFailsItsSmokeTestIsNotInstalled) {
  provision(1);
  TestArtifact broken = slot_artifact(2, /*break_golden=*/true);
  auto t = publish_target(repo(), broken, {&artifact(1)});
  auto transport = directory();
  auto r = install(*transport, t);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("smoke test"), std::string::npos) << r.error().message;
  EXPECT_EQ(active_sha(), artifact(1).expected.sha256);
  EXPECT_FALSE(state().trial);
}

}  // namespace
}  // namespace edgeloop::ota

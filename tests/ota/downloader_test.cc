#include "edgeloop/ota/downloader.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "edgeloop/base/hash.h"
#include "edgeloop/ota/download_policy.h"
#include "edgeloop/ota/transport.h"
#include "ota/download_fakes.h"
#include "ota/test_server.h"
#include "testing/result.h"

namespace edgeloop::ota {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using std::chrono::seconds;
using testing::TestServer;

constexpr const char* kPath = "targets/model.edge";
constexpr const char* kUrlPath = "/targets/model.edge";

using testing::FakeClock;


std::string random_content(size_t size, unsigned seed = 1) {
  std::mt19937 rng(seed);
  std::string s(size, '\0');
  for (char& c : s) c = static_cast<char>(rng() & 0xff);
  return s;
}

Sha256 hash_of(const std::string& s) { return sha256(as_bytes(s)); }

std::string read(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write(const fs::path& path, const std::string& content) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << content;
}

class DownloaderTest : public ::testing::Test {
 protected:
  DownloaderTest() {
    std::random_device rd;
    dir_ = fs::temp_directory_path() / ("edgeloop-download-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
    fs::create_directories(dir_ / "repo");
    fs::create_directories(dir_ / "device");
    options_.initial_backoff = milliseconds(1000);
  }
  ~DownloaderTest() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // The artifact in the repository folder, served over HTTP by server().
  void publish(const std::string& content) { write(dir_ / "repo" / kPath, content); }
  TestServer& server() {
    if (!server_) server_ = std::make_unique<TestServer>(dir_ / "repo");
    return *server_;
  }
  std::unique_ptr<Transport> http() { return make_http_transport(server().url()); }
  std::unique_ptr<Transport> directory() { return make_directory_transport((dir_ / "repo").string()); }
  fs::path dest() const { return dir_ / "device" / "model.edge"; }
  fs::path partial() const { return Downloader::partial_path(dest()); }

  Result<DownloadReport> download(Transport& transport, const std::string& content) {
    Downloader downloader(clock_, clock_.sleeper(), conditions_);
    return downloader.download(transport, kPath, content.size(), hash_of(content), dest(), options_);
  }

  fs::path dir_;
  std::unique_ptr<TestServer> server_;
  FakeClock clock_;
  FixedConditions conditions_;
  DownloadOptions options_;
};


TEST_F(DownloaderTest, FullDownloadOverHttp) {
  const std::string content = random_content(300 * 1024);
  publish(content);
  auto transport = http();
  std::vector<uint64_t> progress;
  options_.on_progress = [&](uint64_t done, uint64_t total) {
    EXPECT_EQ(total, content.size());
    progress.push_back(done);
  };
  auto report = download(*transport, content);
  ASSERT_OK(report);
  EXPECT_EQ(read(dest()), content);
  EXPECT_FALSE(fs::exists(partial()));
  EXPECT_EQ(report->transfers, 1);
  EXPECT_EQ(report->resumed_from, 0u);
  EXPECT_EQ(report->bytes_fetched, content.size());
  EXPECT_FALSE(report->restarted);
  EXPECT_EQ(server().ranges(kUrlPath), std::vector<std::string>{""});  // a plain GET
  ASSERT_FALSE(progress.empty());
  EXPECT_TRUE(std::is_sorted(progress.begin(), progress.end()));
  EXPECT_EQ(progress.back(), content.size());
  EXPECT_TRUE(clock_.sleeps.empty());
}

TEST_F(DownloaderTest, ResumesWithARangeAfterTheServerDropsTheConnection) {
  const std::string content = random_content(250 * 1024);
  server().on(kUrlPath, TestServer::ranged(content, 100 * 1024));  // hangs up after 100 KiB each time
  auto transport = http();
  auto report = download(*transport, content);
  ASSERT_OK(report);
  EXPECT_EQ(read(dest()), content);
  EXPECT_EQ(report->transfers, 3);
  EXPECT_EQ(server().ranges(kUrlPath), (std::vector<std::string>{"", "bytes=102400-", "bytes=204800-"}));
  // Each failed transfer had made progress: the backoff starts again at its first step.
  EXPECT_EQ(clock_.sleeps, (std::vector<nanoseconds>{seconds(1), seconds(1)}));
}

TEST_F(DownloaderTest, PartialFileSurvivesARestartAndANewDownloaderResumesFromIt) {
  const std::string content = random_content(200 * 1024);
  publish(content);
  server().on(kUrlPath, TestServer::ranged(content, 120 * 1024));
  options_.max_attempts = 1;
  auto transport = http();
  auto first = download(*transport, content);
  ASSERT_FALSE(first.has_value());
  EXPECT_EQ(first.error().code, ErrorCode::kIo) << first.error().message;
  EXPECT_FALSE(fs::exists(dest()));
  ASSERT_EQ(fs::file_size(partial()), 120u * 1024);

  // "Restart": a new Downloader (and transport); the server now serves the file itself.
  server().remove(kUrlPath);
  auto transport2 = http();
  auto second = download(*transport2, content);
  ASSERT_OK(second);
  EXPECT_EQ(read(dest()), content);
  EXPECT_EQ(second->resumed_from, 120u * 1024);
  EXPECT_EQ(second->bytes_fetched, 80u * 1024);
  EXPECT_EQ(server().ranges(kUrlPath), (std::vector<std::string>{"", "bytes=122880-"}));
}

TEST_F(DownloaderTest, CorruptedPartialPrefixIsCaughtByTheHashAndRestartedOnce) {
  const std::string content = random_content(200 * 1024);
  publish(content);
  std::string prefix = content.substr(0, 64 * 1024);
  prefix[1000] = static_cast<char>(prefix[1000] ^ 0x5a);  // a torn write before a crash
  write(partial(), prefix);
  auto transport = http();
  auto report = download(*transport, content);
  ASSERT_OK(report);
  EXPECT_EQ(read(dest()), content);
  EXPECT_TRUE(report->restarted);
  EXPECT_EQ(report->resumed_from, 64u * 1024);
  EXPECT_EQ(server().ranges(kUrlPath), (std::vector<std::string>{"bytes=65536-", ""}));
}

TEST_F(DownloaderTest, ServerIgnoringTheRangeIsHandledBySkipping) {
  const std::string content = random_content(200 * 1024);
  write(partial(), content.substr(0, 100 * 1024));
  server().on(kUrlPath, TestServer::ranged(content, static_cast<size_t>(-1), /*honor_range=*/false));
  auto transport = http();
  auto report = download(*transport, content);
  ASSERT_OK(report);
  EXPECT_EQ(read(dest()), content);
  EXPECT_FALSE(report->restarted);
  EXPECT_EQ(report->bytes_fetched, 100u * 1024);  // the first 100 KiB of the 200 were skipped
  EXPECT_EQ(server().ranges(kUrlPath), std::vector<std::string>{"bytes=102400-"});
}

TEST_F(DownloaderTest, SourceLongerThanExpectedIsOutOfRangeWithoutRetry) {
  const std::string content = random_content(100 * 1024);
  publish(content + "and then some");
  auto transport = http();
  auto report = download(*transport, content);
  ASSERT_FALSE(report.has_value());
  EXPECT_EQ(report.error().code, ErrorCode::kOutOfRange) << report.error().message;
  EXPECT_FALSE(fs::exists(dest()));
  EXPECT_EQ(server().request_count(kUrlPath), 1u);
  EXPECT_LE(fs::file_size(partial()), content.size());  // never more than expected on disk
}

TEST_F(DownloaderTest, WrongHashIsCorruptAndWritesNothing) {
  const std::string content = random_content(100 * 1024);
  publish(content);
  auto transport = http();
  Downloader downloader(clock_, clock_.sleeper(), conditions_);
  auto report = downloader.download(*transport, kPath, content.size(), hash_of("something else"), dest(), options_);
  ASSERT_FALSE(report.has_value());
  EXPECT_EQ(report.error().code, ErrorCode::kCorrupt) << report.error().message;
  EXPECT_NE(report.error().message.find("SHA-256"), std::string::npos) << report.error().message;
  EXPECT_FALSE(fs::exists(dest()));
  EXPECT_FALSE(fs::exists(partial()));
  // Fetched in one piece from byte 0: nothing to gain from fetching it again.
  EXPECT_EQ(server().request_count(kUrlPath), 1u);
}

TEST_F(DownloaderTest, WrongHashAfterAResumeRestartsOnceThenGivesUp) {
  const std::string content = random_content(100 * 1024);
  publish(content);
  write(partial(), content.substr(0, 10 * 1024));
  auto transport = http();
  Downloader downloader(clock_, clock_.sleeper(), conditions_);
  auto report = downloader.download(*transport, kPath, content.size(), hash_of("wrong"), dest(), options_);
  ASSERT_FALSE(report.has_value());
  EXPECT_EQ(report.error().code, ErrorCode::kCorrupt);
  EXPECT_NE(report.error().message.find("after a restart"), std::string::npos) << report.error().message;
  EXPECT_EQ(server().ranges(kUrlPath), (std::vector<std::string>{"bytes=10240-", ""}));
  EXPECT_FALSE(fs::exists(dest()));
  EXPECT_FALSE(fs::exists(partial()));
}

TEST_F(DownloaderTest, PartialLongerThanTheFileIsDiscarded) {
  const std::string content = random_content(10 * 1024);
  publish(content);
  write(partial(), content + "junk");
  auto transport = directory();
  auto report = download(*transport, content);
  ASSERT_OK(report);
  EXPECT_EQ(report->resumed_from, 0u);
  EXPECT_EQ(read(dest()), content);
}

TEST_F(DownloaderTest, FailingTransfersAreRetriedWithGrowingBackoffThenGiveUp) {
  const std::string content = random_content(1024);
  server().on(kUrlPath, TestServer::status(503));
  options_.max_attempts = 3;
  auto transport = http();
  auto report = download(*transport, content);
  ASSERT_FALSE(report.has_value());
  EXPECT_EQ(report.error().code, ErrorCode::kIo);
  EXPECT_NE(report.error().message.find("3 transfers in a row failed"), std::string::npos) << report.error().message;
  EXPECT_EQ(server().request_count(kUrlPath), 3u);
  EXPECT_EQ(clock_.sleeps, (std::vector<nanoseconds>{seconds(1), seconds(2)}));
}

TEST_F(DownloaderTest, MissingFileIsNotFoundAtOnce) {
  auto transport = http();
  auto report = download(*transport, "whatever");
  ASSERT_FALSE(report.has_value());
  EXPECT_EQ(report.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(server().request_count(kUrlPath), 1u);
}

TEST_F(DownloaderTest, BandwidthCapSleepsBytesOverRate) {
  // 640 KiB at 64 KiB/s with a one-second bucket: the first 64 KiB are free, the rest take 9 s.
  const std::string content = random_content(640 * 1024);
  publish(content);
  options_.max_bytes_per_second = 64 * 1024;
  for (const bool over_http : {false, true}) {
    SCOPED_TRACE(over_http ? "http" : "directory");
    clock_.sleeps.clear();
    fs::remove(dest());
    auto transport = over_http ? http() : directory();
    auto report = download(*transport, content);
    ASSERT_OK(report);
    EXPECT_EQ(read(dest()), content);
    const auto total = clock_.total_sleep();
    EXPECT_GE(total, seconds(9));
    EXPECT_LE(total, seconds(9) + milliseconds(1));
    EXPECT_EQ(report->slept, total);
    for (auto d : clock_.sleeps) EXPECT_LE(d, seconds(1) + milliseconds(1));  // no chunk above 64 KiB
  }
}

TEST_F(DownloaderTest, BurstLetsTheFirstBytesThrough) {
  const std::string content = random_content(256 * 1024);
  publish(content);
  options_.max_bytes_per_second = 64 * 1024;
  options_.burst_bytes = 256 * 1024;
  auto transport = directory();
  ASSERT_OK(download(*transport, content));
  EXPECT_TRUE(clock_.sleeps.empty());
}

TEST_F(DownloaderTest, MeteredNetworkDefersBeforeAnyRequest) {
  const std::string content = random_content(1024);
  publish(content);
  conditions_.is_metered = true;
  auto transport = http();
  auto report = download(*transport, content);
  ASSERT_FALSE(report.has_value());
  EXPECT_EQ(report.error().code, ErrorCode::kDeferred);
  EXPECT_NE(report.error().message.find("deferred: on a metered network"), std::string::npos)
      << report.error().message;
  EXPECT_TRUE(server().requests().empty());
  options_.policy.allow_metered = true;
  ASSERT_OK(download(*transport, content));
}

TEST_F(DownloaderTest, NetworkTurningMeteredMidDownloadDefersAndKeepsThePartial) {
  const std::string content = random_content(512 * 1024);
  publish(content);
  options_.policy_check_bytes = 32 * 1024;
  options_.on_progress = [&](uint64_t done, uint64_t) {
    if (done >= 128 * 1024) conditions_.is_metered = true;  // Wi-Fi lost, now on cellular
  };
  auto transport = http();
  auto first = download(*transport, content);
  ASSERT_FALSE(first.has_value());
  EXPECT_EQ(first.error().code, ErrorCode::kDeferred) << first.error().message;
  EXPECT_NE(first.error().message.find("metered"), std::string::npos);
  EXPECT_FALSE(fs::exists(dest()));
  const auto kept = fs::file_size(partial());
  EXPECT_GE(kept, 128u * 1024);
  EXPECT_LT(kept, content.size());

  conditions_.is_metered = false;  // back on Wi-Fi
  options_.on_progress = nullptr;
  auto second = download(*transport, content);
  ASSERT_OK(second);
  EXPECT_EQ(second->resumed_from, kept);
  EXPECT_EQ(read(dest()), content);
  EXPECT_EQ(server().ranges(kUrlPath).back(), "bytes=" + std::to_string(kept) + "-");
}

TEST_F(DownloaderTest, ChargingRequirementAndLowBattery) {
  const std::string content = random_content(4096);
  publish(content);
  auto transport = directory();
  options_.policy.require_charging = true;
  auto report = download(*transport, content);
  ASSERT_FALSE(report.has_value());
  EXPECT_EQ(report.error().code, ErrorCode::kDeferred);
  EXPECT_NE(report.error().message.find("charg"), std::string::npos) << report.error().message;
  conditions_.is_charging = true;
  ASSERT_OK(download(*transport, content));
}

TEST(DownloadPolicy, EachConditionDefersWithItsReason) {
  FixedConditions c;
  DownloadPolicy p;
  EXPECT_TRUE(check_download_policy(p, c).has_value());
  c.is_metered = true;
  auto metered = check_download_policy(p, c);
  ASSERT_FALSE(metered.has_value());
  EXPECT_EQ(metered.error().code, ErrorCode::kDeferred);
  EXPECT_EQ(metered.error().message.rfind("deferred: on a metered network", 0), 0u);
  p.allow_metered = true;
  EXPECT_TRUE(check_download_policy(p, c).has_value());
  c.battery = 10;  // below 20 %, not charging
  auto low = check_download_policy(p, c);
  ASSERT_FALSE(low.has_value());
  EXPECT_NE(low.error().message.find("battery at 10%"), std::string::npos) << low.error().message;
  c.is_charging = true;  // a low battery on the charger is fine
  EXPECT_TRUE(check_download_policy(p, c).has_value());
  c.is_charging = false;
  c.battery = -1;  // no battery at all (mains-powered)
  EXPECT_TRUE(check_download_policy(p, c).has_value());
  p.require_charging = true;
  EXPECT_FALSE(check_download_policy(p, c).has_value());
}

TEST_F(DownloaderTest, ResumesOverTheDirectoryTransport) {
  const std::string content = random_content(100 * 1024);
  publish(content);
  write(partial(), content.substr(0, 30 * 1024));
  auto transport = directory();
  auto report = download(*transport, content);
  ASSERT_OK(report);
  EXPECT_EQ(report->resumed_from, 30u * 1024);
  EXPECT_EQ(report->bytes_fetched, 70u * 1024);
  EXPECT_EQ(read(dest()), content);
}

TEST_F(DownloaderTest, ASecondDownloadOfTheSameFileIsRefusedWhileTheFirstRuns) {
  const std::string content = random_content(64 * 1024);
  publish(content);
  auto transport = directory();
  bool checked = false;
  options_.on_progress = [&](uint64_t, uint64_t) {
    if (checked) return;
    checked = true;
    FakeClock clock;
    Downloader other(clock, clock.sleeper(), conditions_);
    auto report = other.download(*transport, kPath, content.size(), hash_of(content), dest());
    ASSERT_FALSE(report.has_value());
    EXPECT_EQ(report.error().code, ErrorCode::kFailedPrecondition) << report.error().message;
  };
  ASSERT_OK(download(*transport, content));
  EXPECT_TRUE(checked);
}

}  // namespace
}  // namespace edgeloop::ota

#include "edgeloop/ota/transport.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <string>

#include "ota/test_server.h"

namespace edgeloop::ota {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;
using testing::TestServer;

std::string as_string(const std::vector<std::byte>& bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ =
        fs::temp_directory_path() / ("edgeloop-transport-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }
  void write(const std::string& relative, const std::string& content) const {
    const fs::path file = path_ / relative;
    fs::create_directories(file.parent_path());
    std::ofstream(file, std::ios::binary) << content;
  }

 private:
  fs::path path_;
};

// The same repository served both ways: every shared case runs against both transports.
enum class Kind { kDirectory, kHttp };

class TransportTest : public ::testing::TestWithParam<Kind> {
 protected:
  void SetUp() override {
    dir_.write("metadata/exact.json", std::string(100, 'e'));
    dir_.write("metadata/big.json", std::string(101, 'b'));
    dir_.write("empty", "");
    dir_.write("targets/a b%?#.edge", "odd name");
    if (GetParam() == Kind::kHttp) {
      server_ = std::make_unique<TestServer>(dir_.path());
      transport_ = make_http_transport(server_->url());
    } else {
      transport_ = make_directory_transport(dir_.path().string());
    }
  }

  TempDir dir_;
  std::unique_ptr<TestServer> server_;
  std::unique_ptr<Transport> transport_;
};

TEST_P(TransportTest, FileOfExactlyTheCapIsReturned) {
  auto bytes = transport_->fetch("metadata/exact.json", 100);
  ASSERT_TRUE(bytes.has_value()) << bytes.error().message;
  EXPECT_EQ(as_string(*bytes), std::string(100, 'e'));
}

TEST_P(TransportTest, FileOverTheCapIsOutOfRangeNamingPathAndCap) {
  auto bytes = transport_->fetch("metadata/big.json", 100);
  ASSERT_FALSE(bytes.has_value());
  EXPECT_EQ(bytes.error().code, ErrorCode::kOutOfRange);
  EXPECT_NE(bytes.error().message.find("metadata/big.json"), std::string::npos) << bytes.error().message;
  EXPECT_NE(bytes.error().message.find("100"), std::string::npos) << bytes.error().message;
}

TEST_P(TransportTest, EmptyFileUnderZeroCap) {
  auto bytes = transport_->fetch("empty", 0);
  ASSERT_TRUE(bytes.has_value()) << bytes.error().message;
  EXPECT_TRUE(bytes->empty());
  auto over = transport_->fetch("metadata/exact.json", 0);
  ASSERT_FALSE(over.has_value());
  EXPECT_EQ(over.error().code, ErrorCode::kOutOfRange);
}

TEST_P(TransportTest, MissingFileIsNotFound) {
  auto bytes = transport_->fetch("metadata/2.root.json", 1000);
  ASSERT_FALSE(bytes.has_value());
  EXPECT_EQ(bytes.error().code, ErrorCode::kNotFound) << bytes.error().message;
  EXPECT_NE(bytes.error().message.find("metadata/2.root.json"), std::string::npos) << bytes.error().message;
}

TEST_P(TransportTest, NameWithSpacesAndUrlCharactersIsTheSameFile) {
  auto bytes = transport_->fetch("targets/a b%?#.edge", 1000);
  ASSERT_TRUE(bytes.has_value()) << bytes.error().message;
  EXPECT_EQ(as_string(*bytes), "odd name");
}

TEST_P(TransportTest, PathTraversalAndMalformedPathsAreRefused) {
  dir_.write("../outside.json", "secret");  // beside the repository: must stay out of reach
  for (std::string_view bad :
       {"", "/etc/passwd", "../outside.json", "metadata/../../outside.json", "..", "a/..", "./metadata/exact.json",
        "metadata//exact.json", "metadata/", "metadata\\exact.json", "..\\outside.json"}) {
    auto bytes = transport_->fetch(bad, 1000);
    ASSERT_FALSE(bytes.has_value()) << bad;
    EXPECT_EQ(bytes.error().code, ErrorCode::kInvalidArgument) << bad << ": " << bytes.error().message;
  }
  const std::string with_nul("metadata/exact.json\0x", 21);
  auto bytes = transport_->fetch(with_nul, 1000);
  ASSERT_FALSE(bytes.has_value());
  EXPECT_EQ(bytes.error().code, ErrorCode::kInvalidArgument);
  if (server_) {
    EXPECT_TRUE(server_->requests().empty()) << "a refused path must not reach the network";
  }
  std::error_code ec;
  fs::remove(dir_.path().parent_path() / "outside.json", ec);
}

// --- Ranged fetches (fetch_to) ---------------------------------------------------------------

Result<std::string> fetch_range(Transport& t, std::string_view path, uint64_t offset, uint64_t max_bytes) {
  std::string got;
  EL_CHECK(t.fetch_to(path, offset, max_bytes, [&](ByteSpan chunk) {
    got += as_chars(chunk);
    return ok();
  }));
  return got;
}

TEST_P(TransportTest, FetchToDeliversFromTheOffset) {
  dir_.write("targets/digits", "0123456789");
  auto tail = fetch_range(*transport_, "targets/digits", 3, 7);
  ASSERT_TRUE(tail.has_value()) << tail.error().message;
  EXPECT_EQ(*tail, "3456789");
  auto whole = fetch_range(*transport_, "targets/digits", 0, 10);
  ASSERT_TRUE(whole.has_value()) << whole.error().message;
  EXPECT_EQ(*whole, "0123456789");
  if (server_) {
    const auto ranges = server_->ranges("/targets/digits");
    ASSERT_EQ(ranges.size(), 2u);
    EXPECT_EQ(ranges[0], "bytes=3-");
    EXPECT_EQ(ranges[1], "");  // offset 0: a plain GET, exactly as fetch() sends
  }
}

TEST_P(TransportTest, FetchToAtTheEndIsEmptyAndPastItOutOfRange) {
  dir_.write("targets/digits", "0123456789");
  auto at_end = fetch_range(*transport_, "targets/digits", 10, 100);
  ASSERT_TRUE(at_end.has_value()) << at_end.error().message;
  EXPECT_EQ(*at_end, "");
  auto past = fetch_range(*transport_, "targets/digits", 11, 100);
  ASSERT_FALSE(past.has_value());
  EXPECT_EQ(past.error().code, ErrorCode::kOutOfRange) << past.error().message;
}

TEST_P(TransportTest, FetchToCapsTheBytesAfterTheOffset) {
  dir_.write("targets/digits", "0123456789");
  std::string got;
  auto status = transport_->fetch_to("targets/digits", 3, 6, [&](ByteSpan chunk) {
    got += as_chars(chunk);
    return ok();
  });
  ASSERT_FALSE(status.has_value());
  EXPECT_EQ(status.error().code, ErrorCode::kOutOfRange) << status.error().message;
  EXPECT_LE(got.size(), 6u);
  auto exact = fetch_range(*transport_, "targets/digits", 3, 7);
  ASSERT_TRUE(exact.has_value()) << exact.error().message;
}

TEST_P(TransportTest, FetchToStopsWithTheSinksErrorUnchanged) {
  dir_.write("targets/big", std::string(1 << 20, 'z'));
  int calls = 0;
  auto status = transport_->fetch_to("targets/big", 0, 1 << 20, [&](ByteSpan) -> Status {
    ++calls;
    return make_error(ErrorCode::kDeferred, "deferred: on a metered network");
  });
  ASSERT_FALSE(status.has_value());
  EXPECT_EQ(status.error().code, ErrorCode::kDeferred);
  EXPECT_EQ(status.error().message, "deferred: on a metered network");
  EXPECT_EQ(calls, 1);
}

TEST_P(TransportTest, FetchToMissingFileAndBadPathAsFetch) {
  auto missing = fetch_range(*transport_, "targets/none", 5, 10);
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  auto bad = fetch_range(*transport_, "../x", 5, 10);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
}

INSTANTIATE_TEST_SUITE_P(BothTransports, TransportTest, ::testing::Values(Kind::kDirectory, Kind::kHttp),
                         [](const ::testing::TestParamInfo<Kind>& p) {
                           return p.param == Kind::kHttp ? "Http" : "Directory";
                         });

TEST(ValidateRepositoryPath, AcceptsOrdinaryNames) {
  EXPECT_TRUE(validate_repository_path("metadata/1.root.json").has_value());
  EXPECT_TRUE(validate_repository_path("targets/0123abcd.mobilenet.edge").has_value());
  EXPECT_TRUE(validate_repository_path("..hidden/x..y").has_value());  // dots inside a name are fine
}

// --- Directory transport ---------------------------------------------------------------------

TEST(DirectoryTransport, RefusesFifoWithoutBlocking) {
  TempDir dir;
  ASSERT_EQ(::mkfifo((dir.path() / "pipe").c_str(), 0600), 0);
  auto bytes = make_directory_transport(dir.path().string())->fetch("pipe", 1000);
  ASSERT_FALSE(bytes.has_value());
  EXPECT_EQ(bytes.error().code, ErrorCode::kIo);
  EXPECT_NE(bytes.error().message.find("not a regular file"), std::string::npos) << bytes.error().message;
}

TEST(DirectoryTransport, RefusesDeviceBehindSymlink) {
  TempDir dir;
  fs::create_symlink("/dev/zero", dir.path() / "zero");
  auto bytes = make_directory_transport(dir.path().string())->fetch("zero", 1000);
  ASSERT_FALSE(bytes.has_value());
  EXPECT_EQ(bytes.error().code, ErrorCode::kIo);
}

TEST(DirectoryTransport, CapHoldsWhenSizeOnDiskLies) {
  // /proc files report st_size 0 but have content: the read loop, not fstat, enforces the cap.
  TempDir dir;
  fs::create_symlink("/proc/self/maps", dir.path() / "maps");
  auto transport = make_directory_transport(dir.path().string());
  auto bytes = transport->fetch("maps", 16);
  ASSERT_FALSE(bytes.has_value());
  EXPECT_EQ(bytes.error().code, ErrorCode::kOutOfRange) << bytes.error().message;
  auto whole = transport->fetch("maps", 1 << 20);
  ASSERT_TRUE(whole.has_value()) << whole.error().message;
  EXPECT_GT(whole->size(), 16u);
}

TEST(DirectoryTransport, DirectoryIsNotAFile) {
  TempDir dir;
  dir.write("metadata/root.json", "{}");
  auto bytes = make_directory_transport(dir.path().string())->fetch("metadata", 1000);
  ASSERT_FALSE(bytes.has_value());
  EXPECT_EQ(bytes.error().code, ErrorCode::kIo);
}

TEST(DirectoryTransport, VanishedRootIsIoNotNotFound) {
  // kNotFound ends the root chain; an unplugged card must not look like "no newer root".
  std::string root;
  {
    TempDir dir;
    root = dir.path().string();
  }
  auto bytes = make_directory_transport(root)->fetch("metadata/2.root.json", 1000);
  ASSERT_FALSE(bytes.has_value());
  EXPECT_EQ(bytes.error().code, ErrorCode::kIo) << bytes.error().message;
}

TEST(DirectoryTransport, DescribeIsAFileUrl) {
  TempDir dir;
  EXPECT_EQ(make_directory_transport(dir.path().string())->describe(), "file://" + dir.path().string());
}

// --- HTTP transport against hostile servers ----------------------------------------------------

HttpOptions short_timeouts() {
  HttpOptions options;
  options.connect_timeout = milliseconds(1000);
  options.total_timeout = milliseconds(300);
  options.low_speed_window = milliseconds(1000);
  return options;
}

TEST(HttpTransport, ServerErrorIsIoNamingTheStatus) {
  TestServer server;
  server.on("/metadata/timestamp.json", TestServer::status(500, "oops"));
  auto bytes = make_http_transport(server.url())->fetch("metadata/timestamp.json", 1000);
  ASSERT_FALSE(bytes.has_value());
  EXPECT_EQ(bytes.error().code, ErrorCode::kIo);
  EXPECT_NE(bytes.error().message.find("500"), std::string::npos) << bytes.error().message;
}

TEST(HttpTransport, GoneIsNotFound) {
  TestServer server;
  server.on("/x", TestServer::status(410));
  auto bytes = make_http_transport(server.url())->fetch("x", 1000);
  ASSERT_FALSE(bytes.has_value());
  EXPECT_EQ(bytes.error().code, ErrorCode::kNotFound);
}

TEST(HttpTransport, NotFoundWithHugeBodyIsStillNotFound) {
  TestServer server;
  server.on("/x", TestServer::status(404, std::string(1 << 20, 'n')));
  auto bytes = make_http_transport(server.url())->fetch("x", 100);
  ASSERT_FALSE(bytes.has_value());
  EXPECT_EQ(bytes.error().code, ErrorCode::kNotFound) << bytes.error().message;
}

TEST(HttpTransport, EndlessChunkedBodyIsCutOffAtTheCap) {
  TestServer server;
  server.on("/metadata/timestamp.json", server.endless_chunked());
  HttpOptions options;
  options.total_timeout = milliseconds(20000);  // the cap, not the clock, must end it
  const auto start = Clock::now();
  auto bytes = make_http_transport(server.url(), options)->fetch("metadata/timestamp.json", 64 * 1024);
  const auto elapsed = Clock::now() - start;
  ASSERT_FALSE(bytes.has_value());
  EXPECT_EQ(bytes.error().code, ErrorCode::kOutOfRange) << bytes.error().message;
  EXPECT_LT(elapsed, std::chrono::seconds(5));
}

TEST(HttpTransport, ContentLengthAboveTheCapIsOutOfRange) {
  TestServer server;
  server.on("/targets/model.edge", TestServer::lying_content_length(size_t{1} << 40, std::string(4096, 'm')));
  auto bytes = make_http_transport(server.url(), short_timeouts())->fetch("targets/model.edge", 1024);
  ASSERT_FALSE(bytes.has_value());
  EXPECT_EQ(bytes.error().code, ErrorCode::kOutOfRange) << bytes.error().message;
}

TEST(HttpTransport, BodyShorterThanContentLengthIsIo) {
  TestServer server;
  server.on("/x", TestServer::lying_content_length(1000, "short"));
  auto bytes = make_http_transport(server.url(), short_timeouts())->fetch("x", 4096);
  ASSERT_FALSE(bytes.has_value());
  EXPECT_EQ(bytes.error().code, ErrorCode::kIo) << bytes.error().message;
}

TEST(HttpTransport, StallAfterHeadersTimesOut) {
  TestServer server;
  server.on("/metadata/timestamp.json", server.stall_after_headers());
  const auto start = Clock::now();
  auto bytes = make_http_transport(server.url(), short_timeouts())->fetch("metadata/timestamp.json", 4096);
  const auto elapsed = Clock::now() - start;
  ASSERT_FALSE(bytes.has_value());
  EXPECT_EQ(bytes.error().code, ErrorCode::kIo);
  EXPECT_NE(bytes.error().message.find("timed out"), std::string::npos) << bytes.error().message;
  EXPECT_LT(elapsed, std::chrono::seconds(3));
}

TEST(HttpTransport, SlowTrickleHitsTheLowSpeedLimit) {
  // Total timeout far away: the 1 s low-speed window is what ends a server that sends nothing.
  TestServer server;
  server.on("/x", server.stall_after_headers());
  HttpOptions options = short_timeouts();
  options.total_timeout = milliseconds(30000);
  const auto start = Clock::now();
  auto bytes = make_http_transport(server.url(), options)->fetch("x", 4096);
  ASSERT_FALSE(bytes.has_value());
  EXPECT_EQ(bytes.error().code, ErrorCode::kIo);
  EXPECT_NE(bytes.error().message.find("timed out"), std::string::npos) << bytes.error().message;
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(5));
}

TEST(HttpTransport, ConnectionRefusedIsIo) {
  std::string url;
  {
    TestServer closed;
    url = closed.url();
  }
  auto bytes = make_http_transport(url, short_timeouts())->fetch("metadata/timestamp.json", 4096);
  ASSERT_FALSE(bytes.has_value());
  EXPECT_EQ(bytes.error().code, ErrorCode::kIo) << bytes.error().message;
}

TEST(HttpTransport, EndlessHeadersAreOutOfRange) {
  TestServer server;
  server.on("/x", TestServer::many_headers(2000, 100));  // ~200 KB of headers
  auto bytes = make_http_transport(server.url(), short_timeouts())->fetch("x", 4096);
  ASSERT_FALSE(bytes.has_value());
  EXPECT_EQ(bytes.error().code, ErrorCode::kOutOfRange) << bytes.error().message;
}

TEST(HttpTransport, RedirectsAreNotFollowed) {
  TempDir dir;
  dir.write("elsewhere.json", "{}");
  TestServer server(dir.path());
  server.on("/metadata/timestamp.json",
            [](const httplib::Request&, httplib::Response& res) { res.set_redirect("/elsewhere.json"); });
  auto bytes = make_http_transport(server.url(), short_timeouts())->fetch("metadata/timestamp.json", 4096);
  ASSERT_FALSE(bytes.has_value());
  EXPECT_EQ(bytes.error().code, ErrorCode::kIo);
  EXPECT_NE(bytes.error().message.find("302"), std::string::npos) << bytes.error().message;
  EXPECT_EQ(server.request_count("/elsewhere.json"), 0u);
}

TEST(HttpTransport, TrailingSlashInBaseUrlAndUserAgent) {
  TestServer server;
  std::string agent;
  std::string path;
  server.on("/repo/metadata/root.json", [&](const httplib::Request& req, httplib::Response& res) {
    agent = req.get_header_value("User-Agent");
    path = req.target;
    res.set_content("{}", "application/json");
  });
  auto transport = make_http_transport(server.url() + "/repo/");
  EXPECT_EQ(transport->describe(), server.url() + "/repo");
  auto bytes = transport->fetch("metadata/root.json", 4096);
  ASSERT_TRUE(bytes.has_value()) << bytes.error().message;
  EXPECT_EQ(as_string(*bytes), "{}");
  EXPECT_EQ(path, "/repo/metadata/root.json");
  EXPECT_EQ(agent.rfind("edgeloop/", 0), 0u) << agent;
}

TEST(HttpTransport, NonPositiveTimeoutsAreInvalid) {
  HttpOptions options;
  options.total_timeout = milliseconds(0);  // 0 would mean "never" to libcurl
  auto bytes = make_http_transport("http://127.0.0.1:9", options)->fetch("x", 10);
  ASSERT_FALSE(bytes.has_value());
  EXPECT_EQ(bytes.error().code, ErrorCode::kInvalidArgument);
}

TEST(HttpTransport, BaseUrlWithQueryIsInvalid) {
  auto bytes = make_http_transport("http://127.0.0.1:9/repo?token=1")->fetch("x", 10);
  ASSERT_FALSE(bytes.has_value());
  EXPECT_EQ(bytes.error().code, ErrorCode::kInvalidArgument);
}

// A transport that implements only fetch(), like the in-memory fakes: fetch_to's default.
class WholeFileTransport final : public Transport {
 public:
  Result<std::vector<std::byte>> fetch(std::string_view path, size_t max_bytes) override {
    caps.push_back(max_bytes);
    if (path != "x") return make_error(ErrorCode::kNotFound, "{} not found", path);
    if (content.size() > max_bytes) return make_error(ErrorCode::kOutOfRange, "{} over its cap", path);
    const auto bytes = as_bytes(content);
    return std::vector<std::byte>(bytes.begin(), bytes.end());
  }
  std::string describe() const override { return "whole"; }
  std::string content = "0123456789";
  std::vector<size_t> caps;
};

TEST(DefaultFetchTo, GoesThroughFetchWithTheOffsetAddedToTheCap) {
  WholeFileTransport t;
  auto tail = fetch_range(t, "x", 4, 6);
  ASSERT_TRUE(tail.has_value()) << tail.error().message;
  EXPECT_EQ(*tail, "456789");
  EXPECT_EQ(t.caps, std::vector<size_t>{10});
  auto at_end = fetch_range(t, "x", 10, 5);
  ASSERT_TRUE(at_end.has_value());
  EXPECT_EQ(*at_end, "");
  EXPECT_EQ(fetch_range(t, "x", 11, 5).error().code, ErrorCode::kOutOfRange);
  EXPECT_EQ(fetch_range(t, "x", 4, 5).error().code, ErrorCode::kOutOfRange);
  EXPECT_EQ(fetch_range(t, "y", 0, 5).error().code, ErrorCode::kNotFound);
  auto huge = fetch_range(t, "x", 4, std::numeric_limits<uint64_t>::max());  // the cap saturates
  ASSERT_TRUE(huge.has_value());
  EXPECT_EQ(t.caps.back(), std::numeric_limits<size_t>::max());
}

TEST(HttpTransport, RangeIgnoredByTheServerIsSkipped) {
  TestServer server;
  server.on("/x", TestServer::ranged("0123456789", static_cast<size_t>(-1), /*honor_range=*/false));
  auto got = fetch_range(*make_http_transport(server.url()), "x", 4, 6);
  ASSERT_TRUE(got.has_value()) << got.error().message;
  EXPECT_EQ(*got, "456789");
  auto past = fetch_range(*make_http_transport(server.url()), "x", 12, 6);
  ASSERT_FALSE(past.has_value());
  EXPECT_EQ(past.error().code, ErrorCode::kOutOfRange) << past.error().message;
}

TEST(HttpTransport, PartialAnswerLabelled200IsReadByItsContentRange) {
  // cpp-httplib 0.11 slices the body for a Range but keeps a status the handler set (200).
  TestServer server;
  server.on("/x", [](const httplib::Request&, httplib::Response& res) {
    res.status = 200;
    res.set_content("0123456789", "application/octet-stream");
  });
  auto got = fetch_range(*make_http_transport(server.url()), "x", 3, 7);
  ASSERT_TRUE(got.has_value()) << got.error().message;
  EXPECT_EQ(*got, "3456789");
}

TEST(HttpTransport, WholeFileLabelledFromByteZeroIsSkippedThrough) {
  TestServer server;
  server.on("/x", [](const httplib::Request& req, httplib::Response& res) {
    const_cast<httplib::Request&>(req).ranges.clear();
    res.status = 200;
    res.set_header("Content-Range", "bytes 0-9/10");
    res.set_content("0123456789", "application/octet-stream");
  });
  auto got = fetch_range(*make_http_transport(server.url()), "x", 4, 6);
  ASSERT_TRUE(got.has_value()) << got.error().message;
  EXPECT_EQ(*got, "456789");
}

TEST(HttpTransport, ContentRangeFromTheWrongOffsetIsIo) {
  TestServer server;
  server.on("/x", [](const httplib::Request& req, httplib::Response& res) {
    const_cast<httplib::Request&>(req).ranges.clear();
    res.status = 206;
    res.set_header("Content-Range", "bytes 0-9/10");
    res.set_content("0123456789", "application/octet-stream");
  });
  auto got = fetch_range(*make_http_transport(server.url()), "x", 3, 7);
  ASSERT_FALSE(got.has_value());
  EXPECT_EQ(got.error().code, ErrorCode::kIo) << got.error().message;
  EXPECT_NE(got.error().message.find("Content-Range"), std::string::npos) << got.error().message;
}

TEST(HttpTransport, DroppedConnectionMidBodyIsIoAfterDeliveringWhatArrived) {
  TestServer server;
  const std::string body(64 * 1024, 'd');
  server.on("/x", TestServer::ranged(body, 20 * 1024));
  std::string got;
  auto status = make_http_transport(server.url(), short_timeouts())->fetch_to("x", 0, body.size(), [&](ByteSpan c) {
    got += as_chars(c);
    return ok();
  });
  ASSERT_FALSE(status.has_value());
  EXPECT_EQ(status.error().code, ErrorCode::kIo) << status.error().message;
  EXPECT_EQ(got.size(), 20u * 1024);
}

// --- make_transport ------------------------------------------------------------------------------

TEST(MakeTransport, ChoosesByScheme) {
  TempDir dir;
  dir.write("metadata/root.json", "{}");
  for (const std::string& url :
       {dir.path().string(), "file://" + dir.path().string(), "file://localhost" + dir.path().string()}) {
    auto transport = make_transport(url);
    ASSERT_TRUE(transport.has_value()) << url << ": " << transport.error().message;
    EXPECT_EQ((*transport)->describe(), "file://" + dir.path().string());
    auto bytes = (*transport)->fetch("metadata/root.json", 100);
    ASSERT_TRUE(bytes.has_value()) << url << ": " << bytes.error().message;
    EXPECT_EQ(as_string(*bytes), "{}");
  }
  TestServer server(dir.path());
  auto http = make_transport(server.url() + "/");
  ASSERT_TRUE(http.has_value()) << http.error().message;
  EXPECT_EQ((*http)->describe(), server.url());
  auto bytes = (*http)->fetch("metadata/root.json", 100);
  ASSERT_TRUE(bytes.has_value()) << bytes.error().message;
  auto https = make_transport("HTTPS://updates.example.com/repo");
  ASSERT_TRUE(https.has_value());
  EXPECT_EQ((*https)->describe(), "HTTPS://updates.example.com/repo");
}

TEST(MakeTransport, MissingFolderIsNotFound) {
  auto transport = make_transport("/nonexistent/edgeloop/repo");
  ASSERT_FALSE(transport.has_value());
  EXPECT_EQ(transport.error().code, ErrorCode::kNotFound);
  EXPECT_NE(transport.error().message.find("/nonexistent/edgeloop/repo"), std::string::npos);
  auto file_url = make_transport("file:///nonexistent/edgeloop/repo");
  ASSERT_FALSE(file_url.has_value());
  EXPECT_EQ(file_url.error().code, ErrorCode::kNotFound);
}

TEST(MakeTransport, OtherSchemesAndNonFoldersAreInvalid) {
  for (std::string_view url : {"ftp://example.com/repo", "gopher://x", "s3://bucket/repo", "", "file://"}) {
    auto transport = make_transport(url);
    ASSERT_FALSE(transport.has_value()) << url;
    EXPECT_EQ(transport.error().code, ErrorCode::kInvalidArgument) << url;
  }
  TempDir dir;
  dir.write("file", "x");
  auto transport = make_transport((dir.path() / "file").string());
  ASSERT_FALSE(transport.has_value());
  EXPECT_EQ(transport.error().code, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace edgeloop::ota

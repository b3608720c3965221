// The client's normal paths (docs/repository.md, "Client workflow"): provision, open, the update
// workflow against an honest repository, key rotation, and fetching targets. The hostile
// repositories are in attack_test.cc.
#include "edgeloop/ota/client.h"

#include <gtest/gtest.h>

#include <functional>

#include "ota/repo_fixture.h"
#include "ota/test_server.h"
#include "testing/result.h"

namespace edgeloop::ota {
namespace {

using fixture::bytes_of;
using fixture::FakeClock;
using fixture::kDay;
using fixture::kStart;
using testing::file_tree;
using fixture::Repo;
using testing::TempDir;
using fixture::text;
using fixture::World;


// A transport that answers some paths itself (an I/O failure mid-chain) and passes the rest on.
class ScriptedTransport final : public Transport {
 public:
  explicit ScriptedTransport(Transport& inner) : inner_(inner) {}
  Result<std::vector<std::byte>> fetch(std::string_view path, size_t max_bytes) override {
    fetched.emplace_back(path);
    if (auto it = answers.find(std::string(path)); it != answers.end()) return it->second();
    return inner_.fetch(path, max_bytes);
  }
  std::string describe() const override { return "scripted " + inner_.describe(); }
  std::map<std::string, std::function<Result<std::vector<std::byte>>()>> answers;
  std::vector<std::string> fetched;

 private:
  Transport& inner_;
};

TEST(Client, ProvisionThenFirstUpdateTrustsTheRepositoryState) {
  World w;
  const TrustedMetadata& t = w.client->trusted();
  EXPECT_EQ(t.root.meta.version, 1);
  ASSERT_TRUE(t.timestamp && t.snapshot && t.targets && t.rollout);
  EXPECT_EQ(t.timestamp->meta.version, 1);
  EXPECT_EQ(t.targets->meta.targets.size(), 4u);
  // Each trusted file is the exact bytes that were verified.
  auto state = w.state();
  EXPECT_EQ(state.at("metadata/root.json"), text(w.root_v1));
  EXPECT_EQ(state.at("metadata/timestamp.json"), text(w.first.timestamp));
  EXPECT_EQ(state.at("metadata/snapshot.json"), text(w.first.snapshot));
  EXPECT_EQ(state.at("metadata/targets.json"), text(w.first.targets));
  EXPECT_EQ(state.at("metadata/rollout.json"), text(w.first.rollout));
  EXPECT_EQ(state.size(), 5u);
}

TEST(Client, ReopenedClientSeesTheSameTrustedState) {
  World w;
  auto c = w.reopen();
  ASSERT_OK(c);
  EXPECT_EQ(c->trusted().timestamp->canonical, w.client->trusted().timestamp->canonical);
  EXPECT_EQ(c->trusted().rollout->canonical, w.client->trusted().rollout->canonical);
  EXPECT_EQ(c->data_dir(), w.data_dir());
}

TEST(Client, ProvisionRefusesAnAlreadyProvisionedDevice) {
  World w;
  auto before = w.state();
  auto again = Client::provision(w.data_dir(), w.root_v1);
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(again.error().message.find("already holds a trusted root"), std::string::npos) << again.error().message;
  EXPECT_EQ(w.state(), before);
}

TEST(Client, ProvisionRefusesARootNotSignedByItsOwnKeys) {
  Repo repo;
  auto stranger = repo.new_key();
  auto file = Repo::sign_with(canonical(repo.root), {stranger});
  testing::TempDir device;
  auto r = Client::provision(device.path(), file);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kCorrupt);
  EXPECT_NE(r.error().message.find("its own root keys"), std::string::npos) << r.error().message;
  EXPECT_TRUE(file_tree(device.path()).empty());
}

TEST(Client, ProvisionRefusesSomethingThatIsNotARoot) {
  World w;
  testing::TempDir device;
  auto r = Client::provision(device.path(), w.first.timestamp);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kCorrupt);
  EXPECT_NE(r.error().message.find("not a valid root"), std::string::npos) << r.error().message;
  EXPECT_TRUE(file_tree(device.path()).empty());
}

TEST(Client, OpenWithoutProvisioningSaysToProvision) {
  testing::TempDir device;
  FakeClock clock;
  auto c = Client::open(device.path(), clock);
  ASSERT_FALSE(c.has_value());
  EXPECT_EQ(c.error().code, ErrorCode::kNotFound);
  EXPECT_NE(c.error().message.find("provision"), std::string::npos) << c.error().message;
}

TEST(Client, OpenRefusesCorruptTrustedFilesNamingThem) {
  World w;
  const auto dir = w.data_dir() / "metadata";
  {  // A trusted snapshot whose bytes changed on disk no longer verifies against root.
    auto bytes = w.first.snapshot;
    std::string s = text(bytes);
    s.replace(s.find("\"version\""), 9, "\"versioN\"");
    ASSERT_OK(write_file_durable(dir / "snapshot.json", as_bytes(s)));
    auto c = w.reopen();
    ASSERT_FALSE(c.has_value());
    EXPECT_EQ(c.error().code, ErrorCode::kCorrupt);
    EXPECT_NE(c.error().message.find("trusted snapshot metadata is corrupt"), std::string::npos) << c.error().message;
    EXPECT_NE(c.error().message.find("snapshot.json"), std::string::npos) << c.error().message;
    ASSERT_OK(write_file_durable(dir / "snapshot.json", w.first.snapshot));
  }
  {  // A timestamp signed by a key root does not list.
    auto stranger = w.repo.new_key();
    auto forged = Repo::sign_with(canonical(w.repo.timestamp), {stranger});
    ASSERT_OK(write_file_durable(dir / "timestamp.json", forged));
    auto c = w.reopen();
    ASSERT_FALSE(c.has_value());
    EXPECT_EQ(c.error().code, ErrorCode::kCorrupt);
    EXPECT_NE(c.error().message.find("timestamp"), std::string::npos) << c.error().message;
    EXPECT_NE(c.error().message.find("threshold"), std::string::npos) << c.error().message;
    ASSERT_OK(write_file_durable(dir / "timestamp.json", w.first.timestamp));
  }
  {  // A truncated root.
    ASSERT_OK(write_file_durable(dir / "root.json", ByteSpan(w.root_v1).first(w.root_v1.size() / 2)));
    auto c = w.reopen();
    ASSERT_FALSE(c.has_value());
    EXPECT_EQ(c.error().code, ErrorCode::kCorrupt);
    EXPECT_NE(c.error().message.find("trusted root metadata"), std::string::npos) << c.error().message;
  }
}

TEST(Client, UpdateWithNothingNewChangesNothing) {
  World w;
  auto before = w.state();
  auto r = w.update();
  ASSERT_OK(r);
  EXPECT_FALSE(r->timestamp_changed);
  EXPECT_EQ(r->root_from, 1);
  EXPECT_EQ(r->root_to, 1);
  EXPECT_EQ(r->snapshot_version, 1);
  EXPECT_EQ(r->targets_version, 1);
  EXPECT_EQ(r->rollout_version, 1);
  EXPECT_EQ(w.state(), before);
}

TEST(Client, UpdateFollowsANewRelease) {
  World w;
  auto v4 = w.repo.add_artifact("model v4 int8", "4", "int8", {"mid"});
  w.repo.rollout.models[fixture::kModel].tiers["mid"] = TierRollout{v4, w.v3, 100, "ffffffffffffffffffffffffffffffff"};
  auto published = w.repo.release();
  auto r = w.update();
  ASSERT_OK(r);
  EXPECT_TRUE(r->timestamp_changed);
  EXPECT_EQ(r->snapshot_version, 2);
  EXPECT_EQ(r->targets_version, 2);
  EXPECT_EQ(r->rollout_version, 2);
  EXPECT_TRUE(r->discarded.empty());
  auto state = w.state();
  EXPECT_EQ(state.at("metadata/targets.json"), text(published.targets));
  EXPECT_EQ(state.at("metadata/timestamp.json"), text(published.timestamp));
  EXPECT_TRUE(w.client->trusted().targets->meta.targets.contains(v4));
  auto artifact = w.client->fetch_target(*w.transport, v4);
  ASSERT_OK(artifact);
  EXPECT_EQ(text(*artifact), "model v4 int8");
}

TEST(Client, NewTimestampOverTheSameSnapshotFetchesNothingElse) {
  World w;
  ++w.repo.timestamp.version;
  w.repo.publish_timestamp_for(w.first.snapshot);
  // Remove the versioned files: a client that fetched them would fail.
  w.repo.remove("metadata/1.snapshot.json");
  w.repo.remove("metadata/1.targets.json");
  w.repo.remove("metadata/1.rollout.json");
  auto r = w.update();
  ASSERT_OK(r);
  EXPECT_TRUE(r->timestamp_changed);
  EXPECT_EQ(r->snapshot_version, 1);
  EXPECT_EQ(w.client->trusted().timestamp->meta.version, 2);
}

TEST(Client, OnlyTheChangedRoleIsFetched) {
  World w;
  // A new rollout only (the same targets file stays version 1).
  w.repo.rollout.models[fixture::kModel].tiers["mid"].basis_points = 5000;
  w.repo.release_online();
  w.repo.remove("metadata/1.targets.json");
  ScriptedTransport t(*w.transport);
  auto r = w.update(t);
  ASSERT_OK(r);
  EXPECT_EQ(r->targets_version, 1);
  EXPECT_EQ(r->rollout_version, 2);
  EXPECT_EQ(t.fetched, (std::vector<std::string>{"metadata/2.root.json", "metadata/timestamp.json",
                                                 "metadata/2.snapshot.json", "metadata/2.rollout.json"}));
  EXPECT_EQ(w.client->trusted().rollout->meta.models.at(fixture::kModel).tiers.at("mid").basis_points, 5000);
}

TEST(Client, RootChainFollowsEveryVersionAndPersistsTheNewest) {
  World w;
  w.repo.rotate_root({Role::kRoot});
  w.repo.rotate_root({Role::kRoot, Role::kTargets});
  auto newest = w.repo.rotate_root({});
  w.repo.release();
  auto r = w.update();
  ASSERT_OK(r);
  EXPECT_EQ(r->root_from, 1);
  EXPECT_EQ(r->root_to, 4);
  EXPECT_EQ(r->discarded, std::vector<Role>{Role::kTargets});
  EXPECT_EQ(w.state().at("metadata/root.json"), text(newest));
  auto c = w.reopen();
  ASSERT_OK(c);
  EXPECT_EQ(c->trusted().root.meta.version, 4);
  EXPECT_EQ(c->trusted().targets->meta.version, 2);
}

TEST(Client, RotatingTheTimestampKeyDropsTimestampAndSnapshotThenRefetches) {
  World w;
  w.repo.rotate_root({Role::kTimestamp});
  ++w.repo.timestamp.version;
  w.repo.publish_timestamp_for(w.first.snapshot);
  auto r = w.update();
  ASSERT_OK(r);
  EXPECT_EQ(r->discarded, (std::vector<Role>{Role::kTimestamp, Role::kSnapshot}));
  EXPECT_TRUE(r->timestamp_changed);
  EXPECT_EQ(w.state().at("metadata/snapshot.json"), text(w.first.snapshot));
  EXPECT_EQ(w.client->trusted().timestamp->meta.version, 2);
}

TEST(Client, RootChainStopsAfterTheStepLimitAndContinuesNextTime) {
  World w;
  const int64_t last = 1 + kMaxRootRotations + 5;
  for (int64_t v = 2; v <= last; ++v) w.repo.rotate_root({});
  auto r = w.update();
  ASSERT_OK(r);
  EXPECT_EQ(r->root_to, 1 + kMaxRootRotations);
  r = w.update();
  ASSERT_OK(r);
  EXPECT_EQ(r->root_to, last);
}

TEST(Client, TransportFailureInTheRootChainIsAnErrorNotTheEndOfTheChain) {
  World w;
  w.repo.rotate_root({});
  ScriptedTransport t(*w.transport);
  t.answers["metadata/2.root.json"] = [] { return make_error(ErrorCode::kIo, "connection reset"); };
  auto before = w.state();
  auto r = w.update(t);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kIo);
  EXPECT_NE(r.error().message.find("metadata/2.root.json"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("connection reset"), std::string::npos) << r.error().message;
  EXPECT_EQ(t.fetched, std::vector<std::string>{"metadata/2.root.json"});
  EXPECT_EQ(w.state(), before);
}

TEST(Client, MissingTimestampIsNotFoundAndChangesNothing) {
  World w;
  w.repo.remove("metadata/timestamp.json");
  auto before = w.state();
  auto r = w.update();
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kNotFound);
  EXPECT_NE(r.error().message.find("timestamp.json"), std::string::npos) << r.error().message;
  EXPECT_EQ(w.state(), before);
}

TEST(Client, UpdateAfterAnInterruptedPersistCompletesIt) {
  World w;
  const auto dir = w.data_dir() / "metadata";
  auto next = w.repo.release();
  ASSERT_OK(w.update());
  auto done = w.state();
  // A crash after targets and rollout were written, before snapshot and timestamp.
  ASSERT_OK(write_file_durable(dir / "snapshot.json", w.first.snapshot));
  ASSERT_OK(write_file_durable(dir / "timestamp.json", w.first.timestamp));
  auto c = w.reopen();
  ASSERT_OK(c);
  auto r = c->update(*w.transport);
  ASSERT_OK(r);
  EXPECT_TRUE(r->timestamp_changed);
  EXPECT_EQ(file_tree(w.data_dir()), done);
}

TEST(Client, UpdateAndFetchOverHttp) {
  World w;
  auto v4 = w.repo.add_artifact("model v4 int8 over http", "4", "int8", {"mid"});
  w.repo.release();
  edgeloop::testing::TestServer server(w.repo.public_dir());
  auto http = make_http_transport(server.url());
  auto r = w.update(*http);
  ASSERT_OK(r);
  EXPECT_EQ(r->targets_version, 2);
  auto artifact = w.client->fetch_target(*http, v4);
  ASSERT_OK(artifact);
  EXPECT_EQ(text(*artifact), "model v4 int8 over http");
  EXPECT_EQ(server.request_count("/metadata/2.targets.json"), 1u);
}

TEST(Client, FetchTargetReturnsTheVerifiedBytes) {
  World w;
  auto a = w.client->fetch_target(*w.transport, w.v2);
  ASSERT_OK(a);
  EXPECT_EQ(text(*a), "model v2 int8 bytes, a little longer");
}

TEST(Client, FetchTargetBeforeAnyUpdateSaysToUpdate) {
  Repo repo;
  auto root = repo.publish_root();
  repo.publish();
  testing::TempDir device;
  FakeClock clock;
  ASSERT_OK(Client::provision(device.path(), root));
  auto c = Client::open(device.path(), clock);
  ASSERT_OK(c);
  auto t = make_directory_transport(repo.public_dir().string());
  auto a = c->fetch_target(*t, "artifacts/x.edge");
  ASSERT_FALSE(a.has_value());
  EXPECT_EQ(a.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(a.error().message.find("update first"), std::string::npos) << a.error().message;
}

TEST(Client, ExpiryFollowsTheInjectedClock) {
  World w;
  w.clock.seconds = kStart + 30 * kDay - 1;  // one second before everything expires
  ASSERT_OK(w.update());
  w.clock.seconds = kStart + 30 * kDay;
  auto r = w.update();
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(r.error().message.find("expired"), std::string::npos) << r.error().message;
}

}  // namespace
}  // namespace edgeloop::ota

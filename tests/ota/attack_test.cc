// The attack suite (docs/threat-model.md): each test stands up a hostile repository (or a
// hostile HTTP server on 127.0.0.1), runs the client against it, and checks that the client
// refuses with a clear error AND that its trusted state directory is byte-for-byte what it was.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "edgeloop/ota/client.h"
#include "ota/repo_fixture.h"
#include "ota/test_server.h"

namespace edgeloop::ota {
namespace {

using edgeloop::testing::TestServer;
using fixture::kDay;
using fixture::kModel;
using fixture::kStart;
using testing::file_tree;
using fixture::Repo;
using fixture::text;
using fixture::World;

class Attack : public ::testing::Test {
 protected:
  // Call before the hostile step: the state the attack must leave untouched.
  void remember() { before_ = w.state(); }

  template <class T>
  void expect_refused(const Result<T>& r, ErrorCode code, std::string_view needle) {
    ASSERT_FALSE(r.has_value()) << "the client accepted what it must refuse";
    last_message_ = r.error().message;
    EXPECT_EQ(r.error().code, code) << to_string(r.error().code) << ": " << r.error().message;
    EXPECT_NE(r.error().message.find(needle), std::string::npos)
        << "expected \"" << needle << "\" in: " << r.error().message;
    expect_unchanged();
  }
  void expect_unchanged() {
    EXPECT_EQ(w.state(), before_) << "the trusted state changed";
    auto reopened = w.reopen();
    EXPECT_TRUE(reopened.has_value()) << reopened.error().message;
  }
  void ok(const Result<UpdateReport>& r) { ASSERT_TRUE(r.has_value()) << r.error().message; }

  // A timestamp.json whose JSON is `j` (not re-signed: the client must refuse it before, or
  // because, its signatures are checked).
  void serve_timestamp_json(const std::string& s) { w.repo.write("metadata/timestamp.json", s); }
  nlohmann::json timestamp_json() const { return nlohmann::json::parse(text(w.repo.read("metadata/timestamp.json"))); }

  World w;
  std::map<std::string, std::string> before_;
  std::string last_message_;  // of the last refusal
};

// --- artifacts ---------------------------------------------------------------------------------

TEST_F(Attack, ArbitraryArtifact) {
  w.repo.write("artifacts/evil.edge", "not released");
  remember();
  expect_refused(w.client->fetch_target(*w.transport, "artifacts/evil.edge"), ErrorCode::kNotFound,
                 "is not a target of the trusted targets version 1");
  expect_refused(w.client->fetch_target(*w.transport, "../data/metadata/root.json"), ErrorCode::kNotFound,
                 "is not a target");
}

TEST_F(Attack, ArtifactWithWrongHash) {
  std::string evil(w.repo.read(w.v3).size(), 'e');  // the declared length, other bytes
  w.repo.write(w.v3, evil);
  remember();
  expect_refused(w.client->fetch_target(*w.transport, w.v3), ErrorCode::kCorrupt, "SHA-256");
}

TEST_F(Attack, TruncatedArtifact) {
  auto good = text(w.repo.read(w.v3));
  w.repo.write(w.v3, good.substr(0, good.size() - 1));
  remember();
  expect_refused(w.client->fetch_target(*w.transport, w.v3), ErrorCode::kCorrupt, "bytes but targets version 1 says");
}

TEST_F(Attack, OversizedArtifact) {
  w.repo.write(w.v3, text(w.repo.read(w.v3)) + std::string(1 << 20, 'x'));
  remember();
  expect_refused(w.client->fetch_target(*w.transport, w.v3), ErrorCode::kOutOfRange, w.v3);
}

TEST_F(Attack, EndlessArtifactOverHttp) {
  TestServer server(w.repo.public_dir());
  server.on("/" + w.v3, server.endless_chunked());
  auto http = make_http_transport(server.url());
  remember();
  expect_refused(w.client->fetch_target(*http, w.v3), ErrorCode::kOutOfRange, "more bytes than allowed");
}

// --- endless and huge metadata -----------------------------------------------------------------

TEST_F(Attack, EndlessTimestampOverHttp) {
  TestServer server(w.repo.public_dir());
  server.on("/metadata/timestamp.json", server.endless_chunked());
  auto http = make_http_transport(server.url());
  remember();
  expect_refused(w.update(*http), ErrorCode::kOutOfRange, "metadata/timestamp.json");
}

TEST_F(Attack, EndlessRootOverHttp) {
  TestServer server(w.repo.public_dir());
  server.on("/metadata/2.root.json", server.endless_chunked());
  auto http = make_http_transport(server.url());
  remember();
  expect_refused(w.update(*http), ErrorCode::kOutOfRange, "metadata/2.root.json");
}

TEST_F(Attack, HugeTimestamp) {
  serve_timestamp_json(timestamp_json().dump(2) + std::string(kMaxTimestampBytes, ' '));  // padded past the cap
  remember();
  expect_refused(w.update(), ErrorCode::kOutOfRange, "metadata/timestamp.json");
}

TEST_F(Attack, HugeRoot) {
  w.repo.write("metadata/2.root.json", std::string(kMaxRootBytes + 1, ' ') + "{}");
  remember();
  expect_refused(w.update(), ErrorCode::kOutOfRange, "metadata/2.root.json");
}

TEST_F(Attack, SnapshotLargerThanTheTimestampSays) {
  // A holder of the snapshot key pads a snapshot; the timestamp still names the honest length.
  auto p = w.repo.release();
  w.repo.write("metadata/2.snapshot.json", text(p.snapshot) + std::string(4096, ' '));
  remember();
  expect_refused(w.update(), ErrorCode::kOutOfRange, "metadata/2.snapshot.json");
}

TEST_F(Attack, SnapshotLengthOverTheCap) {
  // A compromised timestamp key declares a snapshot bigger than any client reads.
  w.repo.release();
  w.repo.timestamp.snapshot.length = kMaxSnapshotBytes + 1;
  w.repo.write("metadata/timestamp.json", w.repo.sign_as(Role::kTimestamp, w.repo.timestamp));
  remember();
  expect_refused(w.update(), ErrorCode::kCorrupt, "more than the limit");
}

TEST_F(Attack, TargetsLengthOverTheCap) {
  w.repo.release();
  w.repo.snapshot.targets.length = kMaxTargetsBytes + 1;
  ++w.repo.snapshot.targets.version;
  ++w.repo.snapshot.version;
  ++w.repo.timestamp.version;
  w.repo.publish_timestamp_for(w.repo.publish_snapshot());
  remember();
  expect_refused(w.update(), ErrorCode::kCorrupt, "more than the limit");
}

// --- rollback ----------------------------------------------------------------------------------

TEST_F(Attack, RollbackOfTimestamp) {
  w.repo.release();
  ok(w.update());
  w.repo.write("metadata/timestamp.json", w.first.timestamp);  // validly signed, version 1
  remember();
  expect_refused(w.update(), ErrorCode::kCorrupt, "timestamp version 1 is older than the trusted version 2");
}

TEST_F(Attack, RollbackOfTimestampOverHttp) {
  w.repo.release();
  ok(w.update());
  TestServer server(w.repo.public_dir());
  server.on("/metadata/timestamp.json", TestServer::bytes(text(w.first.timestamp)));
  auto http = make_http_transport(server.url());
  remember();
  expect_refused(w.update(*http), ErrorCode::kCorrupt, "timestamp version 1 is older than the trusted version 2");
  EXPECT_EQ(server.request_count("/metadata/timestamp.json"), 1u);
}

TEST_F(Attack, RollbackOfSnapshot) {
  w.repo.release();
  ok(w.update());
  // A compromised timestamp key names the old snapshot (version 1, its true hash and length).
  ++w.repo.timestamp.version;
  w.repo.snapshot.version = 1;
  w.repo.publish_timestamp_for(w.first.snapshot);
  remember();
  expect_refused(w.update(), ErrorCode::kCorrupt, "snapshot version 1, older than");
}

TEST_F(Attack, OldSnapshotServedUnderANewVersion) {
  w.repo.release();
  ok(w.update());
  // The old snapshot's bytes as 3.snapshot.json, and a timestamp naming version 3 with its hash.
  w.repo.write("metadata/3.snapshot.json", w.first.snapshot);
  ++w.repo.timestamp.version;
  w.repo.snapshot.version = 3;
  w.repo.publish_timestamp_for(w.first.snapshot);
  remember();
  expect_refused(w.update(), ErrorCode::kCorrupt, "holds snapshot version 1, but timestamp version 3 names version 3");
}

TEST_F(Attack, RollbackOfTargets) {
  w.repo.release();
  ok(w.update());
  // Compromised online keys: a new snapshot naming the old (validly signed) targets version 1.
  w.repo.snapshot.targets = w.repo.meta_of(w.first.targets, 1);
  ++w.repo.snapshot.version;
  ++w.repo.timestamp.version;
  w.repo.publish_timestamp_for(w.repo.publish_snapshot());
  remember();
  expect_refused(w.update(), ErrorCode::kCorrupt, "names targets version 1, older than the trusted snapshot's 2");
}

TEST_F(Attack, RollbackOfRollout) {
  w.repo.release();
  ok(w.update());
  w.repo.snapshot.rollout = w.repo.meta_of(w.first.rollout, 1);
  ++w.repo.snapshot.version;
  ++w.repo.timestamp.version;
  w.repo.publish_timestamp_for(w.repo.publish_snapshot());
  remember();
  expect_refused(w.update(), ErrorCode::kCorrupt, "names rollout version 1, older than the trusted snapshot's 2");
}

TEST_F(Attack, RollbackOfTargetsWithoutATrustedSnapshot) {
  // Even with the trusted snapshot gone (a timestamp key rotation drops it), the trusted targets
  // version itself is a floor.
  w.repo.release();
  ok(w.update());
  w.repo.rotate_root({Role::kTimestamp});
  w.repo.snapshot.targets = w.repo.meta_of(w.first.targets, 1);
  ++w.repo.snapshot.version;
  ++w.repo.timestamp.version;
  w.repo.publish_timestamp_for(w.repo.publish_snapshot());
  auto r = w.update();
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kCorrupt);
  EXPECT_NE(r.error().message.find("names targets version 1, older than the trusted version 2"), std::string::npos)
      << r.error().message;
  // Root v2 was verified and kept; its key change dropped timestamp and snapshot; targets and
  // rollout are untouched.
  auto state = w.state();
  EXPECT_FALSE(state.contains("metadata/timestamp.json"));
  EXPECT_EQ(state.at("metadata/targets.json"), text(w.repo.read("metadata/2.targets.json")));
  EXPECT_TRUE(w.reopen().has_value());
}

TEST_F(Attack, RollbackOfRoot) {
  w.repo.rotate_root({});
  w.repo.rotate_root({});
  ok(w.update());
  ASSERT_EQ(w.client->trusted().root.meta.version, 3);
  w.repo.write("metadata/4.root.json", w.root_v1);  // same root key, so the signatures verify
  remember();
  expect_refused(w.update(), ErrorCode::kCorrupt, "holds root version 1, expected 4");
  // Nor can a device be provisioned again with an older root.
  expect_refused(Client::provision(w.data_dir(), w.root_v1), ErrorCode::kFailedPrecondition,
                 "already holds a trusted root");
}

TEST_F(Attack, MirrorServingOldMetadata) {
  auto old_mirror = file_tree(w.repo.public_dir());
  w.repo.release();
  ok(w.update());
  // The mirror serves a complete, consistent, validly signed copy of the earlier repository.
  std::filesystem::remove_all(w.repo.public_dir());
  for (const auto& [path, content] : old_mirror) w.repo.write(path, content);
  remember();
  expect_refused(w.update(), ErrorCode::kCorrupt,
                 "older than the trusted version 2 (a rollback attack or a stale mirror)");
}

// --- fast-forward ------------------------------------------------------------------------------

TEST_F(Attack, FastForwardTimestampAndRecovery) {
  // The compromised timestamp key signs a huge version; the client cannot tell and accepts it.
  w.repo.timestamp.version = 1'000'000;
  w.repo.publish_timestamp_for(w.first.snapshot);
  ok(w.update());
  // From then on the honest repository's timestamps look like rollbacks.
  w.repo.timestamp.version = 1;
  w.repo.release();
  remember();
  expect_refused(w.update(), ErrorCode::kCorrupt, "timestamp version 2 is older than the trusted version 1000000");
  // Recovery: a new root with a new timestamp key; the client drops its timestamp and snapshot.
  w.repo.rotate_root({Role::kTimestamp});
  w.repo.publish();
  auto r = w.update();
  ok(r);
  EXPECT_EQ(r->discarded, (std::vector<Role>{Role::kTimestamp, Role::kSnapshot}));
  EXPECT_EQ(w.client->trusted().timestamp->meta.version, 2);
  EXPECT_EQ(w.client->trusted().snapshot->meta.version, 2);
}

TEST_F(Attack, FastForwardSnapshotAndRecovery) {
  w.repo.snapshot.version = 1'000'000;
  ++w.repo.timestamp.version;
  w.repo.publish();
  ok(w.update());
  w.repo.snapshot.version = 2;
  ++w.repo.timestamp.version;
  w.repo.publish();
  remember();
  expect_refused(w.update(), ErrorCode::kCorrupt, "names snapshot version 2, older than the trusted timestamp's");
  w.repo.rotate_root({Role::kSnapshot});
  w.repo.publish();
  auto r = w.update();
  ok(r);
  EXPECT_EQ(r->discarded, (std::vector<Role>{Role::kTimestamp, Role::kSnapshot}));
  EXPECT_EQ(w.client->trusted().snapshot->meta.version, 2);
}

// --- freeze (expired metadata, with the fake clock) -------------------------------------------

TEST_F(Attack, FreezeExpiredTimestamp) {
  w.clock.seconds = kStart + 30 * kDay + 1;  // the repository's timestamp has not been re-signed
  remember();
  expect_refused(w.update(), ErrorCode::kFailedPrecondition, "timestamp version 1 expired at");
}

TEST_F(Attack, FreezeExpiredSnapshot) {
  w.clock.seconds = kStart + 31 * kDay;
  // A fresh timestamp over the stale snapshot.
  w.repo.timestamp.expires = w.clock.seconds + kDay;
  ++w.repo.timestamp.version;
  w.repo.publish_timestamp_for(w.first.snapshot);
  remember();
  expect_refused(w.update(), ErrorCode::kFailedPrecondition, "snapshot version 1 expired at");
}

TEST_F(Attack, FreezeExpiredTargets) {
  w.clock.seconds = kStart + 31 * kDay;
  w.repo.timestamp.expires = w.repo.snapshot.expires = w.repo.rollout.expires = w.clock.seconds + kDay;
  w.repo.release_online();  // fresh online roles, the offline targets left to expire
  remember();
  expect_refused(w.update(), ErrorCode::kFailedPrecondition, "targets version 1 expired at");
}

TEST_F(Attack, FreezeExpiredRollout) {
  w.clock.seconds = kStart + 31 * kDay;
  w.repo.timestamp.expires = w.repo.snapshot.expires = w.repo.targets.expires = w.clock.seconds + kDay;
  ++w.repo.targets.version;
  ++w.repo.snapshot.version;
  ++w.repo.timestamp.version;
  w.repo.publish();
  remember();
  expect_refused(w.update(), ErrorCode::kFailedPrecondition, "rollout version 1 expired at");
}

TEST_F(Attack, FreezeExpiredRoot) {
  w.clock.seconds = kStart + 400 * kDay;  // root v1 expired at 365 days, and no new root
  w.repo.timestamp.expires = w.repo.snapshot.expires = w.repo.targets.expires = w.repo.rollout.expires =
      w.clock.seconds + kDay;
  w.repo.release();
  remember();
  expect_refused(w.update(), ErrorCode::kFailedPrecondition, "root version 1 expired at");
}

// --- mix-and-match -----------------------------------------------------------------------------

TEST_F(Attack, MixAndMatchTargetsFromAnotherState) {
  w.repo.release();
  // The snapshot names targets v2; the server hands out the old targets (v1) under that name.
  w.repo.write("metadata/2.targets.json", w.first.targets);
  remember();
  expect_refused(w.update(), ErrorCode::kCorrupt, "mix-and-match");
}

TEST_F(Attack, MixAndMatchTargetsOfTheSameVersion) {
  w.repo.release();
  // Another validly signed targets version 2 (say from a branch never published) under that name.
  Repo& r = w.repo;
  auto other = r.targets;
  other.targets.erase(w.v1);
  w.repo.write("metadata/2.targets.json", Repo::sign_with(canonical(other), r.signers.at(Role::kTargets)));
  remember();
  expect_refused(w.update(), ErrorCode::kCorrupt, "metadata/2.targets.json");
}

TEST_F(Attack, MixAndMatchSnapshotFromAnotherState) {
  w.repo.release();
  // A different, validly signed snapshot version 2 (naming the old targets and rollout).
  auto other = w.repo.snapshot;
  other.targets = w.repo.meta_of(w.first.targets, 1);
  other.rollout = w.repo.meta_of(w.first.rollout, 1);
  w.repo.write("metadata/2.snapshot.json", w.repo.sign_as(Role::kSnapshot, other));
  remember();
  expect_refused(w.update(), ErrorCode::kCorrupt, "mix-and-match");
}

// --- signatures and thresholds -----------------------------------------------------------------

class ThresholdAttack : public Attack {
 protected:
  void SetUp() override {
    a = w.repo.new_key();
    b = w.repo.new_key();
    w.repo.set_role_keys(Role::kTimestamp, {a, b}, 2);
    w.repo.rotate_root();
    w.repo.release();
    ok(w.update());
    ++w.repo.timestamp.version;
  }
  std::shared_ptr<crypto::KeyPair> a, b;
};

TEST_F(ThresholdAttack, ThresholdNotMet) {
  w.repo.write("metadata/timestamp.json", Repo::sign_with(canonical(w.repo.timestamp), {a}));
  remember();
  expect_refused(w.update(), ErrorCode::kCorrupt,
                 "is not signed by a threshold of the timestamp keys of root version 2");
}

TEST_F(ThresholdAttack, OneKeysSignatureCountedTwice) {
  w.repo.write("metadata/timestamp.json", Repo::sign_with(canonical(w.repo.timestamp), {a, a}));
  remember();
  expect_refused(w.update(), ErrorCode::kCorrupt, "is not signed by a threshold of the timestamp keys");
}

TEST_F(ThresholdAttack, SignatureByAnotherRolesKey) {
  w.repo.write("metadata/timestamp.json",
               Repo::sign_with(canonical(w.repo.timestamp), {a, w.repo.signers.at(Role::kSnapshot)[0]}));
  remember();
  expect_refused(w.update(), ErrorCode::kCorrupt, "is not signed by a threshold of the timestamp keys");
}

TEST_F(ThresholdAttack, ForgedSignature) {
  // Both key ids present, but b's signature is over other bytes.
  auto file = nlohmann::json::parse(text(Repo::sign_with(canonical(w.repo.timestamp), {a, b})));
  auto other = w.repo.timestamp;
  other.expires += 1;
  auto other_file = nlohmann::json::parse(text(Repo::sign_with(canonical(other), {a, b})));
  file["signatures"][1] = other_file["signatures"][1];
  w.repo.write("metadata/timestamp.json", file.dump(2));
  remember();
  expect_refused(w.update(), ErrorCode::kCorrupt, "is not signed by a threshold of the timestamp keys");
}

TEST_F(Attack, RevokedKey) {
  auto revoked = w.repo.signers.at(Role::kTimestamp);
  w.repo.rotate_root({Role::kTimestamp});
  w.repo.release();
  ok(w.update());
  ++w.repo.timestamp.version;
  w.repo.write("metadata/timestamp.json", Repo::sign_with(canonical(w.repo.timestamp), revoked));
  remember();
  expect_refused(w.update(), ErrorCode::kCorrupt,
                 "is not signed by a threshold of the timestamp keys of root version 2");
}

// --- root chain --------------------------------------------------------------------------------

TEST_F(Attack, RootChainWithAGap) {
  w.repo.rotate_root({Role::kRoot, Role::kTimestamp});
  w.repo.rotate_root({Role::kRoot, Role::kTimestamp});
  w.repo.remove("metadata/2.root.json");  // 1 -> 3 is not a step
  w.repo.release();
  remember();
  // The chain ends at 1; root v1 does not trust the timestamp key v3 introduced.
  expect_refused(w.update(), ErrorCode::kCorrupt,
                 "is not signed by a threshold of the timestamp keys of root version 1");
  EXPECT_EQ(w.client->trusted().root.meta.version, 1);
}

TEST_F(Attack, RootChainWithAWrongVersionInside) {
  // 2.root.json, signed by the old and new root keys, says version 3.
  auto old_keys = w.repo.signers.at(Role::kRoot);
  w.repo.set_role_keys(Role::kRoot, {w.repo.new_key()}, 1);
  w.repo.root.version = 3;
  auto keys = w.repo.signers.at(Role::kRoot);
  keys.insert(keys.end(), old_keys.begin(), old_keys.end());
  w.repo.write("metadata/2.root.json", Repo::sign_with(canonical(w.repo.root), keys));
  remember();
  expect_refused(w.update(), ErrorCode::kCorrupt, "holds root version 3, expected 2");
}

TEST_F(Attack, RootNotSignedByTheOldKeys) {
  w.repo.set_role_keys(Role::kRoot, {w.repo.new_key()}, 1);
  w.repo.root.version = 2;
  w.repo.publish_root();  // signed by the new root key only
  remember();
  expect_refused(w.update(), ErrorCode::kCorrupt,
                 "root version 2 is not signed by a threshold of the root keys of the trusted root version 1");
}

TEST_F(Attack, RootNotSignedByItsOwnKeys) {
  auto old_keys = w.repo.signers.at(Role::kRoot);
  w.repo.set_role_keys(Role::kRoot, {w.repo.new_key()}, 1);
  w.repo.root.version = 2;
  w.repo.write("metadata/2.root.json", Repo::sign_with(canonical(w.repo.root), old_keys));
  remember();
  expect_refused(w.update(), ErrorCode::kCorrupt, "root version 2 is not signed by a threshold of its own root keys");
}

// --- compromised rollout (director) key --------------------------------------------------------

class RolloutAttack : public Attack {
 protected:
  TierRollout& mid() { return w.repo.rollout.models[kModel].tiers["mid"]; }
  // What a holder of the online keys publishes; the offline targets stay as released.
  void publish_hostile_rollout() {
    w.repo.release_online();
    remember();
  }
};

TEST_F(RolloutAttack, RolloutPointsAtAnUnreleasedArtifact) {
  mid().target = "artifacts/" + std::string(64, 'a') + ".edge";
  publish_hostile_rollout();
  expect_refused(w.update(), ErrorCode::kCorrupt,
                 "metadata/2.rollout.json: rollout version 2 with targets version 1 is refused");
  EXPECT_NE(last_message_.find("for tier mid is not a released target"), std::string::npos) << last_message_;
}

TEST_F(RolloutAttack, RolloutPointsBelowTheFloor) {
  mid().target = w.v1;  // released, for this tier, but below floor "2"
  publish_hostile_rollout();
  expect_refused(w.update(), ErrorCode::kCorrupt,
                 "metadata/2.rollout.json: rollout version 2 with targets version 1 is refused");
  EXPECT_NE(last_message_.find("tier mid is version 1, below the floor 2"), std::string::npos) << last_message_;
}

TEST_F(RolloutAttack, RolloutPointsAtAnotherTiersVariant) {
  mid().target = w.low3;  // released, version 3, but for tier "low"
  publish_hostile_rollout();
  expect_refused(w.update(), ErrorCode::kCorrupt,
                 "metadata/2.rollout.json: rollout version 2 with targets version 1 is refused");
  EXPECT_NE(last_message_.find("is variant w4a8 for tiers [low], not for tier mid"), std::string::npos)
      << last_message_;
}

TEST_F(RolloutAttack, RolloutLowersTheFloor) {
  w.repo.rollout.models[kModel].floor = "1";  // valid on its own; lower than the trusted floor
  publish_hostile_rollout();
  expect_refused(w.update(), ErrorCode::kCorrupt,
                 "metadata/2.rollout.json: rollout version 2 with targets version 1 is refused");
  EXPECT_NE(last_message_.find("the floor of fashion-cnn would go down from 2 to 1"), std::string::npos)
      << last_message_;
}

TEST_F(RolloutAttack, RolloutPinsBelowTheFloor) {
  w.repo.rollout.models[kModel].pins["*"] = "1";
  publish_hostile_rollout();
  expect_refused(w.update(), ErrorCode::kCorrupt,
                 "metadata/2.rollout.json: rollout version 2 with targets version 1 is refused");
  EXPECT_NE(last_message_.find("to version 1 is below the floor 2"), std::string::npos) << last_message_;
}

// --- malformed metadata ------------------------------------------------------------------------

TEST_F(Attack, MalformedTruncatedJson) {
  auto s = text(w.repo.read("metadata/timestamp.json"));
  serve_timestamp_json(s.substr(0, s.size() / 2));
  remember();
  expect_refused(w.update(), ErrorCode::kCorrupt, "metadata/timestamp.json: not a valid timestamp file");
}

TEST_F(Attack, MalformedWrongTypes) {
  const auto original = timestamp_json();
  auto j = original;
  j["signed"]["version"] = "1";
  serve_timestamp_json(j.dump());
  remember();
  expect_refused(w.update(), ErrorCode::kCorrupt, "metadata/timestamp.json: not a valid timestamp file");
  j = original;
  j["signatures"] = nlohmann::json::object();
  serve_timestamp_json(j.dump());
  expect_refused(w.update(), ErrorCode::kCorrupt, "not a valid timestamp file");
  j = original;
  j["signed"]["meta"]["snapshot.json"]["length"] = -5;
  serve_timestamp_json(j.dump());
  expect_refused(w.update(), ErrorCode::kCorrupt, "not a valid timestamp file");
}

TEST_F(Attack, MalformedFloat) {
  auto j = timestamp_json();
  j["signed"]["version"] = 2.0;
  serve_timestamp_json(j.dump());
  remember();
  expect_refused(w.update(), ErrorCode::kCorrupt, "not a valid timestamp file");
}

TEST_F(Attack, MalformedUnknownField) {
  const auto original = timestamp_json();
  auto j = original;
  j["signed"]["mirrors"] = "https://evil.example/";
  serve_timestamp_json(j.dump());
  remember();
  expect_refused(w.update(), ErrorCode::kCorrupt, "not a valid timestamp file");
  j = original;
  j["unsigned_extra"] = 1;
  serve_timestamp_json(j.dump());
  expect_refused(w.update(), ErrorCode::kCorrupt, "not a valid timestamp file");
}

TEST_F(Attack, MalformedDeepNesting) {
  const size_t depth = 8000;  // fits under the 16 KiB cap; a recursive parser would overflow
  serve_timestamp_json("{\"signatures\":[],\"signed\":" + std::string(depth, '[') + std::string(depth, ']') + "}");
  remember();
  expect_refused(w.update(), ErrorCode::kCorrupt, "not a valid timestamp file");
}

TEST_F(Attack, MalformedDuplicateKeys) {
  // Which "version" wins must never be up to the parser: duplicate keys are refused.
  auto s = timestamp_json().dump();
  const std::string field = "\"version\":1";
  auto at = s.find(field);
  ASSERT_NE(at, std::string::npos) << s;
  s.insert(at + field.size(), ",\"version\":1000000");
  serve_timestamp_json(s);
  remember();
  expect_refused(w.update(), ErrorCode::kCorrupt, "not a valid timestamp file");
}

TEST_F(Attack, MalformedRootInTheChain) {
  w.repo.write("metadata/2.root.json", "{\"signatures\": [], \"signed\": {\"_type\": \"root\"");
  remember();
  expect_refused(w.update(), ErrorCode::kCorrupt, "metadata/2.root.json: not a valid root file");
}

// --- wrong _type -------------------------------------------------------------------------------

class SharedKeyAttack : public Attack {
 protected:
  // One key for timestamp and snapshot (legal), so only "_type" tells their files apart.
  void SetUp() override {
    auto shared = w.repo.new_key();
    w.repo.set_role_keys(Role::kTimestamp, {shared}, 1);
    w.repo.set_role_keys(Role::kSnapshot, {shared}, 1);
    w.repo.rotate_root();
    w.repo.release();
    ok(w.update());
  }
};

TEST_F(SharedKeyAttack, WrongTypeSnapshotServedAsTimestamp) {
  w.repo.write("metadata/timestamp.json", w.repo.read("metadata/2.snapshot.json"));
  remember();
  expect_refused(w.update(), ErrorCode::kCorrupt, "metadata/timestamp.json: not a valid timestamp file");
}

TEST_F(SharedKeyAttack, WrongTypeTimestampServedAsSnapshot) {
  // A timestamp file served as 3.snapshot.json, named (with its hash) by the new timestamp.
  auto inner = w.repo.timestamp;
  inner.version = 77;
  auto inner_file = w.repo.sign_as(Role::kTimestamp, inner);
  w.repo.write("metadata/3.snapshot.json", inner_file);
  w.repo.snapshot.version = 3;
  ++w.repo.timestamp.version;
  w.repo.publish_timestamp_for(inner_file);
  remember();
  expect_refused(w.update(), ErrorCode::kCorrupt, "metadata/3.snapshot.json: not a valid snapshot file");
}

TEST_F(Attack, WrongTypeTimestampServedAsRoot) {
  w.repo.write("metadata/2.root.json", w.repo.read("metadata/timestamp.json"));
  remember();
  expect_refused(w.update(), ErrorCode::kCorrupt, "metadata/2.root.json: not a valid root file");
}

}  // namespace
}  // namespace edgeloop::ota

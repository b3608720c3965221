#include "edgeloop/ota/metadata.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <string>

#include <nlohmann/json.hpp>

namespace edgeloop::ota {
namespace {

using ::testing::HasSubstr;

crypto::KeyPair seeded_key(int n) {
  std::array<std::byte, 32> seed{};
  seed[0] = std::byte(n);
  return crypto::key_pair_from_seed(seed);
}

constexpr int64_t kExpires = 1900000000;  // 2030-03-17

RootMeta root_with(std::vector<const crypto::KeyPair*> keys, int threshold) {
  RootMeta root;
  root.version = 1;
  root.expires = kExpires;
  RoleKeys rk;
  for (auto* k : keys) {
    root.keys[crypto::key_id(k->public_key)] = k->public_key;
    rk.keyids.push_back(crypto::key_id(k->public_key));
  }
  rk.threshold = threshold;
  for (Role r : kAllRoles) root.roles[r] = rk;
  return root;
}

std::string text(const std::vector<std::byte>& b) { return std::string(as_chars(b)); }
ByteSpan bytes(const std::string& s) { return as_bytes(s); }

TargetInfo target(std::string model, std::string version, std::vector<std::string> tiers, std::string variant = "int8") {
  TargetInfo t;
  t.length = 100;
  t.sha256 = std::string(64, 'a');
  t.model = std::move(model);
  t.model_version = std::move(version);
  t.variant = std::move(variant);
  t.tiers = std::move(tiers);
  t.min_runtime_version = "0.1.0";
  t.golden_sha256 = std::string(64, 'b');
  return t;
}

TEST(Metadata, EveryRoleRoundTripsThroughItsSignedFile) {
  auto k1 = seeded_key(1);
  const crypto::KeyPair* keys[] = {&k1};
  RootMeta root = root_with({&k1}, 1);
  auto root_file = sign_file(canonical(root), keys);
  auto parsed_root = parse_root(root_file);
  ASSERT_TRUE(parsed_root.has_value()) << parsed_root.error().message;
  EXPECT_EQ(parsed_root->canonical, canonical(root));
  EXPECT_EQ(parsed_root->meta.keys, root.keys);
  EXPECT_EQ(parsed_root->meta.expires, kExpires);
  ASSERT_EQ(parsed_root->signatures.size(), 1u);
  EXPECT_TRUE(verify_threshold(root, Role::kRoot, parsed_root->canonical, parsed_root->signatures).has_value());

  TargetsMeta targets;
  targets.version = 3;
  targets.expires = kExpires;
  targets.targets["artifacts/x.edge"] = target("cnn", "2", {"mid", "low"});
  auto t = parse_targets(sign_file(canonical(targets), keys));
  ASSERT_TRUE(t.has_value()) << t.error().message;
  EXPECT_EQ(t->meta.targets, targets.targets);
  EXPECT_EQ(t->meta.version, 3);

  SnapshotMeta snap;
  snap.version = 4;
  snap.expires = kExpires;
  snap.targets = {3, 1234, std::string(64, 'c')};
  snap.rollout = {7, 99, std::string(64, 'd')};
  auto s = parse_snapshot(sign_file(canonical(snap), keys));
  ASSERT_TRUE(s.has_value()) << s.error().message;
  EXPECT_EQ(s->meta.targets, snap.targets);
  EXPECT_EQ(s->meta.rollout, snap.rollout);

  TimestampMeta ts;
  ts.version = 9;
  ts.expires = kExpires;
  ts.snapshot = {4, 555, std::string(64, 'e')};
  auto tp = parse_timestamp(sign_file(canonical(ts), keys));
  ASSERT_TRUE(tp.has_value()) << tp.error().message;
  EXPECT_EQ(tp->meta.snapshot, ts.snapshot);

  RolloutMeta ro;
  ro.version = 2;
  ro.expires = kExpires;
  ModelRollout mr;
  mr.floor = "1";
  mr.pins["low"] = "1";
  mr.tiers["mid"] = TierRollout{"artifacts/x.edge", std::string("artifacts/y.edge"), 1000, "r1"};
  mr.tiers["flagship"] = TierRollout{"artifacts/z.edge", std::nullopt, 10000, "r2"};
  ro.models["cnn"] = mr;
  auto rp = parse_rollout(sign_file(canonical(ro), keys));
  ASSERT_TRUE(rp.has_value()) << rp.error().message;
  EXPECT_EQ(rp->meta.models, ro.models);
}

DeltaInfo delta_from(char base, const std::string& target_sha256, uint64_t length = 40) {
  DeltaInfo d;
  d.from_sha256 = std::string(64, base);
  d.path = delta_path(d.from_sha256, target_sha256);
  d.length = length;
  d.sha256 = std::string(64, 'e');
  return d;
}

TEST(Metadata, TargetDeltasRoundTripAndAreOmittedWhenThereAreNone) {
  auto k = seeded_key(1);
  const crypto::KeyPair* keys[] = {&k};
  TargetsMeta targets;
  targets.version = 2;
  targets.expires = kExpires;
  TargetInfo t = target("cnn", "3", {"mid"});
  t.deltas = {delta_from('1', t.sha256, 17), delta_from('2', t.sha256, 99)};
  targets.targets["artifacts/" + t.sha256 + ".edge"] = t;
  targets.targets["artifacts/plain.edge"] = target("cnn", "1", {"mid"});
  const std::string c = canonical(targets);
  EXPECT_THAT(c, HasSubstr("\"deltas\":[{\"from\":\"" + std::string(64, '1') + "\",\"length\":17,\"path\":\"deltas/" +
                           std::string(64, '1') + "-" + t.sha256 + ".delta\",\"sha256\":\"" + std::string(64, 'e') + "\"},"));
  auto parsed = parse_targets(sign_file(c, keys));
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
  EXPECT_EQ(parsed->meta.targets, targets.targets);
  EXPECT_EQ(parsed->canonical, c);
  // A target without deltas has no "deltas" field: files written before deltas existed parse.
  TargetsMeta plain;
  plain.expires = kExpires;
  plain.targets["artifacts/plain.edge"] = target("cnn", "1", {"mid"});
  EXPECT_THAT(canonical(plain), ::testing::Not(HasSubstr("deltas")));
  EXPECT_TRUE(parse_targets(sign_file(canonical(plain), keys)).has_value());
}

TEST(Metadata, MalformedTargetDeltasAreRefusedNamingTheField) {
  auto k = seeded_key(1);
  const crypto::KeyPair* keys[] = {&k};
  const std::string target_sha = std::string(64, 'a');  // target()'s sha256
  TargetsMeta targets;
  targets.expires = kExpires;
  TargetInfo t = target("cnn", "3", {"mid"});
  t.deltas = {delta_from('1', target_sha), delta_from('2', target_sha)};
  targets.targets["artifacts/t.edge"] = t;
  const std::string good = text(sign_file(canonical(targets), keys));
  ASSERT_TRUE(parse_targets(bytes(good)).has_value());

  // Edits the signed file's first delta (or the whole list) as JSON and expects a kCorrupt refusal.
  auto refused = [&](const std::function<void(nlohmann::json&)>& edit, const std::string& why) {
    nlohmann::json j = nlohmann::json::parse(good);
    edit(j["signed"]["targets"]["artifacts/t.edge"]["custom"]["deltas"]);
    auto r = parse_targets(bytes(j.dump(1)));
    ASSERT_FALSE(r.has_value()) << "accepted: " << why;
    EXPECT_EQ(r.error().code, ErrorCode::kCorrupt);
    EXPECT_THAT(r.error().message, HasSubstr(why));
  };
  const std::string base1 = std::string(64, '1');
  refused([&](auto& d) { d[0]["path"] = "deltas/" + base1 + "-" + target_sha + ".patch"; }, "deltas[0].path is");
  refused([&](auto& d) { d[0]["path"] = "artifacts/" + base1 + "-" + target_sha + ".delta"; }, "deltas[0].path is");
  refused([&](auto& d) { d[0]["path"] = "deltas/" + base1 + target_sha + ".delta"; }, "deltas[0].path is");
  refused([&](auto& d) { d[0]["path"] = "deltas/" + base1 + "-" + std::string(64, 'b') + ".delta"; },
          "a delta from " + base1 + " to this target must be 'deltas/" + base1 + "-" + target_sha + ".delta'");
  refused([&](auto& d) { d[0]["path"] = "deltas/" + std::string(64, '2') + "-" + target_sha + ".delta"; }, "deltas[0].path is");
  refused([&](auto& d) { d[0]["path"] = "deltas/../" + base1 + "-" + target_sha + ".delta"; }, "deltas[0].path is");
  refused([&](auto& d) { d[0]["from"] = std::string(64, 'A'); }, "deltas[0].from must be 64 lowercase hex digits");
  refused([&](auto& d) { d[0]["sha256"] = std::string(64, 'E'); }, "deltas[0].sha256 must be 64 lowercase hex digits");
  refused([&](auto& d) { d[0]["sha256"] = std::string(63, 'e'); }, "deltas[0].sha256 must be 64 lowercase hex digits");
  refused([&](auto& d) { d[1] = d[0]; }, "deltas[1].from: base " + base1 + " is listed twice");
  refused([&](auto& d) { std::swap(d[0], d[1]); }, "deltas must be sorted");
  refused([&](auto& d) {
    d = nlohmann::json::array();
    for (int i = 0; i < static_cast<int>(kMaxDeltasPerTarget) + 1; ++i) {
      const std::string from = fmt::format("{:064x}", i + 1);
      d.push_back({{"from", from}, {"length", 40}, {"path", delta_path(from, target_sha)}, {"sha256", std::string(64, 'e')}});
    }
  }, "lists 17 deltas, more than 16");
  refused([&](auto& d) {
    d[0]["from"] = target_sha;
    d[0]["path"] = delta_path(target_sha, target_sha);
  }, "deltas[0].from is the target itself");
  refused([&](auto& d) { d[0]["size"] = 1; }, "deltas[0]: unknown field \"size\"");
  refused([&](auto& d) { d[0].erase("sha256"); }, "deltas[0]: missing field \"sha256\"");
  refused([&](auto& d) { d = nlohmann::json::array(); }, "deltas is empty");
  refused([&](auto& d) { d = nlohmann::json::object(); }, "deltas must be an array");
  refused([&](auto& d) { d[0] = "deltas/x.delta"; }, "deltas[0] must be an object");
  refused([&](auto& d) { d[0]["length"] = "40"; }, "deltas[0].length must be an integer");
  refused([&](auto& d) { d[0]["length"] = 0; }, "deltas[0].length = 0 is outside");
  refused([&](auto& d) { d[0]["length"] = -5; }, "deltas[0].length = -5 is outside");
  // A non-integer number is refused before any field is read.
  std::string fractional = good;
  const std::string length_field = "\"length\": 40";
  fractional.replace(fractional.find(length_field), length_field.size(), "\"length\": 40.5");
  auto r = parse_targets(bytes(fractional));
  ASSERT_FALSE(r.has_value());
  EXPECT_THAT(r.error().message, HasSubstr("floating-point"));
}

TEST(Metadata, CanonicalFormIsSortedCompactAndIgnoresServedWhitespace) {
  TimestampMeta ts;
  ts.version = 1;
  ts.expires = 0;
  ts.snapshot = {1, 2, std::string(64, 'f')};
  EXPECT_EQ(canonical(ts),
            "{\"_type\":\"timestamp\",\"expires\":\"1970-01-01T00:00:00Z\",\"meta\":{\"snapshot.json\":{\"hashes\":{\"sha256\":\"" +
                std::string(64, 'f') + "\"},\"length\":2,\"version\":1}},\"spec_version\":\"1.0\",\"version\":1}");
  // The same signed content with other whitespace and key order still verifies.
  auto k = seeded_key(2);
  const crypto::KeyPair* keys[] = {&k};
  std::string file = text(sign_file(canonical(ts), keys));
  auto sig_pos = file.find("\"signatures\"");
  ASSERT_NE(sig_pos, std::string::npos);
  std::string sigs = file.substr(sig_pos, file.find("\"signed\"") - sig_pos);
  sigs.erase(sigs.find_last_not_of(" \n,") + 1);
  std::string reordered = "{ \"signed\" : " + canonical(ts) + " ,\n\t" + sigs + "\n}";
  auto parsed = parse_timestamp(bytes(reordered));
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
  RootMeta root = root_with({&k}, 1);
  EXPECT_TRUE(verify_threshold(root, Role::kTimestamp, parsed->canonical, parsed->signatures).has_value());
}

TEST(Metadata, ThresholdCountsEachListedKeyOnceAndOnlyValidSignatures) {
  auto a = seeded_key(1), b = seeded_key(2), outsider = seeded_key(3);
  RootMeta root = root_with({&a, &b}, 2);
  TimestampMeta ts;
  ts.snapshot = {1, 1, std::string(64, '0')};
  ts.expires = kExpires;
  std::string c = canonical(ts);

  const crypto::KeyPair* both[] = {&a, &b};
  auto ok_file = parse_timestamp(sign_file(c, both));
  ASSERT_TRUE(ok_file.has_value());
  EXPECT_TRUE(verify_threshold(root, Role::kTimestamp, c, ok_file->signatures).has_value());

  const crypto::KeyPair* twice[] = {&a, &a};
  auto dup = parse_timestamp(sign_file(c, twice));
  ASSERT_TRUE(dup.has_value());
  auto r = verify_threshold(root, Role::kTimestamp, c, dup->signatures);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_THAT(r.error().message, HasSubstr("threshold not met: 1 valid"));

  const crypto::KeyPair* with_outsider[] = {&a, &outsider};
  auto out = parse_timestamp(sign_file(c, with_outsider));
  ASSERT_TRUE(out.has_value());
  EXPECT_FALSE(verify_threshold(root, Role::kTimestamp, c, out->signatures).has_value());

  // A valid signature over other bytes does not count.
  TimestampMeta other = ts;
  other.version = 2;
  auto forged = ok_file->signatures;
  forged[1].signature = crypto::sign(b.secret_key, as_bytes(canonical(other)));
  EXPECT_FALSE(verify_threshold(root, Role::kTimestamp, c, forged).has_value());
}

TEST(Metadata, HostileJsonIsRefusedWithTheReason) {
  auto k = seeded_key(1);
  const crypto::KeyPair* keys[] = {&k};
  TimestampMeta ts;
  ts.snapshot = {1, 1, std::string(64, '0')};
  ts.expires = kExpires;
  std::string good = text(sign_file(canonical(ts), keys));
  ASSERT_TRUE(parse_timestamp(bytes(good)).has_value());

  auto refused = [](const std::string& file, const std::string& why) {
    auto r = parse_timestamp(as_bytes(file));
    ASSERT_FALSE(r.has_value()) << "accepted: " << file.substr(0, 200);
    EXPECT_EQ(r.error().code, ErrorCode::kCorrupt);
    EXPECT_THAT(r.error().message, HasSubstr(why));
  };
  refused(good.substr(0, good.size() / 2), "not valid JSON");
  refused("", "not valid JSON");
  refused(std::string(20000, '['), "cap");
  refused(std::string(100, '[') + std::string(100, ']'), "nested deeper");
  refused(std::string(good).replace(good.find("\"version\": 1"), 12, "\"version\": 1.0"), "floating-point");
  refused(std::string(good).replace(good.find("\"version\": 1"), 12, "\"version\": \"1\""), "must be an integer");
  refused(std::string(good).replace(good.find("\"version\": 1"), 12, "\"version\": 0"), "outside");
  refused(std::string(good).replace(good.find("\"version\": 1"), 12, "\"version\": 1, \"version\": 2"), "duplicate key");
  refused(std::string(good).replace(good.find("\"version\": 1"), 12, "\"version\": 1, \"extra\": true"), "unknown field");
  refused(std::string(good).replace(good.find("timestamp"), 9, "snapshot"), "_type is \"snapshot\"");
  refused(std::string(good).replace(good.find("Z\""), 1, "+01:00"), "expires");
  refused("{\"signed\": 1, \"signatures\": []}", "must be an object");
  refused("[]", "must be an object");
}

TEST(Metadata, RootRejectsKeysThatAreNotTheirIdAndThresholdsItCannotMeet) {
  auto a = seeded_key(1), b = seeded_key(2);
  const crypto::KeyPair* keys[] = {&a};
  RootMeta root = root_with({&a}, 1);
  // a key listed under another key's id
  RootMeta wrong_id = root;
  wrong_id.keys.begin()->second = b.public_key;
  auto r = parse_root(sign_file(canonical(wrong_id), keys));
  ASSERT_FALSE(r.has_value());
  EXPECT_THAT(r.error().message, HasSubstr("not the SHA-256"));
  RootMeta high = root;
  high.roles[Role::kTargets].threshold = 2;
  r = parse_root(sign_file(canonical(high), keys));
  ASSERT_FALSE(r.has_value());
  EXPECT_THAT(r.error().message, HasSubstr("threshold 2 is more than its 1 keys"));
  RootMeta missing_role = root;
  missing_role.roles.erase(Role::kRollout);
  r = parse_root(sign_file(canonical(missing_role), keys));
  ASSERT_FALSE(r.has_value());
  EXPECT_THAT(r.error().message, HasSubstr("missing field \"rollout\""));
}

TEST(Metadata, TimesAndVersions) {
  EXPECT_EQ(format_time(1900000000), "2030-03-17T17:46:40Z");
  EXPECT_EQ(parse_time("2030-03-17T17:46:40Z").value(), 1900000000);
  EXPECT_FALSE(parse_time("2026-02-31T00:00:00Z").has_value());
  EXPECT_FALSE(parse_time("2026-01-01 00:00:00Z").has_value());
  EXPECT_FALSE(parse_time("2026-01-01T00:00:00").has_value());
  EXPECT_FALSE(parse_time("+026-01-01T00:00:00Z").has_value());
  EXPECT_EQ(compare_versions("2", "10"), -1);
  EXPECT_EQ(compare_versions("1.2", "1.2.0"), 0);
  EXPECT_EQ(compare_versions("1.10", "1.9"), 1);
  for (const char* bad : {"", "v1", "1..2", "-1", "1.", ".1", "1.2.3.4.5.6.7.8.9"}) EXPECT_FALSE(parse_version(bad).has_value()) << bad;
}

TEST(Metadata, CheckRolloutRefusesWhatTheTargetsDoNotBackAndFloorsThatGoDown) {
  TargetsMeta targets;
  targets.targets["a1"] = target("cnn", "1", {"mid"});
  targets.targets["a2"] = target("cnn", "2", {"mid"});
  targets.targets["b2"] = target("cnn", "2", {"low"}, "w4a8");
  targets.targets["other"] = target("mobilenet", "5", {"mid"});
  RolloutMeta ro;
  ModelRollout& mr = ro.models["cnn"];
  mr.floor = "2";
  mr.tiers["mid"] = TierRollout{"a2", std::nullopt, 500, "r"};
  EXPECT_TRUE(check_rollout(ro, targets, nullptr).has_value());

  auto refused = [&](RolloutMeta bad, const RolloutMeta* previous, const std::string& why) {
    auto r = check_rollout(bad, targets, previous);
    ASSERT_FALSE(r.has_value()) << why;
    EXPECT_EQ(r.error().code, ErrorCode::kFailedPrecondition);
    EXPECT_THAT(r.error().message, HasSubstr(why));
  };
  RolloutMeta bad = ro;
  bad.models["cnn"].tiers["mid"].target = "unreleased";
  refused(bad, nullptr, "not a released target");
  bad = ro;
  bad.models["cnn"].tiers["mid"].target = "a1";
  refused(bad, nullptr, "below the floor 2");
  bad = ro;
  bad.models["cnn"].tiers["mid"].baseline = "a1";
  refused(bad, nullptr, "baseline a1");
  bad = ro;
  bad.models["cnn"].tiers["mid"].target = "b2";
  refused(bad, nullptr, "not for tier mid");
  bad = ro;
  bad.models["cnn"].tiers["mid"].target = "other";
  refused(bad, nullptr, "target of model mobilenet");
  bad = ro;
  bad.models["cnn"].pins["*"] = "1";
  refused(bad, nullptr, "below the floor");
  bad = ro;
  bad.models["cnn"].pins["mid"] = "3";
  refused(bad, nullptr, "no such released target");
  bad = ro;
  bad.models["cnn"].pins["low"] = "2";
  EXPECT_TRUE(check_rollout(bad, targets, nullptr).has_value());

  RolloutMeta lower = ro;
  lower.models["cnn"].floor = "1";
  lower.models["cnn"].tiers["mid"].target = "a1";
  refused(lower, &ro, "floor of cnn would go down from 2 to 1");
  RolloutMeta dropped;
  refused(dropped, &ro, "was dropped");
}

}  // namespace
}  // namespace edgeloop::ota

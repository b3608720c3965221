#include "edgeloop/ota/repository.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "edgeloop/base/file.h"
#include "edgeloop/base/hash.h"
#include "edgeloop/crypto/key_file.h"
#include "edgeloop/model/artifact.h"
#include "edgeloop/ota/delta_applier.h"
#include "edgeloop/ota/delta_generator.h"
#include "testing/graphs.h"

namespace edgeloop::ota {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class FakeClock final : public Clock {
 public:
  std::chrono::nanoseconds now() const override { return std::chrono::seconds(seconds); }
  int64_t unix_seconds() const override { return seconds; }
  int64_t seconds = 1'800'000'000;  // 2027-01-15
};

template <class T>
T value(Result<T> r) {
  EXPECT_TRUE(r.has_value()) << r.error().message;
  if (!r) std::abort();
  return std::move(r).value();
}
void expect_ok(const Status& s) { ASSERT_TRUE(s.has_value()) << s.error().message; }

std::string error_of(const auto& r) {
  EXPECT_FALSE(r.has_value());
  return r ? std::string() : r.error().message;
}

AddOptions tiers(std::vector<std::string> t) {
  AddOptions o;
  o.tiers = std::move(t);
  return o;
}
AddOptions with_variants(const VariantTiers& v) {
  AddOptions o;
  o.variants = v;
  return o;
}

struct Versions {
  int64_t root, targets, rollout, snapshot, timestamp;
  bool operator==(const Versions&) const = default;
};
void PrintTo(const Versions& v, std::ostream* os) {
  *os << fmt::format("root {} targets {} rollout {} snapshot {} timestamp {}", v.root, v.targets, v.rollout, v.snapshot, v.timestamp);
}

class RepositoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    work_ = fs::temp_directory_path() / fmt::format("edgeloop_repository_test_{}_{}", ::getpid(), info->name());
    fs::remove_all(work_);
    fs::create_directories(work_);
    dir_ = work_ / "repo";
    options_.clock = &clock_;
  }
  void TearDown() override { fs::remove_all(work_); }

  Repository init(RepositoryOptions o) { return value(Repository::init(dir_, std::move(o))); }
  Repository init() { return init(options_); }

  // A small valid artifact with a golden vector: the tiny MLP of tests/testing/graphs.h.
  fs::path artifact(const std::string& name, const std::string& version, const std::string& variant, bool golden = true) {
    model::Graph g = testing::tiny_mlp();
    g.meta.name = name;
    g.meta.version = version;
    g.meta.variant = variant;
    g.meta.min_runtime_version = "0.1.0";
    if (golden) {
      model::GoldenVector v;
      v.inputs.push_back(testing::tensor_f32("x", {1, 4}, {1, 2, 3, 4}));
      v.outputs.push_back(testing::tensor_f32("y", {1, 3}, testing::tiny_mlp_expected({1, 2, 3, 4})));
      g.meta.golden = v;
    }
    const fs::path path = work_ / fmt::format("{}-{}-{}{}.edge", name, version, variant, golden ? "" : "-nogolden");
    expect_ok(model::write_artifact(g, path));
    return path;
  }
  static std::string sha_of(const fs::path& p) { return to_hex(sha256(value(read_file(p)))); }
  static std::string path_of(const fs::path& p) { return "artifacts/" + sha_of(p) + ".edge"; }

  fs::path meta(const std::string& name) const { return dir_ / "public" / "metadata" / name; }

  // Every file below `root` with its content hash: "nothing written" compares two of these.
  static std::map<std::string, std::string> listing(const fs::path& root) {
    std::map<std::string, std::string> files;
    for (const auto& e : fs::recursive_directory_iterator(root)) {
      const std::string rel = fs::relative(e.path(), root).string();
      files[rel] = e.is_regular_file() ? to_hex(sha256(value(read_file(e.path())))) : "dir";
    }
    return files;
  }

  // What a client checks, done here independently of the repository code: the root chain, then
  // timestamp -> snapshot -> targets and rollout, every length, hash, version and signature.
  struct Verified {
    std::vector<Signed<RootMeta>> roots;
    Signed<TimestampMeta> timestamp;
    Signed<SnapshotMeta> snapshot;
    Signed<TargetsMeta> targets;
    Signed<RolloutMeta> rollout;
    const RootMeta& root() const { return roots.back().meta; }
  };
  Verified verify_all() const {
    Verified v;
    for (int64_t n = 1; fs::exists(meta(fmt::format("{}.root.json", n))); ++n) {
      auto root = value(parse_root(value(read_file(meta(fmt::format("{}.root.json", n))))));
      EXPECT_EQ(root.meta.version, n);
      expect_ok(verify_threshold(v.roots.empty() ? root.meta : v.roots.back().meta, Role::kRoot, root.canonical, root.signatures));
      expect_ok(verify_threshold(root.meta, Role::kRoot, root.canonical, root.signatures));
      v.roots.push_back(std::move(root));
    }
    EXPECT_EQ(value(read_file(meta("root.json"))), value(read_file(meta(fmt::format("{}.root.json", v.roots.size())))));
    v.timestamp = value(parse_timestamp(value(read_file(meta("timestamp.json")))));
    expect_ok(verify_threshold(v.root(), Role::kTimestamp, v.timestamp.canonical, v.timestamp.signatures));
    auto check_file = [&](const MetaFile& m, Role role) {
      auto bytes = value(read_file(meta(fmt::format("{}.{}.json", m.version, role_name(role)))));
      EXPECT_EQ(bytes.size(), m.length) << role_name(role);
      EXPECT_EQ(to_hex(sha256(bytes)), m.sha256) << role_name(role);
      return bytes;
    };
    v.snapshot = value(parse_snapshot(check_file(v.timestamp.meta.snapshot, Role::kSnapshot)));
    EXPECT_EQ(v.snapshot.meta.version, v.timestamp.meta.snapshot.version);
    expect_ok(verify_threshold(v.root(), Role::kSnapshot, v.snapshot.canonical, v.snapshot.signatures));
    v.targets = value(parse_targets(check_file(v.snapshot.meta.targets, Role::kTargets)));
    EXPECT_EQ(v.targets.meta.version, v.snapshot.meta.targets.version);
    expect_ok(verify_threshold(v.root(), Role::kTargets, v.targets.canonical, v.targets.signatures));
    v.rollout = value(parse_rollout(check_file(v.snapshot.meta.rollout, Role::kRollout)));
    EXPECT_EQ(v.rollout.meta.version, v.snapshot.meta.rollout.version);
    expect_ok(verify_threshold(v.root(), Role::kRollout, v.rollout.canonical, v.rollout.signatures));
    expect_ok(check_rollout(v.rollout.meta, v.targets.meta, nullptr));
    for (const auto& [path, t] : v.targets.meta.targets) {
      auto bytes = value(read_file(dir_ / "public" / path));
      EXPECT_EQ(bytes.size(), t.length);
      EXPECT_EQ(to_hex(sha256(bytes)), t.sha256);
    }
    return v;
  }
  Versions versions() const {
    Verified v = verify_all();
    return {v.root().version, v.targets.meta.version, v.rollout.meta.version, v.snapshot.meta.version, v.timestamp.meta.version};
  }

  FakeClock clock_;
  RepositoryOptions options_;
  fs::path work_, dir_;
};

TEST_F(RepositoryTest, InitWritesTheLayoutWithPrivateKeysAndVerifyingMetadata) {
  init();
  const fs::path keys = dir_ / "keys";
  EXPECT_EQ(fs::status(keys).permissions() & fs::perms::all, fs::perms::owner_all);
  for (Role role : kAllRoles) {
    const fs::path key = keys / fmt::format("{}.key", role_name(role));
    ASSERT_TRUE(fs::exists(key)) << key;
    EXPECT_EQ(fs::status(key).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write) << key;
    EXPECT_FALSE(value(crypto::read_key_file_info(key)).encrypted);
  }
  for (const char* f : {"1.root.json", "root.json", "1.targets.json", "1.rollout.json", "1.snapshot.json", "timestamp.json"})
    EXPECT_TRUE(fs::is_regular_file(meta(f))) << f;
  EXPECT_TRUE(fs::is_directory(dir_ / "public" / "artifacts"));
  EXPECT_EQ(versions(), (Versions{1, 1, 1, 1, 1}));

  Verified v = verify_all();
  EXPECT_TRUE(v.targets.meta.targets.empty());
  EXPECT_TRUE(v.rollout.meta.models.empty());
  const Expiry e;
  EXPECT_EQ(v.root().expires, clock_.seconds + e.root);
  EXPECT_EQ(v.targets.meta.expires, clock_.seconds + e.targets);
  EXPECT_EQ(v.rollout.meta.expires, clock_.seconds + e.rollout);
  EXPECT_EQ(v.snapshot.meta.expires, clock_.seconds + e.snapshot);
  EXPECT_EQ(v.timestamp.meta.expires, clock_.seconds + e.timestamp);
  EXPECT_EQ(e.root, 365 * 86400);
  EXPECT_EQ(e.timestamp, 86400);
  // One key per role, and the key files hold the keys the root lists.
  for (Role role : kAllRoles) {
    const auto& ids = v.root().roles.at(role).keyids;
    ASSERT_EQ(ids.size(), 1u);
    EXPECT_EQ(value(crypto::read_key_file_info(keys / fmt::format("{}.key", role_name(role)))).key_id, ids[0]);
  }
}

TEST_F(RepositoryTest, InitRefusesANonEmptyFolderAndOpenRefusesANonRepository) {
  fs::create_directories(dir_);
  { std::ofstream(dir_ / "something") << "x"; }
  EXPECT_THAT(error_of(Repository::init(dir_, options_)), HasSubstr("not empty"));
  EXPECT_EQ(listing(dir_).size(), 1u);
  EXPECT_THAT(error_of(Repository::open(dir_, options_)), HasSubstr("not an edgeloop repository"));
  fs::remove(dir_ / "something");
  init();  // an empty folder is fine
}

TEST_F(RepositoryTest, EncryptedOfflineKeysNeedThePassphrase) {
  RepositoryOptions with = options_;
  with.passphrase = "correct horse";
  init(with);
  EXPECT_TRUE(value(crypto::read_key_file_info(dir_ / "keys" / "root.key")).encrypted);
  EXPECT_TRUE(value(crypto::read_key_file_info(dir_ / "keys" / "targets.key")).encrypted);
  EXPECT_FALSE(value(crypto::read_key_file_info(dir_ / "keys" / "timestamp.key")).encrypted);
  EXPECT_FALSE(value(crypto::read_key_file_info(dir_ / "keys" / "rollout.key")).encrypted);

  const fs::path a = artifact("m", "1", "fp32");
  auto before = listing(dir_);
  Repository without = value(Repository::open(dir_, options_));
  EXPECT_THAT(error_of(without.add({a}, tiers({"mid"}))), HasSubstr("encrypted"));
  EXPECT_THAT(error_of(without.rotate_root()), HasSubstr("encrypted"));
  RepositoryOptions wrong = options_;
  wrong.passphrase = "wrong";
  EXPECT_FALSE(value(Repository::open(dir_, wrong)).add({a}, tiers({"mid"})));
  EXPECT_EQ(listing(dir_), before);

  Repository repo = value(Repository::open(dir_, with));
  value(repo.add({a}, tiers({"mid"})));
  // Online roles need no passphrase.
  value(without.rollout("m", "mid", "1", 5));
  value(without.publish());
  EXPECT_EQ(versions(), (Versions{1, 2, 3, 4, 4}));
  // Keys rotated with a passphrase are encrypted too.
  value(repo.rotate_root({Role::kTargets}));
  EXPECT_TRUE(value(crypto::read_key_file_info(dir_ / "keys" / "root.key")).encrypted);
  EXPECT_TRUE(value(crypto::read_key_file_info(dir_ / "keys" / "targets.key")).encrypted);
}

TEST_F(RepositoryTest, AddListsArtifactsWithTheirMetadataAndBumpsTargetsSnapshotTimestamp) {
  Repository repo = init();
  const fs::path a = artifact("fashion", "2", "int8");
  auto added = value(repo.add({a}, tiers({"mid", "low"})));
  ASSERT_EQ(added.size(), 1u);
  EXPECT_FALSE(added[0].already_present);
  EXPECT_EQ(added[0].path, path_of(a));
  EXPECT_EQ(versions(), (Versions{1, 2, 1, 2, 2}));

  Verified v = verify_all();
  ASSERT_EQ(v.targets.meta.targets.size(), 1u);
  const TargetInfo& t = v.targets.meta.targets.at(path_of(a));
  EXPECT_EQ(t.model, "fashion");
  EXPECT_EQ(t.model_version, "2");
  EXPECT_EQ(t.variant, "int8");
  EXPECT_EQ(t.tiers, (std::vector<std::string>{"low", "mid"}));
  EXPECT_EQ(t.min_runtime_version, "0.1.0");
  EXPECT_EQ(t.length, fs::file_size(a));
  EXPECT_EQ(t.sha256, sha_of(a));
  EXPECT_EQ(t, added[0].info);
  // golden_sha256: the golden inputs' raw bytes, then the outputs', in order.
  std::vector<std::byte> golden = testing::tensor_f32("x", {1, 4}, {1, 2, 3, 4}).bytes;
  auto out = testing::tensor_f32("y", {1, 3}, testing::tiny_mlp_expected({1, 2, 3, 4})).bytes;
  golden.insert(golden.end(), out.begin(), out.end());
  EXPECT_EQ(t.golden_sha256, to_hex(sha256(golden)));
  EXPECT_EQ(value(read_file(dir_ / "public" / path_of(a))), value(read_file(a)));

  // The same artifact again: nothing to sign. With one more tier: a new targets version.
  auto again = value(repo.add({a}, tiers({"mid"})));
  EXPECT_TRUE(again[0].already_present);
  EXPECT_EQ(versions(), (Versions{1, 2, 1, 2, 2}));
  // A released artifact whose file went missing is put back, still without signing.
  fs::remove(dir_ / "public" / path_of(a));
  value(repo.add({a}));
  EXPECT_EQ(value(read_file(dir_ / "public" / path_of(a))), value(read_file(a)));
  EXPECT_EQ(versions(), (Versions{1, 2, 1, 2, 2}));
  again = value(repo.add({a}, tiers({"flagship"})));
  EXPECT_FALSE(again[0].already_present);
  EXPECT_EQ(again[0].info.tiers, (std::vector<std::string>{"flagship", "low", "mid"}));
  EXPECT_EQ(versions(), (Versions{1, 3, 1, 3, 3}));
}

TEST_F(RepositoryTest, AddRefusesBadArtifactsAndWritesNothing) {
  Repository repo = init();
  const fs::path good = artifact("m", "1", "fp32");
  const fs::path no_golden = artifact("m", "2", "fp32", /*golden=*/false);
  const fs::path bad_version = artifact("m", "v3", "fp32");
  const fs::path cut = work_ / "cut.edge";
  {
    auto bytes = value(read_file(good));
    bytes.resize(bytes.size() / 2);
    expect_ok(write_file_durable(cut, bytes));
  }
  const auto before = listing(dir_);
  EXPECT_THAT(error_of(repo.add({good, cut})), HasSubstr("cut.edge"));
  EXPECT_THAT(error_of(repo.add({good, no_golden})), HasSubstr("no golden test vector"));
  EXPECT_THAT(error_of(repo.add({good, bad_version})), HasSubstr("'v3' is not a version"));
  EXPECT_THAT(error_of(repo.add({good, work_ / "missing.edge"})), HasSubstr("missing.edge"));
  EXPECT_THAT(error_of(repo.add({good}, tiers({"bad tier"}))), HasSubstr("not a valid tier"));
  EXPECT_EQ(listing(dir_), before);

  // Two builds of one model version and variant, or two artifacts of one version for one tier.
  fs::remove_all(dir_);
  repo = init();
  value(repo.add({good}, tiers({"mid"})));
  model::Graph rebuilt = value(model::load_artifact(good));
  rebuilt.meta.producer = "another build";
  expect_ok(model::write_artifact(rebuilt, work_ / "rebuilt.edge"));
  const auto after_good = listing(dir_);
  EXPECT_THAT(error_of(repo.add({work_ / "rebuilt.edge"})), HasSubstr("two builds of the same model, version and variant"));
  const fs::path int8 = artifact("m", "1", "int8");
  EXPECT_THAT(error_of(repo.add({int8}, tiers({"mid"}))), HasSubstr("would both serve tier 'mid'"));
  EXPECT_EQ(listing(dir_), after_good);
  value(repo.add({int8}, tiers({"low"})));  // another tier is fine
}

AddOptions deltas(int bases, std::vector<std::string> tier_list = {"mid"}) {
  AddOptions o = tiers(std::move(tier_list));
  o.delta_bases = bases;
  return o;
}

// Each listed delta: its file under public/ has the listed length and SHA-256, and applied to
// its base's released bytes it rebuilds exactly the target.
void expect_deltas_apply(const fs::path& dir, const fs::path& work, const TargetsMeta& targets) {
  for (const auto& [path, t] : targets.targets)
    for (const DeltaInfo& d : t.deltas) {
      SCOPED_TRACE(d.path);
      EXPECT_EQ(d.path, "deltas/" + d.from_sha256 + "-" + t.sha256 + ".delta");
      const auto patch = value(read_file(dir / "public" / d.path));
      EXPECT_EQ(patch.size(), d.length);
      EXPECT_LT(d.length, t.length);
      EXPECT_EQ(to_hex(sha256(patch)), d.sha256);
      const auto base = value(read_file(dir / "public" / "artifacts" / (d.from_sha256 + ".edge")));
      const fs::path out = work / "applied.edge";
      value(apply_delta(base, patch, out, sha256(value(read_file(dir / "public" / path)))));
      EXPECT_EQ(value(read_file(out)), value(read_file(dir / "public" / path)));
      fs::remove(out);
    }
}

std::vector<std::string> bases_of(const TargetInfo& t) {
  std::vector<std::string> from;
  for (const DeltaInfo& d : t.deltas) from.push_back(d.from_sha256);
  return from;
}

TEST_F(RepositoryTest, AddMakesDeltasFromTheHighestEarlierVersionsOfTheSameModelAndVariant) {
  Repository repo = init();
  const fs::path v1 = artifact("m", "1", "int8"), v2 = artifact("m", "2", "int8"), v3 = artifact("m", "3", "int8");
  auto added = value(repo.add({v1}, tiers({"mid"})));
  EXPECT_TRUE(added[0].deltas.empty());
  EXPECT_TRUE(added[0].info.deltas.empty());
  EXPECT_FALSE(fs::exists(dir_ / "public" / "deltas"));

  added = value(repo.add({v2}, tiers({"mid"})));
  ASSERT_EQ(added[0].deltas.size(), 1u);
  const GeneratedDelta& d21 = added[0].deltas[0];
  EXPECT_EQ(d21.from_version, "1");
  EXPECT_EQ(d21.from_sha256, sha_of(v1));
  EXPECT_EQ(d21.from_path, path_of(v1));
  EXPECT_TRUE(d21.listed);
  EXPECT_EQ(d21.path, "deltas/" + sha_of(v1) + "-" + sha_of(v2) + ".delta");
  EXPECT_EQ(bases_of(added[0].info), (std::vector<std::string>{sha_of(v1)}));
  EXPECT_EQ(added[0].info.deltas[0].length, d21.patch_bytes);

  // v3: from v2, then v1 (highest version first); the listing is sorted by base SHA-256.
  added = value(repo.add({v3}, tiers({"mid"})));
  ASSERT_EQ(added[0].deltas.size(), 2u);
  EXPECT_EQ(added[0].deltas[0].from_version, "2");
  EXPECT_EQ(added[0].deltas[1].from_version, "1");
  std::vector<std::string> expected = {sha_of(v1), sha_of(v2)};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(bases_of(added[0].info), expected);
  EXPECT_EQ(versions(), (Versions{1, 4, 1, 4, 4}));

  // Another variant of the same model gets no delta from int8; another model none from m.
  const fs::path fp32 = artifact("m", "4", "fp32");
  added = value(repo.add({fp32}, tiers({"high"})));
  EXPECT_TRUE(added[0].deltas.empty());
  EXPECT_TRUE(added[0].info.deltas.empty());
  added = value(repo.add({artifact("other", "9", "int8")}, tiers({"mid"})));
  EXPECT_TRUE(added[0].deltas.empty());

  // What the signed targets say is on disk and rebuilds each target.
  const Verified v = verify_all();
  EXPECT_EQ(bases_of(v.targets.meta.targets.at(path_of(v2))), (std::vector<std::string>{sha_of(v1)}));
  EXPECT_EQ(bases_of(v.targets.meta.targets.at(path_of(v3))), expected);
  EXPECT_TRUE(v.targets.meta.targets.at(path_of(v1)).deltas.empty());
  expect_deltas_apply(dir_, work_, v.targets.meta);
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_ / "public" / "deltas"), fs::directory_iterator()), 3);

  // Adding v3 again with another tier re-signs targets but makes no delta; its deltas stay.
  const auto deltas_before = listing(dir_ / "public" / "deltas");
  added = value(repo.add({v3}, tiers({"low"})));
  EXPECT_FALSE(added[0].already_present);
  EXPECT_TRUE(added[0].deltas.empty());
  EXPECT_EQ(bases_of(added[0].info), expected);
  EXPECT_EQ(listing(dir_ / "public" / "deltas"), deltas_before);
  EXPECT_EQ(verify_all().targets.meta.targets.at(path_of(v3)).deltas, v.targets.meta.targets.at(path_of(v3)).deltas);
}

TEST_F(RepositoryTest, DeltaBasesLimitsHowManyEarlierVersionsGetADelta) {
  Repository repo = init();
  std::vector<fs::path> v;
  for (int i = 1; i <= 5; ++i) v.push_back(artifact("m", std::to_string(i), "int8"));
  // One command: versions added together count as earlier releases of each other.
  auto added = value(repo.add({v[2], v[0], v[1]}, deltas(2)));
  EXPECT_EQ(added[0].deltas.size(), 2u);  // v3: from v2 and v1
  EXPECT_EQ(added[0].deltas[0].from_version, "2");
  EXPECT_EQ(added[1].deltas.size(), 0u);  // v1
  EXPECT_EQ(added[2].deltas.size(), 1u);  // v2: from v1
  // K = 0: none, K = 1: only the newest base.
  added = value(repo.add({v[3]}, deltas(0)));
  EXPECT_TRUE(added[0].deltas.empty());
  EXPECT_TRUE(added[0].info.deltas.empty());
  added = value(repo.add({v[4]}, deltas(1)));
  ASSERT_EQ(added[0].deltas.size(), 1u);
  EXPECT_EQ(added[0].deltas[0].from_version, "4");
  EXPECT_EQ(bases_of(added[0].info), (std::vector<std::string>{sha_of(v[3])}));
  const Verified verified = verify_all();
  expect_deltas_apply(dir_, work_, verified.targets.meta);
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_ / "public" / "deltas"), fs::directory_iterator()), 4);

  const auto before = listing(dir_);
  EXPECT_THAT(error_of(repo.add({artifact("m", "6", "int8")}, deltas(17))), HasSubstr("give 0 (none) to 16"));
  EXPECT_THAT(error_of(repo.add({artifact("m", "6", "int8")}, deltas(-1))), HasSubstr("give 0 (none) to 16"));
  EXPECT_EQ(listing(dir_), before);
}

TEST_F(RepositoryTest, ARefusedAddWritesNoDeltaFile) {
  RepositoryOptions o = options_;
  o.keys_dir = work_ / "keys";
  Repository repo = init(o);
  const fs::path v1 = artifact("m", "1", "int8"), v2 = artifact("m", "2", "int8");
  value(repo.add({v1}, tiers({"mid"})));
  const fs::path cut = work_ / "cut.edge";
  {
    auto bytes = value(read_file(v2));
    bytes.resize(bytes.size() / 2);
    expect_ok(write_file_durable(cut, bytes));
  }
  const auto before = listing(dir_);
  // An invalid artifact beside a valid new version.
  EXPECT_THAT(error_of(repo.add({v2, cut}, tiers({"mid"}))), HasSubstr("cut.edge"));
  // The deltas are made, then signing fails: no targets key.
  RepositoryOptions no_keys = options_;
  no_keys.keys_dir = work_ / "elsewhere";
  EXPECT_THAT(error_of(value(Repository::open(dir_, no_keys)).add({v2}, tiers({"mid"}))), HasSubstr("no targets key"));
  EXPECT_EQ(listing(dir_), before);
  EXPECT_FALSE(fs::exists(dir_ / "public" / "deltas"));

  // A base whose file is gone: refused (deltas need it), fine without deltas.
  const fs::path base_file = dir_ / "public" / path_of(v1);
  const auto base_bytes = value(read_file(base_file));
  fs::remove(base_file);
  const auto without_base = listing(dir_);
  EXPECT_THAT(error_of(repo.add({v2}, tiers({"mid"}))), HasSubstr("is a delta base but its file is unusable"));
  EXPECT_EQ(listing(dir_), without_base);
  expect_ok(write_file_durable(base_file, as_bytes(std::string_view("tampered"))));
  EXPECT_THAT(error_of(repo.add({v2}, tiers({"mid"}))), HasSubstr("not the bytes targets lists"));
  expect_ok(write_file_durable(base_file, base_bytes));

  // A delta file already there with other bytes is never overwritten; with the same bytes it is kept.
  const fs::path delta_file = dir_ / "public" / delta_path(sha_of(v1), sha_of(v2));
  fs::create_directories(delta_file.parent_path());
  expect_ok(write_file_durable(delta_file, as_bytes(std::string_view("left by a crash"))));
  const auto with_stray = listing(dir_);
  EXPECT_THAT(error_of(repo.add({v2}, tiers({"mid"}))), HasSubstr("exists with other bytes"));
  EXPECT_EQ(listing(dir_), with_stray);
  const auto patch = value(make_delta(base_bytes, value(read_file(v2))));
  expect_ok(write_file_durable(delta_file, patch));
  auto added = value(repo.add({v2}, tiers({"mid"})));
  ASSERT_EQ(added[0].info.deltas.size(), 1u);
  EXPECT_EQ(added[0].info.deltas[0].sha256, to_hex(sha256(patch)));
  EXPECT_EQ(value(read_file(delta_file)), patch);
  expect_deltas_apply(dir_, work_, verify_all().targets.meta);
}

TEST_F(RepositoryTest, VariantsJsonGivesEachArtifactTheTiersItsVariantIsChosenFor) {
  Repository repo = init();
  const fs::path fp32 = artifact("fashion", "1", "fp32");
  const fs::path int8 = artifact("fashion", "1", "int8");
  const fs::path w4a8 = artifact("fashion", "1", "w4a8");
  const fs::path variants = work_ / "variants.json";
  {
    std::ofstream(variants) << fmt::format(R"({{"model": "fashion", "version": "1", "floor": 0.9,
      "variants": [{{"name": "fp32", "file": "fp32.edge", "sha256": "{}"}}, {{"name": "int8", "file": "int8.edge"}},
                   {{"name": "w4a8", "file": "w4a8.edge", "sha256": "{}"}}],
      "tiers": {{"flagship": "fp32", "mid": "int8", "low": "int8"}}}})",
                                           sha_of(fp32), sha_of(w4a8));
  }
  VariantTiers vt = value(read_variant_tiers(variants));
  EXPECT_EQ(vt.model, "fashion");
  EXPECT_EQ(vt.tier_to_variant.at("low"), "int8");
  auto added = value(repo.add({fp32, int8, w4a8}, with_variants(vt)));
  ASSERT_EQ(added.size(), 3u);
  EXPECT_EQ(added[0].info.tiers, (std::vector<std::string>{"flagship"}));
  EXPECT_EQ(added[1].info.tiers, (std::vector<std::string>{"low", "mid"}));
  EXPECT_TRUE(added[2].info.tiers.empty());  // built, but chosen for no tier
  EXPECT_EQ(versions(), (Versions{1, 2, 1, 2, 2}));

  // Another model's artifact, or a variant whose hash differs from the listed one, is refused.
  const fs::path other = artifact("other", "1", "int8");
  EXPECT_THAT(error_of(repo.add({other}, with_variants(vt))), HasSubstr("the variants file is for fashion version 1"));
  vt.sha256_of_variant["int8"] = std::string(64, 'a');
  const fs::path int8_v2 = artifact("fashion", "1.0", "int8");
  EXPECT_THAT(error_of(repo.add({int8_v2}, with_variants(vt))), HasSubstr("lists that variant with SHA-256"));
  { std::ofstream(work_ / "bad.json") << R"({"model": "x", "version": "1", "tiers": ["mid"]})"; }
  EXPECT_THAT(error_of(read_variant_tiers(work_ / "bad.json")), HasSubstr("\"tiers\" must be an object"));
  { std::ofstream(work_ / "garbage.json") << "not json"; }
  EXPECT_THAT(error_of(read_variant_tiers(work_ / "garbage.json")), HasSubstr("not a JSON object"));
}

TEST_F(RepositoryTest, RolloutRefusesUnreleasedOtherTierOtherModelAndBelowFloorTargets) {
  Repository repo = init();
  const fs::path v1 = artifact("m", "1", "int8");
  const fs::path v2 = artifact("m", "2", "int8");
  const fs::path other = artifact("other", "1", "int8");
  value(repo.add({v1, v2, other}, tiers({"mid"})));
  const fs::path v3_low = artifact("m", "3", "int8");
  value(repo.add({v3_low}, tiers({"low"})));
  const auto before = listing(dir_);
  EXPECT_THAT(error_of(repo.rollout("m", "mid", "9", 10)), HasSubstr("not released"));
  EXPECT_THAT(error_of(repo.rollout("m", "mid", std::string(64, 'f'), 10)), HasSubstr("no released target"));
  EXPECT_THAT(error_of(repo.rollout("m", "mid", "artifacts/nope.edge", 10)), HasSubstr("not a released target"));
  EXPECT_THAT(error_of(repo.rollout("m", "mid", "3", 10)), HasSubstr("not for tier 'mid'"));
  EXPECT_THAT(error_of(repo.rollout("m", "mid", path_of(v3_low), 10)), HasSubstr("does not list tier 'mid'"));
  EXPECT_THAT(error_of(repo.rollout("m", "mid", sha_of(other), 10)), HasSubstr("is model 'other', not 'm'"));
  EXPECT_THAT(error_of(repo.rollout("m", "mid", "1", 100.5)), HasSubstr("outside 0..100"));
  EXPECT_THAT(error_of(repo.rollout("m", "mid", "1", 1.234)), HasSubstr("more than two decimals"));
  EXPECT_THAT(error_of(repo.rollout("m", "mid", "x.y", 1)), HasSubstr("neither a path"));
  EXPECT_EQ(listing(dir_), before);

  value(repo.set_floor("m", "2"));
  const auto floored = listing(dir_);
  EXPECT_THAT(error_of(repo.rollout("m", "mid", "1", 10)), HasSubstr("below the anti-rollback floor 2"));
  EXPECT_EQ(listing(dir_), floored);
  value(repo.rollout("m", "mid", "2", 10));
}

TEST_F(RepositoryTest, CohortGrowthKeepsTheRolloutIdAndANewTargetGetsANewIdAndBaseline) {
  Repository repo = init();
  const fs::path v1 = artifact("m", "1", "int8");
  const fs::path v2 = artifact("m", "2", "int8");
  const fs::path v3 = artifact("m", "3", "int8");
  value(repo.add({v1, v2, v3}, tiers({"mid"})));
  EXPECT_EQ(versions(), (Versions{1, 2, 1, 2, 2}));

  Published p = value(repo.rollout("m", "mid", "1", 100));
  EXPECT_EQ(p.rollout, 2);
  EXPECT_EQ(p.targets, 0);
  EXPECT_EQ(versions(), (Versions{1, 2, 2, 3, 3}));
  TierRollout first = verify_all().rollout.meta.models.at("m").tiers.at("mid");
  EXPECT_EQ(first.target, path_of(v1));
  EXPECT_FALSE(first.baseline);
  EXPECT_EQ(first.basis_points, 10000);
  EXPECT_EQ(first.rollout_id.size(), 32u);

  // v2 to 1%: new id, baseline v1 (it was at 100%).
  value(repo.rollout("m", "mid", sha_of(v2), 1));
  TierRollout canary = verify_all().rollout.meta.models.at("m").tiers.at("mid");
  EXPECT_EQ(canary.target, path_of(v2));
  EXPECT_EQ(canary.baseline, path_of(v1));
  EXPECT_EQ(canary.basis_points, 100);
  EXPECT_NE(canary.rollout_id, first.rollout_id);
  // Growing the cohort keeps the id, so the 1% stay inside the 12.5%.
  value(repo.rollout("m", "mid", path_of(v2), 12.5));
  TierRollout grown = verify_all().rollout.meta.models.at("m").tiers.at("mid");
  EXPECT_EQ(grown.basis_points, 1250);
  EXPECT_EQ(grown.rollout_id, canary.rollout_id);
  EXPECT_EQ(grown.baseline, path_of(v1));
  EXPECT_EQ(versions(), (Versions{1, 2, 4, 5, 5}));
  // The same percentage again changes nothing and signs nothing.
  EXPECT_FALSE(value(repo.rollout("m", "mid", "2", 12.5)).changed());
  EXPECT_EQ(versions(), (Versions{1, 2, 4, 5, 5}));

  // v3 while v2 is only at 12.5%: v2 never became the baseline, v1 stays.
  value(repo.rollout("m", "mid", "3", 5));
  TierRollout next = verify_all().rollout.meta.models.at("m").tiers.at("mid");
  EXPECT_EQ(next.target, path_of(v3));
  EXPECT_EQ(next.baseline, path_of(v1));
  EXPECT_NE(next.rollout_id, canary.rollout_id);
  // v3 at 100%, then back to v2: v3 is the baseline.
  value(repo.rollout("m", "mid", "3", 100));
  value(repo.rollout("m", "mid", "2", 0));
  TierRollout back = verify_all().rollout.meta.models.at("m").tiers.at("mid");
  EXPECT_EQ(back.target, path_of(v2));
  EXPECT_EQ(back.baseline, path_of(v3));
  EXPECT_EQ(back.basis_points, 0);
}

TEST_F(RepositoryTest, PinAndUnpinTheWholeFleetOrATier) {
  Repository repo = init();
  value(repo.add({artifact("m", "1", "int8"), artifact("m", "2", "fp32")}, tiers({"mid"})));
  // Two versions for one tier are fine; the same version twice for one tier is not (tested above).
  value(repo.add({artifact("m", "2", "w4a8")}, tiers({"low"})));
  EXPECT_THAT(error_of(repo.pin("m", "low", "1")), HasSubstr("not released for tier 'low'"));
  EXPECT_THAT(error_of(repo.pin("m", "mid", "7")), HasSubstr("not released"));
  EXPECT_THAT(error_of(repo.pin("m", "", "one")), HasSubstr("not a version"));
  value(repo.pin("m", "mid", "1.0"));  // the released spelling is stored
  value(repo.pin("m", "", "2"));
  auto pins = verify_all().rollout.meta.models.at("m").pins;
  EXPECT_EQ(pins, (std::map<std::string, std::string>{{"*", "2"}, {"mid", "1"}}));
  EXPECT_FALSE(value(repo.pin("m", "mid", "1")).changed());
  // A pin below a new floor must go first.
  EXPECT_THAT(error_of(repo.set_floor("m", "2")), HasSubstr("raising the floor of m to 2"));
  value(repo.pin("m", "mid", ""));
  EXPECT_THAT(error_of(repo.pin("m", "mid", "")), HasSubstr("no pin for tier 'mid'"));
  pins = verify_all().rollout.meta.models.at("m").pins;
  EXPECT_EQ(pins, (std::map<std::string, std::string>{{"*", "2"}}));
  value(repo.set_floor("m", "2"));
  value(repo.pin("m", "", ""));
  EXPECT_TRUE(verify_all().rollout.meta.models.at("m").pins.empty());
  EXPECT_THAT(error_of(repo.pin("m", "mid", "1")), HasSubstr("below the anti-rollback floor"));
}

TEST_F(RepositoryTest, TheFloorOnlyRises) {
  Repository repo = init();
  value(repo.add({artifact("m", "1", "int8"), artifact("m", "2.1", "int8")}, tiers({"a"})));
  EXPECT_THAT(error_of(repo.set_floor("nope", "1")), HasSubstr("no released artifact"));
  EXPECT_THAT(error_of(repo.set_floor("m", "1.x")), HasSubstr("not a version"));
  value(repo.set_floor("m", "2"));
  EXPECT_EQ(verify_all().rollout.meta.models.at("m").floor, "2");
  const auto before = listing(dir_);
  EXPECT_THAT(error_of(repo.set_floor("m", "1.9")), HasSubstr("can only rise"));
  EXPECT_FALSE(value(repo.set_floor("m", "2.0")).changed());
  EXPECT_EQ(listing(dir_), before);
  value(repo.set_floor("m", "2.1"));
  EXPECT_EQ(verify_all().rollout.meta.models.at("m").floor, "2.1");
  // Raising it above what a tier runs is refused: the rollout must move first.
  value(repo.rollout("m", "a", "2.1", 100));
  value(repo.add({artifact("m", "3", "int8")}, tiers({"a"})));
  EXPECT_THAT(error_of(repo.set_floor("m", "3")), HasSubstr("raising the floor"));
}

TEST_F(RepositoryTest, PublishSignsFreshOnlineVersionsAndNeverOverwritesOrphanedFiles) {
  Repository repo = init();
  clock_.seconds += 3 * 86400;
  Published p = value(repo.publish());
  EXPECT_EQ(p.targets, 0);
  EXPECT_EQ(versions(), (Versions{1, 1, 2, 2, 2}));
  Verified v = verify_all();
  EXPECT_EQ(v.timestamp.meta.expires, clock_.seconds + 86400);
  EXPECT_EQ(v.snapshot.meta.expires, clock_.seconds + 7 * 86400);
  EXPECT_EQ(v.rollout.meta.expires, clock_.seconds + 7 * 86400);
  EXPECT_EQ(v.targets.meta.expires, clock_.seconds - 3 * 86400 + 90 * 86400);
  value(repo.publish(/*targets=*/true));
  EXPECT_EQ(versions(), (Versions{1, 2, 3, 3, 3}));
  EXPECT_EQ(verify_all().targets.meta.expires, clock_.seconds + 90 * 86400);

  // A crash after writing 4.snapshot.json but before timestamp.json left an orphan: the next
  // command signs version 5 and leaves the orphan alone.
  expect_ok(write_file_durable(meta("4.snapshot.json"), as_bytes("orphan")));
  expect_ok(write_file_durable(meta("3.targets.json"), as_bytes("orphan")));
  value(repo.add({artifact("m", "1", "int8")}));
  EXPECT_EQ(versions(), (Versions{1, 4, 3, 5, 4}));
  EXPECT_EQ(as_chars(value(read_file(meta("4.snapshot.json")))), "orphan");
  EXPECT_EQ(as_chars(value(read_file(meta("3.targets.json")))), "orphan");
}

TEST_F(RepositoryTest, RotateRootChainsSignedByOldAndNewKeysAndRetiresTheOldKey) {
  Repository repo = init();
  value(repo.add({artifact("m", "1", "int8")}, tiers({"mid"})));
  value(repo.rollout("m", "mid", "1", 50));
  const Verified before = verify_all();
  const std::string old_root_id = before.root().roles.at(Role::kRoot).keyids[0];
  const std::string old_ts_id = before.root().roles.at(Role::kTimestamp).keyids[0];
  const std::string old_targets_id = before.root().roles.at(Role::kTargets).keyids[0];

  Published p = value(repo.rotate_root());
  EXPECT_EQ(p.root, 2);
  EXPECT_EQ(versions(), (Versions{2, 2, 2, 4, 4}));
  Verified v = verify_all();
  ASSERT_EQ(v.roots.size(), 2u);
  const Signed<RootMeta>& r2 = v.roots[1];
  const std::string new_root_id = r2.meta.roles.at(Role::kRoot).keyids[0];
  EXPECT_NE(new_root_id, old_root_id);
  std::set<std::string> signers;
  for (const auto& s : r2.signatures) signers.insert(s.keyid);
  EXPECT_EQ(signers, (std::set<std::string>{old_root_id, new_root_id}));
  EXPECT_FALSE(r2.meta.keys.contains(old_root_id));
  EXPECT_EQ(r2.meta.roles.at(Role::kTimestamp).keyids[0], old_ts_id);
  EXPECT_TRUE(fs::exists(dir_ / "keys" / "retired" / (old_root_id + ".key")));
  EXPECT_EQ(value(crypto::read_key_file_info(dir_ / "keys" / "root.key")).key_id, new_root_id);
  EXPECT_EQ(fs::status(dir_ / "keys" / "retired").permissions() & fs::perms::all, fs::perms::owner_all);
  EXPECT_EQ(v.rollout.meta.models, before.rollout.meta.models);

  // Rotating timestamp and targets: new versions of targets, snapshot and timestamp signed by
  // the new keys; rollout (not rotated) keeps its version.
  p = value(repo.rotate_root({Role::kTimestamp, Role::kTargets}));
  EXPECT_EQ(p.root, 3);
  EXPECT_EQ(p.targets, 3);
  EXPECT_EQ(versions(), (Versions{3, 3, 2, 5, 5}));
  v = verify_all();
  EXPECT_NE(v.root().roles.at(Role::kTimestamp).keyids[0], old_ts_id);
  EXPECT_NE(v.root().roles.at(Role::kTargets).keyids[0], old_targets_id);
  EXPECT_EQ(v.timestamp.signatures.at(0).keyid, v.root().roles.at(Role::kTimestamp).keyids[0]);
  EXPECT_TRUE(fs::exists(dir_ / "keys" / "retired" / (old_ts_id + ".key")));
  EXPECT_TRUE(fs::exists(dir_ / "keys" / "retired" / (old_targets_id + ".key")));
  EXPECT_FALSE(fs::exists(dir_ / "keys" / "timestamp.next.key"));
  // Everything keeps working with the new keys.
  value(repo.add({artifact("m", "2", "int8")}, tiers({"mid"})));
  value(repo.rollout("m", "mid", "2", 1));
  EXPECT_EQ(versions(), (Versions{3, 4, 3, 7, 7}));
  EXPECT_TRUE(value(repo.status()).stale.empty());
}

TEST_F(RepositoryTest, AnInterruptedRotationIsFinishedByTheNextCommand) {
  Repository repo = init();
  value(repo.add({artifact("m", "1", "int8")}, tiers({"mid"})));
  const fs::path saved = work_ / "saved";
  fs::create_directories(saved);
  for (const char* f : {"timestamp.json"}) fs::copy_file(meta(f), saved / f);
  value(repo.rotate_root({Role::kTimestamp, Role::kTargets}));
  // The crash: 2.root.json and the keys are in place, but not the metadata re-signed by the new keys.
  fs::remove(meta("3.targets.json"));
  fs::remove(meta("3.snapshot.json"));
  fs::copy_file(saved / "timestamp.json", meta("timestamp.json"), fs::copy_options::overwrite_existing);
  RepositoryStatus st = value(repo.status());
  EXPECT_EQ(st.root.meta.version, 2);
  EXPECT_THAT(st.stale, ::testing::ElementsAre(Role::kTargets, Role::kTimestamp));
  value(repo.publish());
  EXPECT_TRUE(value(repo.status()).stale.empty());
  Verified v = verify_all();
  EXPECT_EQ(v.targets.meta.version, 3);
  EXPECT_EQ(v.targets.signatures.at(0).keyid, v.root().roles.at(Role::kTargets).keyids[0]);

  // A rotation that stopped before its root was written left a .next.key no root lists: ignored,
  // then replaced by the next rotation.
  {
    auto stray = crypto::generate_key_pair();
    expect_ok(crypto::write_key_file(dir_ / "keys" / "rollout.next.key", stray));
  }
  value(repo.rollout("m", "mid", "1", 10));
  value(repo.rotate_root({Role::kRollout}));
  EXPECT_FALSE(fs::exists(dir_ / "keys" / "rollout.next.key"));
  v = verify_all();
  EXPECT_EQ(value(crypto::read_key_file_info(dir_ / "keys" / "rollout.key")).key_id, v.root().roles.at(Role::kRollout).keyids[0]);
  EXPECT_EQ(v.rollout.signatures.at(0).keyid, v.root().roles.at(Role::kRollout).keyids[0]);
}

TEST_F(RepositoryTest, TamperedMetadataIsRefusedOnOpen) {
  Repository repo = init();
  // A changed expiry: the snapshot's hash of the file no longer matches.
  auto j = nlohmann::json::parse(as_chars(value(read_file(meta("1.targets.json")))));
  j["signed"]["expires"] = "2099-01-01T00:00:00Z";
  expect_ok(write_file_durable(meta("1.targets.json"), as_bytes(j.dump(2))));
  EXPECT_THAT(error_of(Repository::open(dir_, options_)), HasSubstr("1.targets.json"));
  EXPECT_FALSE(repo.status());
  // timestamp.json has only its signature to check.
  fs::remove_all(dir_);
  repo = init();
  auto t = nlohmann::json::parse(as_chars(value(read_file(meta("timestamp.json")))));
  t["signed"]["expires"] = "2099-01-01T00:00:00Z";
  expect_ok(write_file_durable(meta("timestamp.json"), as_bytes(t.dump(2))));
  EXPECT_THAT(error_of(repo.publish()), HasSubstr("does not verify against root v1"));
}

TEST_F(RepositoryTest, KeysCanLiveInAnotherFolder) {
  RepositoryOptions o = options_;
  o.keys_dir = work_ / "offline";
  Repository repo = init(o);
  EXPECT_FALSE(fs::exists(dir_ / "keys"));
  EXPECT_TRUE(fs::exists(work_ / "offline" / "root.key"));
  const fs::path a = artifact("m", "1", "int8");
  EXPECT_THAT(error_of(value(Repository::open(dir_, options_)).add({a})), HasSubstr("no targets key of root v1"));
  value(repo.add({a}));
}

TEST(Percent, TwoDecimalsBecomeBasisPoints) {
  EXPECT_EQ(*percent_to_basis_points(0), 0);
  EXPECT_EQ(*percent_to_basis_points(100), 10000);
  EXPECT_EQ(*percent_to_basis_points(12.34), 1234);
  EXPECT_EQ(*percent_to_basis_points(0.01), 1);
  EXPECT_FALSE(percent_to_basis_points(0.001));
  EXPECT_FALSE(percent_to_basis_points(-1));
  EXPECT_FALSE(percent_to_basis_points(100.01));
  EXPECT_FALSE(percent_to_basis_points(std::nan("")));
}

}  // namespace
}  // namespace edgeloop::ota

#include "edgeloop/device/budget.h"

#include <filesystem>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace edgeloop::device {
namespace {

using json = nlohmann::json;

const std::filesystem::path kExample = std::filesystem::path(EDGELOOP_SOURCE_DIR) / "examples" / "budgets.json";

json valid_doc() {
  return json::parse(R"({"format": "edgeloop-budgets", "format_version": 1, "tiers": {"mid": {
      "latency_p95_ms": 50, "memory_bytes": 33554432, "energy_mj_per_inference": 35,
      "thermal_throttle_c": 80, "fps": 30}}})");
}

// Parsing must fail with kInvalidArgument and a message naming every one of `needles`.
void expect_refused(const json& doc, std::initializer_list<std::string_view> needles) {
  auto r = parse_budget_config(doc.dump());
  ASSERT_FALSE(r) << doc.dump();
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument) << r.error().message;
  for (auto n : needles) EXPECT_NE(r.error().message.find(n), std::string::npos) << "'" << n << "' not in: " << r.error().message;
}

TEST(Budget, TheExampleFileLoadsWithThreeTiers) {
  auto config = load_budget_config(kExample);
  ASSERT_TRUE(config) << config.error().message;
  ASSERT_EQ(config->tiers.size(), 3u);
  auto mid = config->for_tier("mid");
  ASSERT_TRUE(mid);
  EXPECT_EQ(mid->latency_p95_ms, 50);
  EXPECT_EQ(mid->thermal_throttle_c, 80);
  EXPECT_EQ(mid->fps, 30);
  EXPECT_EQ(mid->effective_lower_rate_fps(), 15);
  for (auto& [name, e] : config->tiers) {
    EXPECT_TRUE(validate(e, name)) << name;
    EXPECT_GE(e.energy_mj_per_inference, 20) << name;
    EXPECT_LE(e.energy_mj_per_inference, 60) << name;
  }
  EXPECT_GT(config->tiers.at("flagship").thermal_throttle_c, config->tiers.at("low").thermal_throttle_c);
}

TEST(Budget, DefaultsForOptionalFields) {
  auto config = parse_budget_config(valid_doc().dump());
  ASSERT_TRUE(config) << config.error().message;
  auto e = config->tiers.at("mid");
  EXPECT_EQ(e.memory_bytes, 33554432u);
  EXPECT_DOUBLE_EQ(e.smaller_energy_ratio, 0.35);
  EXPECT_EQ(e.lower_rate_fps, 0);
  EXPECT_EQ(e.effective_lower_rate_fps(), 15);  // fps / 2
}

// A feature at another frame rate than its tier's: the lower rate of L2 must stay below it.
TEST(Budget, AnotherFrameRateKeepsL2SlowerOrClampsItToHalf) {
  auto mid = default_budget_config().for_tier("mid");
  ASSERT_TRUE(mid);
  ASSERT_EQ(mid->lower_rate_fps, 15);
  auto faster = with_fps(*mid, 60);  // 15 fps is still below 60: kept
  ASSERT_TRUE(faster) << faster.error().message;
  EXPECT_FALSE(faster->lower_rate_clamped);
  EXPECT_EQ(faster->envelope.fps, 60);
  EXPECT_EQ(faster->envelope.effective_lower_rate_fps(), 15);
  auto slower = with_fps(*mid, 10);  // 15 fps would be faster than L0: clamped to 10 / 2
  ASSERT_TRUE(slower) << slower.error().message;
  EXPECT_TRUE(slower->lower_rate_clamped);
  EXPECT_EQ(slower->envelope.fps, 10);
  EXPECT_EQ(slower->envelope.effective_lower_rate_fps(), 5);
  EXPECT_LT(slower->envelope.effective_lower_rate_fps(), slower->envelope.fps);
  auto equal = with_fps(*mid, 15);
  ASSERT_TRUE(equal);
  EXPECT_TRUE(equal->lower_rate_clamped);
  auto bad = with_fps(*mid, 500, "--fps");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(bad.error().message.find("--fps.fps"), std::string::npos) << bad.error().message;
}

TEST(Budget, UnknownTierNamesTheKnownOnes) {
  auto config = load_budget_config(kExample);
  ASSERT_TRUE(config);
  auto r = config->for_tier("ultra");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kNotFound);
  EXPECT_NE(r.error().message.find("ultra"), std::string::npos);
  EXPECT_NE(r.error().message.find("flagship, low, mid"), std::string::npos) << r.error().message;
}

TEST(Budget, EachInvalidFieldIsNamed) {
  struct Case {
    const char* field;
    json value;
    const char* says;
  };
  const Case cases[] = {
      {"latency_p95_ms", 0, "outside"},          {"latency_p95_ms", -3, "outside"},
      {"latency_p95_ms", "33", "must be a number"},
      {"memory_bytes", 0, "> 0"},                {"memory_bytes", -1, "> 0"},
      {"memory_bytes", 1.5, "integer"},          {"memory_bytes", "1M", "integer"},
      {"energy_mj_per_inference", 0, "outside"}, {"energy_mj_per_inference", true, "must be a number"},
      {"thermal_throttle_c", 29, "outside"},     {"thermal_throttle_c", 151, "outside"},
      {"thermal_throttle_c", nullptr, "must be a number"},
      {"fps", 0, "outside"},                     {"fps", 241, "outside"},
      {"fps", json::array({30}), "must be a number"},
      {"smaller_energy_ratio", 0, "outside"},    {"smaller_energy_ratio", 1.2, "outside"},
      {"lower_rate_fps", 30, "slower"},          {"lower_rate_fps", 45, "slower"},
      {"lower_rate_fps", -1, "slower"},          {"remote_energy_ratio", 0, "outside"},
  };
  for (auto& c : cases) {
    auto doc = valid_doc();
    doc["tiers"]["mid"][c.field] = c.value;
    SCOPED_TRACE(doc.dump());
    expect_refused(doc, {"tiers.mid", c.field, c.says});
  }
}

TEST(Budget, MissingRequiredFieldsAreNamed) {
  for (auto field : {"latency_p95_ms", "memory_bytes", "energy_mj_per_inference", "thermal_throttle_c", "fps"}) {
    auto doc = valid_doc();
    doc["tiers"]["mid"].erase(field);
    expect_refused(doc, {"tiers.mid", field, "missing"});
  }
}

TEST(Budget, UnknownFieldsAreRefused) {
  auto doc = valid_doc();
  doc["tiers"]["mid"]["latency_p99_ms"] = 60;
  expect_refused(doc, {"tiers.mid.latency_p99_ms", "not a known field"});
  doc = valid_doc();
  doc["comment"] = "hi";
  expect_refused(doc, {"comment", "not a known field"});
}

TEST(Budget, TheDocumentItselfIsChecked) {
  auto doc = valid_doc();
  doc["format"] = "edgeloop-budget";
  expect_refused(doc, {"format", "edgeloop-budgets"});
  doc = valid_doc();
  doc.erase("format");
  expect_refused(doc, {"format", "missing"});
  doc = valid_doc();
  doc["format_version"] = 2;
  expect_refused(doc, {"format_version", "2"});
  doc = valid_doc();
  doc["tiers"] = json::object();
  expect_refused(doc, {"tiers", "non-empty"});
  doc = valid_doc();
  doc["tiers"]["bad tier!"] = doc["tiers"]["mid"];
  expect_refused(doc, {"bad tier!", "tier name"});
  doc = valid_doc();
  doc["tiers"]["low"] = 5;
  expect_refused(doc, {"tiers.low", "object"});
  expect_refused(json::array(), {"object"});

  auto r = parse_budget_config("{\"format\": \"edgeloop-budgets\", \"format\": \"edgeloop-budgets\"}");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("duplicate key \"format\""), std::string::npos) << r.error().message;
  r = parse_budget_config("{\"format\": ");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("not valid JSON"), std::string::npos);
}

TEST(Budget, MissingFileIsAClearError) {
  auto r = load_budget_config("/nonexistent/budgets.json");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("/nonexistent/budgets.json"), std::string::npos) << r.error().message;
}

TEST(Budget, DeclaredPowerPerLevel) {
  Envelope e;
  e.energy_mj_per_inference = 40;
  e.fps = 30;
  e.smaller_energy_ratio = 0.5;
  e.remote_energy_ratio = 0.25;
  EXPECT_DOUBLE_EQ(declared_power_w(e, Level::kFull, true), 1.2);
  EXPECT_DOUBLE_EQ(declared_power_w(e, Level::kSmaller, true), 0.6);
  EXPECT_DOUBLE_EQ(declared_power_w(e, Level::kLowerRate, true), 0.3);   // smaller variant at 15 fps
  EXPECT_DOUBLE_EQ(declared_power_w(e, Level::kLowerRate, false), 0.6);  // main variant at 15 fps
  EXPECT_DOUBLE_EQ(declared_power_w(e, Level::kRemote, true), 0.15);
  EXPECT_DOUBLE_EQ(declared_power_w(e, Level::kHeuristic, true), 0);
}

TEST(BudgetConfig, DefaultIsTheExampleFile) {
  auto file = load_budget_config(std::filesystem::path(EDGELOOP_SOURCE_DIR) / "examples/budgets.json");
  ASSERT_TRUE(file) << file.error().message;
  const BudgetConfig& built_in = default_budget_config();
  ASSERT_EQ(built_in.tiers.size(), file->tiers.size());
  for (const auto& [tier, e] : file->tiers) {
    auto d = built_in.for_tier(tier);
    ASSERT_TRUE(d) << tier;
    EXPECT_EQ(d->latency_p95_ms, e.latency_p95_ms) << tier;
    EXPECT_EQ(d->memory_bytes, e.memory_bytes) << tier;
    EXPECT_EQ(d->energy_mj_per_inference, e.energy_mj_per_inference) << tier;
    EXPECT_EQ(d->thermal_throttle_c, e.thermal_throttle_c) << tier;
    EXPECT_EQ(d->fps, e.fps) << tier;
    EXPECT_EQ(d->smaller_energy_ratio, e.smaller_energy_ratio) << tier;
    EXPECT_EQ(d->lower_rate_fps, e.lower_rate_fps) << tier;
    EXPECT_EQ(d->remote_energy_ratio, e.remote_energy_ratio) << tier;
  }
}

}  // namespace
}  // namespace edgeloop::device

#include "edgeloop/eval/guardrail_metrics.h"

#include <gtest/gtest.h>

namespace edgeloop::eval {
namespace {

TEST(LogHistogram, BucketsGrowFourPerDoublingAndQuantilesAreBounds) {
  LatencyHistogram h{10};
  h.add(5);      // <= min: bucket 0
  h.add(10);     // bucket 0
  h.add(20);     // 2x min: bucket 4
  h.add(1e12);   // the last bucket
  EXPECT_EQ(h.counts[0], 2u);
  EXPECT_EQ(h.counts[4], 1u);
  EXPECT_EQ(h.counts[LatencyHistogram::kBuckets - 1], 1u);
  EXPECT_DOUBLE_EQ(LatencyHistogram::upper_bound(10, 4), 20);
  EXPECT_DOUBLE_EQ(h.quantile(0.5), 10);
  EXPECT_DOUBLE_EQ(h.quantile(0.75), 20);
}

TEST(LogHistogram, SummingTwoEqualsAddingEverythingToOne) {
  LatencyHistogram a{10}, b{10}, both{10};
  for (double v : {3.0, 40.0, 700.0}) a.add(v), both.add(v);
  for (double v : {12.0, 40.0, 9e9}) b.add(v), both.add(v);
  a += b;
  EXPECT_EQ(a.counts, both.counts);
  EXPECT_EQ(a.total, 6u);
  EXPECT_DOUBLE_EQ(a.sum, both.sum);
  EXPECT_DOUBLE_EQ(a.quantile(0.5), both.quantile(0.5));
}

// A record with every field set to something distinct, so a field the sum or the export
// forgets shows.
GuardrailMetrics sample(uint64_t k) {
  GuardrailMetrics m;
  m.frames_offered = 100 * k;
  m.frames_dropped = 10 * k;
  m.inferences = 90 * k;
  m.deadline_overruns = 2 * k;
  m.model_errors = 1 * k;
  m.throttle_events = 3 * k;
  m.ladder_transitions = 4 * k;
  for (size_t i = 0; i < m.seconds_per_level.size(); ++i) m.seconds_per_level[i] = 0.5 * static_cast<double>(k * (i + 1));
  for (size_t i = 0; i < m.fallbacks.size(); ++i) m.fallbacks[i] = k * (i + 1);
  for (size_t i = 0; i < m.answers_by_source.size(); ++i) m.answers_by_source[i] = k * (i + 7);
  m.latency_us.add(250.0 * static_cast<double>(k));
  for (size_t i = 0; i < m.confidence.size(); ++i) m.confidence[i] = k * (i + 11);
  m.shadow_runs = 5 * k;
  m.shadow_skipped = 6 * k;
  m.shadow_disagreements = 2 * k;
  m.shadow_failures = 1 * k;
  m.shadow_confidence_delta_sum = -0.25 * static_cast<double>(k);
  m.shadow_latency_delta_us_sum = 75.0 * static_cast<double>(k);
  m.shadow_latency_us.add(400.0 * static_cast<double>(k));
  return m;
}

TEST(GuardrailMetrics, TheFleetSumIsFieldByField) {
  GuardrailMetrics sum = sample(1);
  sum += sample(2);
  const GuardrailMetrics three = sample(3);
  // Every additive field of sample(1) + sample(2) equals sample(3)'s, but the histograms (one
  // value each, at other places).
  nlohmann::ordered_json got = sum.to_json(), want = three.to_json();
  for (auto& j : {&got, &want}) {
    j->erase("latency_us");
    (*j)["shadow"].erase("latency_us");
  }
  EXPECT_EQ(got, want);
  EXPECT_EQ(sum.latency_us.total, 2u);
  EXPECT_DOUBLE_EQ(sum.latency_us.sum, 750);
  EXPECT_EQ(sum.shadow_latency_us.total, 2u);
  EXPECT_DOUBLE_EQ(sum.shadow_latency_us.sum, 1200);
}

TEST(GuardrailMetrics, TheExportHasEveryFieldUnderItsSchemaName) {
  const auto j = sample(1).to_json();
  EXPECT_EQ(j["schema"], "edgeloop-guardrails");
  EXPECT_EQ(j["schema_version"], GuardrailMetrics::kSchemaVersion);
  EXPECT_EQ(j["frames_offered"], 100);
  EXPECT_EQ(j["frames_dropped"], 10);
  EXPECT_EQ(j["inferences"], 90);
  EXPECT_EQ(j["deadline_overruns"], 2);
  EXPECT_EQ(j["model_errors"], 1);
  EXPECT_EQ(j["throttle_events"], 3);
  EXPECT_EQ(j["ladder_transitions"], 4);
  ASSERT_EQ(j["seconds_per_level"].size(), kLevelNames.size());
  EXPECT_EQ(j["seconds_per_level"]["L0-full"], 0.5);
  EXPECT_EQ(j["seconds_per_level"]["L4-heuristic"], 2.5);
  ASSERT_EQ(j["fallbacks"].size(), kFallbackReasonCount);
  EXPECT_EQ(j["fallbacks"]["none"], 1);
  EXPECT_EQ(j["fallbacks"]["ladder-heuristic"], 10);
  EXPECT_DOUBLE_EQ(j["fallback_rate"].get<double>(), (90.0 - 1.0) / 90.0);
  ASSERT_EQ(j["answers_by_source"].size(), kSourceCount);
  EXPECT_EQ(j["answers_by_source"]["local"], 7);
  EXPECT_EQ(j["answers_by_source"]["heuristic"], 10);
  EXPECT_EQ(j["latency_us"]["counts"].size(), LatencyHistogram::kBuckets);
  EXPECT_EQ(j["latency_us"]["upper_bounds"].size(), LatencyHistogram::kBuckets - 1);
  EXPECT_EQ(j["latency_us"]["total"], 1);
  EXPECT_EQ(j["confidence"]["counts"].size(), 10u);
  EXPECT_EQ(j["confidence"]["counts"][0], 11);
  const auto& s = j["shadow"];
  EXPECT_EQ(s["runs"], 5);
  EXPECT_EQ(s["skipped"], 6);
  EXPECT_EQ(s["disagreements"], 2);
  EXPECT_EQ(s["failures"], 1);
  EXPECT_DOUBLE_EQ(s["disagreement_rate"].get<double>(), 2.0 / 4.0);
  EXPECT_DOUBLE_EQ(s["confidence_delta_sum"].get<double>(), -0.25);
  EXPECT_DOUBLE_EQ(s["latency_delta_us_sum"].get<double>(), 75);
  EXPECT_EQ(s["latency_us"]["total"], 1);
}

}  // namespace
}  // namespace edgeloop::eval

// Mixed precision and the variant matrix on the Fashion-MNIST CNN, on small image slices (the
// full 10,000-image matrix is `edgeloop model variants`, recorded in docs/quantization.md).
#include "edgeloop/compress/variants.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "edgeloop/base/file.h"
#include "edgeloop/model/artifact.h"
#include "edgeloop/model/onnx_import.h"
#include "edgeloop/runtime/golden.h"

namespace edgeloop::compress {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

struct Cnn {
  model::Graph graph;
  CalibrationStats stats;
};

const Cnn& cnn() {
  static const Cnn c = [] {
    auto g = model::import_onnx(fs::path(EDGELOOP_SOURCE_DIR) / "examples/fashion_mnist/fashion_cnn.onnx");
    EXPECT_TRUE(g) << g.error().message;
    EXPECT_TRUE(runtime::attach_golden(*g));
    auto program = runtime::Program::from_graph(*g);
    auto src = CalibrationSource::parse("fashion-mnist:train:100", *g);
    auto stats = collect_statistics(*program, *src);
    EXPECT_TRUE(stats);
    return Cnn{std::move(*g), std::move(*stats)};
  }();
  return c;
}

PlanScorer scorer(const char* images) {
  auto s = PlanScorer::create(cnn().graph, cnn().stats, *load_image_set(images), {}, 2);
  EXPECT_TRUE(s) << s.error().message;
  return std::move(*s);
}

TEST(MixedPrecision, SensitivityCoversEveryLayerAndTheSearchMeetsTheFloor) {
  const PlanScorer held = scorer("fashion-mnist:test:0-150");
  auto sensitivity = measure_sensitivity(held);
  ASSERT_TRUE(sensitivity) << sensitivity.error().message;
  ASSERT_EQ(sensitivity->size(), 5u);
  for (const LayerSensitivity& s : *sensitivity) {
    ASSERT_EQ(s.modes.size(), 2u);
    EXPECT_LT(s.find(LayerMode::kW4A8)->bytes, s.find(LayerMode::kInt8)->bytes) << s.layer.node;
    EXPECT_GE(s.find(LayerMode::kInt8)->score.kl, 0) << s.layer.node;
  }
  const double floor = held.fp32_accuracy() - 0.005;
  auto plan = search_mixed_plan(held, *sensitivity, floor);
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_GE(plan->score.accuracy, floor);
  EXPECT_EQ(plan->steps.size() > 1, plan->plan != [&] {
    QuantPlan all4;
    for (const auto& s : *sensitivity) all4.set(s.layer.node, LayerMode::kW4A8);
    return all4;
  }());
  // The plan is reproducible: scoring it again gives the same accuracy.
  EXPECT_EQ(held.score(plan->plan)->accuracy, plan->score.accuracy);
}

TEST(MixedPrecision, AFloorAboveFp32IsRefusedWithTheReason) {
  const PlanScorer held = scorer("fashion-mnist:test:0-100");
  auto plan = search_mixed_plan(held, {}, held.fp32_accuracy() + 0.01);
  ASSERT_FALSE(plan);
  EXPECT_EQ(plan.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_THAT(plan.error().message, HasSubstr("the FP32 model itself reaches"));
  auto via_floor = plan_to_floor(held, *load_image_set("fashion-mnist:test:0-50"), Floor{1.0, std::nullopt});
  ASSERT_FALSE(via_floor);
  EXPECT_THAT(via_floor.error().message, HasSubstr("unreachable"));
}

TEST(Variants, TierSpecsParseAndBadOnesSayWhatIsExpected) {
  auto tiers = parse_tiers(kDefaultTiers);
  ASSERT_TRUE(tiers);
  ASSERT_EQ(tiers->size(), 3u);
  EXPECT_EQ((*tiers)[0].kind, TierRule::Kind::kMostAccurate);
  EXPECT_EQ((*tiers)[1].variant, "int8");
  EXPECT_EQ((*tiers)[2].kind, TierRule::Kind::kSmallestAboveFloor);
  for (const char* bad : {"", "flagship", "=int8", "low=", "a=int8,a=fp16"}) EXPECT_FALSE(parse_tiers(bad)) << bad;
}

struct TempDir {
  fs::path path = fs::temp_directory_path() / fmt::format("edgeloop-variants-{}", ::getpid());
  TempDir() { fs::create_directories(path); }
  ~TempDir() { fs::remove_all(path); }
};

TEST(Variants, MatrixIsWrittenWithTiersAndEveryVariantVerifies) {
  TempDir tmp;
  const fs::path fp32 = tmp.path / "fp32.edge";
  ASSERT_TRUE(model::write_artifact(cnn().graph, fp32));
  VariantsOptions o;
  o.fp32_path = fp32;
  o.calibration = "fashion-mnist:train:50";
  o.eval = "fashion-mnist:test:0-200";
  o.floor.max_drop_pp = 1.0;
  o.schemes = {"fp32", "fp16", "int8", "w4a8"};
  o.tiers = *parse_tiers("flagship=most-accurate,mid=int8,low=smallest,fixed=fp16");
  const fs::path out = tmp.path / "variants";
  auto m = build_variants(o, out);
  ASSERT_TRUE(m) << m.error().message;
  ASSERT_EQ(m->variants.size(), 4u);
  EXPECT_EQ(m->variants[0].name, "fp32");
  EXPECT_EQ(m->variants[0].ratio, 1.0);
  for (const VariantResult& v : m->variants) {
    auto p = runtime::Program::load(out / v.file);
    ASSERT_TRUE(p) << v.name << ": " << p.error().message;
    EXPECT_TRUE(runtime::check_golden(*p)) << v.name;
    EXPECT_EQ(p->graph().meta.variant, v.name);
    EXPECT_EQ(static_cast<int64_t>(fs::file_size(out / v.file)), v.bytes);
    EXPECT_GT(v.arena_bytes, 0);
  }
  EXPECT_LT(m->variants[2].ratio, 0.27);  // int8
  EXPECT_LT(m->variants[3].ratio, 0.17);  // w4a8

  auto json = nlohmann::json::parse(*read_file(out / "variants.json"));
  EXPECT_EQ(json["tiers"]["mid"], "int8");
  EXPECT_EQ(json["tiers"]["fixed"], "fp16");
  EXPECT_EQ(json["variants"].size(), 4u);
  EXPECT_EQ(json["variants"][2]["plan"]["/features/features.4/Conv"], "int8");
  // low: the smallest variant above the floor.
  const std::string low = json["tiers"]["low"];
  int64_t low_bytes = 0;
  for (const auto& v : json["variants"])
    if (v["name"] == low) low_bytes = v["bytes"].get<int64_t>();
  for (const auto& v : json["variants"]) {
    if (v["above_floor"] == true) {
      EXPECT_LE(low_bytes, v["bytes"].get<int64_t>()) << v["name"];
    }
  }
  // Nothing but the variants and the table; no staging folder left beside it.
  EXPECT_EQ(std::distance(fs::directory_iterator(out), fs::directory_iterator{}), 5);
  EXPECT_EQ(std::distance(fs::directory_iterator(tmp.path), fs::directory_iterator{}), 2);
}

TEST(Variants, FailuresLeaveNothingBehind) {
  TempDir tmp;
  const fs::path fp32 = tmp.path / "fp32.edge";
  ASSERT_TRUE(model::write_artifact(cnn().graph, fp32));
  VariantsOptions o;
  o.fp32_path = fp32;
  o.calibration = "fashion-mnist:train:10";
  o.eval = "fashion-mnist:test:0-50";
  o.schemes = {"fp32", "int8"};

  o.tiers = *parse_tiers("mid=w4a8");  // not built
  auto missing = build_variants(o, tmp.path / "a");
  ASSERT_FALSE(missing);
  EXPECT_THAT(missing.error().message, HasSubstr("'w4a8', which is not built"));

  o.tiers = {};
  o.calibration = "random:0";
  EXPECT_FALSE(build_variants(o, tmp.path / "b"));

  o.calibration = "fashion-mnist:train:10";
  o.floor.absolute = 1.0;  // no variant reaches 100%: the low tier has nothing to pick
  auto unreachable = build_variants(o, tmp.path / "c");
  ASSERT_FALSE(unreachable);
  EXPECT_THAT(unreachable.error().message, HasSubstr("no variant is above the floor"));

  fs::create_directories(tmp.path / "full");
  ASSERT_TRUE(write_file_durable(tmp.path / "full/keep.txt", std::as_bytes(std::span("x", 1))));
  auto full = build_variants(o, tmp.path / "full");
  ASSERT_FALSE(full);
  EXPECT_THAT(full.error().message, HasSubstr("is not empty"));
  EXPECT_TRUE(fs::exists(tmp.path / "full/keep.txt"));

  // Only the FP32 input and the untouched folder remain.
  EXPECT_EQ(std::distance(fs::directory_iterator(tmp.path), fs::directory_iterator{}), 2);

  model::Graph quantized = cnn().graph;
  quantized.meta.variant = "int8";
  ASSERT_TRUE(model::write_artifact(quantized, fp32));
  auto twice = build_variants(o, tmp.path / "d");
  ASSERT_FALSE(twice);
  EXPECT_THAT(twice.error().message, HasSubstr("already a quantized variant"));
}

}  // namespace
}  // namespace edgeloop::compress

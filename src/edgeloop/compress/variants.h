// The variant matrix (docs/quantization.md, "Variants"): one FP32 model becomes a small
// portfolio of quantized variants, each measured, and a tier → variant table that the release
// tooling reads from variants.json.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "edgeloop/base/stats.h"
#include "edgeloop/compress/mixed_precision.h"

namespace edgeloop::compress {

// How a tier picks its variant.
struct TierRule {
  enum class Kind { kMostAccurate, kSmallestAboveFloor, kVariant };
  std::string tier;
  Kind kind = Kind::kVariant;
  std::string variant;  // kVariant
};

// "flagship=most-accurate,mid=int8,low=smallest": tier=RULE pairs, RULE being most-accurate,
// smallest (the smallest variant above the floor) or a variant name.
Result<std::vector<TierRule>> parse_tiers(std::string_view spec);
inline constexpr std::string_view kDefaultTiers = "flagship=most-accurate,mid=int8,low=smallest";

struct VariantsOptions {
  std::filesystem::path fp32_path;  // the FP32 .edge artifact
  std::string calibration;          // calibration spec (CalibrationSource::parse)
  std::string eval;                 // image set spec: where every variant is measured
  std::string holdout;              // image set spec for the sensitivity sweep and plan search; default: first 1000 of eval
  Floor floor;
  std::vector<std::string> schemes = {"fp32", "fp16", "int8", "w4a32", "w4a8", "mixed"};
  std::vector<TierRule> tiers;      // default kDefaultTiers
  QuantizeOptions quantize;
  int threads = 2;
  Progress progress;
  // Messages for the user about what is happening ("calibrating on …"), one per call.
  std::function<void(std::string_view)> log;
};

struct VariantResult {
  std::string name, file, sha256;
  int64_t bytes = 0;         // artifact file size
  int64_t weight_bytes = 0;  // constant data alone (weights, biases)
  double ratio = 0;          // bytes / FP32 bytes
  double accuracy = 0;       // top-1 on the eval set
  double delta_pp = 0;       // accuracy − FP32 accuracy, percentage points
  bool above_floor = false;
  Summary latency_us;        // per inference, reference runtime
  int64_t arena_bytes = 0;
  QuantPlan plan;
  QuantizeReport report;
};

struct VariantMatrix {
  std::string model, version;
  double floor = 0;
  std::vector<VariantResult> variants;  // fp32 first
  std::vector<std::pair<std::string, std::string>> tiers;  // tier → variant name
  std::vector<LayerSensitivity> sensitivity;               // when mixed was built
  std::vector<std::string> mixed_search;
};

// Builds, measures and writes every variant into `out_dir` (created; must not exist or be empty):
// <variant>.edge for each, and variants.json. Everything is written into a temporary sibling
// directory first and renamed into place at the end, so a failure leaves nothing behind.
Result<VariantMatrix> build_variants(const VariantsOptions& options, const std::filesystem::path& out_dir);

// The variants.json document of a matrix (also what `edgeloop model variants --json` prints).
std::string variants_json(const VariantMatrix& m);

}  // namespace edgeloop::compress

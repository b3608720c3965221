#include "edgeloop/compress/variants.h"

#include <unistd.h>

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "edgeloop/base/file.h"
#include "edgeloop/base/hash.h"
#include "edgeloop/compress/evaluate.h"
#include "edgeloop/model/artifact.h"

namespace edgeloop::compress {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

Result<std::vector<TierRule>> parse_tiers(std::string_view spec) {
  std::vector<TierRule> rules;
  std::set<std::string, std::less<>> seen;
  for (size_t start = 0; start <= spec.size();) {
    size_t end = spec.find(',', start);
    if (end == std::string_view::npos) end = spec.size();
    const std::string_view item = spec.substr(start, end - start);
    start = end + 1;
    const size_t eq = item.find('=');
    if (eq == std::string_view::npos || eq == 0 || eq + 1 == item.size())
      return make_error(ErrorCode::kInvalidArgument,
                        "tier '{}': expected TIER=RULE with RULE most-accurate, smallest or a variant name (e.g. {})", item,
                        kDefaultTiers);
    TierRule r;
    r.tier = std::string(item.substr(0, eq));
    const std::string_view rule = item.substr(eq + 1);
    if (rule == "most-accurate") r.kind = TierRule::Kind::kMostAccurate;
    else if (rule == "smallest") r.kind = TierRule::Kind::kSmallestAboveFloor;
    else r.variant = std::string(rule);
    if (!seen.insert(r.tier).second) return make_error(ErrorCode::kInvalidArgument, "tier '{}' is given twice", r.tier);
    rules.push_back(std::move(r));
  }
  return rules;
}

namespace {

Json summary_json(const Summary& s) { return {{"p50", s.p50}, {"p90", s.p90}, {"p99", s.p99}, {"mean", s.mean}}; }

// A temporary folder beside `target`, removed on destruction unless released.
class StagingDir {
 public:
  static Result<StagingDir> create(const fs::path& target) {
    std::error_code ec;
    const fs::path parent = target.parent_path().empty() ? fs::path(".") : target.parent_path();
    fs::create_directories(parent, ec);
    if (ec) return make_error(ErrorCode::kIo, "cannot create {}: {}", parent.string(), ec.message());
    StagingDir d;
    d.path_ = parent / fmt::format(".{}.tmp-{}", target.filename().string(), ::getpid());
    fs::remove_all(d.path_, ec);
    if (!fs::create_directory(d.path_, ec) || ec) return make_error(ErrorCode::kIo, "cannot create {}: {}", d.path_.string(), ec.message());
    return d;
  }
  StagingDir(StagingDir&& o) noexcept : path_(std::exchange(o.path_, {})) {}
  ~StagingDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }
  // Renames the folder to `target` (which must not exist or be empty).
  Status commit(const fs::path& target) {
    std::error_code ec;
    if (fs::exists(target, ec)) fs::remove(target, ec);  // an empty folder; a full one was refused before
    fs::rename(path_, target, ec);
    if (ec) return make_error(ErrorCode::kIo, "cannot rename {} to {}: {}", path_.string(), target.string(), ec.message());
    path_.clear();
    return ok();
  }

 private:
  StagingDir() = default;
  fs::path path_;
};

Result<Summary> measure(const runtime::Program& program, const ImageDataset& data, int threads, VariantResult& v) {
  EvalOptions eval;
  eval.threads = threads;
  EL_TRY(EvalReport r, evaluate_classifier(program, data, eval));
  v.accuracy = r.accuracy();
  return r.latency_us;
}

}  // namespace

Result<VariantMatrix> build_variants(const VariantsOptions& o, const fs::path& out_dir) {
  auto log = [&](std::string_view message) {
    if (o.log) o.log(message);
  };
  {
    std::error_code ec;
    if (fs::exists(out_dir, ec) && !(fs::is_directory(out_dir, ec) && fs::is_empty(out_dir, ec)))
      return make_error(ErrorCode::kInvalidArgument, "output folder {} exists and is not empty; choose a new one", out_dir.string());
  }
  std::vector<TierRule> tiers = o.tiers;
  if (tiers.empty()) {
    EL_TRY(tiers, parse_tiers(kDefaultTiers));
  }
  for (const std::string& s : o.schemes)
    if (s != "fp32" && s != "mixed") EL_CHECK(parse_layer_mode(s));
  for (const TierRule& t : tiers)
    if (t.kind == TierRule::Kind::kVariant && std::find(o.schemes.begin(), o.schemes.end(), t.variant) == o.schemes.end())
      return make_error(ErrorCode::kInvalidArgument, "tier '{}' asks for variant '{}', which is not built (variants: {})", t.tier,
                        t.variant, fmt::join(o.schemes, ", "));

  // Load and check everything before any long work.
  EL_TRY(SharedBytes fp32_bytes, map_file(o.fp32_path));
  EL_TRY(runtime::Program fp32_program, runtime::Program::load(fp32_bytes, runtime::LoadOptions::reference()));
  const model::Graph& fp32 = fp32_program.graph();
  EL_CHECK(expect_fp32_graph(fp32));
  EL_TRY(ImageDataset eval_set, load_image_set(o.eval));
  ImageDataset holdout;
  if (o.holdout.empty()) {
    holdout = slice(eval_set, 0, 1000);
  } else {
    EL_TRY(holdout, load_image_set(o.holdout));
  }
  EL_TRY(CalibrationSource calib, CalibrationSource::parse(o.calibration, fp32));
  EL_TRY(StagingDir staging, StagingDir::create(out_dir));

  VariantMatrix m;
  m.model = fp32.meta.name;
  m.version = fp32.meta.version;

  log(fmt::format("calibrating on {} ({} samples)", calib.description(), calib.size()));
  EL_TRY(CalibrationStats stats, collect_statistics(fp32_program, calib, [&](int64_t done, int64_t total) {
           if (o.progress) o.progress("calibration", done, total);
         }));
  QuantizeOptions qopt = o.quantize;
  qopt.calibration = calib.description();

  log(fmt::format("measuring FP32 on {} ({} images)", o.eval, eval_set.count));
  EL_TRY(PlanScorer eval, PlanScorer::create(fp32, stats, eval_set, qopt, o.threads));
  VariantResult base;
  base.name = "fp32";
  base.accuracy = eval.fp32_accuracy();
  base.latency_us = eval.fp32_latency_us();
  m.floor = o.floor.resolve(base.accuracy);

  // Variants with the same plan (e.g. mixed = w4a8) are measured once; the mixed plan comes
  // with its score on the eval images from the search.
  const double no_kl = std::numeric_limits<double>::quiet_NaN();  // a variant's measurement has no KL
  std::vector<std::pair<QuantPlan, Score>> measured = {{QuantPlan{}, Score{base.accuracy, 0, base.latency_us}}};
  eval.set_known(&measured);
  auto finish = [&](VariantResult v, model::Graph g) -> Status {
    const fs::path file = staging.path() / (v.name + ".edge");
    EL_CHECK(model::write_artifact(g, file));
    EL_TRY(SharedBytes bytes, map_file(file));
    EL_TRY(runtime::Program program, runtime::Program::load(bytes, runtime::LoadOptions::reference()));
    v.file = file.filename().string();
    v.weight_bytes = static_cast<int64_t>(g.weight_bytes());
    v.bytes = static_cast<int64_t>(bytes.size());
    v.sha256 = to_hex(sha256(bytes.span()));
    v.arena_bytes = static_cast<int64_t>(program.plan().arena_bytes);
    auto known = std::find_if(measured.begin(), measured.end(), [&](const auto& e) { return e.first == v.plan; });
    if (known != measured.end()) {
      v.accuracy = known->second.accuracy;
      v.latency_us = known->second.latency_us;
    } else {
      log(fmt::format("measuring {} on {} images", v.name, eval_set.count));
      EL_TRY(v.latency_us, measure(program, eval_set, o.threads, v));
      measured.emplace_back(v.plan, Score{v.accuracy, no_kl, v.latency_us});
    }
    m.variants.push_back(std::move(v));
    return ok();
  };
  EL_CHECK(finish(base, fp32));

  for (const std::string& scheme : o.schemes) {
    if (scheme == "fp32") continue;
    VariantResult v;
    v.name = scheme;
    if (scheme == "mixed") {
      EL_TRY(FloorPlan found, plan_to_floor(eval, holdout, o.floor, o.progress, log));
      m.sensitivity = std::move(found.sensitivity);
      m.mixed_search = std::move(found.steps);
      v.plan = std::move(found.mixed.plan);
      measured.emplace_back(v.plan, found.mixed.score);
    } else {
      EL_TRY(LayerMode mode, parse_layer_mode(scheme));
      v.plan = uniform_plan(fp32, mode, qopt.group_size);
    }
    QuantizeOptions vo = qopt;
    vo.variant = scheme;
    EL_TRY(Quantized q, quantize_graph(fp32, v.plan, &stats, vo));
    v.report = std::move(q.report);
    EL_CHECK(finish(std::move(v), std::move(q.graph)));
  }

  const VariantResult& fp32_result = m.variants.front();
  for (VariantResult& v : m.variants) {
    v.ratio = static_cast<double>(v.bytes) / static_cast<double>(fp32_result.bytes);
    v.delta_pp = 100 * (v.accuracy - fp32_result.accuracy);
    v.above_floor = v.accuracy >= m.floor;
  }
  for (const TierRule& t : tiers) {
    const VariantResult* pick = nullptr;
    for (const VariantResult& v : m.variants) {
      switch (t.kind) {
        case TierRule::Kind::kVariant:
          if (v.name == t.variant) pick = &v;
          break;
        case TierRule::Kind::kMostAccurate:
          if (pick == nullptr || v.accuracy > pick->accuracy || (v.accuracy == pick->accuracy && v.bytes < pick->bytes)) pick = &v;
          break;
        case TierRule::Kind::kSmallestAboveFloor:
          if (v.above_floor && (pick == nullptr || v.bytes < pick->bytes)) pick = &v;
          break;
      }
    }
    if (pick == nullptr)
      return make_error(ErrorCode::kFailedPrecondition, "tier '{}': no variant is above the floor {:.2f}%", t.tier, 100 * m.floor);
    m.tiers.emplace_back(t.tier, pick->name);
  }
  const std::string json = variants_json(m);
  EL_CHECK(write_file_durable(staging.path() / "variants.json", std::as_bytes(std::span(json))));
  EL_CHECK(staging.commit(out_dir));
  return m;
}

std::string variants_json(const VariantMatrix& m) {
  Json j;
  j["model"] = m.model;
  j["version"] = m.version;
  j["floor"] = m.floor;
  Json variants = Json::array();
  for (const VariantResult& v : m.variants) {
    Json r;
    r["name"] = v.name;
    r["file"] = v.file;
    r["sha256"] = v.sha256;
    r["bytes"] = v.bytes;
    r["weight_bytes"] = v.weight_bytes;
    r["ratio"] = v.ratio;
    r["accuracy"] = v.accuracy;
    r["delta_pp"] = v.delta_pp;
    r["above_floor"] = v.above_floor;
    r["latency_us"] = summary_json(v.latency_us);
    r["arena_bytes"] = v.arena_bytes;
    r["plan"] = plan_to_json(v.plan);
    r["float_ops"] = v.report.float_ops;
    variants.push_back(std::move(r));
  }
  j["variants"] = std::move(variants);
  Json tiers = Json::object();
  for (const auto& [tier, variant] : m.tiers) tiers[tier] = variant;
  j["tiers"] = std::move(tiers);
  if (!m.sensitivity.empty()) {
    Json s = Json::array();
    for (const LayerSensitivity& l : m.sensitivity) {
      Json e{{"layer", l.layer.node}, {"op", model::op_name(l.layer.op)}};
      for (const auto& entry : l.modes)
        e[std::string(layer_mode_name(entry.mode))] = {{"accuracy", entry.score.accuracy}, {"kl", entry.score.kl}, {"bytes", entry.bytes}};
      s.push_back(std::move(e));
    }
    j["sensitivity"] = std::move(s);
    j["mixed_search"] = m.mixed_search;
  }
  return j.dump(2) + "\n";
}

}  // namespace edgeloop::compress

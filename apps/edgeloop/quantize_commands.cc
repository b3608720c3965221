// edgeloop model quantize | variants: the compression toolchain (docs/quantization.md).
#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <memory>

#include "cli.h"
#include "edgeloop/compress/evaluate.h"
#include "edgeloop/compress/variants.h"
#include "edgeloop/model/artifact.h"
#include "edgeloop/runtime/program.h"

namespace edgeloop::cli {
namespace {

namespace fs = std::filesystem;
using namespace edgeloop::compress;

// Options shared by both commands.
struct CommonArgs {
  std::string calib, eval = "fashion-mnist:test", holdout, range = "percentile";
  std::vector<std::string> range_for;
  double percentile = 99.99;
  std::optional<double> floor, max_drop;
  int group_size = 32, threads = 2;
  bool json = false, per_tensor_weights = false;
};

void add_common(CLI::App* cmd, CommonArgs& a) {
  cmd->add_option("--calib", a.calib,
                  "calibration data: fashion-mnist:SPLIT[:N|:A-B], random:N, FILE.npz (samples stacked per input) or a folder of .npy files (one sample each)");
  cmd->add_option("--eval", a.eval, "labelled images the floor and the accuracy refer to")->capture_default_str();
  cmd->add_option("--holdout", a.holdout,
                  "images for the sensitivity sweep and the plan search (default: the first 1000 of --eval)");
  auto* floor = cmd->add_option("--floor", a.floor, "accuracy floor, absolute top-1 in [0, 1] (e.g. 0.89)")->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--max-drop", a.max_drop, "accuracy floor as the largest drop from FP32, in percentage points (e.g. 0.5; variants defaults to 0.5)")
      ->check(CLI::Range(0.0, 100.0))
      ->excludes(floor);
  cmd->add_option("--range", a.range, "activation range method: minmax, percentile, mse or entropy")->capture_default_str();
  cmd->add_option("--percentile", a.percentile, "the percentile for --range percentile")->capture_default_str();
  cmd->add_option("--range-for", a.range_for, "TENSOR=METHOD: a range method for one activation tensor (repeatable)");
  cmd->add_option("--group-size", a.group_size, "int4 weights per group along the reduction")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  cmd->add_flag("--per-tensor-weights", a.per_tensor_weights,
                "int8 weights with one scale per tensor instead of per output channel (to compare; per channel is better)");
  cmd->add_option("--threads", a.threads, "evaluation sessions in parallel")->check(CLI::Range(1, 64))->capture_default_str();
  cmd->add_flag("--json", a.json, "print the result as JSON");
}

QuantizeOptions quantize_options(const CommonArgs& a) {
  QuantizeOptions o;
  o.range = unwrap(parse_range_method(a.range), "--range");
  o.range_options.percentile = a.percentile;
  for (const std::string& item : a.range_for) {
    const size_t eq = item.find('=');
    if (eq == std::string::npos || eq == 0) throw CommandError{fmt::format("--range-for '{}': expected TENSOR=METHOD", item)};
    o.range_overrides.emplace_back(item.substr(0, eq), unwrap(parse_range_method(item.substr(eq + 1)), "--range-for"));
  }
  o.group_size = a.group_size;
  o.per_tensor_int8_weights = a.per_tensor_weights;
  return o;
}

Floor floor_of(const CommonArgs& a) { return Floor{a.floor, a.max_drop}; }

void log_line(std::string_view message) { fmt::print(stderr, "{}\n", message); }

Progress show_progress() {
  return [](std::string_view step, int64_t done, int64_t total) { progress(step, done, total); };
}

// ------------------------------------------------------------------------- quantize

struct QuantizeArgs {
  std::string path, out, scheme;
  CommonArgs common;
};

Json report_json(const QuantizeReport& r) {
  Json layers = Json::array();
  for (const auto& l : r.layers)
    layers.push_back({{"node", l.node}, {"op", l.op}, {"mode", l.mode}, {"bytes_before", l.bytes_before}, {"bytes_after", l.bytes_after},
                      {"weight_sqnr_db", std::isfinite(l.weight_sqnr_db) ? Json(l.weight_sqnr_db) : Json(nullptr)}, {"note", l.note}});
  return {{"layers", layers},
          {"integer_ops", r.integer_ops},
          {"fused", r.fused},
          {"float_ops", r.float_ops},
          {"quantize_nodes", r.quantize_nodes},
          {"dequantize_nodes", r.dequantize_nodes},
          {"weight_bytes_before", r.weight_bytes_before},
          {"weight_bytes_after", r.weight_bytes_after}};
}

void print_report(const QuantizeReport& r) {
  fmt::print("  {:<40} {:<5} {:<6} {:>9} {:>10} {:>10}\n", "layer", "op", "mode", "bytes", "fp32 bytes", "weight SQNR");
  for (const auto& l : r.layers)
    fmt::print("  {:<40} {:<5} {:<6} {:>9} {:>10} {:>8.1f} dB{}\n", l.node, l.op, l.mode, l.bytes_after, l.bytes_before,
               l.weight_sqnr_db, l.note.empty() ? "" : "  " + l.note);
  fmt::print("  weights: {} bytes (FP32 {}, {:.3f}x)\n", r.weight_bytes_after, r.weight_bytes_before,
             static_cast<double>(r.weight_bytes_after) / static_cast<double>(std::max<int64_t>(r.weight_bytes_before, 1)));
  if (!r.integer_ops.empty()) fmt::print("  on integers: {}\n", fmt::join(r.integer_ops, ", "));
  if (!r.fused.empty()) fmt::print("  fused as clamps: {}\n", fmt::join(r.fused, ", "));
  if (!r.float_ops.empty())
    fmt::print("  in float between Dequantize/Quantize (no integer kernel): {}\n", fmt::join(r.float_ops, ", "));
  fmt::print("  inserted: {} QuantizeLinear, {} DequantizeLinear\n", r.quantize_nodes, r.dequantize_nodes);
}

void run_quantize(const QuantizeArgs& a) {
  const CommonArgs& c = a.common;
  runtime::Program program = unwrap(runtime::Program::load(a.path), a.path);
  const model::Graph& fp32 = program.graph();
  unwrap(expect_fp32_graph(fp32), a.path);
  QuantizeOptions options = quantize_options(c);
  const bool mixed = a.scheme == "mixed";
  std::optional<LayerMode> mode;
  if (!mixed) mode = unwrap(parse_layer_mode(a.scheme), "--scheme");
  if (mixed && !floor_of(c).set()) throw CommandError{"--scheme mixed needs an accuracy floor: --floor 0.89 or --max-drop 0.5"};
  const bool needs_calibration = mixed || uses_int8_activations(*mode);
  if (needs_calibration && c.calib.empty())
    throw CommandError{fmt::format("--scheme {} quantizes activations and needs calibration data: --calib fashion-mnist:train:1000, FILE.npz, "
                                   "random:N or a folder of .npy files",
                                   a.scheme)};

  std::optional<CalibrationStats> stats;
  if (!c.calib.empty()) {
    CalibrationSource source = unwrap(CalibrationSource::parse(c.calib, fp32), "--calib");
    options.calibration = source.description();
    if (needs_calibration) {
      if (!c.json) log_line(fmt::format("calibrating on {} ({} samples)", source.description(), source.size()));
      stats = unwrap(collect_statistics(program, source, [](int64_t d, int64_t t) { progress("calibration", d, t); }));
    }
  }
  // With a floor: score on the eval images (and search, for mixed).
  std::optional<PlanScorer> eval;
  ImageDataset holdout;
  if (floor_of(c).set()) {
    if (!stats) throw CommandError{"an accuracy floor needs calibration statistics here: add --calib"};
    ImageDataset eval_set = unwrap(load_image_set(c.eval), "--eval");
    holdout = c.holdout.empty() ? slice(eval_set, 0, 1000) : unwrap(load_image_set(c.holdout), "--holdout");
    if (!c.json) log_line(fmt::format("measuring FP32 on {} ({} images)", c.eval, eval_set.count));
    eval = unwrap(PlanScorer::create(fp32, *stats, std::move(eval_set), options, c.threads));
  }
  QuantPlan plan;
  std::vector<std::string> search;
  if (mixed) {
    FloorPlan found = unwrap(plan_to_floor(*eval, holdout, floor_of(c), show_progress(), c.json ? nullptr : log_line));
    plan = found.mixed.plan;
    search = found.steps;
  } else {
    plan = uniform_plan(fp32, *mode, options.group_size);
  }
  options.variant = a.scheme;
  Quantized q = unwrap(quantize_graph(fp32, plan, stats ? &*stats : nullptr, options));
  std::optional<Score> score;
  if (eval) {
    score = unwrap(eval->score(plan));
    const double floor = floor_of(c).resolve(eval->fp32_accuracy());
    if (score->accuracy < floor && floor > eval->fp32_accuracy())
      throw CommandError{fmt::format("the floor {:.2f}% is unreachable: the FP32 model itself reaches {:.2f}% on {}; nothing written",
                                     100 * floor, 100 * eval->fp32_accuracy(), c.eval)};
    if (score->accuracy < floor) {
      // Name the layers that cost the most, so the user knows what blocks the floor.
      PlanScorer held = unwrap(PlanScorer::create(fp32, *stats, holdout, options, c.threads));
      auto sensitivity = unwrap(measure_sensitivity(held, show_progress()));
      throw CommandError{fmt::format("{} reaches {:.2f}% on {}, below the floor {:.2f}% (FP32 {:.2f}%); nothing written. The most "
                                     "sensitive layers: {}. Try --scheme mixed with the same floor.",
                                     a.scheme, 100 * score->accuracy, c.eval, 100 * floor, 100 * eval->fp32_accuracy(),
                                     most_sensitive(sensitivity))};
    }
  }
  unwrap(model::write_artifact(q.graph, a.out), a.out);
  const auto size = fs::file_size(a.out);
  const auto fp32_size = fs::file_size(a.path);
  if (c.json) {
    Json j{{"input", a.path}, {"output", a.out}, {"scheme", a.scheme}, {"bytes", size}, {"fp32_bytes", fp32_size},
           {"ratio", static_cast<double>(size) / static_cast<double>(fp32_size)}, {"report", report_json(q.report)}};
    j["plan"] = plan_to_json(plan);
    if (score) j["eval"] = {{"set", c.eval}, {"accuracy", score->accuracy}, {"fp32_accuracy", eval->fp32_accuracy()}, {"kl", score->kl}};
    if (!search.empty()) j["search"] = search;
    print_json(j);
    return;
  }
  for (const std::string& s : search) fmt::print("{}\n", s);
  fmt::print("{} → {} ({}, {} bytes, {:.3f}x the FP32 file)\n", a.path, a.out, a.scheme, size,
             static_cast<double>(size) / static_cast<double>(fp32_size));
  print_report(q.report);
  if (score)
    fmt::print("  top-1 on {}: {:.2f}% (FP32 {:.2f}%, {:+.2f} pp)\n", c.eval, 100 * score->accuracy, 100 * eval->fp32_accuracy(),
               100 * (score->accuracy - eval->fp32_accuracy()));
}

// ------------------------------------------------------------------------- variants

struct VariantsArgs {
  std::string path, out_dir, tiers = std::string(kDefaultTiers);
  std::vector<std::string> schemes;
  CommonArgs common;
};

void run_variants(const VariantsArgs& a) {
  const CommonArgs& c = a.common;
  if (c.calib.empty()) throw CommandError{"--calib is required: e.g. --calib fashion-mnist:train:1000"};
  VariantsOptions o;
  o.fp32_path = a.path;
  o.calibration = c.calib;
  o.eval = c.eval;
  o.holdout = c.holdout;
  o.floor = c.floor || c.max_drop ? floor_of(c) : Floor{std::nullopt, 0.5};
  if (!a.schemes.empty()) o.schemes = a.schemes;
  o.tiers = unwrap(parse_tiers(a.tiers), "--tiers");
  o.quantize = quantize_options(c);
  o.threads = c.threads;
  o.progress = show_progress();
  if (!c.json) o.log = log_line;
  const auto start = std::chrono::steady_clock::now();
  VariantMatrix m = unwrap(build_variants(o, a.out_dir));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (c.json) {
    std::fputs(variants_json(m).c_str(), stdout);
    return;
  }
  for (const std::string& s : m.mixed_search) fmt::print("{}\n", s);
  fmt::print("\n{} v{}: floor {:.2f}% ({}) on {}\n\n", m.model, m.version, 100 * m.floor, o.floor.describe(), c.eval);
  const double fp32_weights = static_cast<double>(std::max<int64_t>(m.variants.front().weight_bytes, 1));
  fmt::print("| variant | bytes | vs FP32 | weights vs FP32 | top-1 | change | p50 latency | arena |\n|---|---|---|---|---|---|---|---|\n");
  for (const VariantResult& v : m.variants)
    fmt::print("| {}{} | {} | {:.3f}x | {:.3f}x | {:.2f}% | {:+.2f} pp | {:.0f} µs | {} |\n", v.name, v.above_floor ? "" : " (below floor)",
               v.bytes, v.ratio, static_cast<double>(v.weight_bytes) / fp32_weights, 100 * v.accuracy, v.delta_pp, v.latency_us.p50,
               v.arena_bytes);
  fmt::print("\ntiers:");
  for (const auto& [tier, variant] : m.tiers) fmt::print(" {}={}", tier, variant);
  fmt::print("\nwritten to {}/ (variants.json and one .edge per variant) in {:.1f} s\n", a.out_dir, seconds);
}

}  // namespace

void add_quantize_commands(CLI::App& model) {
  auto qa = std::make_shared<QuantizeArgs>();
  auto* q = model.add_subcommand("quantize", "Quantize an FP32 artifact: int8 (W8A8), w4a8, w4a32, fp16, or mixed to an accuracy floor");
  q->add_option("model", qa->path, "the FP32 .edge file")->required()->check(CLI::ExistingFile);
  q->add_option("--scheme", qa->scheme, "int8, w4a8, w4a32, fp16 or mixed")->required();
  q->add_option("-o,--output", qa->out, "the .edge file to write")->required();
  add_common(q, qa->common);
  q->callback([qa] { run_quantize(*qa); });

  auto va = std::make_shared<VariantsArgs>();
  auto* v = model.add_subcommand("variants", "Build and measure the variant matrix of an FP32 artifact and its tier table (variants.json)");
  v->add_option("model", va->path, "the FP32 .edge file")->required()->check(CLI::ExistingFile);
  v->add_option("--out-dir", va->out_dir, "folder to create for the variants and variants.json (must not exist or be empty)")->required();
  v->add_option("--schemes", va->schemes, "variants to build (default: fp32 fp16 int8 w4a32 w4a8 mixed)")->delimiter(',');
  v->add_option("--tiers", va->tiers, "TIER=RULE,...: RULE is most-accurate, smallest (above the floor) or a variant name")
      ->capture_default_str();
  add_common(v, va->common);
  v->callback([va] { run_variants(*va); });
}

}  // namespace edgeloop::cli

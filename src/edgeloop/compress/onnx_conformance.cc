#include "edgeloop/compress/onnx_conformance.h"

#include <algorithm>

#include "edgeloop/model/onnx_import.h"
#include "edgeloop/model/tensor_compare.h"
#include "edgeloop/runtime/session.h"

namespace edgeloop::compress {
namespace {

namespace fs = std::filesystem;

// input_0.pb, input_1.pb, ... in numeric order.
std::vector<fs::path> numbered(const fs::path& dir, const std::string& prefix) {
  std::vector<fs::path> files;
  for (int i = 0;; ++i) {
    fs::path p = dir / (prefix + std::to_string(i) + ".pb");
    if (!fs::exists(p)) break;
    files.push_back(p);
  }
  return files;
}

std::vector<fs::path> data_sets(const fs::path& dir) {
  std::vector<fs::path> sets;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_directory() && e.path().filename().string().rfind("test_data_set_", 0) == 0) sets.push_back(e.path());
  std::sort(sets.begin(), sets.end());
  return sets;
}

// The first line of a (possibly multi-line) importer message, without the file prefix.
std::string first_reason(const std::string& message) {
  std::string m = message;
  if (auto nl = m.find('\n'); nl != std::string::npos) {
    std::string rest = m.substr(nl + 1);
    auto end = rest.find('\n');
    m = rest.substr(0, end);
    m.erase(0, m.find_first_not_of(' '));
  }
  return m;
}

}  // namespace

std::string_view to_string(CaseOutcome o) {
  switch (o) {
    case CaseOutcome::kPassed: return "passed";
    case CaseOutcome::kFailed: return "failed";
    case CaseOutcome::kDeclined: return "declined";
    case CaseOutcome::kOutOfScope: return "out-of-scope";
  }
  return "?";
}

int ConformanceReport::count(CaseOutcome o) const {
  return static_cast<int>(std::count_if(cases.begin(), cases.end(), [o](const CaseResult& c) { return c.outcome == o; }));
}

CaseResult run_onnx_case(const fs::path& dir, std::string suite, double rtol, double atol, const runtime::LoadOptions& load) {
  CaseResult r{std::move(suite), dir.filename().string(), CaseOutcome::kFailed, {}, 0, 0};
  auto info = model::inspect_onnx(dir / "model.onnx");
  if (!info) {
    r.outcome = CaseOutcome::kDeclined;
    r.reason = info.error().message;
    return r;
  }
  std::vector<std::string> missing;
  for (const auto& op : info->op_types)
    if (!model::onnx_op_supported(op)) missing.push_back(op);
  if (!missing.empty()) {
    r.outcome = CaseOutcome::kOutOfScope;
    r.reason = fmt::format("ops {}", fmt::join(missing, ", "));
    return r;
  }
  const auto sets = data_sets(dir);
  if (sets.empty()) {
    r.reason = "no test_data_set_* folder";
    return r;
  }
  // Parameters that ONNX passes as inputs (shapes, axes, scales) are bound from the first data
  // set; every data set of a test shares them.
  std::vector<model::TensorData> first_inputs;
  const auto first_files = numbered(sets[0], "input_");
  for (size_t i = 0; i < first_files.size(); ++i) {
    auto t = model::read_onnx_tensor(first_files[i]);
    if (!t) {
      r.outcome = CaseOutcome::kDeclined;
      r.reason = t.error().message;
      return r;
    }
    if (i < info->inputs.size()) t->name = info->inputs[i];
    first_inputs.push_back(std::move(*t));
  }
  model::ImportOptions opts;
  opts.bindable_inputs = first_inputs;
  auto graph = model::import_onnx(dir / "model.onnx", opts);
  if (!graph) {
    r.outcome = graph.error().code == ErrorCode::kUnsupported ? CaseOutcome::kDeclined : CaseOutcome::kFailed;
    r.reason = first_reason(graph.error().message);
    return r;
  }
  r.bound_inputs = static_cast<int>(info->inputs.size() - graph->inputs.size());
  auto program = runtime::Program::from_graph(std::move(*graph), load);
  if (!program) {
    r.outcome = program.error().code == ErrorCode::kUnsupported ? CaseOutcome::kDeclined : CaseOutcome::kFailed;
    r.reason = program.error().message;
    return r;
  }
  runtime::Session session(*program);
  const model::Graph& g = program->graph();
  for (const fs::path& set : sets) {
    std::vector<model::TensorData> inputs;
    const auto files = numbered(set, "input_");
    for (size_t i = 0; i < files.size() && i < info->inputs.size(); ++i) {
      const std::string& name = info->inputs[i];
      if (std::none_of(g.inputs.begin(), g.inputs.end(), [&](auto id) { return g.tensors[id].name == name; })) continue;  // bound
      auto t = model::read_onnx_tensor(files[i]);
      if (!t) {
        r.reason = t.error().message;
        return r;
      }
      t->name = name;
      inputs.push_back(std::move(*t));
    }
    auto outputs = session.run(inputs);
    if (!outputs) {
      r.reason = fmt::format("{}: {}", set.filename().string(), outputs.error().message);
      return r;
    }
    const auto expected = numbered(set, "output_");
    if (expected.size() != outputs->size()) {
      r.reason = fmt::format("{} outputs, expected {}", outputs->size(), expected.size());
      return r;
    }
    for (size_t i = 0; i < expected.size(); ++i) {
      auto want = model::read_onnx_tensor(expected[i]);
      if (!want) {
        r.outcome = CaseOutcome::kDeclined;
        r.reason = "expected output: " + want.error().message;
        return r;
      }
      want->name = (*outputs)[i].name;
      auto c = model::compare_tensors((*outputs)[i], *want, rtol, atol);
      r.max_abs_diff = std::max(r.max_abs_diff, c.max_abs_diff);
      if (!c.ok) {
        r.reason = fmt::format("{}: {}", set.filename().string(), c.message);
        return r;
      }
    }
  }
  r.outcome = CaseOutcome::kPassed;
  return r;
}

Result<ConformanceReport> run_onnx_conformance(const ConformanceOptions& options) {
  const fs::path root = options.data_dir.empty() ? fs::path(kOnnxTestDataDir) : options.data_dir;
  if (!fs::is_directory(root / "node"))
    return make_error(ErrorCode::kNotFound, "{} has no node/ folder: install libonnx-testdata (scripts/install-deps.sh) or pass --data", root.string());
  ConformanceReport report;
  for (const char* suite : {"node", "pytorch-converted", "pytorch-operator", "simple"}) {
    if (!fs::is_directory(root / suite)) continue;
    std::vector<fs::path> dirs;
    for (const auto& e : fs::directory_iterator(root / suite))
      if (fs::exists(e.path() / "model.onnx")) dirs.push_back(e.path());
    std::sort(dirs.begin(), dirs.end());
    for (const fs::path& dir : dirs) {
      if (!options.filter.empty() && (std::string(suite) + "/" + dir.filename().string()).find(options.filter) == std::string::npos) continue;
      report.cases.push_back(run_onnx_case(dir, suite, options.rtol, options.atol, options.load));
      if (options.on_case) options.on_case(report.cases.back());
    }
  }
  return report;
}

}  // namespace edgeloop::compress

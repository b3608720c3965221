// Runs ONNX's own backend test data (Debian's libonnx-testdata) through the importer and the
// reference runtime: import each model, run every test data set, compare with ONNX's tolerances.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "edgeloop/base/error.h"
#include "edgeloop/runtime/program.h"

namespace edgeloop::compress {

enum class CaseOutcome {
  kPassed,      // every output of every data set within tolerance
  kFailed,      // supported, but ran wrong or failed to run: a bug
  kDeclined,    // uses only supported op types, but the importer/loader refuses a dtype, attribute or mode
  kOutOfScope,  // uses op types outside edgeloop's op set
};
std::string_view to_string(CaseOutcome o);

struct CaseResult {
  std::string suite;  // node, pytorch-converted, pytorch-operator, simple
  std::string name;   // test_add_bcast
  CaseOutcome outcome = CaseOutcome::kFailed;
  std::string reason;  // why declined / failed / out of scope; empty when passed
  int bound_inputs = 0;  // inputs the importer bound as constants (parameters passed as inputs)
  double max_abs_diff = 0;
};

struct ConformanceReport {
  std::vector<CaseResult> cases;
  int count(CaseOutcome o) const;
};

struct ConformanceOptions {
  std::filesystem::path data_dir;  // holds node/, pytorch-converted/, ...
  std::string filter;              // substring of "suite/name"; empty = all
  double rtol = 1e-3, atol = 1e-7;
  runtime::LoadOptions load = runtime::LoadOptions::reference();  // the backends and threads the cases run on
  std::function<void(const CaseResult&)> on_case;  // called as each case finishes
};

inline constexpr const char* kOnnxTestDataDir = "/usr/share/libonnx-testdata/data";

Result<ConformanceReport> run_onnx_conformance(const ConformanceOptions& options);
CaseResult run_onnx_case(const std::filesystem::path& dir, std::string suite, double rtol, double atol,
                         const runtime::LoadOptions& load = runtime::LoadOptions::reference());

}  // namespace edgeloop::compress

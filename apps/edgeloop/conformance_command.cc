// edgeloop conformance onnx
#include "cli.h"
#include "edgeloop/compress/onnx_conformance.h"

namespace edgeloop::cli {
namespace {

struct ConformanceArgs {
  std::string data, filter;
  bool json = false, quiet = false;
  int min_pass = 0;
  RuntimeFlags rt{"reference", 1};
};

void run_conformance(const ConformanceArgs& a) {
  compress::ConformanceOptions opts;
  opts.data_dir = a.data;
  opts.filter = a.filter;
  opts.load = a.rt.load();
  if (!a.json)
    opts.on_case = [&](const compress::CaseResult& c) {
      if (a.quiet && c.outcome == compress::CaseOutcome::kPassed) return;
      fmt::print("{:<13} {}/{}{}{}\n", compress::to_string(c.outcome), c.suite, c.name, c.reason.empty() ? "" : "  — ", c.reason);
    };
  auto report = unwrap(compress::run_onnx_conformance(opts));
  using compress::CaseOutcome;
  const int passed = report.count(CaseOutcome::kPassed), failed = report.count(CaseOutcome::kFailed);
  const int declined = report.count(CaseOutcome::kDeclined), out = report.count(CaseOutcome::kOutOfScope);
  if (a.json) {
    Json j{{"total", report.cases.size()}, {"in_scope", passed + failed + declined}, {"passed", passed}, {"failed", failed},
           {"declined", declined}, {"out_of_scope", out}, {"cases", Json::array()}};
    for (const auto& c : report.cases)
      j["cases"].push_back({{"suite", c.suite}, {"name", c.name}, {"outcome", compress::to_string(c.outcome)}, {"reason", c.reason},
                            {"bound_inputs", c.bound_inputs}, {"max_abs_diff", c.max_abs_diff}});
    print_json(j);
  } else {
    fmt::print("\n{} tests: {} use only edgeloop's op set — {} passed, {} failed, {} declined; {} use other ops\n",
               report.cases.size(), passed + failed + declined, passed, failed, declined, out);
  }
  if (failed > 0) throw CommandError{fmt::format("{} conformance tests failed", failed)};
  if (passed < a.min_pass) throw CommandError{fmt::format("only {} tests passed, at least {} expected", passed, a.min_pass)};
}

}  // namespace

void add_conformance_commands(CLI::App& app) {
  auto* conf = app.add_subcommand("conformance", "Check the importer and runtime against ONNX's backend test data");
  conf->require_subcommand(1);
  auto a = std::make_shared<ConformanceArgs>();
  auto* onnx = conf->add_subcommand("onnx",
                                    "Run every ONNX backend test whose ops edgeloop supports (rtol 1e-3, atol 1e-7); "
                                    "exit 1 if any fails");
  onnx->add_option("--data", a->data, "folder with node/, pytorch-converted/, ... (default: libonnx-testdata's)");
  onnx->add_option("--filter", a->filter, "only tests whose suite/name contains this");
  onnx->add_option("--min-pass", a->min_pass, "also fail when fewer tests pass (guards against silent declines)");
  add_runtime_flags(onnx, a->rt);
  onnx->add_flag("-q,--quiet", a->quiet, "do not list passing tests");
  onnx->add_flag("--json", a->json, "print the report as JSON");
  onnx->callback([a] { run_conformance(*a); });
}

}  // namespace edgeloop::cli

// A model on trial judged in the shadow of the last-known-good, before it ever answers anyone
// (docs/engine.md, "Shadow champion–challenger"): every challenger run that answers within its
// time limit (the latency budget) is one success (ota::Installer::record_success: the K-th marks
// the model good); failed runs — errors, or runs over the limit — revert it to the
// last-known-good (a pointer flip, nothing downloaded) once there are `max_failures` of them and
// they are more than `max_failure_share` of its runs: the budget is a p95, so a model may be over
// it one run in twenty, but not more. After a verdict the judge ignores further results. It
// plugs into EngineOptions::on_shadow_result.
#pragma once

#include <functional>
#include <mutex>
#include <optional>
#include <string_view>

#include "edgeloop/base/error.h"
#include "edgeloop/ota/installer.h"

namespace edgeloop::device {

struct TrialJudgeOptions {
  int max_failures = 3;            // failed shadow runs (in all, not in a row) before a revert; >= 1
  double max_failure_share = 0.05;  // ... and only while they are more than this share of the runs
};

enum class TrialVerdict {
  kNoTrial,     // there was no trial to judge when the judge was made: it does nothing
  kOnTrial,     // no verdict yet
  kMarkedGood,  // the trial reached its successes: trusted, it answers from the next start
  kReverted,    // too many failures: back to the last-known-good, the trial slot marked failed
};
std::string_view to_string(TrialVerdict verdict);  // "no-trial", "on-trial", "marked-good", "reverted"

class TrialJudge {
 public:
  // Judges the trial `installer`'s store holds now (none: kNoTrial). `installer` must outlive
  // the judge, and nothing else may use it while the engine reports to the judge.
  explicit TrialJudge(ota::Installer& installer, TrialJudgeOptions options = {});

  // One challenger run (true: it answered within its limit). Thread-safe: the engine calls it
  // on its shadow thread. A state write that fails stops the judge (error()); the trial stays.
  void record(bool ok);
  // record() as an EngineOptions::on_shadow_result; the judge must outlive the engine.
  std::function<void(bool ok)> callback();

  TrialVerdict verdict() const;
  int successes() const;  // recorded by this judge (the installer also counts earlier starts')
  int failures() const;
  std::optional<Error> error() const;
  const TrialJudgeOptions& options() const { return options_; }

 private:
  ota::Installer* installer_;
  TrialJudgeOptions options_;
  mutable std::mutex mutex_;
  TrialVerdict verdict_;
  int successes_ = 0, failures_ = 0;
  std::optional<Error> error_;
};

}  // namespace edgeloop::device

#include "edgeloop/device/trial_judge.h"

#include <algorithm>

namespace edgeloop::device {

std::string_view to_string(TrialVerdict verdict) {
  switch (verdict) {
    case TrialVerdict::kNoTrial: return "no-trial";
    case TrialVerdict::kOnTrial: return "on-trial";
    case TrialVerdict::kMarkedGood: return "marked-good";
    case TrialVerdict::kReverted: return "reverted";
  }
  return "?";
}

TrialJudge::TrialJudge(ota::Installer& installer, TrialJudgeOptions options)
    : installer_(&installer),
      options_(options),
      verdict_(installer.state().trial ? TrialVerdict::kOnTrial : TrialVerdict::kNoTrial) {
  options_.max_failures = std::max(1, options_.max_failures);
}

void TrialJudge::record(bool ok) {
  std::lock_guard lock(mutex_);
  if (verdict_ != TrialVerdict::kOnTrial || error_) return;
  if (ok) {
    ++successes_;
    auto good = installer_->record_success();
    if (!good)
      error_ = std::move(good).error().context("recording a success of the trial");
    else if (*good)
      verdict_ = TrialVerdict::kMarkedGood;
  } else if (++failures_ >= options_.max_failures &&
             failures_ > options_.max_failure_share * static_cast<double>(successes_ + failures_)) {
    auto reverted = installer_->revert();
    if (!reverted)
      error_ = std::move(reverted).error().context("reverting the trial");
    else
      verdict_ = TrialVerdict::kReverted;
  }
}

std::function<void(bool)> TrialJudge::callback() {
  return [this](bool ok) { record(ok); };
}

TrialVerdict TrialJudge::verdict() const {
  std::lock_guard lock(mutex_);
  return verdict_;
}
int TrialJudge::successes() const {
  std::lock_guard lock(mutex_);
  return successes_;
}
int TrialJudge::failures() const {
  std::lock_guard lock(mutex_);
  return failures_;
}
std::optional<Error> TrialJudge::error() const {
  std::lock_guard lock(mutex_);
  return error_;
}

}  // namespace edgeloop::device

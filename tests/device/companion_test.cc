#include "edgeloop/device/companion.h"

#include <gtest/gtest.h>

#include <fstream>

#include "device_world.h"
#include "edgeloop/device/boot.h"
#include "edgeloop/device/data_dir.h"
#include "edgeloop/ota/installer.h"
#include "testing/result.h"

namespace edgeloop::device {
namespace {

namespace fs = std::filesystem;
using world::DeviceWorld;
using world::ReleaseSpec;

// A release as a variant matrix: fp32 for mid (the largest), int8 for flagship, w4a8 for low
// (the smallest). The variants differ in their bytes; the arithmetic is the tiny MLP's.
struct Release {
  std::string fp32, int8, w4a8;
};
Release release(DeviceWorld& w, int version, bool with_small = true) {
  Release r;
  r.fp32 = w.release({version, "fp32", 8192}, {"mid"});
  if (with_small) {
    r.int8 = w.release({version, "int8", 4096, 0.25f}, {"flagship"});
    r.w4a8 = w.release({version, "w4a8", 1024, 0.5f}, {"low"});
  }
  return r;
}

Result<Booted> boot_device(DeviceWorld& w, std::unique_ptr<DeviceSlots>& slots) {
  auto opened = DeviceSlots::open(w.data_dir());
  if (!opened) return std::unexpected(opened.error());
  slots = std::move(*opened);
  BootOptions o;
  o.load = runtime::LoadOptions::reference();
  o.companion_dir = companion_dir(w.data_dir());
  return boot(slots->store(), o);
}

TEST(ChooseCompanion, TheSmallestVariantOfTheSameReleaseThatThisRuntimeRuns) {
  ota::TargetsMeta targets;
  auto add = [&](std::string path, std::string model, std::string version, std::string variant, uint64_t length,
                 std::string min_runtime = "0.1.0") {
    ota::TargetInfo t;
    t.model = std::move(model);
    t.model_version = std::move(version);
    t.variant = std::move(variant);
    t.length = length;
    t.sha256 = std::string(64, 'a');
    t.min_runtime_version = std::move(min_runtime);
    targets.targets[path] = t;
  };
  add("artifacts/main", "m", "2", "int8", 1000);
  add("artifacts/fp32", "m", "2", "fp32", 4000);
  add("artifacts/w4a8", "m", "2", "w4a8", 600);
  add("artifacts/tiny-new-runtime", "m", "2", "w2", 100, "99.0");  // this runtime cannot run it
  add("artifacts/old-version", "m", "1", "w4a8", 50);
  add("artifacts/other-model", "n", "2", "w4a8", 10);
  auto c = choose_companion(targets, "artifacts/main", "1.0.0");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->path, "artifacts/w4a8");
  // The main target is already the smallest: no companion.
  EXPECT_FALSE(choose_companion(targets, "artifacts/w4a8", "1.0.0"));
  // A runtime that runs everything gets the smallest of all.
  EXPECT_EQ(choose_companion(targets, "artifacts/main", "99.0")->path, "artifacts/tiny-new-runtime");
  EXPECT_FALSE(choose_companion(targets, "artifacts/unknown", "1.0.0"));
}

TEST(Companion, TheUpdateInstallsTheReleasesSmallestVariantBesideTheMainModelAndBootLoadsItForL1) {
  DeviceWorld w;
  const Release v1 = release(w, 1);
  w.roll_out(1);
  auto r = w.update();
  ASSERT_OK(r);
  EXPECT_EQ(w.steps.back(), UpdateStep::kCompanion);
  EXPECT_EQ(r->action, UpdateAction::kProvisioned);
  ASSERT_TRUE(r->companion);
  EXPECT_EQ(r->companion->status, CompanionStatus::kInstalled) << r->companion->reason;
  EXPECT_EQ(r->companion->target->path, v1.w4a8);
  EXPECT_EQ(r->companion->downloaded_bytes(), r->companion->target->info.length);
  const std::string sha = r->companion->target->info.sha256;
  EXPECT_TRUE(fs::exists(companion_dir(w.data_dir()) / (sha + ".edge")));
  EXPECT_TRUE(fs::exists(companion_dir(w.data_dir()) / (sha + ".json")));
  EXPECT_EQ(r->state.info(ota::Slot::kA)->variant, "fp32");  // the slots hold the main model only
  EXPECT_FALSE(r->state.info(ota::Slot::kB));

  std::unique_ptr<DeviceSlots> slots;
  auto booted = boot_device(w, slots);
  ASSERT_OK(booted);
  ASSERT_TRUE(booted->models->smaller);
  EXPECT_EQ(booted->models->smaller->graph().meta.variant, "w4a8");
  EXPECT_EQ(booted->models->smaller->graph().meta.version, "1");
  ASSERT_TRUE(booted->report.companion);
  EXPECT_EQ(booted->report.companion->sha256, sha);

  // The next cycle finds it stored: nothing downloaded.
  auto again = w.update();
  ASSERT_OK(again);
  EXPECT_EQ(again->companion->status, CompanionStatus::kStored);
  EXPECT_EQ(again->companion->downloaded_bytes(), 0u);
}

TEST(Companion, ATamperedCompanionIsRefusedTheMainModelInstallsAndL1IsUnavailable) {
  DeviceWorld w;
  const Release v1 = release(w, 1);
  w.roll_out(1);
  w.tamper(v1.w4a8);
  auto r = w.update();
  ASSERT_OK(r);  // the main install does not depend on the companion
  EXPECT_EQ(r->action, UpdateAction::kProvisioned);
  ASSERT_TRUE(r->companion);
  EXPECT_EQ(r->companion->status, CompanionStatus::kRefused);
  EXPECT_NE(r->companion->reason.find("SHA-256"), std::string::npos) << r->companion->reason;
  CompanionStore store(companion_dir(w.data_dir()));
  EXPECT_TRUE(store.list().empty());
  EXPECT_TRUE(fs::is_empty(companion_dir(w.data_dir()) / "downloads"));

  std::unique_ptr<DeviceSlots> slots;
  auto booted = boot_device(w, slots);
  ASSERT_OK(booted);
  EXPECT_FALSE(booted->models->smaller);
  EXPECT_FALSE(booted->report.companion);
  EXPECT_NE(booted->report.companion_unavailable.find("no companion of tiny 1"), std::string::npos)
      << booted->report.companion_unavailable;
  EXPECT_EQ(booted->report.action, ota::StartAction::kNoTrial);
}

TEST(Companion, ADamagedStoredCompanionIsNotUsedAndTheNextCycleReplacesIt) {
  DeviceWorld w;
  release(w, 1);
  w.roll_out(1);
  auto r = w.update();
  ASSERT_OK(r);
  ASSERT_EQ(r->companion->status, CompanionStatus::kInstalled);
  const fs::path file = companion_dir(w.data_dir()) / (r->companion->target->info.sha256 + ".edge");
  {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(64);
    f.put('\x42');
  }
  std::unique_ptr<DeviceSlots> slots;
  auto booted = boot_device(w, slots);
  ASSERT_OK(booted);
  EXPECT_FALSE(booted->models->smaller);
  EXPECT_NE(booted->report.companion_unavailable.find("does not match its record"), std::string::npos)
      << booted->report.companion_unavailable;
  slots.reset();
  auto again = w.update();
  ASSERT_OK(again);
  EXPECT_EQ(again->companion->status, CompanionStatus::kInstalled);
  booted = boot_device(w, slots);
  ASSERT_OK(booted);
  EXPECT_TRUE(booted->models->smaller);
}

TEST(Companion, OnlyTheCompanionOfTheVersionThatAnswersIsUsed) {
  DeviceWorld w;
  release(w, 1);
  w.roll_out(1);
  ASSERT_OK(w.update());
  release(w, 2, /*with_small=*/false);  // version 2 ships without a smaller variant
  w.roll_out(2);
  auto r = w.update();
  ASSERT_OK(r);
  EXPECT_EQ(r->action, UpdateAction::kInstalledOnTrial);
  EXPECT_EQ(r->companion->status, CompanionStatus::kNone);
  {
    // On trial, version 1 (last-known-good) answers: its companion is the one that matches.
    std::unique_ptr<DeviceSlots> slots;
    auto booted = boot_device(w, slots);
    ASSERT_OK(booted);
    EXPECT_EQ(booted->models->main.graph().meta.version, "1");
    ASSERT_TRUE(booted->models->smaller);
    EXPECT_EQ(booted->models->smaller->graph().meta.version, "1");
    ota::Installer installer(slots->store(), SystemClock::instance());
    ASSERT_OK(installer.mark_good());
  }
  // Version 2 answers now; the stored companion is version 1's: not used.
  std::unique_ptr<DeviceSlots> slots;
  auto booted = boot_device(w, slots);
  ASSERT_OK(booted);
  EXPECT_EQ(booted->models->main.graph().meta.version, "2");
  EXPECT_FALSE(booted->models->smaller);
  EXPECT_NE(booted->report.companion_unavailable.find("no companion of tiny 2"), std::string::npos)
      << booted->report.companion_unavailable;
}

TEST(Companion, TheNextReleasesCompanionComesAsADeltaFromTheStoredOneAndOldOnesArePruned) {
  DeviceWorld w;
  release(w, 1);
  w.roll_out(1);
  ASSERT_OK(w.update());
  const Release v2 = release(w, 2);
  w.roll_out(2);
  auto r = w.update();
  ASSERT_OK(r);
  ASSERT_EQ(r->companion->status, CompanionStatus::kInstalled) << r->companion->reason;
  EXPECT_EQ(r->companion->target->path, v2.w4a8);
  ASSERT_TRUE(r->companion->fetch && r->companion->fetch->delta) << "the repository made a delta from version 1's w4a8";
  EXPECT_NE(r->companion->fetch->delta_base.find("companion tiny 1 (w4a8)"), std::string::npos) << r->companion->fetch->delta_base;
  CompanionStore store(companion_dir(w.data_dir()));
  EXPECT_EQ(store.list().size(), 2u);  // versions 1 (last-known-good) and 2 (on trial)

  // Version 3 marked good twice over: once the slots hold 2 and 3, version 1's companion goes.
  {
    auto slots = DeviceSlots::open(w.data_dir());
    ASSERT_OK(slots);
    ota::Installer installer((*slots)->store(), SystemClock::instance());
    ASSERT_OK(installer.mark_good());
  }
  release(w, 3);
  w.roll_out(3);
  auto third = w.update();
  ASSERT_OK(third);
  std::vector<std::string> versions;
  for (const auto& info : store.list()) versions.push_back(info.version);
  std::sort(versions.begin(), versions.end());
  EXPECT_EQ(versions, (std::vector<std::string>{"2", "3"}));
}

}  // namespace
}  // namespace edgeloop::device

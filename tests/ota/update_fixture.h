// A repository folder for update tests: slot_artifact()s published as targets, with deltas from
// earlier ones listed the way `edgeloop repo add` lists them (signing is not what these test).
#pragma once

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "edgeloop/base/file.h"
#include "edgeloop/base/hash.h"
#include "edgeloop/ota/delta_generator.h"
#include "edgeloop/ota/metadata.h"
#include "ota/slot_fixture.h"

namespace edgeloop::testing {

struct PublishedTarget {
  std::string path;  // "artifacts/<sha256>.edge"
  ota::TargetInfo info;
};

// Writes `a` to REPO/artifacts/<sha256>.edge and a delta from each of `bases` to
// REPO/deltas/<from>-<to>.delta, listed in the returned target's deltas.
inline PublishedTarget publish_target(const std::filesystem::path& repo, const TestArtifact& a,
                                      const std::vector<const TestArtifact*>& bases = {}) {
  PublishedTarget t;
  t.path = "artifacts/" + a.expected.sha256 + ".edge";
  t.info.length = a.bytes.size();
  t.info.sha256 = a.expected.sha256;
  t.info.model = a.expected.model;
  t.info.model_version = a.expected.version;
  t.info.variant = a.expected.variant;
  std::filesystem::create_directories(repo / "artifacts");
  std::filesystem::create_directories(repo / "deltas");
  if (!write_file_durable(repo / t.path, a.bytes)) std::abort();
  for (const TestArtifact* base : bases) {
    auto patch = ota::make_delta(base->bytes, a.bytes);
    if (!patch) std::abort();
    ota::DeltaInfo d{base->expected.sha256, ota::delta_path(base->expected.sha256, a.expected.sha256),
                     patch->size(), to_hex(sha256(*patch))};
    if (!write_file_durable(repo / d.path, *patch)) std::abort();
    t.info.deltas.push_back(d);
  }
  std::sort(t.info.deltas.begin(), t.info.deltas.end(),
            [](const auto& x, const auto& y) { return x.from_sha256 < y.from_sha256; });
  return t;
}

}  // namespace edgeloop::testing

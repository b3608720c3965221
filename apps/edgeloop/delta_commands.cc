// edgeloop delta make | apply
#include <sys/resource.h>

#include <chrono>
#include <string>

#include "cli.h"
#include "edgeloop/base/file.h"
#include "edgeloop/base/hash.h"
#include "edgeloop/crypto/hex.h"
#include "edgeloop/ota/delta_applier.h"
#include "edgeloop/ota/delta_generator.h"

namespace edgeloop::cli {
namespace {

constexpr size_t kMaxPatchBytes = size_t{2} << 30;

double percent(uint64_t part, uint64_t whole) { return whole == 0 ? 0.0 : 100.0 * static_cast<double>(part) / static_cast<double>(whole); }

// ------------------------------------------------------------------------- make

struct MakeArgs {
  std::string base, target, out;
  int level = 19;
  uint64_t min_record_bytes = 256;
  bool no_planes = false, json = false;
};

void run_make(const MakeArgs& a) {
  const SharedBytes base = unwrap(map_file(a.base), a.base);
  const SharedBytes target = unwrap(map_file(a.target), a.target);
  ota::DeltaOptions options;
  options.level = a.level;
  options.byte_planes = !a.no_planes;
  options.min_record_bytes = a.min_record_bytes;
  const auto start = std::chrono::steady_clock::now();
  ota::Delta d = unwrap(ota::make_delta_with_stats(base.span(), target.span(), options));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  unwrap(write_file_durable(a.out, d.patch), a.out);
  const ota::DeltaStats& s = d.stats;
  if (a.json) {
    print_json({{"patch", a.out},
                {"patch_bytes", s.patch_bytes},
                {"target_bytes", s.target_bytes},
                {"base_bytes", s.base_bytes},
                {"percent_of_target", percent(s.patch_bytes, s.target_bytes)},
                {"seconds", seconds},
                {"target_sha256", to_hex(sha256(target.span()))},
                {"sections",
                 {{"headers", {{"patch_bytes", s.header_bytes}}},
                  {"rest", {{"raw_bytes", s.rest_raw}, {"patch_bytes", s.rest_compressed}}},
                  {"delta_tensors", {{"count", s.xor_tensors}, {"raw_bytes", s.xor_raw}, {"patch_bytes", s.xor_compressed}}},
                  {"literal_tensors",
                   {{"count", s.literal_tensors}, {"raw_bytes", s.literal_raw}, {"patch_bytes", s.literal_compressed}}},
                  {"copied_tensors", {{"count", s.copied_tensors}, {"raw_bytes", s.copied_raw}}},
                  {"small_tensors_in_rest", {{"count", s.small_tensors}}}}},
                {"byte_plane_tensors", s.planed_tensors},
                {"largest_tensor_bytes", s.largest_tensor}});
    return;
  }
  fmt::print("wrote {}: {} bytes for a {} byte target ({:.2f}%), in {:.2f} s\n", a.out, s.patch_bytes, s.target_bytes,
             percent(s.patch_bytes, s.target_bytes), seconds);
  fmt::print("  headers                        {:>10} bytes\n", s.header_bytes);
  fmt::print("  rest (header, graph, padding,  {:>10} bytes from {}\n", s.rest_compressed, s.rest_raw);
  fmt::print("       {:>3} small tensors)\n", s.small_tensors);
  fmt::print("  {:>3} tensors unchanged (copied)  {:>10} bytes from {}\n", s.copied_tensors, 0, s.copied_raw);
  fmt::print("  {:>3} tensors as a delta        {:>10} bytes from {}\n", s.xor_tensors, s.xor_compressed, s.xor_raw);
  fmt::print("  {:>3} tensors in full           {:>10} bytes from {}\n", s.literal_tensors, s.literal_compressed, s.literal_raw);
  fmt::print("  {} tensors stored as byte planes; target sha256 {}\n", s.planed_tensors, to_hex(sha256(target.span())));
}

// ------------------------------------------------------------------------- apply

struct ApplyArgs {
  std::string base, patch, out, expect_sha256;
  bool json = false;
};

void run_apply(const ApplyArgs& a) {
  const auto start = std::chrono::steady_clock::now();
  const std::vector<std::byte> patch = unwrap(read_file(a.patch, kMaxPatchBytes), a.patch);
  const ota::DeltaHeader h = unwrap(ota::read_delta_header(patch), a.patch);
  Sha256 expected = h.target_sha256;
  if (!a.expect_sha256.empty()) expected = unwrap(crypto::fixed_from_hex<32>(a.expect_sha256, "--expect-sha256"));
  const ota::ApplyStats s = unwrap(ota::apply_delta(std::filesystem::path(a.base), patch, a.out, expected));
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  struct rusage ru {};
  ::getrusage(RUSAGE_SELF, &ru);
  const uint64_t max_rss = static_cast<uint64_t>(ru.ru_maxrss) * 1024;
  if (a.json) {
    print_json({{"output", a.out},
                {"target_bytes", s.target_bytes},
                {"target_sha256", to_hex(expected)},
                {"patch_bytes", patch.size()},
                {"records", s.records},
                {"milliseconds", ms},
                {"rest_bytes", s.rest_bytes},
                {"largest_rest_frame_bytes", s.largest_rest_frame},
                {"largest_record_bytes", s.largest_record},
                {"zstd_peak_bytes", s.zstd_peak_bytes},
                {"peak_buffer_bytes", s.peak_buffer_bytes},
                {"max_rss_bytes", max_rss},
                {"hash_source", a.expect_sha256.empty() ? "patch" : "--expect-sha256"}});
    return;
  }
  fmt::print("wrote {}: {} bytes, sha256 {} verified, in {:.1f} ms\n", a.out, s.target_bytes, to_hex(expected), ms);
  fmt::print("  {} records; heap at peak {} bytes (largest tensor {}, rest frame {} of the {}-byte rest, zstd {}, chunk); "
             "process max RSS {} bytes\n",
             s.records, s.peak_buffer_bytes, s.largest_record, s.largest_rest_frame, s.rest_bytes, s.zstd_peak_bytes, max_rss);
  if (a.expect_sha256.empty())
    fmt::print("  note: checked against the patch's own target hash; pass --expect-sha256 from signed metadata\n");
}

}  // namespace

void add_delta_commands(CLI::App& app) {
  auto* delta = app.add_subcommand("delta", "Tensor-aware deltas between two .edge artifacts (docs/delta.md)");
  delta->require_subcommand(1);

  auto ma = std::make_shared<MakeArgs>();
  auto* make = delta->add_subcommand("make", "Write a patch that turns BASE into TARGET; prints its size by section");
  make->add_option("base", ma->base, "the artifact the device has")->required();
  make->add_option("target", ma->target, "the artifact it should get")->required();
  make->add_option("-o,--output", ma->out, "the patch file to write")->required();
  make->add_option("--level", ma->level, "zstd level (default 19)")->check(CLI::Range(1, 22));
  make->add_option("--min-record-bytes", ma->min_record_bytes,
                   "tensors shorter than this go into the rest, compressed against the whole base (default 256)");
  make->add_flag("--no-byte-planes", ma->no_planes, "do not try byte-plane transposition of tensor deltas");
  make->add_flag("--json", ma->json, "print sizes and the per-section breakdown as JSON");
  make->callback([ma] { run_make(*ma); });

  auto aa = std::make_shared<ApplyArgs>();
  auto* apply = delta->add_subcommand(
      "apply", "Rebuild the target from BASE and PATCH, streaming into a temporary file; renamed to OUT only when its "
               "length and SHA-256 match");
  apply->add_option("base", aa->base, "the artifact the patch was made from")->required();
  apply->add_option("patch", aa->patch, "the patch")->required();
  apply->add_option("-o,--output", aa->out, "the artifact to write")->required();
  apply->add_option("--expect-sha256", aa->expect_sha256, "the target's SHA-256 from signed metadata (hex)");
  apply->add_flag("--json", aa->json, "print time, sizes and memory as JSON");
  apply->callback([aa] { run_apply(*aa); });
}

}  // namespace edgeloop::cli

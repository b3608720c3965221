// The delta applier under fuzzing, against a fixed small base artifact. The first byte picks:
//   0: the rest is a raw patch, checked against the target hash it names itself;
//   1: the rest seeds a target's weights; a real patch (generator, zstd level 1) must apply
//      and rebuild the target exactly (differential);
//   2: as 1, then the rest also flips patch bytes (position, mask pairs): the apply must be
//      refused or still rebuild the target exactly.
// A refused apply must leave no file behind; nothing may crash or allocate past the limit.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "edgeloop/base/file.h"
#include "edgeloop/base/hash.h"
#include "edgeloop/model/artifact.h"
#include "edgeloop/ota/delta.h"
#include "edgeloop/ota/delta_applier.h"
#include "edgeloop/ota/delta_generator.h"

namespace {

using namespace edgeloop;
namespace fs = std::filesystem;

model::Tensor weights(std::string name, model::Shape shape, const uint8_t* data, size_t size, size_t offset) {
  const auto n = static_cast<size_t>(model::num_elements(shape));
  std::vector<std::byte> bytes(n * 4);
  for (size_t i = 0; i < n; ++i) {
    const uint8_t b = size ? data[(offset + i) % size] : static_cast<uint8_t>(i * 37);
    const float v = (static_cast<float>(b) - 128.f) / 64.f;
    std::memcpy(bytes.data() + i * 4, &v, 4);
  }
  return model::make_constant(std::move(name), model::DType::kF32, std::move(shape), std::move(bytes));
}

// x[1,8] -> MatMul W1[8,16] -> MatMul W2[16,4].
std::vector<std::byte> artifact(const uint8_t* data, size_t size) {
  model::Graph g;
  const auto x = g.add_tensor({"x", model::DType::kF32, {1, 8}, {}, false, {}});
  const auto w1 = g.add_tensor(weights("w1", {8, 16}, data, size, 0));
  const auto h = g.add_tensor({"h", model::DType::kF32, {1, 16}, {}, false, {}});
  const auto w2 = g.add_tensor(weights("w2", {16, 4}, data, size, 128));
  const auto y = g.add_tensor({"y", model::DType::kF32, {1, 4}, {}, false, {}});
  g.nodes.push_back({model::OpType::kMatMul, "m1", {x, w1}, {h}, {}});
  g.nodes.push_back({model::OpType::kMatMul, "m2", {h, w2}, {y}, {}});
  g.inputs = {x};
  g.outputs = {y};
  g.meta.name = "delta-fuzz";
  auto bytes = model::serialize_artifact(g);
  if (!bytes) __builtin_trap();
  return *bytes;
}

const std::vector<std::byte>& base() {
  static const std::vector<std::byte> b = artifact(nullptr, 0);
  return b;
}

const fs::path& out_path() {
  static const fs::path p = [] {
    std::string tmpl = (fs::temp_directory_path() / "edgeloop_delta_fuzz.XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
    return fs::path(tmpl) / "out.edge";
  }();
  return p;
}

bool output_is(const std::vector<std::byte>& want) {
  auto got = read_file(out_path());
  return got && *got == want;
}

void check_nothing_left() {
  for (const auto& e : fs::directory_iterator(out_path().parent_path())) {
    (void)e;
    __builtin_trap();  // a refused apply left a file
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t mode = data[0] % 3;
  ++data;
  --size;
  ota::ApplyOptions options;
  options.max_target_bytes = 1 << 20;
  if (mode == 0) {
    const ByteSpan patch(reinterpret_cast<const std::byte*>(data), size);
    Sha256 expected{};
    if (auto h = ota::read_delta_header(patch)) expected = h->target_sha256;
    auto r = ota::apply_delta(base(), patch, out_path(), expected, options);
    if (r) fs::remove(out_path());
    else check_nothing_left();
    return 0;
  }
  const size_t seed_len = std::min<size_t>(size, 64);
  const std::vector<std::byte> target = artifact(data, seed_len);
  ota::DeltaOptions d;
  d.level = 1;
  d.min_record_bytes = 1;  // a record per tensor (the base's tensors are small)
  auto patch = ota::make_delta(base(), target, d);
  if (!patch) __builtin_trap();  // both artifacts are valid
  if (mode == 2) {
    for (size_t i = seed_len; i + 2 < size; i += 3) {
      const size_t pos = (static_cast<size_t>(data[i]) << 8 | data[i + 1]) % patch->size();
      (*patch)[pos] ^= static_cast<std::byte>(data[i + 2] | 1);
    }
  }
  auto r = ota::apply_delta(base(), *patch, out_path(), sha256(target), options);
  if (r) {
    if (!output_is(target)) __builtin_trap();
    fs::remove(out_path());
  } else {
    if (mode == 1) __builtin_trap();  // an untouched patch must apply
    check_nothing_left();
  }
  return 0;
}

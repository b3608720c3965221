// Delta generator and applier (docs/delta.md): round trips on real artifacts, patch sizes for
// typical updates, and hostile patches refused with no file left behind.
#include <gtest/gtest.h>
#include <zstd.h>

#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "edgeloop/base/file.h"
#include "edgeloop/base/hash.h"
#include "edgeloop/model/artifact.h"
#include "edgeloop/model/onnx_import.h"
#include "edgeloop/ota/delta.h"
#include "edgeloop/ota/delta_applier.h"
#include "edgeloop/ota/delta_generator.h"
#include "edgeloop/runtime/golden.h"
#include "testing/graph_builder.h"

namespace edgeloop::ota {
namespace {

namespace fs = std::filesystem;
using model::DType;
using model::Graph;
using model::OpType;
using testing::GraphBuilder;

std::vector<std::byte> serialize(const Graph& g) {
  auto bytes = model::serialize_artifact(g);
  EXPECT_TRUE(bytes) << (bytes ? "" : bytes.error().message);
  return bytes ? *bytes : std::vector<std::byte>{};
}

const Graph& fashion() {
  static const Graph g = [] {
    auto r = model::import_onnx(fs::path(EDGELOOP_SOURCE_DIR) / "examples/fashion_mnist/fashion_cnn.onnx");
    EXPECT_TRUE(r) << (r ? "" : r.error().message);
    return r ? std::move(*r) : Graph{};
  }();
  return g;
}

// Multiplies every float of the constant tensors selected by `pick` by (1 + eps * noise): what
// one more epoch of training does to every weight.
Graph perturbed(Graph g, double eps, bool (*pick)(const model::Tensor&, size_t), uint32_t seed = 1) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> noise(0.f, 1.f);
  for (size_t i = 0; i < g.tensors.size(); ++i) {
    model::Tensor& t = g.tensors[i];
    if (!t.constant || t.dtype != DType::kF32 || !pick(t, i)) continue;
    std::vector<float> v(t.values<float>().begin(), t.values<float>().end());
    for (float& x : v) x *= 1.f + static_cast<float>(eps) * noise(rng);
    std::vector<std::byte> b(v.size() * 4);
    std::memcpy(b.data(), v.data(), b.size());
    t.data = SharedBytes::adopt(std::move(b));
  }
  return g;
}

size_t largest_constant(const Graph& g) {
  size_t n = 0;
  for (const auto& t : g.tensors)
    if (t.constant) n = std::max(n, t.data.size());
  return n;
}

// A patch taken apart and put together again, to forge hostile records.
struct ParsedPatch {
  std::vector<std::byte> header;
  std::vector<std::pair<DeltaRecord, std::vector<std::byte>>> records;
};
ParsedPatch parse(const std::vector<std::byte>& patch) {
  ParsedPatch p;
  auto h = decode_header(patch);
  EXPECT_TRUE(h);
  if (!h) return p;
  p.header.assign(patch.begin(), patch.begin() + kDeltaHeaderSize);
  size_t pos = kDeltaHeaderSize;
  uint64_t prev_end = 0;
  for (uint32_t i = 0; i < h->record_count; ++i) {
    auto r = decode_record(patch, pos, prev_end);
    EXPECT_TRUE(r);
    if (!r) return p;
    if (r->kind != RecordKind::kRest) prev_end = r->target_offset + r->length;
    p.records.emplace_back(*r, std::vector<std::byte>(patch.begin() + static_cast<ptrdiff_t>(pos),
                                                      patch.begin() + static_cast<ptrdiff_t>(pos + r->payload_size)));
    pos += r->payload_size;
  }
  return p;
}
std::vector<std::byte> build(const ParsedPatch& p) {
  std::vector<std::byte> out = p.header;
  uint64_t prev_end = 0;
  for (const auto& [r, payload] : p.records) {
    encode_record(r, prev_end, out);
    if (r.kind != RecordKind::kRest) prev_end = r.target_offset + r.length;
    out.insert(out.end(), payload.begin(), payload.end());
  }
  return out;
}

class DeltaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("edgeloop_delta_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    out_ = dir_ / "out.edge";
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Makes the patch, applies it, and checks the output is the target byte for byte.
  std::vector<std::byte> round_trip(ByteSpan base, ByteSpan target, DeltaOptions options = {}) {
    auto patch = make_delta(base, target, options);
    EXPECT_TRUE(patch) << (patch ? "" : patch.error().message);
    if (!patch) return {};
    auto stats = apply_delta(base, *patch, out_, sha256(target));
    EXPECT_TRUE(stats) << (stats ? "" : stats.error().message);
    auto written = read_file(out_);
    EXPECT_TRUE(written);
    EXPECT_TRUE(written && std::equal(written->begin(), written->end(), target.begin(), target.end()));
    fs::remove(out_);
    return *patch;
  }

  // Only the files the test put there: nothing at out_, no temporary file.
  void expect_no_output() {
    EXPECT_FALSE(fs::exists(out_));
    for (const auto& e : fs::directory_iterator(dir_)) ADD_FAILURE() << "left behind: " << e.path();
  }

  fs::path dir_, out_;
};

TEST_F(DeltaTest, IdenticalArtifactsGiveATinyPatch) {
  const auto base = serialize(fashion());
  const auto patch = round_trip(base, base);
  EXPECT_LT(patch.size(), 300u) << "of " << base.size();
  // Unchanged tensors are copy records: no payload.
  for (const auto& [r, payload] : parse(patch).records)
    if (r.kind != RecordKind::kRest) {
      EXPECT_EQ(r.kind, RecordKind::kCopy);
    }
}

TEST_F(DeltaTest, OneChangedTensorGivesASmallPatch) {
  const Graph& g = fashion();
  const auto base = serialize(g);
  // Change a few values of the largest weight, as fine-tuning one row would.
  Graph t = g;
  for (auto& tensor : t.tensors)
    if (tensor.constant && tensor.data.size() == largest_constant(g)) {
      std::vector<std::byte> b(tensor.data.span().begin(), tensor.data.span().end());
      for (size_t i = 0; i < 64; ++i) b[i * 4 + 1] ^= std::byte{0x5a};
      tensor.data = SharedBytes::adopt(std::move(b));
    }
  const auto target = serialize(t);
  const auto patch = round_trip(base, target);
  EXPECT_LT(patch.size() * 100, target.size()) << patch.size() << " of " << target.size();  // < 1 %
}

TEST_F(DeltaTest, LastLayerRetrainedStaysUnderOnePercent) {
  const Graph& g = fashion();
  // The last constant f32 tensors (the final Gemm's weight and bias).
  static size_t last = 0;
  for (size_t i = 0; i < g.tensors.size(); ++i)
    if (g.tensors[i].constant) last = i;
  Graph t = perturbed(g, 1e-2, [](const model::Tensor&, size_t i) { return i + 1 >= last; });
  const auto base = serialize(g), target = serialize(t);
  const auto patch = round_trip(base, target);
  EXPECT_LT(patch.size() * 100, target.size()) << patch.size() << " of " << target.size();
}

TEST_F(DeltaTest, EveryWeightNudgedRoundTripsAndBytePlanesHelp) {
  const Graph& g = fashion();
  Graph t = perturbed(g, 1e-3, [](const model::Tensor&, size_t) { return true; });
  const auto base = serialize(g), target = serialize(t);
  const auto with_planes = round_trip(base, target);
  DeltaOptions no_planes;
  no_planes.byte_planes = false;
  const auto without = round_trip(base, target, no_planes);
  EXPECT_LT(with_planes.size(), without.size());
  EXPECT_LT(with_planes.size(), target.size());
}

TEST_F(DeltaTest, NewAndRemovedTensors) {
  // Two graphs from the same seeded builder: the second has one more layer (new tensors); the
  // other direction removes them.
  auto build = [](bool extra) {
    GraphBuilder b;
    auto x = b.input(DType::kF32, {1, 32});
    auto y = b.node(OpType::kMatMul, {x, b.weights_f32({32, 64})});
    y = b.node(OpType::kRelu, {y});
    if (extra) y = b.node(OpType::kMatMul, {y, b.weights_f32({64, 64})});
    y = b.node(OpType::kMatMul, {y, b.weights_f32({64, 10})});
    return b.finish({y});
  };
  const auto small = serialize(build(false)), big = serialize(build(true));
  round_trip(small, big);
  round_trip(big, small);
  // A renamed tensor is a removed one plus a new one.
  Graph renamed = fashion();
  for (auto& t : renamed.tensors)
    if (t.constant) {
      t.name += "_renamed";
      break;
    }
  round_trip(serialize(fashion()), serialize(renamed));
}

TEST_F(DeltaTest, Int8TensorsUseTheByteDifference) {
  auto build = [](uint32_t seed_shift) {
    GraphBuilder b;
    auto x = b.input(DType::kI8, {1, 64}, testing::per_tensor(0.05f, 0));
    auto y = b.node(OpType::kMatMul, {x, b.weights_i8({64, 32}, 1, 0.01f)}, {}, DType::kI8, testing::per_tensor(0.1f, 0));
    (void)seed_shift;
    return b.finish({y});
  };
  Graph base_g = build(0);
  Graph target_g = base_g;
  for (auto& t : target_g.tensors)
    if (t.constant && t.dtype == DType::kI8) {
      std::vector<std::byte> b(t.data.span().begin(), t.data.span().end());
      for (size_t i = 0; i < b.size(); i += 3) b[i] = static_cast<std::byte>(static_cast<int8_t>(b[i]) + (i % 2 ? 1 : -1));
      t.data = SharedBytes::adopt(std::move(b));
    }
  DeltaOptions o;
  o.min_record_bytes = 1;
  const auto base = serialize(base_g);
  const auto patch = round_trip(base, serialize(target_g), o);
  auto parsed = parse(patch);
  bool sub = false;
  for (const auto& [r, payload] : parsed.records) sub |= r.kind == RecordKind::kSub;
  EXPECT_TRUE(sub) << "the int8 weight should be stored as a byte difference";
}

// Every heap byte of the apply — zstd's context and prefix tables included — stays under the
// largest tensor + 1 MiB.
TEST_F(DeltaTest, MemoryIsBoundedByTheLargestTensorAndTheRest) {
  const Graph& g = fashion();
  Graph t = perturbed(g, 1e-3, [](const model::Tensor&, size_t) { return true; });
  const auto base = serialize(g), target = serialize(t);
  auto patch = make_delta(base, target);
  ASSERT_TRUE(patch);
  auto stats = apply_delta(base, *patch, out_, sha256(target));
  ASSERT_TRUE(stats) << stats.error().message;
  EXPECT_EQ(stats->largest_record, largest_constant(t));
  EXPECT_LT(stats->rest_bytes, target.size() / 10);
  // zstd's one-shot decompression context alone is ~100 KiB: it is in the total.
  EXPECT_GT(stats->zstd_peak_bytes, 64u * 1024);
  EXPECT_GE(stats->peak_buffer_bytes, stats->largest_record + stats->zstd_peak_bytes);
  EXPECT_LE(stats->peak_buffer_bytes, largest_constant(t) + (size_t{1} << 20));
}

// A model whose rest section (FlatBuffer, golden vector, small tensors) is far over 1 MiB: a
// 4 MiB golden vector and 2,000 biases under min_record_bytes. The rest is read a frame at a
// time, so the bound still holds.
Graph big_rest_model(uint64_t golden_seed) {
  GraphBuilder b;
  auto x = b.input(DType::kF32, {1, 1 << 19});  // 2 MiB of golden input, 2 MiB of output
  auto y = b.node(OpType::kRelu, {x});
  auto z = b.input(DType::kF32, {1, 16});
  for (int i = 0; i < 2000; ++i) z = b.node(OpType::kAdd, {z, b.weights_f32({16})});  // 64-byte tensors
  z = b.node(OpType::kMatMul, {z, b.weights_f32({16, 4096})});                           // the largest: 256 KiB
  Graph g = b.finish({y, z});
  EXPECT_TRUE(runtime::attach_golden(g, golden_seed));
  return g;
}

TEST_F(DeltaTest, ARestLargerThanOneMiBIsReadAFrameAtATime) {
  const Graph g = big_rest_model(1);
  Graph t = perturbed(big_rest_model(2), 1e-3, [](const model::Tensor&, size_t) { return true; });
  const auto base = serialize(g), target = serialize(t);
  DeltaOptions fast;
  fast.level = 3;  // every frame indexes the 4 MiB base as its prefix: level 19 would take a minute
  auto patch = make_delta(base, target, fast);
  ASSERT_TRUE(patch) << patch.error().message;
  auto stats = apply_delta(base, *patch, out_, sha256(target));
  ASSERT_TRUE(stats) << stats.error().message;
  auto written = read_file(out_);
  ASSERT_TRUE(written);
  EXPECT_TRUE(std::equal(written->begin(), written->end(), target.begin(), target.end()));
  EXPECT_GT(stats->rest_bytes, size_t{4} << 20);
  EXPECT_LE(stats->largest_rest_frame, kRestFrameBytes);
  EXPECT_EQ(stats->largest_record, largest_constant(t));
  EXPECT_LE(stats->peak_buffer_bytes, largest_constant(t) + (size_t{1} << 20))
      << "rest " << stats->rest_bytes << ", largest tensor " << stats->largest_record << ", zstd " << stats->zstd_peak_bytes;
}

// The rest as earlier generators wrote it — one frame, no content size — still applies (then the
// whole rest is held); and the frames this generator writes decode in one shot with the base as
// prefix, which is how appliers before the frames were cut read them.
TEST_F(DeltaTest, RestFramesAreCompatibleBothWays) {
  const Graph g = big_rest_model(1);
  const Graph t = big_rest_model(2);
  const auto base = serialize(g), target = serialize(t);
  DeltaOptions fast;
  fast.level = 3;
  auto patch = make_delta(base, target, fast);
  ASSERT_TRUE(patch);
  ParsedPatch parsed = parse(*patch);
  ASSERT_FALSE(parsed.records.empty());
  auto& [rest_record, rest_payload] = parsed.records[0];
  ASSERT_EQ(rest_record.kind, RecordKind::kRest);

  // One shot over every frame, the base as prefix: the rest's bytes.
  std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> dctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
  std::vector<std::byte> rest(rest_record.length);
  ASSERT_FALSE(ZSTD_isError(ZSTD_DCtx_setParameter(dctx.get(), ZSTD_d_windowLogMax, 31)));
  ASSERT_FALSE(ZSTD_isError(ZSTD_DCtx_refPrefix(dctx.get(), base.data(), base.size())));
  const size_t n = ZSTD_decompressDCtx(dctx.get(), rest.data(), rest.size(), rest_payload.data(), rest_payload.size());
  ASSERT_FALSE(ZSTD_isError(n)) << ZSTD_getErrorName(n);
  ASSERT_EQ(n, rest.size());
  size_t frames = 0;
  for (size_t at = 0; at < rest_payload.size(); ++frames)
    at += ZSTD_findFrameCompressedSize(rest_payload.data() + at, rest_payload.size() - at);
  EXPECT_EQ(frames, (rest.size() + kRestFrameBytes - 1) / kRestFrameBytes);

  // The same rest as one frame without a content size, as before.
  std::unique_ptr<ZSTD_CCtx, size_t (*)(ZSTD_CCtx*)> cctx(ZSTD_createCCtx(), ZSTD_freeCCtx);
  ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_compressionLevel, 3);
  ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_contentSizeFlag, 0);
  ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_windowLog, 24);
  ZSTD_CCtx_refPrefix(cctx.get(), base.data(), base.size());
  std::vector<std::byte> one(ZSTD_compressBound(rest.size()));
  const size_t m = ZSTD_compress2(cctx.get(), one.data(), one.size(), rest.data(), rest.size());
  ASSERT_FALSE(ZSTD_isError(m));
  one.resize(m);
  rest_payload = one;
  rest_record.payload_size = one.size();
  auto stats = apply_delta(base, build(parsed), out_, sha256(target));
  ASSERT_TRUE(stats) << stats.error().message;
  EXPECT_EQ(stats->largest_rest_frame, rest.size());
  auto written = read_file(out_);
  ASSERT_TRUE(written);
  EXPECT_TRUE(std::equal(written->begin(), written->end(), target.begin(), target.end()));
}

TEST_F(DeltaTest, WrongBaseIsRefused) {
  const auto base = serialize(fashion());
  const auto target = serialize(perturbed(fashion(), 1e-3, [](const model::Tensor&, size_t) { return true; }));
  const auto other = serialize(perturbed(fashion(), 1e-3, [](const model::Tensor&, size_t) { return true; }, 2));
  auto patch = make_delta(base, target);
  ASSERT_TRUE(patch);
  auto r = apply_delta(other, *patch, out_, sha256(target));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(r.error().message.find("made for base"), std::string::npos) << r.error().message;
  expect_no_output();
}

// base_verified skips hashing the base, not checking the result: a wrong base of the right
// length still cannot produce a file, and an existing output is kept.
TEST_F(DeltaTest, BaseVerifiedStillRefusesAWrongBaseThroughTheTargetHash) {
  const auto base = serialize(fashion());
  const auto target = serialize(perturbed(fashion(), 1e-3, [](const model::Tensor&, size_t) { return true; }));
  const auto other = serialize(perturbed(fashion(), 1e-3, [](const model::Tensor&, size_t) { return true; }, 2));
  ASSERT_EQ(other.size(), base.size());
  auto patch = make_delta(base, target);
  ASSERT_TRUE(patch);
  ASSERT_TRUE(write_file_durable(out_, as_bytes("previous")));
  ApplyOptions options;
  options.base_verified = true;
  auto r = apply_delta(other, *patch, out_, sha256(target), options);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kCorrupt);
  EXPECT_NE(r.error().message.find("SHA-256"), std::string::npos) << r.error().message;
  auto kept = read_file(out_);
  ASSERT_TRUE(kept);
  EXPECT_EQ(as_chars(*kept), "previous");
  // The length is still checked up front.
  std::vector<std::byte> shorter(base.begin(), base.end() - 1);
  r = apply_delta(shorter, *patch, out_, sha256(target), options);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kFailedPrecondition);
}

TEST_F(DeltaTest, BaseVerifiedAppliesTheRightBase) {
  const auto base = serialize(fashion());
  const auto target = serialize(perturbed(fashion(), 1e-3, [](const model::Tensor&, size_t) { return true; }));
  auto patch = make_delta(base, target);
  ASSERT_TRUE(patch);
  ApplyOptions options;
  options.base_verified = true;
  auto r = apply_delta(base, *patch, out_, sha256(target), options);
  ASSERT_TRUE(r) << r.error().message;
  auto written = read_file(out_);
  ASSERT_TRUE(written);
  EXPECT_EQ(*written, target);
}

TEST_F(DeltaTest, UnexpectedTargetIsRefusedAndAnExistingOutputKept) {
  const auto base = serialize(fashion());
  const auto target = serialize(perturbed(fashion(), 1e-3, [](const model::Tensor&, size_t) { return true; }));
  auto patch = make_delta(base, target);
  ASSERT_TRUE(patch);
  ASSERT_TRUE(write_file_durable(out_, as_bytes("previous")));
  Sha256 wrong = sha256(target);
  wrong[0] ^= std::byte{1};
  auto r = apply_delta(base, *patch, out_, wrong);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kFailedPrecondition);
  auto kept = read_file(out_);
  ASSERT_TRUE(kept);
  EXPECT_EQ(as_chars(*kept), "previous");
  // The expected length from signed metadata must match too.
  ApplyOptions o;
  o.expected_length = target.size() + 1;
  EXPECT_FALSE(apply_delta(base, *patch, out_, sha256(target), o));
  // And a limit on what the device will write.
  o = {};
  o.max_target_bytes = target.size() - 1;
  EXPECT_FALSE(apply_delta(base, *patch, out_, sha256(target), o));
  fs::remove(out_);
  expect_no_output();
}

TEST_F(DeltaTest, OutputHashMismatchLeavesNoFile) {
  // A patch that claims the target's hash but makes other bytes: the content check catches it
  // after streaming, and the temporary file is removed.
  const auto base = serialize(fashion());
  const auto target = serialize(perturbed(fashion(), 1e-3, [](const model::Tensor&, size_t) { return true; }));
  const auto other = serialize(perturbed(fashion(), 1e-3, [](const model::Tensor&, size_t) { return true; }, 3));
  auto patch = make_delta(base, other);
  ASSERT_TRUE(patch);
  const Sha256 claimed = sha256(target);
  std::memcpy(patch->data() + 48, claimed.data(), 32);  // the header's target hash
  auto r = apply_delta(base, *patch, out_, claimed);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kCorrupt);
  EXPECT_NE(r.error().message.find("SHA-256"), std::string::npos) << r.error().message;
  expect_no_output();
}

// A small pair, so that every truncation and every byte flip can be tried.
struct SmallPair {
  std::vector<std::byte> base, target, patch;
};
SmallPair small_pair() {
  auto build = [](float scale) {
    GraphBuilder b;
    auto x = b.input(DType::kF32, {1, 8});
    auto y = b.node(OpType::kMatMul, {x, b.weights_f32({8, 16})});
    y = b.node(OpType::kMatMul, {y, b.weights_f32({16, 4})});
    Graph g = b.finish({y});
    for (auto& t : g.tensors)
      if (t.constant && t.data.size() == 16 * 4 * 4) {
        std::vector<float> v(t.values<float>().begin(), t.values<float>().end());
        for (float& f : v) f *= scale;
        std::vector<std::byte> bytes(v.size() * 4);
        std::memcpy(bytes.data(), v.data(), bytes.size());
        t.data = SharedBytes::adopt(std::move(bytes));
      }
    return g;
  };
  SmallPair p;
  p.base = serialize(build(1.f));
  p.target = serialize(build(1.01f));
  DeltaOptions o;
  o.min_record_bytes = 1;  // a record per tensor, so that hostile records can be tried
  p.patch = *make_delta(p.base, p.target, o);
  return p;
}

TEST_F(DeltaTest, EveryTruncationIsRefused) {
  const SmallPair p = small_pair();
  for (size_t n = 0; n < p.patch.size(); ++n) {
    auto r = apply_delta(p.base, ByteSpan(p.patch).first(n), out_, sha256(p.target));
    ASSERT_FALSE(r) << "truncated to " << n;
    EXPECT_FALSE(r.error().message.empty());
  }
  expect_no_output();
}

TEST_F(DeltaTest, EveryByteFlipIsRefusedOrStillMakesTheTarget) {
  const SmallPair p = small_pair();
  size_t refused = 0, accepted = 0;
  for (size_t i = 0; i < p.patch.size(); ++i)
    for (std::byte mask : {std::byte{0x01}, std::byte{0x80}, std::byte{0xff}}) {
      std::vector<std::byte> bad = p.patch;
      bad[i] ^= mask;
      auto r = apply_delta(p.base, bad, out_, sha256(p.target));
      if (!r) {
        ++refused;
        ASSERT_FALSE(fs::exists(out_)) << "byte " << i;
        continue;
      }
      // zstd ignores a few bits (e.g. a larger window); the output is still verified.
      ++accepted;
      auto written = read_file(out_);
      ASSERT_TRUE(written);
      ASSERT_TRUE(std::equal(written->begin(), written->end(), p.target.begin(), p.target.end())) << "byte " << i;
      fs::remove(out_);
    }
  EXPECT_GT(refused, 20 * accepted) << refused << " refused, " << accepted << " accepted";
  expect_no_output();
}

TEST_F(DeltaTest, HostileRecordsAreRefused) {
  const SmallPair p = small_pair();
  const ParsedPatch good = parse(p.patch);
  ASSERT_EQ(good.records.size(), 3u);  // the rest and two tensors
  ASSERT_EQ(build(good), p.patch);
  auto refused = [&](const std::vector<std::byte>& bad) {
    auto r = apply_delta(p.base, bad, out_, sha256(p.target));
    const bool clean = !fs::exists(out_);
    fs::remove(out_);
    return !r && clean;
  };
  // The first weight is unchanged (a copy record), the second scaled (a delta with a payload).
  ASSERT_EQ(good.records[1].first.kind, RecordKind::kCopy);
  ASSERT_NE(good.records[2].first.kind, RecordKind::kCopy);
  auto forged = [&](size_t index, auto&& change) {
    ParsedPatch bad = good;
    change(bad.records[index].first);
    return build(bad);
  };
  // A rest record claiming a terabyte (a decompression bomb capped by the declared length).
  EXPECT_TRUE(refused(forged(0, [](DeltaRecord& r) { r.length = uint64_t{1} << 40; })));
  // Payload sizes running past the end.
  EXPECT_TRUE(refused(forged(0, [](DeltaRecord& r) { r.payload_size = ~uint64_t{0} - 3; })));
  EXPECT_TRUE(refused(forged(2, [](DeltaRecord& r) { r.payload_size += 1; })));
  EXPECT_TRUE(refused(forged(2, [](DeltaRecord& r) { r.payload_size -= 1; })));
  // Tensor records: reading outside the base, overflowing or out-of-order target ranges,
  // empty, partial elements, and a copy of bytes the target does not have.
  EXPECT_TRUE(refused(forged(1, [&](DeltaRecord& r) {
    r.kind = RecordKind::kXor;
    r.base_offset = p.base.size() - 4;
  })));
  EXPECT_TRUE(refused(forged(1, [](DeltaRecord& r) { r.target_offset = ~uint64_t{0} - 8; })));
  EXPECT_TRUE(refused(forged(1, [](DeltaRecord& r) { r.length = ~uint64_t{0}; })));
  EXPECT_TRUE(refused(forged(2, [](DeltaRecord& r) { r.target_offset = 0; })));
  EXPECT_TRUE(refused(forged(1, [](DeltaRecord& r) { r.length = 0; })));
  EXPECT_TRUE(refused(forged(2, [](DeltaRecord& r) { r.plane_stride = r.plane_stride == 8 ? 4 : 8; })));
  EXPECT_TRUE(refused(forged(2, [](DeltaRecord& r) { r.kind = RecordKind::kCopy; r.payload_size = 0; })));
  EXPECT_TRUE(refused(forged(1, [&](DeltaRecord& r) { r.base_offset = p.base.size(); })));
  EXPECT_TRUE(refused(forged(2, [](DeltaRecord& r) { r.kind = RecordKind::kRest; })));
  // A huge target length; a record count far larger than the patch.
  {
    auto bad = p.patch;
    store_le<uint64_t>(bad.data() + 88, ~uint64_t{0});
    EXPECT_TRUE(refused(bad));
    bad = p.patch;
    store_le<uint32_t>(bad.data() + 96, kMaxDeltaRecords);
    EXPECT_TRUE(refused(bad));
  }
  // Overlong and overflowing varints.
  {
    auto bad = p.patch;
    bad.insert(bad.begin() + kDeltaHeaderSize + 1, 11, std::byte{0xff});
    EXPECT_TRUE(refused(bad));
  }
  expect_no_output();
}

TEST_F(DeltaTest, BadOptionsAndInputsAreRefused) {
  const auto base = serialize(fashion());
  DeltaOptions o;
  o.level = 0;
  EXPECT_FALSE(make_delta(base, base, o));
  std::vector<std::byte> junk(100, std::byte{7});
  EXPECT_FALSE(make_delta(junk, base));
  EXPECT_FALSE(make_delta(base, junk));
  EXPECT_FALSE(apply_delta(base, junk, out_, sha256(base)));
  expect_no_output();
}

}  // namespace
}  // namespace edgeloop::ota

#include "edgeloop/model/artifact.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "edgeloop/model/tensor_compare.h"
#include "testing/graphs.h"

namespace edgeloop::model {
namespace {

std::vector<std::byte> tiny_bytes() {
  Graph g = testing::tiny_mlp();
  GoldenVector golden;
  golden.inputs.push_back(testing::tensor_f32("x", {1, 4}, {1, 2, 3, 4}));
  golden.outputs.push_back(testing::tensor_f32("y", {1, 3}, testing::tiny_mlp_expected({1, 2, 3, 4})));
  golden.rtol = 1e-3f;
  g.meta.golden = golden;
  auto bytes = serialize_artifact(g);
  EXPECT_TRUE(bytes.has_value()) << (bytes ? "" : bytes.error().message);
  return bytes.value_or(std::vector<std::byte>{});
}

TEST(Artifact, RoundTripKeepsGraphMetadataAndGolden) {
  const Graph in = testing::tiny_mlp();
  auto bytes = tiny_bytes();
  auto out = load_artifact(SharedBytes::copy(bytes));
  ASSERT_TRUE(out.has_value()) << out.error().message;
  ASSERT_EQ(out->tensors.size(), in.tensors.size());
  for (size_t i = 0; i < in.tensors.size(); ++i) {
    EXPECT_EQ(out->tensors[i].name, in.tensors[i].name);
    EXPECT_EQ(out->tensors[i].shape, in.tensors[i].shape);
    EXPECT_EQ(out->tensors[i].constant, in.tensors[i].constant);
    if (in.tensors[i].constant) {
      ASSERT_EQ(out->tensors[i].data.size(), in.tensors[i].data.size());
      EXPECT_EQ(0, std::memcmp(out->tensors[i].data.data(), in.tensors[i].data.data(), in.tensors[i].data.size()));
    }
  }
  ASSERT_EQ(out->nodes.size(), 3u);
  EXPECT_EQ(out->nodes[1].op, OpType::kAdd);
  EXPECT_EQ(out->nodes[1].inputs, in.nodes[1].inputs);
  EXPECT_EQ(out->meta.name, "tiny");
  EXPECT_EQ(out->meta.version, "3");
  EXPECT_EQ(out->meta.labels, in.meta.labels);
  EXPECT_EQ(out->meta.required_ops, (std::vector<std::string>{"Add", "MatMul", "Relu"}));
  ASSERT_EQ(out->meta.inputs.size(), 1u);
  EXPECT_EQ(out->meta.inputs[0].std, std::vector<float>{2.f});
  ASSERT_TRUE(out->meta.golden.has_value());
  EXPECT_FLOAT_EQ(out->meta.golden->rtol, 1e-3f);
  EXPECT_TRUE(compare_tensors(out->meta.golden->outputs[0], testing::tensor_f32("y", {1, 3}, testing::tiny_mlp_expected({1, 2, 3, 4})), 0, 0).ok);
  EXPECT_EQ(out->meta.properties, in.meta.properties);
}

TEST(Artifact, AttributesOfEveryKindSurvive) {
  Graph g = testing::tiny_mlp();
  Attributes& a = g.nodes[0].attrs;
  a.set("i", int64_t{-7});
  a.set("f", 2.5f);
  a.set("s", std::string("half_pixel"));
  a.set("is", std::vector<int64_t>{1, -2, 3});
  a.set("fs", std::vector<float>{0.5f, 1.5f});
  auto bytes = serialize_artifact(g);
  ASSERT_TRUE(bytes.has_value()) << bytes.error().message;
  auto out = load_artifact(SharedBytes::adopt(std::move(*bytes)));
  ASSERT_TRUE(out.has_value()) << out.error().message;
  EXPECT_EQ(out->nodes[0].attrs, a);
}

TEST(Artifact, WeightsAreAlignedAndUsedInPlace) {
  auto file = SharedBytes::copy(tiny_bytes());
  auto g = load_artifact(file);
  ASSERT_TRUE(g.has_value());
  for (const Tensor& t : g->tensors)
    if (t.constant) {
      EXPECT_GE(t.data.data(), file.data());
      EXPECT_LE(t.data.data() + t.data.size(), file.data() + file.size());
      EXPECT_EQ((t.data.data() - file.data()) % kSegmentAlignment, 0);
    }
}

TEST(Artifact, EveryTruncationIsRefusedCleanly) {
  auto bytes = tiny_bytes();
  for (size_t n = 0; n < bytes.size(); ++n) {
    auto r = load_artifact(SharedBytes::copy(ByteSpan(bytes).first(n)));
    ASSERT_FALSE(r.has_value()) << "prefix of " << n << " bytes loaded";
    EXPECT_EQ(r.error().code, ErrorCode::kCorrupt);
  }
}

TEST(Artifact, EverySingleByteCorruptionIsRefusedOrHarmless) {
  // Flipping any byte must never crash or read out of bounds (ASan build checks the latter);
  // flips in the header or the FlatBuffer are refused or decode to a graph that still verifies.
  auto bytes = tiny_bytes();
  int refused = 0;
  for (size_t i = 0; i < bytes.size(); ++i) {
    auto copy = bytes;
    copy[i] ^= std::byte{0x5a};
    auto r = load_artifact(SharedBytes::adopt(std::move(copy)));
    if (!r) ++refused;
  }
  EXPECT_GT(refused, 64);  // at least every header byte that matters
}

TEST(Artifact, BadMagicVersionAndUnknownOpsSayWhatIsWrong) {
  auto bytes = tiny_bytes();
  auto bad = bytes;
  bad[0] = std::byte{'X'};
  auto r = load_artifact(SharedBytes::copy(bad));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("not an .edge artifact"), std::string::npos);

  bad = bytes;
  store_le<uint32_t>(bad.data() + 8, 99);
  r = load_artifact(SharedBytes::copy(bad));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kUnsupported);
  EXPECT_NE(r.error().message.find("version 99"), std::string::npos);

  Graph g = testing::tiny_mlp();
  g.meta.min_runtime_version = "99.0";
  auto newer = serialize_artifact(g);
  ASSERT_TRUE(newer);
  r = load_artifact(SharedBytes::adopt(std::move(*newer)));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kUnsupported);
  EXPECT_NE(r.error().message.find("99.0"), std::string::npos);
}

TEST(Artifact, InconsistentShapesAreRefusedByTheGraphVerifier) {
  // Writer and loader both run verify_graph; a stored shape that inference contradicts is refused.
  Graph g = testing::tiny_mlp();
  g.tensors[3].shape = {1, 4};
  auto r = serialize_artifact(g);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("'h'"), std::string::npos);
}

TEST(Artifact, FailedWriteLeavesNoFile) {
  auto dir = std::filesystem::temp_directory_path() / ("edgeloop_artifact_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  Graph g = testing::tiny_mlp();
  g.outputs.clear();  // invalid: no outputs
  EXPECT_FALSE(write_artifact(g, dir / "m.edge"));
  EXPECT_FALSE(std::filesystem::exists(dir / "m.edge"));
  EXPECT_TRUE(std::filesystem::is_empty(dir));
  std::filesystem::remove_all(dir);
}

// An int4 weight quantized per group of 4 along its flattened reduction, with f16 scales: the
// layout INT4 variants use (docs/model-format.md).
Tensor int4_group_weight() {
  Tensor w;
  w.name = "w4";
  w.dtype = DType::kI4;
  w.shape = {2, 3, 2};  // rows of 6: groups of 4 and 2
  w.constant = true;
  std::vector<std::byte> bytes(storage_bytes(DType::kI4, 12));
  for (int64_t i = 0; i < 12; ++i) store_i4(bytes.data(), i, static_cast<int8_t>(i - 8));
  w.data = SharedBytes::adopt(std::move(bytes));
  w.quant.scales = {0.5f, 0.25f, 0.125f, 1.5f};
  w.quant.axis = 0;
  w.quant.block_axis = 1;
  w.quant.block_size = 4;
  w.quant.scale_dtype = DType::kF16;
  return w;
}

TEST(Artifact, Int4GroupWeightsWithHalfScalesRoundTrip) {
  Graph g = testing::tiny_mlp();
  g.add_tensor(int4_group_weight());
  auto bytes = serialize_artifact(g);
  ASSERT_TRUE(bytes.has_value()) << bytes.error().message;
  auto out = load_artifact(SharedBytes::adopt(std::move(*bytes)));
  ASSERT_TRUE(out.has_value()) << out.error().message;
  const Tensor& w = out->tensors.back();
  EXPECT_EQ(w.quant, int4_group_weight().quant);
  ASSERT_EQ(w.data.size(), 6u);
  for (int64_t i = 0; i < 12; ++i) EXPECT_EQ(load_i4(w.data.data(), i), i - 8) << i;
  const GroupLayout layout = group_layout(w.shape, w.quant.block_size);
  EXPECT_EQ(layout.groups, 2);
  EXPECT_EQ(layout.scale_index(3), 0u);
  EXPECT_EQ(layout.scale_index(4), 1u);
  EXPECT_EQ(layout.scale_index(6), 2u);
  EXPECT_EQ(layout.scale_index(11), 3u);
}

TEST(Artifact, InconsistentGroupQuantizationIsRefused) {
  struct Case {
    const char* what;
    void (*edit)(QuantParams&);
    const char* message;
  };
  const Case cases[] = {
      {"scale count", [](QuantParams& q) { q.scales.pop_back(); }, "3 quantization scales, expected 4"},
      {"axis", [](QuantParams& q) { q.axis = 1; }, "per-group quantization needs axis 0"},
      {"not a half", [](QuantParams& q) { q.scales[0] = 0.1f; }, "is declared f16 but is not an f16 value"},
  };
  for (const Case& c : cases) {
    Graph g = testing::tiny_mlp();
    Tensor w = int4_group_weight();
    c.edit(w.quant);
    g.add_tensor(std::move(w));
    auto bytes = serialize_artifact(g);
    std::string message = bytes ? "" : bytes.error().message;
    if (bytes) {
      auto out = load_artifact(SharedBytes::adopt(std::move(*bytes)));
      ASSERT_FALSE(out.has_value()) << c.what;
      message = out.error().message;
    }
    EXPECT_THAT(message, ::testing::HasSubstr(c.message)) << c.what;
  }
}

TEST(Artifact, VersionsCompareNumerically) {
  EXPECT_LT(compare_versions("0.9", "0.10"), 0);
  EXPECT_EQ(compare_versions("1.0", "1.0"), 0);
  EXPECT_GT(compare_versions("1.0.1", "1.0"), 0);
  EXPECT_EQ(compare_versions("01.2", "1.2"), 0);
}

}  // namespace
}  // namespace edgeloop::model

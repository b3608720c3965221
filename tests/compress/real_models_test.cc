// The real models of the foundation issue, end to end: ONNX → import → .edge → reference runtime,
// checked against PyTorch's own outputs.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "edgeloop/compress/dataset.h"
#include "edgeloop/compress/evaluate.h"
#include "edgeloop/model/artifact.h"
#include "edgeloop/model/npy.h"
#include "edgeloop/model/onnx_import.h"
#include "edgeloop/model/tensor_compare.h"
#include "edgeloop/runtime/golden.h"
#include "edgeloop/runtime/session.h"

namespace edgeloop::compress {
namespace {

namespace fs = std::filesystem;
const fs::path kExamples = fs::path(EDGELOOP_SOURCE_DIR) / "examples/fashion_mnist";
const fs::path kMobileNetExample = fs::path(EDGELOOP_SOURCE_DIR) / "examples/fashion_mobilenet";

// Import, write, and load back through the verifying loader, as a device would receive it.
runtime::Program import_and_load(const fs::path& onnx, const model::ImportOptions& opts = {}) {
  auto g = model::import_onnx(onnx, opts);
  EXPECT_TRUE(g) << g.error().message;
  EXPECT_TRUE(runtime::attach_golden(*g));
  auto bytes = model::serialize_artifact(*g);
  EXPECT_TRUE(bytes) << bytes.error().message;
  auto p = runtime::Program::load(SharedBytes::adopt(std::move(*bytes)));
  EXPECT_TRUE(p) << p.error().message;
  EXPECT_TRUE(runtime::check_golden(*p));
  return std::move(*p);
}

// Runs all 10,000 Fashion-MNIST test images through `onnx` (imported, batch 1, reference runtime)
// and compares with PyTorch's eval-mode logits `torch_logits` (float32 [10000,10], file order).
void expect_matches_pytorch_on_all_test_images(const fs::path& onnx, const fs::path& torch_logits) {
  auto program = import_and_load(onnx);
  auto data = load_fashion_mnist("test");
  ASSERT_TRUE(data) << data.error().message;
  ASSERT_EQ(data->count, 10000);
  EvalOptions opts;
  opts.keep_logits = true;
  auto report = evaluate_classifier(program, *data, opts);
  ASSERT_TRUE(report) << report.error().message;
  auto torch = model::read_npy(torch_logits);
  ASSERT_TRUE(torch) << torch.error().message;
  ASSERT_EQ(torch->shape, (model::Shape{10000, 10}));
  auto ref = torch->values<float>();

  int64_t same_top1 = 0, torch_correct = 0;
  double max_abs = 0;
  for (int64_t i = 0; i < 10000; ++i) {
    int ref_best = 0;
    for (int c = 0; c < 10; ++c) {
      const double a = report->logits[i * 10 + c], b = ref[i * 10 + c];
      max_abs = std::max(max_abs, std::fabs(a - b));
      if (ref[i * 10 + c] > ref[i * 10 + ref_best]) ref_best = c;
    }
    same_top1 += ref_best == report->predicted[i];
    torch_correct += ref_best == data->labels[i];
  }
  ::testing::Test::RecordProperty("top1", std::to_string(report->accuracy()));
  ::testing::Test::RecordProperty("max_abs_logit_diff", std::to_string(max_abs));
  std::printf("%s: edgeloop top-1 %.4f, PyTorch top-1 %.4f, same top-1 on %lld/10000, max |logit diff| %.3g\n",
              onnx.filename().c_str(), report->accuracy(), torch_correct / 10000.0,
              static_cast<long long>(same_top1), max_abs);
  EXPECT_GE(same_top1, 9990);  // ≥ 99.9%
  EXPECT_LE(max_abs, 1e-4);
  EXPECT_EQ(report->correct, torch_correct);
  EXPECT_GE(report->accuracy(), 0.90);
}

TEST(FashionMnist, EdgeModelMatchesPyTorchOnAllTestImages) {
  expect_matches_pytorch_on_all_test_images(kExamples / "fashion_cnn.onnx", kExamples / "torch_test_logits.npy");
}

// The MobileNetV2-style model: depthwise convolutions, residual Adds, ReLU6 (Clip), HardSwish.
TEST(FashionMobileNet, EdgeModelMatchesPyTorchOnAllTestImages) {
  expect_matches_pytorch_on_all_test_images(kMobileNetExample / "fashion_mobilenet.onnx",
                                            kMobileNetExample / "torch_test_logits.npy");
}

TEST(MobileNetV2, MatchesThePyTorchReferencePair) {
  const fs::path dir = fs::path(EDGELOOP_BINARY_DIR) / "models";
  if (!fs::exists(dir / "mobilenetv2.onnx")) GTEST_SKIP() << "run `make models` to export MobileNetV2 with PyTorch";
  auto program = import_and_load(dir / "mobilenetv2.onnx");
  auto input = model::read_npy(dir / "mobilenetv2_input.npy");
  auto expected = model::read_npy(dir / "mobilenetv2_output.npy");
  ASSERT_TRUE(input && expected);
  input->name = program.graph().tensors[program.graph().inputs[0]].name;
  runtime::Session session(program);
  auto out = session.run({&*input, 1});
  ASSERT_TRUE(out) << out.error().message;
  expected->name = (*out)[0].name;
  auto c = model::compare_tensors((*out)[0], *expected, 1e-4, 1e-5);
  std::printf("MobileNetV2: max abs diff %.3g, max rel diff %.3g\n", c.max_abs_diff, c.max_rel_diff);
  EXPECT_TRUE(c.ok) << c.message;
}

}  // namespace
}  // namespace edgeloop::compress

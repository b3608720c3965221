#include "edgeloop/compress/evaluate.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "edgeloop/model/onnx_import.h"

namespace edgeloop::compress {
namespace {

TEST(Evaluate, ThreadsSplitTheImagesWithoutChangingAnyResult) {
  auto g = model::import_onnx(std::filesystem::path(EDGELOOP_SOURCE_DIR) / "examples/fashion_mnist/fashion_cnn.onnx");
  ASSERT_TRUE(g) << g.error().message;
  auto program = runtime::Program::from_graph(std::move(*g));
  ASSERT_TRUE(program) << program.error().message;
  auto data = load_image_set("fashion-mnist:test:37");
  ASSERT_TRUE(data) << data.error().message;
  EvalOptions one;
  one.keep_logits = true;
  EvalOptions three = one;
  three.threads = 3;
  int64_t last_done = 0;
  three.progress = [&](int64_t done, int64_t total) {
    EXPECT_EQ(total, 37);
    EXPECT_GE(done, last_done);
    last_done = done;
  };
  auto a = evaluate_classifier(*program, *data, one);
  auto b = evaluate_classifier(*program, *data, three);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(last_done, 37);
  EXPECT_EQ(a->count, 37);
  EXPECT_EQ(a->predicted, b->predicted);
  EXPECT_EQ(a->logits, b->logits);
  EXPECT_EQ(a->correct, b->correct);
  EXPECT_GT(a->correct, 30);  // the CNN is ~92% accurate
  EXPECT_EQ(b->latency_us.count, 37u);
}

}  // namespace
}  // namespace edgeloop::compress

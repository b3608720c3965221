#include "edgeloop/compress/dataset.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace edgeloop::compress {
namespace {

TEST(ImageSet, SpecsSelectWholeSplitsPrefixesAndRanges) {
  auto test = load_image_set("fashion-mnist:test");
  ASSERT_TRUE(test) << test.error().message;
  EXPECT_EQ(test->count, 10000);

  auto first = load_image_set("fashion-mnist:test:30");
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(first->count, 30);

  auto range = load_image_set("fashion-mnist:test:20-30");
  ASSERT_TRUE(range) << range.error().message;
  ASSERT_EQ(range->count, 10);
  const int64_t pixels = range->rows * range->cols;
  for (int64_t i = 0; i < 10; ++i) {
    EXPECT_EQ(range->labels[i], first->labels[20 + i]);
    EXPECT_TRUE(std::equal(range->image(i), range->image(i) + pixels, first->image(20 + i)));
  }
}

TEST(ImageSet, BadSpecsSayWhichFormsExist) {
  for (const char* spec : {"mnist:test", "fashion-mnist", "fashion-mnist:valid", "fashion-mnist:test:0", "fashion-mnist:test:5-5",
                           "fashion-mnist:test:9-3", "fashion-mnist:test:x", "fashion-mnist:test:3-", "fashion-mnist:test:-3",
                           "fashion-mnist:test:10001"}) {
    auto s = load_image_set(spec);
    ASSERT_FALSE(s) << spec;
    EXPECT_EQ(s.error().code, ErrorCode::kInvalidArgument) << spec;
  }
  EXPECT_THAT(load_image_set("mnist:test").error().message, ::testing::HasSubstr("fashion-mnist:SPLIT:A-B"));
  EXPECT_THAT(load_image_set("fashion-mnist:test:10001").error().message, ::testing::HasSubstr("only 10000 images"));
}

}  // namespace
}  // namespace edgeloop::compress

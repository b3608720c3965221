#include "edgeloop/device/tensor_wire.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>

namespace edgeloop::device {
namespace {

using ::testing::HasSubstr;

model::TensorData filled(std::string name, model::DType dtype, model::Shape shape) {
  auto t = model::TensorData::zeros(std::move(name), dtype, std::move(shape));
  for (size_t i = 0; i < t.bytes.size(); ++i) t.bytes[i] = static_cast<std::byte>(i * 37 + 11);
  return t;
}

std::vector<model::TensorData> every_dtype() {
  std::vector<model::TensorData> all;
  for (int d = 0; d < model::kNumDTypes; ++d) {
    const auto dtype = static_cast<model::DType>(d);
    all.push_back(filled(fmt::format("t_{}", model::dtype_name(dtype)), dtype, {2, 3, 5}));
  }
  all.push_back(filled("scalar", model::DType::kF32, {}));
  all.push_back(filled("empty", model::DType::kI64, {0, 4}));
  all.push_back(filled("odd_i4", model::DType::kI4, {7}));  // 7 nibbles: 4 bytes, the last half used
  all.push_back(filled("", model::DType::kU8, {1}));        // unnamed
  return all;
}

std::vector<std::byte> encode(const std::vector<model::TensorData>& ts) {
  auto bytes = encode_tensors(ts);
  EXPECT_TRUE(bytes) << bytes.error().message;
  return bytes.value_or(std::vector<std::byte>{});
}

TEST(TensorWire, EveryDtypeRoundTrips) {
  const auto all = every_dtype();
  const auto bytes = encode(all);
  auto back = decode_tensors(bytes);
  ASSERT_TRUE(back) << back.error().message;
  ASSERT_EQ(back->size(), all.size());
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ((*back)[i].name, all[i].name);
    EXPECT_EQ((*back)[i].dtype, all[i].dtype);
    EXPECT_EQ((*back)[i].shape, all[i].shape);
    EXPECT_EQ((*back)[i].bytes, all[i].bytes);
  }
  // No tensors at all is a valid (empty) message.
  auto none = decode_tensors(encode({}));
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

TEST(TensorWire, TheLayoutIsTheDocumentedOne) {
  // docs/split-inference.md: "ELTW" 01 00 count:u16 | name_len:u16 name dtype rank dims:i64 data_len:u64 data
  auto t = filled("ab", model::DType::kI8, {1, 2});
  const auto bytes = encode({t});
  const unsigned char want[] = {'E', 'L', 'T', 'W', 1, 0, 1, 0,  // header, one tensor
                                2, 0, 'a', 'b',                  // name
                                2, 2,                            // dtype i8, rank 2
                                1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0,  // dims
                                2, 0, 0, 0, 0, 0, 0, 0,                          // data length
                                11, 48};                                         // data
  ASSERT_EQ(bytes.size(), sizeof(want));
  EXPECT_EQ(0, std::memcmp(bytes.data(), want, sizeof(want)));
}

TEST(TensorWire, EveryTruncationIsRefused) {
  const auto bytes = encode(every_dtype());
  for (size_t n = 0; n < bytes.size(); ++n) {
    auto r = decode_tensors(ByteSpan(bytes.data(), n));
    ASSERT_FALSE(r) << "a prefix of " << n << " bytes decoded";
    EXPECT_EQ(r.error().code, ErrorCode::kCorrupt);
  }
  // And anything after the last tensor.
  auto longer = bytes;
  longer.push_back(std::byte{0});
  auto r = decode_tensors(longer);
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message, HasSubstr("1 unexpected bytes"));
}

TEST(TensorWire, HostileHeadersAreRefusedBeforeAnyAllocation) {
  const auto base = encode({filled("x", model::DType::kF32, {2, 2})});
  // Offsets into the one-tensor message: header 0-7, name_len 8, name 10, dtype 11, rank 12,
  // dims 13.., data_len 29.., data 37..
  struct Case {
    const char* what;
    size_t offset;
    std::vector<uint8_t> patch;
    const char* message;
  };
  const std::vector<Case> cases = {
      {"magic", 0, {'E', 'L', 'T', 'X'}, "magic"},
      {"version 2", 4, {2}, "version 2"},
      {"version 0", 4, {0}, "version 0"},
      {"flags", 5, {0x80}, "flags"},
      {"count 65535", 6, {0xff, 0xff}, "65535 tensors"},
      {"count 2 (only one present)", 6, {2, 0}, "truncated"},
      {"count 0 (one present)", 6, {0, 0}, "unexpected bytes"},
      {"name length past the end", 8, {0xff, 0x00}, "truncated in a name"},
      {"name length 65535", 8, {0xff, 0xff}, "name of 65535 bytes"},
      {"dtype 8", 11, {8}, "unknown dtype 8"},
      {"dtype 255", 11, {255}, "unknown dtype 255"},
      {"rank 9", 12, {9}, "rank 9"},
      {"rank 255", 12, {255}, "rank 255"},
      {"negative dim", 13, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, "negative dimension"},
      {"huge dims", 13, {0, 0, 0, 0, 0, 0, 0, 0x40}, "too many elements"},
      {"dims disagree with the data", 13, {3}, "need 24"},
      {"data length 2^63", 29, {0, 0, 0, 0, 0, 0, 0, 0x80}, "declares"},
      {"data length short", 29, {15}, "declares 15"},
  };
  for (const Case& c : cases) {
    auto bytes = base;
    ASSERT_LE(c.offset + c.patch.size(), bytes.size()) << c.what;
    for (size_t i = 0; i < c.patch.size(); ++i) bytes[c.offset + i] = static_cast<std::byte>(c.patch[i]);
    auto r = decode_tensors(bytes);
    ASSERT_FALSE(r) << c.what;
    EXPECT_EQ(r.error().code, ErrorCode::kCorrupt) << c.what;
    EXPECT_THAT(r.error().message, HasSubstr(c.message)) << c.what;
  }
}

TEST(TensorWire, LimitsAreEnforced) {
  const auto bytes = encode({filled("activation", model::DType::kF32, {1, 8}), filled("b", model::DType::kU8, {3})});
  TensorWireLimits one;
  one.max_tensors = 1;
  EXPECT_THAT(decode_tensors(bytes, one).error().message, HasSubstr("at most 1"));
  TensorWireLimits small;
  small.max_tensor_bytes = 16;
  EXPECT_THAT(decode_tensors(bytes, small).error().message, HasSubstr("32 data bytes, at most 16"));
  TensorWireLimits short_names;
  short_names.max_name_bytes = 4;
  EXPECT_THAT(decode_tensors(bytes, short_names).error().message, HasSubstr("name of 10 bytes"));
  TensorWireLimits low_rank;
  low_rank.max_rank = 1;
  EXPECT_THAT(decode_tensors(bytes, low_rank).error().message, HasSubstr("rank 2"));
}

TEST(TensorWire, EncodingRefusesATensorWhoseBytesDoNotMatchItsShape) {
  auto t = filled("x", model::DType::kF32, {2, 2});
  t.bytes.pop_back();
  auto r = encode_tensors(std::span(&t, 1));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_THAT(r.error().message, HasSubstr("15 bytes"));
}

}  // namespace
}  // namespace edgeloop::device

#include "edgeloop/model/npy.h"

#include <gtest/gtest.h>

#include <cstring>

namespace edgeloop::model {
namespace {

// np.save of np.arange(6, dtype=np.float32).reshape(2,3), header written out by hand.
std::vector<std::byte> numpy_file() {
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  header.append(118 - header.size() - 1, ' ');
  header.push_back('\n');
  std::string s = std::string("\x93NUMPY\x01\x00", 8) + char(header.size()) + '\0' + header;
  std::vector<std::byte> out(s.size() + 24);
  std::memcpy(out.data(), s.data(), s.size());
  for (int i = 0; i < 6; ++i) {
    float v = static_cast<float>(i);
    std::memcpy(out.data() + s.size() + 4 * i, &v, 4);
  }
  return out;
}

TEST(Npy, ParsesWhatNumpyWrites) {
  auto t = parse_npy(numpy_file(), "a");
  ASSERT_TRUE(t.has_value()) << t.error().message;
  EXPECT_EQ(t->dtype, DType::kF32);
  EXPECT_EQ(t->shape, (Shape{2, 3}));
  EXPECT_EQ(t->values<float>()[5], 5.f);
}

TEST(Npy, RoundTripsEveryDtypeAndRank) {
  for (DType d : {DType::kF32, DType::kF16, DType::kI8, DType::kU8, DType::kI32, DType::kI64, DType::kBool})
    for (Shape shape : {Shape{}, Shape{5}, Shape{2, 0, 3}, Shape{1, 2, 3, 4}}) {
      auto t = TensorData::zeros("t", d, shape);
      for (size_t i = 0; i < t.bytes.size(); ++i) t.bytes[i] = std::byte(i * 7 % 2);
      auto bytes = serialize_npy(t);
      EXPECT_EQ((10 + load_le<uint16_t>(bytes.data() + 8)) % 64, 0u);
      auto back = parse_npy(bytes, "t");
      ASSERT_TRUE(back.has_value()) << back.error().message;
      EXPECT_EQ(back->dtype, d);
      EXPECT_EQ(back->shape, shape);
      EXPECT_EQ(back->bytes, t.bytes);
    }
}

TEST(Npy, RefusesWhatItCannotRepresent) {
  auto f = numpy_file();
  const std::string_view text(reinterpret_cast<const char*>(f.data()), f.size());
  auto fortran = f;
  std::memcpy(fortran.data() + text.find("False"), "True ", 5);
  auto r = parse_npy(fortran);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("Fortran"), std::string::npos);
  auto f8 = f;
  std::memcpy(f8.data() + text.find("<f4"), "<f8", 3);
  r = parse_npy(f8);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kUnsupported);
  for (size_t n = 0; n < f.size(); ++n) EXPECT_FALSE(parse_npy(ByteSpan(f).first(n))) << n;
}

}  // namespace
}  // namespace edgeloop::model

namespace edgeloop::model {
namespace {

TEST(DType, ElementCountsAreCappedSoByteSizesCannotWrap) {
  EXPECT_EQ(num_elements({int64_t{1} << 29, int64_t{1} << 30}), int64_t{1} << 59);
  EXPECT_EQ(num_elements({int64_t{1} << 30, int64_t{1} << 30}), -1);
  EXPECT_EQ(num_elements({3, -1}), -1);
  EXPECT_EQ(num_elements({}), 1);
  EXPECT_EQ(storage_bytes(DType::kI64, kMaxElements), static_cast<size_t>(kMaxElements) * 8);
  EXPECT_EQ(storage_bytes(DType::kI4, 5), 3u);
}

}  // namespace
}  // namespace edgeloop::model

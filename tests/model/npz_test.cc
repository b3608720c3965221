#include "edgeloop/model/npz.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "edgeloop/base/file.h"
#include "edgeloop/model/npy.h"

namespace edgeloop::model {
namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<std::byte>;

// Fixtures written by numpy (tests/data/make_npz_fixtures.py).
const char* const kFixtures[] = {"calib_x_stored.npz", "calib_x_compressed.npz", "calib_two_inputs.npz", "dtypes_streamed.npz"};

fs::path fixture(const std::string& name) { return fs::path(EDGELOOP_SOURCE_DIR) / "tests/data" / name; }

Bytes fixture_bytes(const std::string& name) {
  auto b = read_file(fixture(name));
  EXPECT_TRUE(b) << b.error().message;
  return b ? *b : Bytes{};
}

TensorData tensor(std::string name, DType dtype, Shape shape, std::vector<uint8_t> bytes) {
  TensorData t{std::move(name), dtype, std::move(shape), {}};
  for (uint8_t v : bytes) t.bytes.push_back(std::byte{v});
  return t;
}

std::vector<float> floats(const TensorData& t) {
  auto v = t.values<float>();
  return {v.begin(), v.end()};
}

bool same(const std::vector<TensorData>& a, const std::vector<TensorData>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].name != b[i].name || a[i].dtype != b[i].dtype || a[i].shape != b[i].shape || a[i].bytes != b[i].bytes) return false;
  return true;
}

// ---- a small ZIP writer for crafted archives ----

void put16(Bytes& out, uint16_t v) {
  for (int i = 0; i < 2; ++i) out.push_back(std::byte(v >> (8 * i)));
}
void put32(Bytes& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(std::byte(v >> (8 * i)));
}
void put(Bytes& out, std::string_view s) {
  for (char c : s) out.push_back(std::byte(c));
}
void put(Bytes& out, const Bytes& b) { out.insert(out.end(), b.begin(), b.end()); }

Bytes deflate_raw(const Bytes& in) {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
  Bytes out(deflateBound(&z, in.size()));
  z.next_in = reinterpret_cast<Bytef*>(const_cast<std::byte*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

struct Member {
  std::string name;
  Bytes data;                                // uncompressed
  uint16_t method = 0;                       // 8: `data` is deflated; any other: written as is
  uint16_t flags = 0;
  bool descriptor = false;                   // CRC and sizes in a data descriptor after the data
  bool descriptor_signature = true;          // the descriptor starts with its (optional) signature
  std::optional<Bytes> payload{};            // the bytes written as the member's data, instead of the above
  std::optional<uint32_t> size{};            // declared uncompressed size, instead of data.size()
  std::optional<uint32_t> crc{};             // declared CRC, instead of the data's
  std::optional<uint32_t> descriptor_crc{};  // the descriptor's CRC, instead of the declared one

  Bytes written() const { return payload ? *payload : method == 8 ? deflate_raw(data) : data; }
  uint32_t declared_size() const { return size ? *size : static_cast<uint32_t>(data.size()); }
  uint32_t declared_crc() const {
    return crc ? *crc : static_cast<uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size())));
  }
};

Member npy_member(const TensorData& t, uint16_t method = 0) { return {t.name + ".npy", serialize_npy(t), method}; }

Bytes local_record(const Member& m) {
  Bytes out, data = m.written();
  const uint16_t flags = m.flags | (m.descriptor ? 0x0008 : 0);
  put32(out, 0x04034b50);
  put16(out, 20);
  put16(out, flags);
  put16(out, m.method);
  put32(out, 0);  // time, date
  put32(out, m.descriptor ? 0 : m.declared_crc());
  put32(out, m.descriptor ? 0 : static_cast<uint32_t>(data.size()));
  put32(out, m.descriptor ? 0 : m.declared_size());
  put16(out, static_cast<uint16_t>(m.name.size()));
  put16(out, 0);
  put(out, m.name);
  put(out, data);
  if (m.descriptor) {
    if (m.descriptor_signature) put32(out, 0x08074b50);
    put32(out, m.descriptor_crc ? *m.descriptor_crc : m.declared_crc());
    put32(out, static_cast<uint32_t>(data.size()));
    put32(out, m.declared_size());
  }
  return out;
}

Bytes central_record(const Member& m, uint32_t offset) {
  Bytes out;
  put32(out, 0x02014b50);
  put16(out, 20);
  put16(out, 20);
  put16(out, m.flags | (m.descriptor ? 0x0008 : 0));
  put16(out, m.method);
  put32(out, 0);
  put32(out, m.declared_crc());
  put32(out, static_cast<uint32_t>(m.written().size()));
  put32(out, m.declared_size());
  put16(out, static_cast<uint16_t>(m.name.size()));
  put32(out, 0);  // extra, comment lengths
  put32(out, 0);  // disk, internal attributes
  put32(out, 0);  // external attributes
  put32(out, offset);
  put(out, m.name);
  return out;
}

Bytes end_record(uint16_t count, uint32_t cd_size, uint32_t cd_offset) {
  Bytes out;
  put32(out, 0x06054b50);
  put32(out, 0);
  put16(out, count);
  put16(out, count);
  put32(out, cd_size);
  put32(out, cd_offset);
  put16(out, 0);
  return out;
}

Bytes zip(const std::vector<Member>& members) {
  Bytes out, cd;
  for (const Member& m : members) {
    put(cd, central_record(m, static_cast<uint32_t>(out.size())));
    put(out, local_record(m));
  }
  const auto cd_offset = static_cast<uint32_t>(out.size());
  put(out, cd);
  put(out, end_record(static_cast<uint16_t>(members.size()), static_cast<uint32_t>(cd.size()), cd_offset));
  return out;
}

// Refused with `code`, the message containing `text`.
void expect_refused(const Bytes& archive, ErrorCode code, const std::string& text, const NpzLimits& limits = {}) {
  auto r = parse_npz(archive, limits);
  ASSERT_FALSE(r) << "expected an error containing '" << text << "'";
  EXPECT_EQ(r.error().code, code) << r.error().message;
  EXPECT_NE(r.error().message.find(text), std::string::npos) << r.error().message;
}

const TensorData kA = tensor("a", DType::kU8, {2, 2}, {1, 2, 3, 4});
const TensorData kB = tensor("b", DType::kI8, {3}, {0xff, 0, 7});

// ---- tests ----

TEST(Npz, ReadsWhatNumpyWrites) {
  const std::vector<float> x = {-2, -1.5f, -1, -0.5f, 0, 0.5f, 1, 1.5f, 2, 2.5f, 3, 3.5f};
  auto stored = read_npz(fixture("calib_x_stored.npz"));
  ASSERT_TRUE(stored) << stored.error().message;
  ASSERT_EQ(stored->size(), 1u);
  EXPECT_EQ((*stored)[0].name, "x");
  EXPECT_EQ((*stored)[0].dtype, DType::kF32);
  EXPECT_EQ((*stored)[0].shape, (Shape{3, 1, 4}));
  EXPECT_EQ(floats((*stored)[0]), x);

  auto compressed = read_npz(fixture("calib_x_compressed.npz"));
  ASSERT_TRUE(compressed) << compressed.error().message;
  ASSERT_EQ(compressed->size(), 1u);
  EXPECT_EQ((*compressed)[0].shape, (Shape{3, 4}));
  EXPECT_EQ(floats((*compressed)[0]), x);

  auto two = read_npz(fixture("calib_two_inputs.npz"));
  ASSERT_TRUE(two) << two.error().message;
  ASSERT_EQ(two->size(), 2u);
  EXPECT_EQ((*two)[0].name, "in0");
  EXPECT_EQ((*two)[1].name, "in1");
  EXPECT_EQ((*two)[0].shape, (Shape{2, 1, 3}));
  EXPECT_EQ((*two)[1].shape, (Shape{2, 3}));
  EXPECT_EQ(floats((*two)[0]), (std::vector<float>{0.25f, 0.5f, 0.75f, 1.25f, 1.5f, 1.75f}));
  EXPECT_EQ(floats((*two)[1]), (std::vector<float>{-0.25f, -0.5f, -0.75f, -1.25f, -1.5f, -1.75f}));

  // Written to a stream that cannot seek: every member has a data descriptor.
  auto dtypes = read_npz(fixture("dtypes_streamed.npz"));
  ASSERT_TRUE(dtypes) << dtypes.error().message;
  ASSERT_EQ(dtypes->size(), 6u);
  const std::vector<std::pair<std::string, DType>> want = {{"f16", DType::kF16}, {"i8", DType::kI8},   {"u8", DType::kU8},
                                                           {"i32", DType::kI32}, {"i64", DType::kI64}, {"b", DType::kBool}};
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ((*dtypes)[i].name, want[i].first);
    EXPECT_EQ((*dtypes)[i].dtype, want[i].second) << want[i].first;
  }
  EXPECT_EQ((*dtypes)[0].shape, (Shape{2, 2}));
  EXPECT_EQ((*dtypes)[2].shape, Shape{});
  EXPECT_EQ((*dtypes)[2].values<uint8_t>()[0], 200);
  EXPECT_EQ((*dtypes)[3].shape, (Shape{2, 0, 3}));
  EXPECT_TRUE((*dtypes)[3].bytes.empty());
  EXPECT_EQ((*dtypes)[4].values<int64_t>()[0], -(int64_t{1} << 40));
  EXPECT_EQ((*dtypes)[5].bytes, (Bytes{std::byte{1}, std::byte{0}}));
}

TEST(Npz, FixturesRoundTripThroughStoredDeflatedAndDescribedMembers) {
  for (const char* name : kFixtures) {
    SCOPED_TRACE(name);
    auto arrays = read_npz(fixture(name));
    ASSERT_TRUE(arrays) << arrays.error().message;
    for (uint16_t method : {uint16_t{0}, uint16_t{8}})
      for (int descriptor : {0, 1, 2}) {  // none, with signature, without
        std::vector<Member> members;
        for (const TensorData& t : *arrays) {
          members.push_back(npy_member(t, method));
          members.back().descriptor = descriptor > 0;
          members.back().descriptor_signature = descriptor == 1;
        }
        auto back = parse_npz(zip(members));
        ASSERT_TRUE(back) << back.error().message;
        EXPECT_TRUE(same(*back, *arrays)) << "method " << method << " descriptor " << descriptor;
      }
  }
  // An archive with no members (np.savez with no arrays) holds no arrays.
  auto empty = parse_npz(zip({}));
  ASSERT_TRUE(empty) << empty.error().message;
  EXPECT_TRUE(empty->empty());
}

TEST(Npz, EveryTruncationIsRefused) {
  for (const char* name : kFixtures) {
    const Bytes full = fixture_bytes(name);
    for (size_t n = 0; n < full.size(); ++n) {
      auto r = parse_npz(ByteSpan(full).first(n));
      ASSERT_FALSE(r) << name << " cut to " << n << " bytes";
      EXPECT_TRUE(r.error().code == ErrorCode::kCorrupt || r.error().code == ErrorCode::kUnsupported) << r.error().message;
    }
  }
}

TEST(Npz, SingleByteCorruptionsAreRefusedOrHarmless) {
  for (const char* name : kFixtures) {
    const Bytes full = fixture_bytes(name);
    auto good = parse_npz(full);
    ASSERT_TRUE(good) << good.error().message;
    int refused = 0, harmless = 0;
    for (size_t i = 0; i < full.size(); ++i)
      for (uint8_t flip : {0x01, 0x80, 0xff}) {
        Bytes bad = full;
        bad[i] ^= std::byte{flip};
        auto r = parse_npz(bad);
        if (r) {
          // Timestamps, version fields, attributes: nothing that reaches the arrays.
          EXPECT_TRUE(same(*r, *good)) << name << ": byte " << i << " ^ " << int{flip} << " changed the arrays";
          ++harmless;
        } else {
          EXPECT_TRUE(r.error().code == ErrorCode::kCorrupt || r.error().code == ErrorCode::kUnsupported) << r.error().message;
          ++refused;
        }
      }
    EXPECT_GT(refused, harmless) << name;
  }
}

TEST(Npz, CrcMismatchIsRefused) {
  Bytes stored = fixture_bytes("calib_x_stored.npz");
  stored[stored.size() - 120] ^= std::byte{0x40};  // a byte of x's float data
  expect_refused(stored, ErrorCode::kCorrupt, "member 'x.npy': CRC-32");

  Member wrong = npy_member(kA, 8);
  wrong.crc = 0x12345678;
  expect_refused(zip({wrong}), ErrorCode::kCorrupt, "CRC-32");
}

TEST(Npz, UnsupportedMethodsAndEncryptionAreRefused) {
  Member bzip2 = npy_member(kA);
  bzip2.method = 12;
  expect_refused(zip({npy_member(kB), bzip2}), ErrorCode::kUnsupported, "member 'a.npy' uses compression method 12");
  Member encrypted = npy_member(kA);
  encrypted.flags = 0x0001;
  expect_refused(zip({encrypted}), ErrorCode::kUnsupported, "member 'a.npy' is encrypted");

  // The ZIP64 end records (archives over 4 GiB or 65535 members).
  Bytes zip64 = zip({npy_member(kA)});
  store_le<uint32_t>(zip64.data() + zip64.size() - 6, 0xFFFFFFFF);  // central directory offset
  expect_refused(zip64, ErrorCode::kUnsupported, "ZIP64");
  // Other files in the archive, and dtypes .npy does not cover.
  expect_refused(zip({npy_member(kA), {"notes.txt", Bytes(3, std::byte{'x'})}}), ErrorCode::kUnsupported, "'notes.txt' is not");
  expect_refused(zip({{".npy", serialize_npy(kA)}}), ErrorCode::kUnsupported, "'.npy' is not");
  Bytes f8 = serialize_npy(kA);
  std::memcpy(f8.data() + std::string_view(reinterpret_cast<const char*>(f8.data()), f8.size()).find("|u1"), "<f8", 3);
  expect_refused(zip({{"a.npy", f8}}), ErrorCode::kUnsupported, "member 'a.npy': .npy dtype");
}

TEST(Npz, DuplicateAndMismatchedMembersAreRefused) {
  expect_refused(zip({npy_member(kA), npy_member(kB), npy_member(kA, 8)}), ErrorCode::kCorrupt, "member 'a.npy' appears twice");

  // Local header and central directory disagree.
  Bytes renamed = zip({npy_member(kA)});
  renamed[30] = std::byte{'z'};  // the local header's copy of the name
  expect_refused(renamed, ErrorCode::kCorrupt, "the local header names it 'z.npy'");
  Bytes method = zip({npy_member(kA)});
  method[8] = std::byte{8};  // the local header's method
  expect_refused(method, ErrorCode::kCorrupt, "disagree on method");
  Bytes size = zip({npy_member(kA)});
  size[22] ^= std::byte{1};  // the local header's uncompressed size
  expect_refused(size, ErrorCode::kCorrupt, "disagree on CRC or sizes");

  // A data descriptor that disagrees with the central directory.
  Member described = npy_member(kA, 8);
  described.descriptor = true;
  described.descriptor_crc = 7;
  expect_refused(zip({described}), ErrorCode::kCorrupt, "data descriptor");

  // Declared sizes the data does not have.
  Member big = npy_member(kA, 8);
  big.size = static_cast<uint32_t>(big.data.size() - 1);
  expect_refused(zip({big}), ErrorCode::kCorrupt, "inflates to more than");
  Member small = npy_member(kA, 8);
  small.size = static_cast<uint32_t>(small.data.size() + 1);
  expect_refused(zip({small}), ErrorCode::kCorrupt, "inflates to fewer");
  Member trailing = npy_member(kA, 8);
  trailing.payload = deflate_raw(trailing.data);
  trailing.payload->push_back(std::byte{0});
  expect_refused(zip({trailing}), ErrorCode::kCorrupt, "after its deflate data");
  Member garbage = npy_member(kA, 8);
  garbage.payload = Bytes(16, std::byte{0xff});
  expect_refused(zip({garbage}), ErrorCode::kCorrupt, "invalid deflate data");
  Member stored = npy_member(kA);
  stored.size = static_cast<uint32_t>(stored.data.size() + 1);
  expect_refused(zip({stored}), ErrorCode::kCorrupt, "stored member 'a.npy' has compressed size");
}

TEST(Npz, OffsetsOutOfBoundsOrOverlappingAreRefused) {
  const Member a = npy_member(kA), b = npy_member(kB);
  const Bytes a_local = local_record(a), b_local = local_record(b);
  auto archive = [](const Bytes& data, const std::vector<std::pair<Member, uint32_t>>& entries) {
    Bytes out = data, cd;
    for (const auto& [m, offset] : entries) put(cd, central_record(m, offset));
    const auto cd_offset = static_cast<uint32_t>(out.size());
    put(out, cd);
    put(out, end_record(static_cast<uint16_t>(entries.size()), static_cast<uint32_t>(cd.size()), cd_offset));
    return out;
  };
  // Sanity: the pieces make a good archive.
  Bytes both = a_local;
  put(both, b_local);
  ASSERT_TRUE(parse_npz(archive(both, {{a, 0}, {b, static_cast<uint32_t>(a_local.size())}})));

  // A local header past the data area, or one whose data runs into the central directory.
  expect_refused(archive(a_local, {{a, 1000}}), ErrorCode::kCorrupt, "no local header at offset 1000");
  Bytes cut = a_local;
  cut.resize(cut.size() - 5);
  expect_refused(archive(cut, {{a, 0}}), ErrorCode::kCorrupt, "run past the data area");

  // Member b's whole record hidden inside member a's data: both are valid alone.
  Member outer{"outer.npy", b_local};
  const Bytes outer_local = local_record(outer);
  expect_refused(archive(outer_local, {{outer, 0}, {b, static_cast<uint32_t>(30 + outer.name.size())}}), ErrorCode::kCorrupt,
                 "members 'outer.npy' and 'b.npy' overlap");

  // The central directory must end where the end record begins, and hold what it says.
  Bytes gap = zip({a});
  gap.insert(gap.end() - 22, std::byte{0});
  expect_refused(gap, ErrorCode::kCorrupt, "does not end where the end record begins");
  Bytes extra_entry = zip({a});
  store_le<uint16_t>(extra_entry.data() + extra_entry.size() - 14, 2);  // entries on this disk
  store_le<uint16_t>(extra_entry.data() + extra_entry.size() - 12, 2);  // entries in total
  expect_refused(extra_entry, ErrorCode::kCorrupt, "central directory entry 1 is truncated");

  // Not a ZIP archive at all.
  expect_refused(serialize_npy(kA), ErrorCode::kCorrupt, "not a ZIP archive");
  expect_refused({}, ErrorCode::kCorrupt, "not a ZIP archive");
}

TEST(Npz, LimitsAreEnforced) {
  const Bytes two = zip({npy_member(kA), npy_member(kB, 8)});
  ASSERT_TRUE(parse_npz(two));
  NpzLimits members;
  members.max_members = 1;
  expect_refused(two, ErrorCode::kUnsupported, "2 members, more than the limit of 1", members);
  NpzLimits member_bytes;
  member_bytes.max_member_bytes = serialize_npy(kA).size() - 1;
  expect_refused(two, ErrorCode::kUnsupported, "member 'a.npy' is", member_bytes);
  NpzLimits total;
  total.max_total_bytes = serialize_npy(kA).size() + 1;
  expect_refused(two, ErrorCode::kUnsupported, "more than", total);

  // A deflated member claiming 2 GiB is refused before anything is allocated.
  Member huge = npy_member(kA, 8);
  huge.size = 0x80000000u;
  expect_refused(zip({huge}), ErrorCode::kUnsupported, "2147483648 bytes uncompressed, more than the limit");
}

TEST(Npz, ReadErrorsNameTheFile) {
  auto missing = read_npz(fixture("no_such.npz"));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kIo);
  EXPECT_NE(missing.error().message.find("no_such.npz"), std::string::npos);
  auto not_zip = read_npz(fixture("make_npz_fixtures.py"));
  ASSERT_FALSE(not_zip);
  EXPECT_NE(not_zip.error().message.find("make_npz_fixtures.py: not a ZIP archive"), std::string::npos) << not_zip.error().message;
}

}  // namespace
}  // namespace edgeloop::model

#include "edgeloop/model/npz.h"

#include <zlib.h>

#include <algorithm>
#include <climits>
#include <initializer_list>
#include <set>
#include <string>
#include <string_view>

#include "edgeloop/base/file.h"
#include "edgeloop/model/npy.h"

namespace edgeloop::model {
namespace {

// Record signatures and fixed sizes (PKWARE APPNOTE.TXT 6.3).
constexpr uint32_t kLocalSig = 0x04034b50, kCentralSig = 0x02014b50, kEndSig = 0x06054b50;
constexpr uint32_t kZip64LocatorSig = 0x07064b50, kDescriptorSig = 0x08074b50;
constexpr size_t kLocalSize = 30, kCentralSize = 46, kEndSize = 22, kZip64LocatorSize = 20;
constexpr size_t kMaxComment = 0xFFFF;
constexpr uint64_t kMax32 = 0xFFFFFFFF;  // "the value is in the ZIP64 extra field"
constexpr uint16_t kZip64ExtraId = 0x0001;
// Flag bits: traditional encryption, compressed patched data, strong encryption, encrypted
// central directory; and "CRC and sizes follow the data in a data descriptor".
constexpr uint16_t kUnsupportedFlags = 0x0001 | 0x0020 | 0x0040 | 0x2000;
constexpr uint16_t kHasDescriptor = 0x0008;
constexpr uint16_t kStored = 0, kDeflated = 8;

uint16_t u16(ByteSpan b, uint64_t at) { return load_le<uint16_t>(b.data() + at); }
uint32_t u32(ByteSpan b, uint64_t at) { return load_le<uint32_t>(b.data() + at); }
uint64_t u64(ByteSpan b, uint64_t at) { return load_le<uint64_t>(b.data() + at); }

// [at, at + len) lies within [0, limit), without overflow.
bool fits(uint64_t at, uint64_t len, uint64_t limit) { return at <= limit && len <= limit - at; }

// Member names for messages: control characters become '?'.
std::string printable(std::string_view name) {
  std::string out(name);
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  return out;
}

struct Entry {
  std::string name;
  uint16_t flags = 0, method = 0;
  uint32_t crc = 0;
  uint64_t compressed = 0, uncompressed = 0;
  uint64_t offset = 0;      // of the local header
  uint64_t data_start = 0;  // of the compressed data
  uint64_t end = 0;         // one past the data and its data descriptor
};

// Replaces each field that holds kMax32 by the next 8-byte value of the ZIP64 extra block, in the
// order given (APPNOTE 4.5.3). `zip64` tells whether such a block is present.
Status read_zip64_extra(ByteSpan extra, std::initializer_list<uint64_t*> fields, const Entry& e, bool* zip64 = nullptr) {
  bool seen = false;
  for (size_t p = 0; p < extra.size();) {
    if (extra.size() - p < 4) return make_error(ErrorCode::kCorrupt, "member '{}': malformed extra field", printable(e.name));
    const uint16_t id = u16(extra, p), len = u16(extra, p + 2);
    if (len > extra.size() - p - 4) return make_error(ErrorCode::kCorrupt, "member '{}': malformed extra field", printable(e.name));
    if (id == kZip64ExtraId) {
      if (seen) return make_error(ErrorCode::kCorrupt, "member '{}': two ZIP64 extra fields", printable(e.name));
      seen = true;
      size_t q = 0;
      for (uint64_t* f : fields) {
        if (*f != kMax32) continue;
        if (len - q < 8) return make_error(ErrorCode::kCorrupt, "member '{}': ZIP64 extra field is too short", printable(e.name));
        *f = u64(extra, p + 4 + q);
        q += 8;
      }
    }
    p += 4 + size_t{len};
  }
  if (zip64) *zip64 = seen;
  return ok();
}

// The end of central directory record: its signature, with a comment that reaches exactly to the
// end of the file, searched backwards over the last 64 KiB + 22 bytes.
Result<uint64_t> find_end_record(ByteSpan b) {
  if (b.size() < kEndSize)
    return make_error(ErrorCode::kCorrupt, "not a ZIP archive: {} bytes is too short for an end of central directory record", b.size());
  const size_t lowest = b.size() - kEndSize > kMaxComment ? b.size() - kEndSize - kMaxComment : 0;
  for (size_t pos = b.size() - kEndSize;; --pos) {
    if (u32(b, pos) == kEndSig && pos + kEndSize + u16(b, pos + 20) == b.size()) return pos;
    if (pos == lowest) break;
  }
  return make_error(ErrorCode::kCorrupt, "not a ZIP archive: no end of central directory record");
}

// The central directory entry at `pos` (within [pos, limit)); advances `pos` past it.
Result<Entry> read_central_entry(ByteSpan b, uint64_t& pos, uint64_t limit, uint64_t index) {
  if (!fits(pos, kCentralSize, limit)) return make_error(ErrorCode::kCorrupt, "central directory entry {} is truncated", index);
  if (u32(b, pos) != kCentralSig)
    return make_error(ErrorCode::kCorrupt, "central directory entry {} has a bad signature", index);
  const uint64_t name_len = u16(b, pos + 28), extra_len = u16(b, pos + 30), comment_len = u16(b, pos + 32);
  if (!fits(pos + kCentralSize, name_len + extra_len + comment_len, limit))
    return make_error(ErrorCode::kCorrupt, "central directory entry {} is truncated", index);
  Entry e;
  e.name = std::string(as_chars(b.subspan(pos + kCentralSize, name_len)));
  e.flags = u16(b, pos + 8);
  e.method = u16(b, pos + 10);
  e.crc = u32(b, pos + 16);
  e.compressed = u32(b, pos + 20);
  e.uncompressed = u32(b, pos + 24);
  e.offset = u32(b, pos + 42);
  const uint16_t disk = u16(b, pos + 34);
  EL_CHECK(read_zip64_extra(b.subspan(pos + kCentralSize + name_len, extra_len), {&e.uncompressed, &e.compressed, &e.offset}, e));
  if (disk != 0) return make_error(ErrorCode::kCorrupt, "member '{}' starts on disk {} of a single-disk archive", printable(e.name), disk);
  pos += kCentralSize + name_len + extra_len + comment_len;
  return e;
}

// What the central directory says, before anything is read from the member.
Status check_entry(const Entry& e, const NpzLimits& limits) {
  const std::string name = printable(e.name);
  if (e.name.size() <= 4 || !e.name.ends_with(".npy"))
    return make_error(ErrorCode::kUnsupported, "member '{}' is not a NAME.npy array (an .npz holds only .npy members)", name);
  if (e.flags & kUnsupportedFlags)
    return make_error(ErrorCode::kUnsupported, "member '{}' is encrypted or patched (flags {:#06x}); only plain members are supported",
                      name, e.flags);
  if (e.method != kStored && e.method != kDeflated)
    return make_error(ErrorCode::kUnsupported,
                      "member '{}' uses compression method {}; only stored (0) and deflate (8), as np.savez and "
                      "np.savez_compressed write, are supported",
                      name, e.method);
  if (e.uncompressed > limits.max_member_bytes)
    return make_error(ErrorCode::kUnsupported, "member '{}' is {} bytes uncompressed, more than the limit of {}", name,
                      e.uncompressed, limits.max_member_bytes);
  if (e.method == kStored && e.compressed != e.uncompressed)
    return make_error(ErrorCode::kCorrupt, "stored member '{}' has compressed size {} but uncompressed size {}", name, e.compressed,
                      e.uncompressed);
  return ok();
}

// The data descriptor after the data (optional signature, CRC, then 4- or 8-byte sizes) must
// repeat the central directory's values. Returns the offset one past it.
Result<uint64_t> check_descriptor(ByteSpan b, const Entry& e, bool zip64, uint64_t limit) {
  const uint64_t size_bytes = zip64 ? 8 : 4, len = 4 + 2 * size_bytes;
  auto matches = [&](uint64_t at) {
    if (!fits(at, len, limit)) return false;
    const uint64_t compressed = zip64 ? u64(b, at + 4) : u32(b, at + 4);
    const uint64_t uncompressed = zip64 ? u64(b, at + 12) : u32(b, at + 8);
    return u32(b, at) == e.crc && compressed == e.compressed && uncompressed == e.uncompressed;
  };
  const uint64_t at = e.data_start + e.compressed;
  if (fits(at, 4, limit) && u32(b, at) == kDescriptorSig && matches(at + 4)) return at + 4 + len;
  if (matches(at)) return at + len;
  return make_error(ErrorCode::kCorrupt, "member '{}': its data descriptor is missing or disagrees with the central directory",
                    printable(e.name));
}

// The local header must agree with the central directory; sets e.data_start and e.end, which lie
// before `limit` (the start of the central directory).
Status check_local_header(ByteSpan b, Entry& e, uint64_t limit) {
  const std::string name = printable(e.name);
  if (!fits(e.offset, kLocalSize, limit) || u32(b, e.offset) != kLocalSig)
    return make_error(ErrorCode::kCorrupt, "member '{}': no local header at offset {}", name, e.offset);
  const uint64_t at = e.offset;
  const uint16_t flags = u16(b, at + 6), method = u16(b, at + 8);
  uint64_t crc = u32(b, at + 14), compressed = u32(b, at + 18), uncompressed = u32(b, at + 22);
  const uint64_t name_len = u16(b, at + 26), extra_len = u16(b, at + 28);
  if (!fits(at + kLocalSize, name_len + extra_len, limit))
    return make_error(ErrorCode::kCorrupt, "member '{}': local header runs past the data", name);
  if (as_chars(b.subspan(at + kLocalSize, name_len)) != e.name)
    return make_error(ErrorCode::kCorrupt, "member '{}': the local header names it '{}'", name,
                      printable(as_chars(b.subspan(at + kLocalSize, name_len))));
  if (method != e.method || ((flags ^ e.flags) & (kUnsupportedFlags | kHasDescriptor)))
    return make_error(ErrorCode::kCorrupt, "member '{}': local header and central directory disagree on method or flags", name);
  bool zip64 = false;
  EL_CHECK(read_zip64_extra(b.subspan(at + kLocalSize + name_len, extra_len), {&uncompressed, &compressed}, e, &zip64));
  // With a data descriptor, the local header may leave CRC and sizes 0 (Python's zipfile does).
  auto agrees = [&](uint64_t local, uint64_t central) { return local == central || (local == 0 && (e.flags & kHasDescriptor)); };
  if (!agrees(crc, e.crc) || !agrees(compressed, e.compressed) || !agrees(uncompressed, e.uncompressed))
    return make_error(ErrorCode::kCorrupt, "member '{}': local header and central directory disagree on CRC or sizes", name);
  e.data_start = at + kLocalSize + name_len + extra_len;
  if (!fits(e.data_start, e.compressed, limit))
    return make_error(ErrorCode::kCorrupt, "member '{}': its {} bytes of data run past the data area", name, e.compressed);
  if (e.flags & kHasDescriptor) {
    EL_TRY(e.end, check_descriptor(b, e, zip64, limit));
  } else {
    e.end = e.data_start + e.compressed;
  }
  return ok();
}

// Raw deflate (no zlib header) into exactly `size` bytes; the stream must end exactly at the end
// of `in` and of the output.
Result<std::vector<std::byte>> inflate_member(ByteSpan in, uint64_t size, std::string_view name) {
  std::vector<std::byte> out(size);
  z_stream z{};
  if (inflateInit2(&z, -MAX_WBITS) != Z_OK) return make_error(ErrorCode::kInternal, "zlib inflateInit2 failed");
  struct End {
    z_stream* z;
    ~End() { inflateEnd(z); }
  } end{&z};
  std::byte dummy{};  // zlib refuses a null output pointer, even with no room
  const std::byte* next_in = in.data();
  std::byte* next_out = out.empty() ? &dummy : out.data();
  size_t left_in = in.size(), left_out = out.size();
  for (;;) {
    // zlib counts in uInt: feed at most 4 GiB − 1 at a time.
    z.next_in = reinterpret_cast<Bytef*>(const_cast<std::byte*>(next_in));
    z.avail_in = static_cast<uInt>(std::min<size_t>(left_in, UINT_MAX));
    z.next_out = reinterpret_cast<Bytef*>(next_out);
    z.avail_out = static_cast<uInt>(std::min<size_t>(left_out, UINT_MAX));
    const size_t gave_in = z.avail_in, gave_out = z.avail_out;
    const int rc = inflate(&z, Z_NO_FLUSH);
    next_in += gave_in - z.avail_in, left_in -= gave_in - z.avail_in;
    next_out += gave_out - z.avail_out, left_out -= gave_out - z.avail_out;
    if (rc == Z_STREAM_END) break;
    if (rc == Z_BUF_ERROR && left_out == 0)
      return make_error(ErrorCode::kCorrupt, "member '{}' inflates to more than its declared {} bytes", name, size);
    if (rc == Z_BUF_ERROR && left_in == 0) return make_error(ErrorCode::kCorrupt, "member '{}': deflate data is truncated", name);
    if (rc != Z_OK)
      return make_error(ErrorCode::kCorrupt, "member '{}': invalid deflate data ({})", name, z.msg ? z.msg : "zlib error");
  }
  if (left_out != 0) return make_error(ErrorCode::kCorrupt, "member '{}' inflates to fewer than its declared {} bytes", name, size);
  if (left_in != 0) return make_error(ErrorCode::kCorrupt, "member '{}' has {} bytes after its deflate data", name, left_in);
  return out;
}

}  // namespace

Result<std::vector<TensorData>> parse_npz(ByteSpan b, const NpzLimits& limits) {
  // 1. The end record and the central directory it points to, which must end where it begins.
  EL_TRY(const uint64_t end, find_end_record(b));
  const uint16_t disk = u16(b, end + 4), cd_disk = u16(b, end + 6), here = u16(b, end + 8), count = u16(b, end + 10);
  const uint64_t cd_size = u32(b, end + 12), cd_offset = u32(b, end + 16);
  const bool zip64_locator = end >= kZip64LocatorSize && u32(b, end - kZip64LocatorSize) == kZip64LocatorSig;
  if (count == 0xFFFF || cd_size == kMax32 || cd_offset == kMax32 || (zip64_locator && cd_offset + cd_size != end))
    return make_error(ErrorCode::kUnsupported, "ZIP64 archives (over 4 GiB or 65535 members) are not supported");
  if (disk != 0 || cd_disk != 0 || here != count)
    return make_error(ErrorCode::kUnsupported, "multi-disk ZIP archives are not supported");
  if (count > limits.max_members)
    return make_error(ErrorCode::kUnsupported, "the archive has {} members, more than the limit of {}", count, limits.max_members);
  if (cd_offset + cd_size != end)
    return make_error(ErrorCode::kCorrupt, "the central directory ({} bytes at offset {}) does not end where the end record begins ({})",
                      cd_size, cd_offset, end);

  // 2. Every entry: plausible on its own, unique, within the limits, with a local header that
  //    agrees, and not overlapping another. Nothing is decompressed before all of this holds.
  std::vector<Entry> entries;
  std::set<std::string> names;
  uint64_t total = 0;
  uint64_t pos = cd_offset;
  for (uint64_t i = 0; i < count; ++i) {
    EL_TRY(Entry e, read_central_entry(b, pos, end, i));
    EL_CHECK(check_entry(e, limits));
    if (!names.insert(e.name).second) return make_error(ErrorCode::kCorrupt, "member '{}' appears twice", printable(e.name));
    if (e.uncompressed > limits.max_total_bytes - total)
      return make_error(ErrorCode::kUnsupported, "the members hold more than {} bytes uncompressed, the limit", limits.max_total_bytes);
    total += e.uncompressed;
    EL_CHECK(check_local_header(b, e, cd_offset));
    entries.push_back(std::move(e));
  }
  if (pos != end) return make_error(ErrorCode::kCorrupt, "the central directory has {} bytes after its {} entries", end - pos, count);
  std::vector<const Entry*> by_offset;
  for (const Entry& e : entries) by_offset.push_back(&e);
  std::sort(by_offset.begin(), by_offset.end(), [](const Entry* x, const Entry* y) { return x->offset < y->offset; });
  for (size_t i = 1; i < by_offset.size(); ++i)
    if (by_offset[i - 1]->end > by_offset[i]->offset)
      return make_error(ErrorCode::kCorrupt, "members '{}' and '{}' overlap", printable(by_offset[i - 1]->name),
                        printable(by_offset[i]->name));

  // 3. Decompress, verify the CRC-32 and parse each member as .npy.
  std::vector<TensorData> arrays;
  for (const Entry& e : entries) {
    const std::string name = printable(e.name);
    const ByteSpan raw = b.subspan(e.data_start, e.compressed);
    std::vector<std::byte> inflated;
    if (e.method == kDeflated) {
      EL_TRY(inflated, inflate_member(raw, e.uncompressed, name));
    }
    const ByteSpan data = e.method == kDeflated ? ByteSpan(inflated) : raw;
    const uint32_t crc = static_cast<uint32_t>(crc32_z(0, reinterpret_cast<const Bytef*>(data.data()), data.size()));
    if (crc != e.crc) return make_error(ErrorCode::kCorrupt, "member '{}': CRC-32 is {:08x}, the archive says {:08x}", name, crc, e.crc);
    auto t = parse_npy(data, e.name.substr(0, e.name.size() - 4));
    if (!t) return std::unexpected(std::move(t).error().context(fmt::format("member '{}'", name)));
    arrays.push_back(std::move(*t));
  }
  return arrays;
}

Result<std::vector<TensorData>> read_npz(const std::filesystem::path& path, const NpzLimits& limits) {
  EL_TRY(SharedBytes bytes, map_file(path));  // its errors name the file
  auto arrays = parse_npz(bytes.span(), limits);
  if (!arrays) return std::unexpected(std::move(arrays).error().context(path.string()));
  return arrays;
}

}  // namespace edgeloop::model

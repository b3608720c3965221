#include "edgeloop/ota/delta_generator.h"

#include <zstd.h>

#include <algorithm>
#include <bit>
#include <map>
#include <memory>
#include <string>

#include "edgeloop/model/artifact.h"
#include "edgeloop/ota/delta.h"

namespace edgeloop::ota {
namespace {

struct CctxFree {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};
using Cctx = std::unique_ptr<ZSTD_CCtx, CctxFree>;

// A constant tensor's segment inside its file.
struct Segment {
  std::string name;
  uint64_t offset = 0, length = 0;
  uint8_t stride = 1;  // element bytes, for byte planes
};

uint8_t plane_stride_of(model::DType t) {
  switch (t) {
    case model::DType::kF32:
    case model::DType::kI32: return 4;
    case model::DType::kF16: return 2;
    case model::DType::kI64: return 8;
    default: return 1;
  }
}

// The constant tensors' segments, sorted by offset, disjoint; anything else (empty tensors,
// overlaps a valid file should not have) is left to the rest record.
Result<std::vector<Segment>> segments_of(ByteSpan file, const char* which) {
  auto g = model::load_artifact(SharedBytes::view(nullptr, file));
  if (!g) return std::unexpected(std::move(g).error().context(which));
  std::vector<Segment> out;
  for (const model::Tensor& t : g->tensors) {
    if (!t.constant || t.data.empty()) continue;
    const std::byte* p = t.data.data();
    if (p < file.data() || p + t.data.size() > file.data() + file.size()) continue;  // not a view of the file
    out.push_back({t.name, static_cast<uint64_t>(p - file.data()), t.data.size(), plane_stride_of(t.dtype)});
  }
  std::sort(out.begin(), out.end(), [](const Segment& a, const Segment& b) { return a.offset < b.offset; });
  std::vector<Segment> disjoint;
  for (Segment& s : out)
    if (disjoint.empty() || disjoint.back().offset + disjoint.back().length <= s.offset) disjoint.push_back(std::move(s));
  return disjoint;
}

// One zstd frame of `src`; with a `prefix`, the frame records its content size (the applier
// sizes the rest frame's buffer by it).
Result<std::vector<std::byte>> compress(ZSTD_CCtx* cctx, ByteSpan src, int level, ByteSpan prefix = {}) {
  ZSTD_CCtx_reset(cctx, ZSTD_reset_session_and_parameters);
  auto check = [](size_t r) -> Status {
    if (ZSTD_isError(r)) return make_error(ErrorCode::kInternal, "zstd: {}", ZSTD_getErrorName(r));
    return ok();
  };
  EL_CHECK(check(ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level)));
  EL_CHECK(check(ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 0)));  // the target SHA-256 covers everything
  // A tensor record says its length; a rest frame carries its own.
  EL_CHECK(check(ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, prefix.empty() ? 0 : 1)));
  if (!prefix.empty()) {
    // The window must reach from the end of the output back to the start of the prefix
    // (zstd --patch-from does the same); the applier decompresses each frame in one shot, so the
    // window costs it no memory.
    const uint64_t span = prefix.size() + src.size();
    const int log = std::clamp(static_cast<int>(std::bit_width(span)), 10, ZSTD_cParam_getBounds(ZSTD_c_windowLog).upperBound);
    EL_CHECK(check(ZSTD_CCtx_setParameter(cctx, ZSTD_c_windowLog, log)));
    EL_CHECK(check(ZSTD_CCtx_setParameter(cctx, ZSTD_c_enableLongDistanceMatching, 1)));
    EL_CHECK(check(ZSTD_CCtx_refPrefix(cctx, prefix.data(), prefix.size())));
  }
  std::vector<std::byte> out(ZSTD_compressBound(src.size()));
  const size_t n = ZSTD_compress2(cctx, out.data(), out.size(), src.data(), src.size());
  EL_CHECK(check(n));
  out.resize(n);
  return out;
}

// d[i*s + p] -> out[p*n + i]: each element's byte p goes to plane p.
std::vector<std::byte> to_planes(const std::vector<std::byte>& d, uint8_t s) {
  if (s == 1) return d;
  const size_t n = d.size() / s;
  std::vector<std::byte> out(d.size());
  for (size_t i = 0; i < n; ++i)
    for (size_t p = 0; p < s; ++p) out[p * n + i] = d[i * s + p];
  return out;
}

}  // namespace

Result<Delta> make_delta_with_stats(ByteSpan base, ByteSpan target, const DeltaOptions& options) {
  if (options.level < 1 || options.level > ZSTD_maxCLevel())
    return make_error(ErrorCode::kInvalidArgument, "zstd level {} is outside 1..{}", options.level, ZSTD_maxCLevel());
  Delta delta;
  EL_TRY(std::vector<Segment> base_segments, segments_of(base, "base"));
  EL_TRY(std::vector<Segment> all_target_segments, segments_of(target, "target"));
  std::vector<Segment> target_segments;
  for (Segment& s : all_target_segments)
    if (s.length >= std::max<uint64_t>(options.min_record_bytes, 1)) target_segments.push_back(std::move(s));
    else ++delta.stats.small_tensors;
  std::map<std::string, const Segment*, std::less<>> base_by_name;
  for (const Segment& s : base_segments) base_by_name.emplace(s.name, &s);

  Cctx cctx(ZSTD_createCCtx());
  if (!cctx) return make_error(ErrorCode::kInternal, "zstd: cannot create a compression context");
  DeltaStats& st = delta.stats;
  st.base_bytes = base.size();
  st.target_bytes = target.size();

  // The rest: every target byte outside the tensor segments, in order.
  std::vector<std::byte> rest;
  uint64_t at = 0;
  for (const Segment& s : target_segments) {
    rest.insert(rest.end(), target.begin() + static_cast<ptrdiff_t>(at), target.begin() + static_cast<ptrdiff_t>(s.offset));
    at = s.offset + s.length;
  }
  rest.insert(rest.end(), target.begin() + static_cast<ptrdiff_t>(at), target.end());

  std::vector<std::pair<DeltaRecord, std::vector<std::byte>>> records;
  {
    // Frames of at most kRestFrameBytes, each against the whole base, so the applier holds one
    // frame of the rest, not all of it (a big golden vector, many small tensors).
    std::vector<std::byte> payload;
    size_t at_rest = 0;
    do {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(kRestFrameBytes, rest.size() - at_rest));
      EL_TRY(auto frame, compress(cctx.get(), ByteSpan(rest).subspan(at_rest, n), options.level, base));
      payload.insert(payload.end(), frame.begin(), frame.end());
      at_rest += n;
    } while (at_rest < rest.size());
    DeltaRecord r{RecordKind::kRest, 1, 0, rest.size(), 0, payload.size()};
    st.rest_raw = rest.size();
    st.rest_compressed = payload.size();
    records.emplace_back(r, std::move(payload));
  }

  for (const Segment& s : target_segments) {
    const ByteSpan t = target.subspan(s.offset, s.length);
    st.largest_tensor = std::max(st.largest_tensor, s.length);
    auto it = base_by_name.find(s.name);
    const bool matched = it != base_by_name.end() && it->second->length == s.length;
    if (matched && std::equal(t.begin(), t.end(), base.begin() + static_cast<ptrdiff_t>(it->second->offset))) {
      ++st.copied_tensors;
      st.copied_raw += s.length;
      records.emplace_back(DeltaRecord{RecordKind::kCopy, 1, s.offset, s.length, it->second->offset, 0}, std::vector<std::byte>{});
      continue;
    }
    std::vector<std::byte> best;
    DeltaRecord best_record{RecordKind::kLiteral, 1, s.offset, s.length, 0, 0};
    auto consider = [&](RecordKind kind, uint8_t stride, uint64_t base_offset, const std::vector<std::byte>& data) -> Status {
      // One zstd frame per plane: each gets its own entropy tables and block boundaries (the
      // applier decodes concatenated frames as one payload).
      const std::vector<std::byte> planes = to_planes(data, stride);
      std::vector<std::byte> payload;
      const size_t plane = planes.size() / stride;
      for (size_t p = 0; p < stride; ++p) {
        EL_TRY(auto frame, compress(cctx.get(), ByteSpan(planes).subspan(p * plane, plane), options.level));
        payload.insert(payload.end(), frame.begin(), frame.end());
      }
      if (best.empty() || payload.size() < best.size()) {
        best = std::move(payload);
        best_record = {kind, stride, s.offset, s.length, base_offset, 0};
      }
      return ok();
    };
    const uint8_t stride = (options.byte_planes && s.length % s.stride == 0) ? s.stride : uint8_t{1};
    const std::vector<std::byte> literal(t.begin(), t.end());
    EL_CHECK(consider(RecordKind::kLiteral, 1, 0, literal));
    if (matched) {
      const ByteSpan b = base.subspan(it->second->offset, s.length);
      std::vector<std::byte> d(s.length);
      for (size_t i = 0; i < s.length; ++i) d[i] = t[i] ^ b[i];
      EL_CHECK(consider(RecordKind::kXor, 1, it->second->offset, d));
      if (stride > 1) EL_CHECK(consider(RecordKind::kXor, stride, it->second->offset, d));
      if (options.arithmetic) {
        for (size_t i = 0; i < s.length; ++i)
          d[i] = static_cast<std::byte>(static_cast<uint8_t>(static_cast<uint8_t>(t[i]) - static_cast<uint8_t>(b[i])));
        EL_CHECK(consider(RecordKind::kSub, stride, it->second->offset, d));
      }
    }
    best_record.payload_size = best.size();
    if (best_record.kind == RecordKind::kLiteral) {
      ++st.literal_tensors;
      st.literal_raw += s.length;
      st.literal_compressed += best.size();
    } else {
      ++st.xor_tensors;
      st.xor_raw += s.length;
      st.xor_compressed += best.size();
    }
    if (best_record.plane_stride > 1) ++st.planed_tensors;
    records.emplace_back(best_record, std::move(best));
  }

  DeltaHeader h;
  h.base_sha256 = sha256(base);
  h.target_sha256 = sha256(target);
  h.base_length = base.size();
  h.target_length = target.size();
  h.record_count = static_cast<uint32_t>(records.size());
  std::vector<std::byte>& out = delta.patch;
  out.resize(kDeltaHeaderSize);
  encode_header(h, out.data());
  uint64_t prev_end = 0, framing = kDeltaHeaderSize;
  for (const auto& [r, payload] : records) {
    const size_t before = out.size();
    encode_record(r, prev_end, out);
    framing += out.size() - before;
    if (r.kind != RecordKind::kRest) prev_end = r.target_offset + r.length;
    out.insert(out.end(), payload.begin(), payload.end());
  }
  st.header_bytes = framing;
  st.patch_bytes = out.size();
  return delta;
}

Result<std::vector<std::byte>> make_delta(ByteSpan base, ByteSpan target, const DeltaOptions& options) {
  EL_TRY(Delta d, make_delta_with_stats(base, target, options));
  return std::move(d.patch);
}

}  // namespace edgeloop::ota

// Packing, the portable kernel and dispatch of the x86 W4A8 kernels (layout and arithmetic in
// w4a8_gemm.h). The AVX2 and AVX-512 VNNI kernels live in their own files, compiled with their
// ISA flags; this file is compiled for baseline x86-64.
#include "edgeloop/runtime/x86/w4a8_gemm.h"

#include <algorithm>
#include <cassert>
#include <cstring>
#include <new>
#include <vector>

#include "edgeloop/model/dtype.h"
#include "edgeloop/runtime/quant_math.h"
#include "edgeloop/runtime/x86/w4a8_gemm_kernels.h"

namespace edgeloop::runtime::x86 {
namespace {

constexpr std::align_val_t kAlignment{64};

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
size_t round_up_64(size_t v) { return (v + 63) / 64 * 64; }

int64_t lanes_of(Isa isa) { return isa == Isa::kAvx512Vnni ? 16 : 8; }

// The portable kernel: the same packed layout (L = 8) read with scalar code, x − x_zero exact in
// int16, group sums in int32, and the shared arithmetic of quant_math.h. Rows go in tiles of 4 so
// that each quad's nibbles are unpacked once per tile, not once per row.
constexpr int kPortableLanes = 8, kPortableBlock = 16, kPortableRows = 4;

void gemm_portable(const detail::W4A8Call& c) {
  const int64_t row_len = c.k + 4;  // a group's last quad may read 3 elements past k (weights 0)
  std::vector<int16_t> xs(static_cast<size_t>(kPortableRows * row_len), 0);
  const int64_t blocks = ceil_div(c.n, kPortableBlock);
  for (int64_t m0 = 0; m0 < c.m; m0 += kPortableRows) {
    const int rows = static_cast<int>(std::min<int64_t>(kPortableRows, c.m - m0));
    for (int r = 0; r < rows; ++r) {
      const int8_t* src = c.x + (m0 + r) * c.x_stride;
      int16_t* dst = xs.data() + r * row_len;
      for (int64_t k = 0; k < c.k; ++k) dst[k] = static_cast<int16_t>(src[k] - c.x_zero);
    }
    for (int64_t b = 0; b < blocks; ++b) {
      const uint8_t* wp = c.nibbles + b * c.panel_bytes;
      const float* scales = c.scales + b * c.groups * kPortableBlock;
      float sum[kPortableRows][kPortableBlock] = {};
      for (int64_t g = 0; g < c.groups; ++g, scales += kPortableBlock) {
        const int64_t quads = g + 1 < c.groups ? c.quads_full : c.quads_last;
        int32_t acc[kPortableRows][kPortableBlock] = {};
        for (int64_t q = 0; q < quads; ++q, wp += 4 * kPortableLanes) {
          // The quad as w[k][channel], so that the channel loops below vectorize.
          int16_t w[4][kPortableBlock];
          for (int j = 0; j < 4 * kPortableLanes; ++j) {
            // Two's complement nibbles: (v ^ 8) − 8 sign-extends 4 bits.
            w[j % 4][j / 4] = static_cast<int16_t>(((wp[j] & 0x0F) ^ 8) - 8);
            w[j % 4][kPortableLanes + j / 4] = static_cast<int16_t>(((wp[j] >> 4) ^ 8) - 8);
          }
          for (int r = 0; r < rows; ++r) {
            const int16_t* xq = xs.data() + r * row_len + g * c.group + 4 * q;
            for (int kk = 0; kk < 4; ++kk)
              for (int ch = 0; ch < kPortableBlock; ++ch) acc[r][ch] += xq[kk] * w[kk][ch];
          }
        }
        for (int r = 0; r < rows; ++r)
          for (int ch = 0; ch < kPortableBlock; ++ch) sum[r][ch] = w4a8_accumulate(sum[r][ch], acc[r][ch], scales[ch]);
      }
      const int64_t n0 = b * kPortableBlock;
      const int valid = static_cast<int>(std::min<int64_t>(kPortableBlock, c.n - n0));
      for (int r = 0; r < rows; ++r)
        for (int ch = 0; ch < valid; ++ch) {
          const float bias = c.bias != nullptr ? c.bias[n0 + ch] : 0.f;
          c.y[(m0 + r) * c.y_row_stride + (n0 + ch) * c.y_col_stride] =
              w4a8_output(sum[r][ch], c.x_scale, bias, c.y_scale, c.y_zero);
        }
    }
  }
}

}  // namespace

void W4A8Weights::Free::operator()(std::byte* p) const noexcept { ::operator delete[](p, kAlignment); }

Result<W4A8Weights> pack_w4a8(std::span<const std::byte> i4, std::span<const float> scales, int64_t n, int64_t k,
                              int64_t group, Isa isa) {
  if (n < 1 || k < 1 || group < 1)
    return make_error(ErrorCode::kInvalidArgument, "W4A8 weights of {} x {} in groups of {}: all three must be at least 1",
                      n, k, group);
  if (group > kMaxW4A8Group)
    return make_error(ErrorCode::kInvalidArgument, "W4A8 groups of {} weights; at most {} are supported", group,
                      kMaxW4A8Group);
  if (n > model::kMaxElements / k)
    return make_error(ErrorCode::kInvalidArgument, "W4A8 weights of {} x {}: too many elements", n, k);
  const int64_t groups = ceil_div(k, group);
  if (i4.size() < static_cast<size_t>(ceil_div(n * k, 2)))
    return make_error(ErrorCode::kInvalidArgument, "W4A8 weights of {} x {} need {} bytes of int4; got {}", n, k,
                      ceil_div(n * k, 2), i4.size());
  if (scales.size() != static_cast<size_t>(n * groups))
    return make_error(ErrorCode::kInvalidArgument, "W4A8 weights of {} x {} in groups of {} need {} scales; got {}", n,
                      k, group, n * groups, scales.size());
  if (!isa_supported(isa))
    return make_error(ErrorCode::kUnsupported, "this CPU cannot run the {} W4A8 kernels; pack for {}", isa_name(isa),
                      isa_name(best_isa()));

  W4A8Weights w;
  w.isa_ = isa;
  w.n_ = n;
  w.k_ = k;
  w.group_ = group;
  w.groups_ = groups;
  w.lanes_ = lanes_of(isa);
  const int64_t block = 2 * w.lanes_;
  w.blocks_ = ceil_div(n, block);
  w.quads_full_ = ceil_div(group, 4);
  w.quads_last_ = ceil_div(k - (groups - 1) * group, 4);
  const int64_t quads_per_row = (groups - 1) * w.quads_full_ + w.quads_last_;
  w.panel_bytes_ = quads_per_row * 4 * w.lanes_;
  // Padding (blocks of 2L channels, quads of 4) can at most quadruple n·k/2 ≤ 2^58: no overflow.
  const auto nibble_bytes = static_cast<size_t>(w.blocks_ * w.panel_bytes_);
  const auto table_bytes = static_cast<size_t>(w.blocks_ * groups * block) * sizeof(float);
  w.scales_offset_ = round_up_64(nibble_bytes);
  w.sums_offset_ = w.scales_offset_ + round_up_64(table_bytes);
  w.bytes_ = w.sums_offset_ + round_up_64(table_bytes);
  auto* raw = static_cast<std::byte*>(::operator new[](w.bytes_, kAlignment, std::nothrow));
  if (raw == nullptr)
    return make_error(ErrorCode::kOutOfRange, "W4A8 weights of {} x {}: cannot allocate {} bytes", n, k, w.bytes_);
  w.storage_.reset(raw);
  std::memset(raw, 0, w.bytes_);  // padding channels and quads hold weight 0, scale 0, Σw 0

  auto* nibbles = reinterpret_cast<uint8_t*>(raw);
  auto* packed_scales = reinterpret_cast<float*>(raw + w.scales_offset_);
  auto* sums = reinterpret_cast<int32_t*>(raw + w.sums_offset_);
  const int64_t lanes = w.lanes_;
  for (int64_t ch = 0; ch < n; ++ch) {
    const int64_t b = ch / block, c = ch % block;
    const int64_t j_base = (c % lanes) * 4;
    const bool high = c >= lanes;
    for (int64_t g = 0; g < groups; ++g) {
      const int64_t k0 = g * group, k1 = std::min(k, k0 + group);
      const int64_t quad0 = g * w.quads_full_;  // quads of the groups before g (all full)
      int32_t sum = 0;
      for (int64_t kk = k0; kk < k1; ++kk) {
        const int8_t v = model::load_i4(i4.data(), ch * k + kk);
        sum += v;
        const int64_t quad = quad0 + (kk - k0) / 4;
        uint8_t& byte = nibbles[b * w.panel_bytes_ + quad * 4 * lanes + j_base + (kk - k0) % 4];
        const auto nibble = static_cast<uint8_t>(v & 0x0F);
        byte = static_cast<uint8_t>(high ? (byte | nibble << 4) : (byte | nibble));
      }
      const size_t at = static_cast<size_t>((b * groups + g) * block + c);
      packed_scales[at] = scales[static_cast<size_t>(ch * groups + g)];
      sums[at] = sum;
    }
  }
  return w;
}

void w4a8_gemm(const W4A8Weights& w, const int8_t* x, int64_t m, int64_t x_stride, const W4A8Quant& q, int8_t* y,
               int64_t y_row_stride, int64_t y_col_stride) {
  assert(w.storage_ != nullptr && "w4a8_gemm: weights not packed");
  assert(m >= 0 && x_stride >= w.k_ && y_row_stride >= 1 && y_col_stride >= 1);
  assert(q.x_zero >= -128 && q.x_zero <= 127 && q.y_zero >= -128 && q.y_zero <= 127);
  if (m <= 0) return;
  const std::byte* raw = w.storage_.get();
  detail::W4A8Call call{};
  call.nibbles = reinterpret_cast<const uint8_t*>(raw);
  call.scales = reinterpret_cast<const float*>(raw + w.scales_offset_);
  call.sums = reinterpret_cast<const int32_t*>(raw + w.sums_offset_);
  call.n = w.n_;
  call.k = w.k_;
  call.group = w.group_;
  call.groups = w.groups_;
  call.quads_full = w.quads_full_;
  call.quads_last = w.quads_last_;
  call.panel_bytes = w.panel_bytes_;
  call.x = x;
  call.m = m;
  call.x_stride = x_stride;
  call.x_scale = q.x_scale;
  call.x_zero = q.x_zero;
  call.y_scale = q.y_scale;
  call.y_zero = q.y_zero;
  call.bias = q.bias;
  call.y = y;
  call.y_row_stride = y_row_stride;
  call.y_col_stride = y_col_stride;
  if (w.isa_ == Isa::kPortable) {
    gemm_portable(call);
    return;
  }
#if defined(__x86_64__)
  // A tile's rows of x as u8: on the stack up to k = 2044 (every MobileNet layer), else on the
  // heap; per call, so concurrent calls share nothing.
  call.scratch_row_bytes = static_cast<int64_t>(round_up_64(static_cast<size_t>(w.k_) + 4));
  const auto scratch_bytes = static_cast<size_t>(detail::kMaxTileRows * call.scratch_row_bytes);
  alignas(64) uint8_t local[8192];
  std::vector<uint8_t> heap;
  if (scratch_bytes <= sizeof(local)) {
    call.scratch = local;
  } else {
    heap.resize(scratch_bytes);
    call.scratch = heap.data();
  }
  if (w.isa_ == Isa::kAvx2) detail::w4a8_gemm_avx2(call);
  else detail::w4a8_gemm_avx512vnni(call);
#endif
}

}  // namespace edgeloop::runtime::x86

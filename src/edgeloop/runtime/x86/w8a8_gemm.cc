// Packing, the portable kernel and dispatch of the x86 W8A8 kernels (layouts and arithmetic in
// w8a8_gemm.h). The AVX2 and AVX-512 VNNI kernels live in their own files, compiled with their
// ISA flags; this file is compiled for baseline x86-64.
#include "edgeloop/runtime/x86/w8a8_gemm.h"

#include <algorithm>
#include <cassert>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

#include "edgeloop/model/dtype.h"
#include "edgeloop/runtime/x86/w8a8_gemm_kernels.h"

namespace edgeloop::runtime::x86 {
namespace {

constexpr std::align_val_t kAlignment{64};
constexpr int64_t kInt32Max = 2147483647;

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
size_t round_up_64(size_t v) { return (v + 63) / 64 * 64; }

// Channels per block and k per step of each ISA's layout.
int64_t block_of(Isa isa) { return isa == Isa::kAvx512Vnni ? 32 : (isa == Isa::kAvx2 ? 16 : 1); }
int64_t step_of(Isa isa) { return isa == Isa::kAvx512Vnni ? 4 : (isa == Isa::kAvx2 ? 2 : 1); }

bool valid_multiplier(FixedPointMultiplier f) {
  if (f.multiplier == 0) return f.shift == 1;
  return f.multiplier >= (int32_t{1} << 30) && f.shift >= 1 && f.shift <= 62;
}

// The portable kernel: x − x_zero in int16 per row, dot products over w's rows in int32 (exact
// under the pack-time bound; GCC vectorizes them), requantize from quant_math.h.
void gemm_portable(const detail::W8A8Call& c) {
  std::vector<int16_t> xs(static_cast<size_t>(c.k));
  for (int64_t i = 0; i < c.m; ++i) {
    const int8_t* src = c.x + i * c.x_stride;
    for (int64_t k = 0; k < c.k; ++k) xs[static_cast<size_t>(k)] = static_cast<int16_t>(src[k] - c.x_zero);
    for (int64_t j = 0; j < c.n; ++j) {
      const int8_t* w = c.weights + j * c.k;
      int32_t dot = 0;
      for (int64_t k = 0; k < c.k; ++k) dot += xs[static_cast<size_t>(k)] * int32_t{w[k]};
      const int64_t acc = int64_t{dot} + c.bias[j];
      const int64_t q = requantize(acc, {c.multiplier[j], c.shift[j]}) + c.y_zero;
      c.y[i * c.y_row_stride + j * c.y_col_stride] = static_cast<int8_t>(std::clamp<int64_t>(q, c.y_min, c.y_max));
    }
  }
}

}  // namespace

void W8A8Weights::Free::operator()(std::byte* p) const noexcept { ::operator delete[](p, kAlignment); }

Result<W8A8Weights> pack_w8a8(std::span<const int8_t> w, std::span<const int32_t> bias,
                              std::span<const FixedPointMultiplier> multipliers, int64_t n, int64_t k, Isa isa) {
  if (n < 1 || k < 1)
    return make_error(ErrorCode::kInvalidArgument, "W8A8 weights of {} x {}: both must be at least 1", n, k);
  if (n > model::kMaxElements / k)
    return make_error(ErrorCode::kInvalidArgument, "W8A8 weights of {} x {}: too many elements", n, k);
  if (w.size() != static_cast<size_t>(n * k))
    return make_error(ErrorCode::kInvalidArgument, "W8A8 weights of {} x {} need {} int8 values; got {}", n, k, n * k,
                      w.size());
  if (!bias.empty() && bias.size() != static_cast<size_t>(n))
    return make_error(ErrorCode::kInvalidArgument, "W8A8 weights of {} channels need {} biases (or none); got {}", n, n,
                      bias.size());
  if (multipliers.size() != static_cast<size_t>(n))
    return make_error(ErrorCode::kInvalidArgument, "W8A8 weights of {} channels need {} multipliers; got {}", n, n,
                      multipliers.size());
  for (int64_t j = 0; j < n; ++j) {
    const FixedPointMultiplier f = multipliers[static_cast<size_t>(j)];
    if (!valid_multiplier(f))
      return make_error(ErrorCode::kInvalidArgument,
                        "W8A8 channel {}: multiplier {} with shift {} is not one quantize_multiplier gives", j,
                        f.multiplier, f.shift);
  }
  // The int32 bound (w8a8_gemm.h): |acc| < 2^31 for every input.
  for (int64_t j = 0; j < n; ++j) {
    int64_t abs_sum = 0;
    for (int64_t kk = 0; kk < k; ++kk) abs_sum += std::abs(int64_t{w[static_cast<size_t>(j * k + kk)]});
    const int64_t b = bias.empty() ? 0 : std::abs(int64_t{bias[static_cast<size_t>(j)]});
    if (255 * abs_sum + b > kInt32Max)
      return make_error(ErrorCode::kUnsupported,
                        "W8A8 channel {}: 255 · Σ|w| + |bias| = {} exceeds 2^31 − 1, so an int32 accumulator could "
                        "overflow; run this node on the reference kernels",
                        j, 255 * abs_sum + b);
  }
  if (!isa_supported(isa))
    return make_error(ErrorCode::kUnsupported, "this CPU cannot run the {} W8A8 kernels; pack for {}", isa_name(isa),
                      isa_name(best_isa()));

  W8A8Weights p;
  p.isa_ = isa;
  p.n_ = n;
  p.k_ = k;
  p.block_ = block_of(isa);
  const int64_t step = step_of(isa);
  p.steps_ = ceil_div(k, step);
  p.panel_bytes_ = p.steps_ * step * p.block_;
  const int64_t blocks = ceil_div(n, p.block_);
  // Padding to blocks of 32 and quads of 4 at most doubles n·k + 96·k: no overflow below 2^60.
  const auto weight_bytes = static_cast<size_t>(blocks * p.panel_bytes_);
  p.tables_offset_ = round_up_64(weight_bytes);
  p.table_stride_ = round_up_64(static_cast<size_t>(blocks * p.block_) * sizeof(int32_t));
  p.bytes_ = p.tables_offset_ + 4 * p.table_stride_;
  auto* raw = static_cast<std::byte*>(::operator new[](p.bytes_, kAlignment, std::nothrow));
  if (raw == nullptr)
    return make_error(ErrorCode::kOutOfRange, "W8A8 weights of {} x {}: cannot allocate {} bytes", n, k, p.bytes_);
  p.storage_.reset(raw);
  std::memset(raw, 0, p.bytes_);  // padding channels and steps: weight 0, Σw 0, bias 0, multiplier 0

  auto* packed = reinterpret_cast<int8_t*>(raw);
  auto table = [&](int t) { return reinterpret_cast<int32_t*>(raw + p.tables_offset_ + t * p.table_stride_); };
  int32_t* sums = table(0);
  int32_t* biases = table(1);
  int32_t* mults = table(2);
  int32_t* shifts = table(3);
  const int64_t padded_n = blocks * p.block_;
  for (int64_t j = 0; j < padded_n; ++j) shifts[j] = 1;  // {0, 1} for padding: requantizes to 0
  for (int64_t j = 0; j < n; ++j) {
    const int64_t b = j / p.block_, c = j % p.block_;
    int32_t sum = 0;
    for (int64_t kk = 0; kk < k; ++kk) {
      const int8_t v = w[static_cast<size_t>(j * k + kk)];
      sum += v;  // |Σw| ≤ Σ|w| < 2^31 / 255 by the bound above
      packed[b * p.panel_bytes_ + (kk / step) * step * p.block_ + c * step + kk % step] = v;
    }
    sums[j] = sum;
    biases[j] = bias.empty() ? 0 : bias[static_cast<size_t>(j)];
    mults[j] = multipliers[static_cast<size_t>(j)].multiplier;
    shifts[j] = multipliers[static_cast<size_t>(j)].shift;
  }
  return p;
}

void w8a8_gemm(const W8A8Weights& w, const int8_t* x, int64_t m, int64_t x_stride, const W8A8Quant& q, int8_t* y,
               int64_t y_row_stride, int64_t y_col_stride) {
  assert(w.storage_ != nullptr && "w8a8_gemm: weights not packed");
  assert(m >= 0 && x_stride >= w.k_ && y_row_stride >= 1 && y_col_stride >= 1);
  assert(q.x_zero >= -128 && q.x_zero <= 127 && q.y_zero >= -128 && q.y_zero <= 127);
  assert(q.y_min >= -128 && q.y_min <= q.y_max && q.y_max <= 127);
  if (m <= 0) return;
  const std::byte* raw = w.storage_.get();
  auto table = [&](int t) { return reinterpret_cast<const int32_t*>(raw + w.tables_offset_ + t * w.table_stride_); };
  detail::W8A8Call call{};
  call.weights = reinterpret_cast<const int8_t*>(raw);
  call.sums = table(0);
  call.bias = table(1);
  call.multiplier = table(2);
  call.shift = table(3);
  call.n = w.n_;
  call.k = w.k_;
  call.steps = w.steps_;
  call.panel_bytes = w.panel_bytes_;
  call.x = x;
  call.m = m;
  call.x_stride = x_stride;
  call.x_zero = q.x_zero;
  call.y_zero = q.y_zero;
  call.y_min = q.y_min;
  call.y_max = q.y_max;
  call.y = y;
  call.y_row_stride = y_row_stride;
  call.y_col_stride = y_col_stride;
  if (w.isa_ == Isa::kPortable) {
    gemm_portable(call);
    return;
  }
#if defined(__x86_64__)
  // A tile's rows of x (u8 for vnni, int16 for avx2, each padded to a whole step and 8 bytes
  // more): on the stack up to k ≈ 1000, else on the heap; per call, so concurrent calls share
  // nothing.
  call.scratch_row_bytes = static_cast<int64_t>(round_up_64(2 * static_cast<size_t>(w.k_) + 8));
  const auto scratch_bytes = static_cast<size_t>(detail::kMaxW8A8TileRows * call.scratch_row_bytes);
  alignas(64) uint8_t local[16384];
  std::vector<uint8_t> heap;
  if (scratch_bytes <= sizeof(local)) {
    call.scratch = local;
  } else {
    heap.resize(scratch_bytes);
    call.scratch = heap.data();
  }
  if (w.isa_ == Isa::kAvx2) detail::w8a8_gemm_avx2(call);
  else detail::w8a8_gemm_avx512vnni(call);
#endif
}

}  // namespace edgeloop::runtime::x86

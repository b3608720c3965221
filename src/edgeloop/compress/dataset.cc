#include "edgeloop/compress/dataset.h"

#include <zlib.h>

#include <algorithm>
#include <charconv>
#include <optional>
#include <cstdlib>
#include <memory>

namespace edgeloop::compress {
namespace {

// Reads a whole gzip (or plain) file, refusing more than `max_bytes` of content.
Result<std::vector<uint8_t>> read_gz(const std::filesystem::path& path, size_t max_bytes) {
  std::unique_ptr<gzFile_s, int (*)(gzFile)> f(gzopen(path.c_str(), "rb"), &gzclose);
  if (!f) return make_error(ErrorCode::kNotFound, "cannot open {}; install dataset-fashion-mnist (scripts/install-deps.sh)", path.string());
  std::vector<uint8_t> out;
  uint8_t buf[1 << 16];
  for (;;) {
    int n = gzread(f.get(), buf, sizeof buf);
    if (n < 0) return make_error(ErrorCode::kCorrupt, "{}: not a readable gzip file", path.string());
    if (n == 0) break;
    if (out.size() + static_cast<size_t>(n) > max_bytes) return make_error(ErrorCode::kOutOfRange, "{} is larger than {} bytes", path.string(), max_bytes);
    out.insert(out.end(), buf, buf + n);
  }
  return out;
}

uint32_t be32(const uint8_t* p) { return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3]; }

}  // namespace

std::filesystem::path fashion_mnist_dir() {
  if (const char* dir = std::getenv("EDGELOOP_FASHION_MNIST_DIR"); dir && *dir) return dir;
  return "/usr/share/datasets/fashion-mnist";
}

Result<ImageDataset> read_idx(const std::filesystem::path& images, const std::filesystem::path& labels, int64_t limit) {
  constexpr size_t kMax = size_t{1} << 30;
  EL_TRY(auto img, read_gz(images, kMax));
  EL_TRY(auto lab, read_gz(labels, kMax));
  if (img.size() < 16 || be32(img.data()) != 0x00000803)
    return make_error(ErrorCode::kCorrupt, "{} is not an IDX image file (magic 0x803)", images.string());
  if (lab.size() < 8 || be32(lab.data()) != 0x00000801)
    return make_error(ErrorCode::kCorrupt, "{} is not an IDX label file (magic 0x801)", labels.string());
  ImageDataset d;
  d.count = be32(img.data() + 4);
  d.rows = be32(img.data() + 8);
  d.cols = be32(img.data() + 12);
  if (be32(lab.data() + 4) != d.count)
    return make_error(ErrorCode::kCorrupt, "{} has {} images but {} has {} labels", images.string(), d.count, labels.string(), be32(lab.data() + 4));
  if (d.rows <= 0 || d.cols <= 0 || d.rows > 4096 || d.cols > 4096 ||
      img.size() != 16 + static_cast<size_t>(d.count * d.rows * d.cols) || lab.size() != 8 + static_cast<size_t>(d.count))
    return make_error(ErrorCode::kCorrupt, "IDX files {} / {} have sizes that do not match their headers", images.string(), labels.string());
  if (limit > 0) d.count = std::min(d.count, limit);
  d.pixels.assign(img.begin() + 16, img.begin() + 16 + d.count * d.rows * d.cols);
  d.labels.assign(lab.begin() + 8, lab.begin() + 8 + d.count);
  d.num_classes = d.labels.empty() ? 0 : *std::max_element(d.labels.begin(), d.labels.end()) + 1;
  return d;
}

Result<ImageDataset> load_fashion_mnist(std::string_view split, int64_t limit) {
  std::string prefix;
  if (split == "train") prefix = "train";
  else if (split == "test") prefix = "t10k";
  else return make_error(ErrorCode::kInvalidArgument, "unknown split '{}': use train or test", split);
  const auto dir = fashion_mnist_dir();
  return read_idx(dir / (prefix + "-images-idx3-ubyte.gz"), dir / (prefix + "-labels-idx1-ubyte.gz"), limit);
}

ImageDataset slice(const ImageDataset& data, int64_t begin, int64_t end) {
  begin = std::clamp<int64_t>(begin, 0, data.count);
  end = std::clamp<int64_t>(end, begin, data.count);
  ImageDataset out;
  out.rows = data.rows;
  out.cols = data.cols;
  out.num_classes = data.num_classes;
  out.count = end - begin;
  const int64_t pixels = data.rows * data.cols;
  out.pixels.assign(data.pixels.begin() + begin * pixels, data.pixels.begin() + end * pixels);
  out.labels.assign(data.labels.begin() + begin, data.labels.begin() + end);
  return out;
}

Result<ImageDataset> load_image_set(std::string_view spec) {
  constexpr std::string_view kForms = "expected fashion-mnist:SPLIT, fashion-mnist:SPLIT:N or fashion-mnist:SPLIT:A-B with SPLIT train or test";
  auto fail = [&](std::string_view why) { return make_error(ErrorCode::kInvalidArgument, "image set '{}': {}; {}", spec, why, kForms); };
  constexpr std::string_view kPrefix = "fashion-mnist:";
  if (!spec.starts_with(kPrefix)) return fail("unknown data set");
  std::string_view rest = spec.substr(kPrefix.size());
  const size_t colon = rest.find(':');
  const std::string_view split = rest.substr(0, colon);
  if (split != "train" && split != "test") return fail(fmt::format("unknown split '{}'", split));
  auto number = [](std::string_view text) -> std::optional<int64_t> {
    int64_t n = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc{} || ptr != text.data() + text.size() || n < 0) return std::nullopt;
    return n;
  };
  int64_t begin = 0, end = 0;  // end 0: the whole split
  if (colon != std::string_view::npos) {
    const std::string_view range = rest.substr(colon + 1);
    const size_t dash = range.find('-');
    const auto a = number(range.substr(0, dash));
    const auto b = dash == std::string_view::npos ? std::optional<int64_t>{} : number(range.substr(dash + 1));
    if (!a || (dash != std::string_view::npos && !b)) return fail(fmt::format("'{}' is not a count or a range", range));
    if (dash == std::string_view::npos) {
      end = *a;
    } else {
      begin = *a;
      end = *b;
    }
    if (end <= begin) return fail("the selection is empty");
  }
  EL_TRY(ImageDataset all, load_fashion_mnist(split, end));
  if (end > all.count)
    return make_error(ErrorCode::kInvalidArgument, "image set '{}': the {} split has only {} images", spec, split, all.count);
  if (begin == 0) return all;
  return slice(all, begin, end);
}

}  // namespace edgeloop::compress

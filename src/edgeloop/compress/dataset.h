// Labelled image data for evaluation and calibration: Fashion-MNIST read straight from the IDX
// files that Debian's dataset-fashion-mnist package installs.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string_view>
#include <vector>

#include "edgeloop/base/error.h"

namespace edgeloop::compress {

struct ImageDataset {
  int64_t count = 0, rows = 0, cols = 0;
  std::vector<uint8_t> pixels;  // count × rows × cols, row-major
  std::vector<uint8_t> labels;  // count
  int num_classes = 0;

  const uint8_t* image(int64_t i) const { return pixels.data() + i * rows * cols; }
};

// Where the Fashion-MNIST IDX files are: $EDGELOOP_FASHION_MNIST_DIR, else Debian's path.
std::filesystem::path fashion_mnist_dir();

// split: "train" (60,000 images) or "test" (10,000). limit > 0 keeps the first `limit`.
Result<ImageDataset> load_fashion_mnist(std::string_view split, int64_t limit = 0);

// A labelled image set named by a spec: "fashion-mnist:SPLIT" (the whole split),
// "fashion-mnist:SPLIT:N" (its first N images) or "fashion-mnist:SPLIT:A-B" (images A to B-1),
// SPLIT being train or test. Errors say which forms exist; an empty selection is an error.
Result<ImageDataset> load_image_set(std::string_view spec);

// Images [begin, end) of `data`, clamped to its size.
ImageDataset slice(const ImageDataset& data, int64_t begin, int64_t end);

// Reads an IDX image file and its label file (gzip-compressed or plain), checking magic numbers,
// dimensions and that both hold the same number of items.
Result<ImageDataset> read_idx(const std::filesystem::path& images, const std::filesystem::path& labels, int64_t limit = 0);

}  // namespace edgeloop::compress

#include "edgeloop/device/data_dir.h"

namespace edgeloop::device {

std::filesystem::path slots_dir(const std::filesystem::path& data_dir) { return data_dir / "slots"; }
std::filesystem::path downloads_dir(const std::filesystem::path& data_dir) { return data_dir / "downloads"; }
std::filesystem::path companion_dir(const std::filesystem::path& data_dir) { return data_dir / "companion"; }
std::filesystem::path network_state_file(const std::filesystem::path& data_dir) { return data_dir / "network-state"; }

Result<std::unique_ptr<DeviceSlots>> DeviceSlots::open(const std::filesystem::path& data_dir) {
  auto storage = ota::DirectoryStorage::open(slots_dir(data_dir));
  if (!storage) return std::unexpected(std::move(storage).error().context("opening the model slots"));
  std::unique_ptr<DeviceSlots> slots(new DeviceSlots(std::move(*storage)));
  auto store = ota::SlotStore::open(slots->storage_);
  if (!store) return std::unexpected(std::move(store).error().context("reading the slot state in " + slots_dir(data_dir).string()));
  slots->store_.emplace(std::move(*store));
  return slots;
}

}  // namespace edgeloop::device

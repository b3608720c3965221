// Where a device keeps its state under its data folder (docs/device-storage.md, "Layout"):
//   DATA/metadata/    the trusted repository metadata (ota::Client)
//   DATA/slots/       the two model slots and their state record (ota::SlotStore)
//   DATA/downloads/   the one update in progress (ota::install_target)
//   DATA/companion/   the smaller variants beside the slots (device/companion.h)
//   DATA/network-state  what the platform says of the network (device/conditions.h)
// One place names them, so the update cycle, the boot step and the command line agree.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>

#include "edgeloop/base/error.h"
#include "edgeloop/ota/slot_store.h"

namespace edgeloop::device {

std::filesystem::path slots_dir(const std::filesystem::path& data_dir);
std::filesystem::path downloads_dir(const std::filesystem::path& data_dir);
std::filesystem::path companion_dir(const std::filesystem::path& data_dir);
std::filesystem::path network_state_file(const std::filesystem::path& data_dir);

// The slots of a data folder, opened in place: a SlotStore keeps a pointer to its storage, so
// the pair lives behind one pointer and never moves.
class DeviceSlots {
 public:
  // Creates DATA/slots if it does not exist; reads the state record (none yet: the empty state).
  static Result<std::unique_ptr<DeviceSlots>> open(const std::filesystem::path& data_dir);
  ota::SlotStore& store() { return *store_; }
  const ota::SlotStore& store() const { return *store_; }
  const ota::SlotState& state() const { return store_->state(); }

 private:
  explicit DeviceSlots(ota::DirectoryStorage storage) : storage_(std::move(storage)) {}
  ota::DirectoryStorage storage_;
  std::optional<ota::SlotStore> store_;
};

}  // namespace edgeloop::device

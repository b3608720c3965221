// The device's model storage (docs/device-storage.md): two slots, a and b, each holding one .edge
// artifact, and a small state record — which slot is active, which is the last-known-good, the
// trial in progress. Every change is one durable, atomic file replacement, so after a power loss
// at any point the store holds either the state before the change or the state after it.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "edgeloop/base/bytes.h"
#include "edgeloop/base/error.h"
#include "edgeloop/base/file.h"

namespace edgeloop::ota {

// An exclusive hold on a SlotStorage, released when destroyed (or moved from). Move-only.
class StorageLock {
 public:
  StorageLock() = default;
  explicit StorageLock(UniqueFd fd) : fd_(std::move(fd)) {}
  explicit StorageLock(std::unique_lock<std::mutex> lock) : mutex_(std::move(lock)) {}

 private:
  UniqueFd fd_;                        // DirectoryStorage: the locked file (closing it unlocks)
  std::unique_lock<std::mutex> mutex_;  // MemoryStorage
};

// Where the store's files live: a flat namespace of small names ("state.json", "slot-a.edge").
// The filesystem implementation is the device's; the in-memory one serves the simulator.
class SlotStorage {
 public:
  virtual ~SlotStorage() = default;
  // Waits for, then holds, the storage's exclusive lock: across processes and threads, so that
  // several programs on one device (`device start`, `device update`, the app) never interleave
  // their read-modify-write of the state record. Not recursive: SlotStore keeps one per store.
  virtual Result<StorageLock> lock() = 0;
  // The file's bytes; nullopt when it does not exist.
  virtual Result<std::optional<SharedBytes>> read(std::string_view name) const = 0;
  // Replaces the file atomically and durably: after a crash it holds the old or the new bytes.
  virtual Status write(std::string_view name, ByteSpan data) = 0;
  // Removes what an interrupted write left behind (temporary files). Called when a store opens.
  virtual Status remove_leftovers() = 0;
  virtual std::string describe() const = 0;
};

// A folder on the device's filesystem; each write is write_file_durable (temporary file, fsync,
// rename, fsync folder), calling `crash_hook` before each of those steps.
class DirectoryStorage final : public SlotStorage {
 public:
  // Creates the folder if it does not exist.
  static Result<DirectoryStorage> open(const std::filesystem::path& dir, CrashHook crash_hook = {});
  // flock(LOCK_EX) on DIR/state.lock (created, never removed; its content is nothing).
  Result<StorageLock> lock() override;
  Result<std::optional<SharedBytes>> read(std::string_view name) const override;
  Status write(std::string_view name, ByteSpan data) override;
  Status remove_leftovers() override;
  std::string describe() const override { return dir_.string(); }
  const std::filesystem::path& dir() const { return dir_; }

 private:
  DirectoryStorage(std::filesystem::path dir, CrashHook hook) : dir_(std::move(dir)), hook_(std::move(hook)) {}
  std::filesystem::path dir_;
  CrashHook hook_;
};

// Memory only (the fleet simulator): every write is trivially atomic.
class MemoryStorage final : public SlotStorage {
 public:
  Result<StorageLock> lock() override { return StorageLock(std::unique_lock(*mutex_)); }
  Result<std::optional<SharedBytes>> read(std::string_view name) const override;
  Status write(std::string_view name, ByteSpan data) override;
  Status remove_leftovers() override { return ok(); }
  std::string describe() const override { return "memory"; }
  uint64_t bytes_written() const { return bytes_written_; }

 private:
  std::map<std::string, SharedBytes, std::less<>> files_;
  uint64_t bytes_written_ = 0;
  std::unique_ptr<std::mutex> mutex_ = std::make_unique<std::mutex>();  // keeps the storage movable
};

enum class Slot { kA = 0, kB = 1 };
inline Slot other(Slot s) { return s == Slot::kA ? Slot::kB : Slot::kA; }
std::string_view to_string(Slot s);  // "a", "b"

// What a slot holds (from the verified targets and the artifact's own metadata).
struct SlotInfo {
  std::string model, version, variant;
  std::string sha256;  // lowercase hex of the artifact
  uint64_t length = 0;
  bool failed = false;  // it was reverted out of a trial on this device
  friend bool operator==(const SlotInfo&, const SlotInfo&) = default;
};

struct Trial {
  Slot slot = Slot::kA;
  int attempts_left = 0;  // process starts it may still run; at 0 the next start reverts
  int successes = 0;      // successful inferences recorded so far (checkpointed, across starts)
  friend bool operator==(const Trial&, const Trial&) = default;
};

// The state record, state.json (format in docs/device-storage.md).
struct SlotState {
  uint64_t generation = 0;  // +1 on every committed change
  std::optional<Slot> active;
  std::optional<Slot> last_known_good;
  std::optional<Trial> trial;
  std::array<std::optional<SlotInfo>, 2> slots;

  const std::optional<SlotInfo>& info(Slot s) const { return slots[static_cast<size_t>(s)]; }
  std::optional<SlotInfo>& info(Slot s) { return slots[static_cast<size_t>(s)]; }
  friend bool operator==(const SlotState&, const SlotState&) = default;
};

// Consistency rules: the active and last-known-good slots hold something and differ; a trial
// runs the active slot, has a last-known-good to fall back to and attempts_left >= 0.
Status validate(const SlotState& state);
std::vector<std::byte> serialize_state(const SlotState& state);
Result<SlotState> parse_state(ByteSpan bytes);  // kCorrupt with the reason; validates

inline constexpr std::string_view kStateFile = "state.json";
inline constexpr std::string_view kLockFile = "state.lock";
std::string slot_file(Slot s);  // "slot-a.edge"

// Every change is a read-modify-write of the state record under the storage's lock, so two
// processes changing one store never lose each other's change: commit() and write_slot() refuse
// (kFailedPrecondition) when the record on storage is not the one this store last read —
// another process changed it — and lock() lets a caller re-read, decide and change as one step
// (the Installer does this for every operation).
class SlotStore {
 public:
  // Reads the state record (none yet: the empty state) and removes leftovers of interrupted
  // writes, under the lock. `storage` must outlive the store.
  static Result<SlotStore> open(SlotStorage& storage);

  // The state as this store last read or wrote it.
  const SlotState& state() const { return state_; }
  // The artifact in slot `s`: kNotFound if the state says the slot is empty, kCorrupt if its
  // bytes do not match the recorded length and SHA-256.
  Result<SharedBytes> read_slot(Slot s) const;
  // Writes an artifact into a slot that the state does not use (neither active nor
  // last-known-good, and recorded as empty): kFailedPrecondition otherwise, or when the record
  // changed under this store.
  Status write_slot(Slot s, ByteSpan artifact);
  // Validates `next`, sets its generation and writes it durably; the state changes only if the
  // write succeeded. Refused (kFailedPrecondition, nothing written) when the record on storage
  // is no longer the one `state()` shows: re-read (lock() or refresh()) and decide again.
  Status commit(SlotState next);
  // Re-reads the state record from storage (under the lock).
  Status refresh();

  // Holds the storage's lock, with state() re-read under it, until the returned guard is
  // destroyed: what the caller reads and commits meanwhile is one atomic step. Nested calls on
  // one store share the hold. The store must not move while a guard lives.
  class Guard {
   public:
    Guard(Guard&& other) noexcept : store_(std::exchange(other.store_, nullptr)) {}
    Guard& operator=(Guard&&) = delete;
    ~Guard();

   private:
    friend class SlotStore;
    explicit Guard(SlotStore* store) : store_(store) {}
    SlotStore* store_;
  };
  Result<Guard> lock();

  SlotStorage& storage() const { return *storage_; }

 private:
  SlotStore(SlotStorage& storage, SlotState state) : storage_(&storage), state_(std::move(state)) {}
  // The state record on storage (the empty state when there is none yet).
  Result<SlotState> read_state() const;
  // The lock for one change: taken here (and released with the returned guard) unless a Guard
  // already holds it; refused when the record on storage is no longer state_ (its generation).
  Result<std::optional<Guard>> hold_current();

  SlotStorage* storage_;
  SlotState state_;
  StorageLock lock_;  // held while depth_ > 0
  int depth_ = 0;
};

}  // namespace edgeloop::ota

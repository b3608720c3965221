#include "edgeloop/ota/slot_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstring>

#include "edgeloop/base/hash.h"

namespace edgeloop::ota {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// Names the store uses are plain file names: no folders, no dot files (those are temporaries).
Status check_name(std::string_view name) {
  if (name.empty() || name.front() == '.' || name.find('/') != std::string_view::npos)
    return make_error(ErrorCode::kInvalidArgument, "slot storage name '{}' is not a plain file name", name);
  return ok();
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Storage

Result<DirectoryStorage> DirectoryStorage::open(const fs::path& dir, CrashHook crash_hook) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return make_error(ErrorCode::kIo, "cannot create the slot folder {}: {}", dir.string(), ec.message());
  return DirectoryStorage(dir, std::move(crash_hook));
}

Result<StorageLock> DirectoryStorage::lock() {
  const fs::path path = dir_ / kLockFile;
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644));
  if (fd.get() < 0) return make_error(ErrorCode::kIo, "cannot open the slot lock {}: {}", path.string(), std::strerror(errno));
  while (::flock(fd.get(), LOCK_EX) != 0)
    if (errno != EINTR) return make_error(ErrorCode::kIo, "cannot lock {}: {}", path.string(), std::strerror(errno));
  return StorageLock(std::move(fd));
}

Result<std::optional<SharedBytes>> DirectoryStorage::read(std::string_view name) const {
  EL_CHECK(check_name(name));
  fs::path path = dir_ / name;
  std::error_code ec;
  if (!fs::exists(path, ec)) return std::optional<SharedBytes>{};
  EL_TRY(auto bytes, map_file(path));
  return std::optional<SharedBytes>(std::move(bytes));
}

Status DirectoryStorage::write(std::string_view name, ByteSpan data) {
  EL_CHECK(check_name(name));
  return write_file_durable(dir_ / name, data, 0644, IfExists::kReplace, hook_);
}

Status DirectoryStorage::remove_leftovers() {
  // write_file_durable's temporaries are ".<name>.tmp.XXXXXX"; nothing else of ours starts with '.'.
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    std::string file = entry.path().filename().string();
    if (file.starts_with(".") && file.find(".tmp.") != std::string::npos) {
      fs::remove(entry.path(), ec);
      if (ec) return make_error(ErrorCode::kIo, "cannot remove the leftover {}: {}", entry.path().string(), ec.message());
    }
  }
  if (ec) return make_error(ErrorCode::kIo, "cannot list {}: {}", dir_.string(), ec.message());
  return ok();
}

Result<std::optional<SharedBytes>> MemoryStorage::read(std::string_view name) const {
  EL_CHECK(check_name(name));
  auto it = files_.find(name);
  if (it == files_.end()) return std::optional<SharedBytes>{};
  return std::optional<SharedBytes>(it->second);
}

Status MemoryStorage::write(std::string_view name, ByteSpan data) {
  EL_CHECK(check_name(name));
  files_.insert_or_assign(std::string(name), SharedBytes::copy(data));
  bytes_written_ += data.size();
  return ok();
}

// ---------------------------------------------------------------------------------------------
// State record

std::string_view to_string(Slot s) { return s == Slot::kA ? "a" : "b"; }
std::string slot_file(Slot s) { return fmt::format("slot-{}.edge", to_string(s)); }

Status validate(const SlotState& s) {
  if (s.active && !s.info(*s.active))
    return make_error(ErrorCode::kCorrupt, "the active slot {} is recorded as empty", to_string(*s.active));
  if (s.last_known_good) {
    if (!s.info(*s.last_known_good))
      return make_error(ErrorCode::kCorrupt, "the last-known-good slot {} is recorded as empty",
                        to_string(*s.last_known_good));
    if (s.last_known_good == s.active)
      return make_error(ErrorCode::kCorrupt, "the last-known-good slot is the active slot {}", to_string(*s.active));
    if (!s.active) return make_error(ErrorCode::kCorrupt, "a last-known-good slot but no active slot");
  }
  if (s.trial) {
    if (s.trial->slot != s.active)
      return make_error(ErrorCode::kCorrupt, "the trial runs slot {}, which is not the active slot",
                        to_string(s.trial->slot));
    if (!s.last_known_good) return make_error(ErrorCode::kCorrupt, "a trial without a last-known-good to revert to");
    if (s.trial->attempts_left < 0) return make_error(ErrorCode::kCorrupt, "a trial with negative attempts left");
    if (s.trial->successes < 0) return make_error(ErrorCode::kCorrupt, "a trial with a negative success count");
  }
  for (Slot slot : {Slot::kA, Slot::kB}) {
    const auto& info = s.info(slot);
    if (info && (info->sha256.size() != 64 || info->length == 0))
      return make_error(ErrorCode::kCorrupt, "slot {} has a malformed SHA-256 or length", to_string(slot));
  }
  return ok();
}

namespace {

json slot_json(const std::optional<Slot>& s) { return s ? json(std::string(to_string(*s))) : json(nullptr); }

Result<std::optional<Slot>> parse_slot(const json& j, std::string_view field) {
  if (j.is_null()) return std::optional<Slot>{};
  if (j == "a") return std::optional<Slot>(Slot::kA);
  if (j == "b") return std::optional<Slot>(Slot::kB);
  return make_error(ErrorCode::kCorrupt, "{} is not \"a\", \"b\" or null", field);
}

}  // namespace

std::vector<std::byte> serialize_state(const SlotState& s) {
  json slots = json::object();
  for (Slot slot : {Slot::kA, Slot::kB}) {
    const auto& info = s.info(slot);
    slots[std::string(to_string(slot))] =
        info ? json{{"model", info->model},   {"version", info->version}, {"variant", info->variant},
                    {"sha256", info->sha256}, {"length", info->length},   {"failed", info->failed}}
             : json(nullptr);
  }
  json j{{"format", "edgeloop-slots"},
         {"format_version", 1},
         {"generation", s.generation},
         {"active", slot_json(s.active)},
         {"last_known_good", slot_json(s.last_known_good)},
         {"trial", s.trial ? json{{"slot", to_string(s.trial->slot)},
                                 {"attempts_left", s.trial->attempts_left},
                                 {"successes", s.trial->successes}}
                           : json(nullptr)},
         {"slots", slots}};
  std::string text = j.dump(2) + "\n";
  const auto* p = reinterpret_cast<const std::byte*>(text.data());
  return {p, p + text.size()};
}

Result<SlotState> parse_state(ByteSpan bytes) {
  std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return make_error(ErrorCode::kCorrupt, "the slot state is not a JSON object");
  try {
    if (j.at("format") != "edgeloop-slots" || j.at("format_version") != 1)
      return make_error(ErrorCode::kCorrupt, "the slot state is not format edgeloop-slots version 1");
    SlotState s;
    s.generation = j.at("generation").get<uint64_t>();
    EL_TRY(s.active, parse_slot(j.at("active"), "active"));
    EL_TRY(s.last_known_good, parse_slot(j.at("last_known_good"), "last_known_good"));
    const json& t = j.at("trial");
    if (!t.is_null()) {
      EL_TRY(auto slot, parse_slot(t.at("slot"), "trial.slot"));
      if (!slot) return make_error(ErrorCode::kCorrupt, "trial.slot is null");
      s.trial = Trial{*slot, t.at("attempts_left").get<int>(), t.at("successes").get<int>()};
    }
    for (Slot slot : {Slot::kA, Slot::kB}) {
      const json& i = j.at("slots").at(std::string(to_string(slot)));
      if (i.is_null()) continue;
      s.info(slot) = SlotInfo{i.at("model").get<std::string>(),   i.at("version").get<std::string>(),
                              i.at("variant").get<std::string>(), i.at("sha256").get<std::string>(),
                              i.at("length").get<uint64_t>(),     i.at("failed").get<bool>()};
    }
    EL_CHECK(validate(s));
    return s;
  } catch (const json::exception& e) {
    return make_error(ErrorCode::kCorrupt, "the slot state is malformed: {}", e.what());
  }
}

// ---------------------------------------------------------------------------------------------
// Store

Result<SlotStore> SlotStore::open(SlotStorage& storage) {
  // Under the lock: another process's write in progress has a temporary file that is not a
  // leftover yet.
  EL_TRY(StorageLock held, storage.lock());
  EL_CHECK(storage.remove_leftovers());
  SlotStore store(storage, SlotState{});
  EL_TRY(store.state_, store.read_state());
  return store;
}

Result<SlotState> SlotStore::read_state() const {
  EL_TRY(auto bytes, storage_->read(kStateFile));
  if (!bytes) return SlotState{};
  auto state = parse_state(bytes->span());
  if (!state) return std::unexpected(std::move(state).error().context(fmt::format("{}/{}", storage_->describe(), kStateFile)));
  return std::move(*state);
}

Result<SlotStore::Guard> SlotStore::lock() {
  if (depth_ == 0) {
    EL_TRY(lock_, storage_->lock());
    auto now = read_state();
    if (!now) {
      lock_ = StorageLock();
      return std::unexpected(std::move(now).error());
    }
    state_ = std::move(*now);
  }
  ++depth_;
  return Guard(this);
}

SlotStore::Guard::~Guard() {
  if (store_ && --store_->depth_ == 0) store_->lock_ = StorageLock();
}

Status SlotStore::refresh() {
  EL_TRY(Guard held, lock());
  return ok();
}

Result<std::optional<SlotStore::Guard>> SlotStore::hold_current() {
  std::optional<Guard> held;
  if (depth_ > 0) return held;  // a Guard holds the lock and re-read the record
  EL_TRY(lock_, storage_->lock());
  ++depth_;
  held.emplace(Guard(this));
  EL_TRY(const SlotState on_storage, read_state());
  if (on_storage.generation != state_.generation)
    return make_error(ErrorCode::kFailedPrecondition,
                      "the slot state changed in another process (generation {} on storage, {} read here); nothing was "
                      "written: read it again and retry",
                      on_storage.generation, state_.generation);
  return held;
}

Result<SharedBytes> SlotStore::read_slot(Slot s) const {
  const auto& info = state_.info(s);
  if (!info) return make_error(ErrorCode::kNotFound, "slot {} is empty", to_string(s));
  EL_TRY(auto bytes, storage_->read(slot_file(s)));
  if (!bytes) return make_error(ErrorCode::kCorrupt, "slot {} is recorded but its file {} is missing", to_string(s), slot_file(s));
  if (bytes->size() != info->length || to_hex(sha256(bytes->span())) != info->sha256)
    return make_error(ErrorCode::kCorrupt, "slot {} does not match its recorded length and SHA-256", to_string(s));
  return std::move(*bytes);
}

Status SlotStore::write_slot(Slot s, ByteSpan artifact) {
  EL_TRY(auto held, hold_current());
  if (state_.active == s || state_.last_known_good == s || state_.info(s))
    return make_error(ErrorCode::kFailedPrecondition, "slot {} is in use; only an empty, unused slot may be written",
                      to_string(s));
  return storage_->write(slot_file(s), artifact);
}

Status SlotStore::commit(SlotState next) {
  next.generation = state_.generation + 1;
  EL_CHECK(validate(next));
  EL_TRY(auto held, hold_current());
  EL_CHECK(storage_->write(kStateFile, serialize_state(next)));
  state_ = std::move(next);
  return ok();
}

}  // namespace edgeloop::ota

// The power-loss VFS (power_loss_vfs.hpp): a shim over SQLite's "unix" VFS.
#include "tests/powerloss/power_loss_vfs.hpp"

#include <sqlite3.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <vector>

namespace hugo::test::powerloss {
namespace {

constexpr std::int64_t kSector = 512;

// The state of a file before one write or truncation: restoring `old_bytes` at `offset` and
// cutting the file to `old_size` undoes it.
struct Undo {
  std::uint64_t order = 0;  // global order of the operation
  bool write = false;       // a write (else a truncation)
  std::int64_t offset = 0;
  std::string new_bytes;    // what a write wrote (writes only)
  std::string old_bytes;
  std::int64_t old_size = 0;
};

struct State {
  std::mutex mutex;
  sqlite3_vfs* real = nullptr;
  sqlite3_vfs shim{};
  bool recording = false;
  bool cut = false;
  bool forget_syncs = false;  // the planted fault: syncs make nothing durable
  std::uint64_t budget = 0;
  std::uint64_t operations = 0;
  std::uint64_t order = 0;
  std::map<std::string, std::vector<Undo>> undo;  // per file, oldest first
  std::set<std::string> unsynced_names;           // created since their folder's last sync
  std::set<std::string> databases;                // main databases opened: their -shm goes
};

State& state() {
  static State s;
  return s;
}

// A file opened through the shim; the real VFS's file follows it in the same allocation.
struct ShimFile {
  sqlite3_file base;
  std::string* path;   // null for SQLite's nameless temporary files
  bool syncs_folder;   // the first xSync also syncs the folder (as the unix VFS does)
};
constexpr std::size_t kShimBytes = (sizeof(ShimFile) + 15) / 16 * 16;

ShimFile* shim_of(sqlite3_file* f) { return reinterpret_cast<ShimFile*>(f); }
sqlite3_file* real_of(sqlite3_file* f) { return reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(f) + kShimBytes); }

std::string folder_of(const std::string& path) { return std::filesystem::path(path).parent_path().string(); }

// Under the mutex: whether a write, truncation or sync may go ahead (false once the power is off;
// the operation that spends the budget cuts it).
bool admit(State& s) {
  if (s.cut) return false;
  if (!s.recording) return true;
  if (++s.operations >= s.budget) {
    s.cut = true;
    return false;
  }
  return true;
}

void sync_folder(State& s, const std::string& folder) {
  std::erase_if(s.unsynced_names, [&](const std::string& name) { return folder_of(name) == folder; });
}

// Under the mutex: the file's size and bytes [offset, offset + length) as they are now.
Undo capture(sqlite3_file* real, std::int64_t offset, std::int64_t length) {
  Undo u;
  u.order = ++state().order;
  u.offset = offset;
  sqlite3_int64 size = 0;
  if (real->pMethods->xFileSize(real, &size) != SQLITE_OK) throw std::runtime_error("power-loss VFS: xFileSize failed");
  u.old_size = size;
  const std::int64_t kept = std::max<std::int64_t>(0, std::min(offset + length, u.old_size) - offset);
  u.old_bytes.resize(static_cast<std::size_t>(kept));
  if (kept > 0 && real->pMethods->xRead(real, u.old_bytes.data(), static_cast<int>(kept), offset) != SQLITE_OK) {
    throw std::runtime_error("power-loss VFS: cannot read the bytes a write replaces");
  }
  return u;
}

int shim_close(sqlite3_file* f) {
  ShimFile* file = shim_of(f);
  sqlite3_file* real = real_of(f);
  const int rc = real->pMethods ? real->pMethods->xClose(real) : SQLITE_OK;
  delete file->path;
  file->path = nullptr;
  return rc;
}

int shim_read(sqlite3_file* f, void* out, int amount, sqlite3_int64 offset) {
  {
    std::lock_guard lock(state().mutex);
    if (state().cut) return SQLITE_IOERR_READ;
  }
  return real_of(f)->pMethods->xRead(real_of(f), out, amount, offset);
}

int shim_write(sqlite3_file* f, const void* data, int amount, sqlite3_int64 offset) {
  State& s = state();
  std::lock_guard lock(s.mutex);
  if (!admit(s)) return SQLITE_IOERR_WRITE;
  ShimFile* file = shim_of(f);
  if (s.recording && file->path != nullptr) {
    Undo u = capture(real_of(f), offset, amount);
    u.write = true;
    u.new_bytes.assign(static_cast<const char*>(data), static_cast<std::size_t>(amount));
    s.undo[*file->path].push_back(std::move(u));
  }
  return real_of(f)->pMethods->xWrite(real_of(f), data, amount, offset);
}

int shim_truncate(sqlite3_file* f, sqlite3_int64 size) {
  State& s = state();
  std::lock_guard lock(s.mutex);
  if (!admit(s)) return SQLITE_IOERR_TRUNCATE;
  ShimFile* file = shim_of(f);
  if (s.recording && file->path != nullptr) {
    sqlite3_int64 old_size = 0;
    if (real_of(f)->pMethods->xFileSize(real_of(f), &old_size) != SQLITE_OK) return SQLITE_IOERR_FSTAT;
    if (old_size > size) s.undo[*file->path].push_back(capture(real_of(f), size, old_size - size));
  }
  return real_of(f)->pMethods->xTruncate(real_of(f), size);
}

// No real fsync: what a sync makes durable is only what restore() keeps.
int shim_sync(sqlite3_file* f, int) {
  State& s = state();
  std::lock_guard lock(s.mutex);
  if (!admit(s)) return SQLITE_IOERR_FSYNC;
  ShimFile* file = shim_of(f);
  if (file->path == nullptr || s.forget_syncs) return SQLITE_OK;
  s.undo.erase(*file->path);
  if (file->syncs_folder) {
    sync_folder(s, folder_of(*file->path));
    file->syncs_folder = false;
  }
  return SQLITE_OK;
}

int shim_file_size(sqlite3_file* f, sqlite3_int64* size) { return real_of(f)->pMethods->xFileSize(real_of(f), size); }
int shim_lock(sqlite3_file* f, int level) { return real_of(f)->pMethods->xLock(real_of(f), level); }
int shim_unlock(sqlite3_file* f, int level) { return real_of(f)->pMethods->xUnlock(real_of(f), level); }
int shim_check_reserved(sqlite3_file* f, int* out) {
  return real_of(f)->pMethods->xCheckReservedLock(real_of(f), out);
}
int shim_file_control(sqlite3_file* f, int op, void* arg) {
  return real_of(f)->pMethods->xFileControl(real_of(f), op, arg);
}
int shim_sector_size(sqlite3_file* f) { return real_of(f)->pMethods->xSectorSize(real_of(f)); }
int shim_device(sqlite3_file* f) { return real_of(f)->pMethods->xDeviceCharacteristics(real_of(f)); }
// Shared memory is memory: it is passed through, and restore() removes its file.
int shim_shm_map(sqlite3_file* f, int page, int size, int extend, void volatile** out) {
  return real_of(f)->pMethods->xShmMap(real_of(f), page, size, extend, out);
}
int shim_shm_lock(sqlite3_file* f, int offset, int n, int flags) {
  return real_of(f)->pMethods->xShmLock(real_of(f), offset, n, flags);
}
void shim_shm_barrier(sqlite3_file* f) { real_of(f)->pMethods->xShmBarrier(real_of(f)); }
int shim_shm_unmap(sqlite3_file* f, int remove) { return real_of(f)->pMethods->xShmUnmap(real_of(f), remove); }

// Version 2: no xFetch, so SQLite never reads through a memory map that bypasses the cut.
const sqlite3_io_methods kMethods = {
    2,          shim_close,         shim_read,   shim_write,        shim_truncate,  shim_sync,
    shim_file_size, shim_lock,      shim_unlock, shim_check_reserved, shim_file_control, shim_sector_size,
    shim_device, shim_shm_map,      shim_shm_lock, shim_shm_barrier, shim_shm_unmap, nullptr, nullptr};

int shim_open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* f, int flags, int* out_flags) {
  State& s = state();
  ShimFile* file = shim_of(f);
  file->base.pMethods = nullptr;
  file->path = nullptr;
  file->syncs_folder = false;
  const bool existed = name != nullptr && ::access(name, F_OK) == 0;
  std::lock_guard lock(s.mutex);
  if (s.cut) return SQLITE_IOERR;
  const int rc = s.real->xOpen(s.real, name, real_of(f), flags, out_flags);
  if (rc != SQLITE_OK) return rc;
  file->base.pMethods = &kMethods;
  if (name == nullptr) return SQLITE_OK;
  file->path = new std::string(name);
  const bool create = (flags & SQLITE_OPEN_CREATE) != 0;
  file->syncs_folder =
      create && (flags & (SQLITE_OPEN_MAIN_JOURNAL | SQLITE_OPEN_SUPER_JOURNAL | SQLITE_OPEN_WAL)) != 0;
  if (s.recording && create && !existed) s.unsynced_names.insert(name);
  if ((flags & SQLITE_OPEN_MAIN_DB) != 0) s.databases.insert(name);
  return SQLITE_OK;
}

int shim_delete(sqlite3_vfs*, const char* name, int sync_dir) {
  State& s = state();
  std::lock_guard lock(s.mutex);
  if (s.cut) return SQLITE_IOERR_DELETE;
  const int rc = s.real->xDelete(s.real, name, sync_dir);
  s.undo.erase(name);
  s.unsynced_names.erase(name);
  if (sync_dir) sync_folder(s, folder_of(name));
  return rc;
}

int shim_access(sqlite3_vfs*, const char* name, int flags, int* out) { return state().real->xAccess(state().real, name, flags, out); }
int shim_full_pathname(sqlite3_vfs*, const char* name, int n, char* out) {
  return state().real->xFullPathname(state().real, name, n, out);
}
void* shim_dl_open(sqlite3_vfs*, const char* name) { return state().real->xDlOpen(state().real, name); }
void shim_dl_error(sqlite3_vfs*, int n, char* out) { state().real->xDlError(state().real, n, out); }
void (*shim_dl_sym(sqlite3_vfs*, void* handle, const char* symbol))(void) {
  return state().real->xDlSym(state().real, handle, symbol);
}
void shim_dl_close(sqlite3_vfs*, void* handle) { state().real->xDlClose(state().real, handle); }
int shim_randomness(sqlite3_vfs*, int n, char* out) { return state().real->xRandomness(state().real, n, out); }
int shim_sleep(sqlite3_vfs*, int us) { return state().real->xSleep(state().real, us); }
int shim_current_time(sqlite3_vfs*, double* out) { return state().real->xCurrentTime(state().real, out); }
int shim_last_error(sqlite3_vfs*, int n, char* out) { return state().real->xGetLastError(state().real, n, out); }
int shim_current_time_int64(sqlite3_vfs*, sqlite3_int64* out) {
  return state().real->xCurrentTimeInt64(state().real, out);
}

// Writes `bytes` at `offset` of an open descriptor, or throws.
void put(int fd, const std::string& path, const char* bytes, std::int64_t length, std::int64_t offset) {
  if (length > 0 && ::pwrite(fd, bytes, static_cast<std::size_t>(length), offset) != length) {
    throw std::runtime_error("power-loss VFS: cannot restore " + path);
  }
}

}  // namespace

PowerLossVfs& PowerLossVfs::install() {
  static PowerLossVfs* vfs = [] {
    State& s = state();
    s.real = sqlite3_vfs_find("unix");
    if (s.real == nullptr || s.real->iVersion < 2) throw std::runtime_error("power-loss VFS: no unix VFS to wrap");
    s.shim = sqlite3_vfs{.iVersion = 2,
                         .szOsFile = static_cast<int>(kShimBytes) + s.real->szOsFile,
                         .mxPathname = s.real->mxPathname,
                         .pNext = nullptr,
                         .zName = "hugo-power-loss",
                         .pAppData = nullptr,
                         .xOpen = shim_open,
                         .xDelete = shim_delete,
                         .xAccess = shim_access,
                         .xFullPathname = shim_full_pathname,
                         .xDlOpen = shim_dl_open,
                         .xDlError = shim_dl_error,
                         .xDlSym = shim_dl_sym,
                         .xDlClose = shim_dl_close,
                         .xRandomness = shim_randomness,
                         .xSleep = shim_sleep,
                         .xCurrentTime = shim_current_time,
                         .xGetLastError = shim_last_error,
                         .xCurrentTimeInt64 = shim_current_time_int64,
                         .xSetSystemCall = nullptr,
                         .xGetSystemCall = nullptr,
                         .xNextSystemCall = nullptr};
    if (sqlite3_vfs_register(&s.shim, 1) != SQLITE_OK) throw std::runtime_error("power-loss VFS: cannot register");
    return new PowerLossVfs();
  }();
  vfs->make_default(true);
  return *vfs;
}

void PowerLossVfs::make_default(bool self) {
  State& s = state();
  sqlite3_vfs_register(self ? &s.shim : s.real, 1);
}

void PowerLossVfs::forget_syncs(bool forget) {
  std::lock_guard lock(state().mutex);
  state().forget_syncs = forget;
}

void PowerLossVfs::arm(std::uint64_t budget) {
  State& s = state();
  std::lock_guard lock(s.mutex);
  s.undo.clear();
  s.unsynced_names.clear();
  s.databases.clear();
  s.recording = true;
  s.cut = false;
  s.budget = std::max<std::uint64_t>(budget, 1);
  s.operations = 0;
}

void PowerLossVfs::cut_now() {
  std::lock_guard lock(state().mutex);
  state().cut = true;
}

bool PowerLossVfs::is_cut() const {
  std::lock_guard lock(state().mutex);
  return state().cut;
}

std::uint64_t PowerLossVfs::operations() const {
  std::lock_guard lock(state().mutex);
  return state().operations;
}

namespace {

// Writes `u`'s new bytes [u.offset, keep_to) into the file as restored, never past its end
// with a hole before them, nor a partial sector past its end: the size never covers bytes that
// did not reach the disk (power_loss_vfs.hpp). Returns whether anything was kept.
bool redo(int fd, const std::string& path, const Undo& u, std::int64_t keep_to) {
  const std::int64_t size = ::lseek(fd, 0, SEEK_END);
  if (u.offset > size) return false;
  if (keep_to > size) keep_to = std::max(size, std::min(keep_to, (keep_to / kSector) * kSector));
  put(fd, path, u.new_bytes.data(), keep_to - u.offset, u.offset);
  return keep_to > u.offset;
}

}  // namespace

RestoreReport PowerLossVfs::restore(CutMode mode, std::mt19937_64& rng) {
  State& s = state();
  std::lock_guard lock(s.mutex);
  RestoreReport report;
  // The last unsynced write of all.
  const Undo* last = nullptr;
  for (const auto& [path, log] : s.undo) {
    for (const Undo& u : log) {
      if (u.write && (last == nullptr || u.order > last->order)) last = &u;
    }
  }
  for (const auto& [path, log] : s.undo) {
    // A file renamed or removed outside SQLite (a follower's staged replica, fsync'd and renamed
    // by the library itself) is not followed: what it held stays where it went.
    if (!std::filesystem::exists(path)) continue;
    const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) throw std::runtime_error("power-loss VFS: cannot open " + path + " to restore it");
    for (auto u = log.rbegin(); u != log.rend(); ++u) {
      put(fd, path, u->old_bytes.data(), static_cast<std::int64_t>(u->old_bytes.size()), u->offset);
      if (::ftruncate(fd, u->old_size) != 0) throw std::runtime_error("power-loss VFS: cannot resize " + path);
      ++report.writes_undone;
    }
    for (const Undo& u : log) {
      const std::int64_t end = u.offset + static_cast<std::int64_t>(u.new_bytes.size());
      if (!u.write || u.new_bytes.empty()) continue;
      if (mode == CutMode::Torn && &u == last) {
        // Whole sectors before the last one keep the new bytes; the last keeps them up to a random byte.
        const std::int64_t last_sector = std::max(u.offset, (end - 1) / kSector * kSector);
        const auto spread = static_cast<std::uint64_t>(end - last_sector);
        redo(fd, path, u, last_sector + static_cast<std::int64_t>(rng() % spread));
        report.torn = true;
      } else if (mode == CutMode::Subset && rng() % 2 == 0) {
        report.writes_kept += redo(fd, path, u, end) ? 1 : 0;
      }
    }
    ::close(fd);
  }
  for (const std::string& name : s.unsynced_names) {
    if (rng() % 2 == 0) continue;
    std::error_code ec;
    if (std::filesystem::remove(name, ec)) ++report.files_dropped;
  }
  for (const std::string& db : s.databases) {
    std::error_code ec;
    std::filesystem::remove(db + "-shm", ec);
  }
  s.undo.clear();
  s.unsynced_names.clear();
  s.databases.clear();
  s.recording = false;
  s.cut = false;
  return report;
}

}  // namespace hugo::test::powerloss

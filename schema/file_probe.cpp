#include "schema/file_probe.hpp"

#include <hugo/error_codes.hpp>

#include "schema/kept_files.hpp"
#include "schema/wal_files.hpp"
#include "schema/schema.hpp"

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <system_error>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace hugo::file_probe {
namespace {

// SQLite's file format (https://www.sqlite.org/fileformat.html, "The Database Header"): a
// 100-byte header starting with a 16-byte magic string; user_version at offset 60 and
// application_id at offset 68, both big-endian. Page 1's b-tree header follows at offset 100:
// its type (0x0D, a table leaf) and cell count (offset 103) tell an empty schema.
constexpr std::size_t kHeaderBytes = 100;
constexpr char kMagic[] = "SQLite format 3";  // and its terminating NUL: 16 bytes

std::uint32_t big_endian_u32(const unsigned char* bytes) {
  return (std::uint32_t{bytes[0]} << 24) | (std::uint32_t{bytes[1]} << 16) | (std::uint32_t{bytes[2]} << 8) |
         std::uint32_t{bytes[3]};
}

Error refused(const std::filesystem::path& path, std::string_view reason, const std::string& what) {
  return Error::journal_corrupt(path.string() + " " + what +
                   "; nothing was opened or changed (point the command at a journal file)")
      .with("path", path.string())
      .with("reason", std::string(reason));
}

// A -wal beside the file that holds bytes: commits that the main file does not show yet.
bool wal_has_bytes(const std::filesystem::path& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(wal_files::wal_of(path), ec);
  return !ec && size > 0;
}

// The header fields that decide, as the main file holds them or as SQLite reads them.
struct Header {
  std::uint32_t app_id = 0;
  std::uint32_t user_version = 0;
  bool empty_schema = false;  // sqlite_schema holds no table, index or view
};

Status decide(const std::filesystem::path& path, Intent intent, const Header& h) {
  if (h.app_id == static_cast<std::uint32_t>(schema::kApplicationId)) return wal_files::check_wal_not_truncated(path);
  if (intent == Intent::Create && h.app_id == 0 && h.user_version == 0 && h.empty_schema) {
    return wal_files::check_wal_not_truncated(path);  // no tables yet: Journal::open makes it a journal
  }
  return refused(path, "application_id",
                 "is an SQLite database of another application (application id " + std::to_string(h.app_id) +
                     (h.app_id == 0 && !h.empty_schema ? ", with tables of its own" : "") + "), not a hugo journal")
      .with("application_id", std::to_string(h.app_id));
}

// With commits in the -wal, the main file's header may predate them (a journal created and never
// checkpointed still shows application id 0 there): SQLite reads the header through the WAL.
// Read-only; the -wal and its -shm already exist.
Result<Header> header_through_wal(const std::filesystem::path& path, std::chrono::milliseconds busy_timeout) {
  HUGO_ASSIGN_OR_RETURN(sql::Db db, sql::Db::open(path, sql::OpenMode::ReadOnly, busy_timeout));
  Header h;
  HUGO_ASSIGN_OR_RETURN(const std::int64_t app_id, db.query_int("PRAGMA application_id"));
  HUGO_ASSIGN_OR_RETURN(const std::int64_t user_version, db.query_int("PRAGMA user_version"));
  HUGO_ASSIGN_OR_RETURN(const std::int64_t objects, db.query_int("SELECT count(*) FROM sqlite_schema"));
  h.app_id = static_cast<std::uint32_t>(app_id);
  h.user_version = static_cast<std::uint32_t>(user_version);
  h.empty_schema = objects == 0;
  return h;
}

}  // namespace

Status check(const std::filesystem::path& path, Intent intent, std::chrono::milliseconds busy_timeout) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    const int err = errno;
    if (err == ENOENT && intent == Intent::Create) return wal_files::check_wal_not_truncated(path);
    if (err == ENOENT) {
      return Error::journal_not_found("no journal at " + path.string() + " (check the path)")
          .with("path", path.string());
    }
    return Error(std::string(err == EACCES ? errc::journal_read_only : errc::journal_io),
                 "cannot stat " + path.string() + ": " + std::strerror(err) + " (check the path and permissions)")
        .with("path", path.string());
  }
  if (S_ISDIR(st.st_mode)) return refused(path, "directory", "is a directory, not a journal file");
  if (!S_ISREG(st.st_mode)) return refused(path, "not_a_file", "is not a regular file, so not a journal");
  const bool wal = wal_has_bytes(path);
  if (st.st_size == 0 && !wal) {
    // SQLite reads a 0-byte file as an empty database: a new journal for Journal::open, nothing
    // for a reader to read.
    if (intent == Intent::Create) return ok_status();
    return refused(path, "empty", "is an empty file, not a journal");
  }
  std::array<unsigned char, kHeaderBytes + 5> bytes{};
  ssize_t n = 0;
  if (st.st_size > 0) {
    // Kept open, never closed: closing it would drop this process's SQLite locks on the file
    // (schema/kept_files.hpp).
    const int fd = kept_files::open_for_read(path);
    if (fd < 0) {
      const int err = errno;
      return Error(std::string(err == EACCES ? errc::journal_read_only : errc::journal_io),
                   "cannot read " + path.string() + ": " + std::strerror(err) + " (check the path and permissions)")
          .with("path", path.string());
    }
    n = ::pread(fd, bytes.data(), bytes.size(), 0);
    if (n < static_cast<ssize_t>(kHeaderBytes) || std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) {
      return refused(path, "not_sqlite", "is not an SQLite database, so not a journal");
    }
  }
  Header h;
  if (n > 0) {
    h.app_id = big_endian_u32(bytes.data() + 68);
    h.user_version = big_endian_u32(bytes.data() + 60);
    h.empty_schema = n == static_cast<ssize_t>(bytes.size()) && bytes[kHeaderBytes] == 0x0D &&
                     bytes[kHeaderBytes + 3] == 0 && bytes[kHeaderBytes + 4] == 0;
  }
  if (h.app_id != static_cast<std::uint32_t>(schema::kApplicationId) && wal) {
    HUGO_TRY(wal_files::check_wal_not_truncated(path));
    HUGO_ASSIGN_OR_RETURN(h, header_through_wal(path, busy_timeout));
  }
  return decide(path, intent, h);
}

// A WAL journal needs its -shm to be read, and SQLite cannot create one in a folder it cannot
// write. A journal closed cleanly has everything in its main file (no -wal, or an empty one) and,
// with the folder read-only, no writer can change it: it is read as immutable. With commits still
// in the -wal and no -shm, there is no safe way in, and the error says so.
Result<sql::Db> open_read_only(const std::filesystem::path& path, std::chrono::milliseconds busy_timeout,
                               bool& immutable) {
  immutable = false;
  auto db = sql::Db::open(path, sql::OpenMode::ReadOnly, busy_timeout);
  if (!db.ok()) return db;
  auto version = db->query_int("PRAGMA user_version");  // the first read: opens the WAL, if any
  if (version.ok()) return db;
  const std::string& code = version.error().code();
  if (code != errc::journal_read_only && code != errc::journal_io) return std::move(version).error();
  const bool folder_writable = ::access(path.parent_path().empty() ? "." : path.parent_path().c_str(), W_OK) == 0;
  if (folder_writable) return std::move(version).error();
  if (wal_has_bytes(path)) {
    return Error::journal_read_only("the journal at " + path.string() +
                     " has commits in its -wal but no -shm, and its folder is not writable, so the -shm "
                     "cannot be created (make the folder writable, or copy the journal with its -wal elsewhere)")
        .with("path", path.string());
  }
  immutable = true;
  return sql::Db::open(path, sql::OpenMode::ReadOnlyImmutable, busy_timeout);
}

Result<sql::Db> open_read_only(const std::filesystem::path& path, std::chrono::milliseconds busy_timeout) {
  bool immutable = false;
  return open_read_only(path, busy_timeout, immutable);
}

}  // namespace hugo::file_probe

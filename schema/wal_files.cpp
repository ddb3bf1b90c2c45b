#include "schema/wal_files.hpp"

#include <hugo/error_codes.hpp>

#include "schema/kept_files.hpp"

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace hugo::wal_files {
namespace {

// SQLite's file formats (https://www.sqlite.org/fileformat.html, "The WAL file" and "The
// wal-index"): the WAL header is 32 bytes, big-endian, and each frame is a 24-byte header plus
// one page. The -shm begins with two copies of a 48-byte index header in native byte order;
// mxFrame (offset 16) is the number of frames up to the last commit, and aSalt (offset 32) is a
// raw copy of the WAL header's salts (offset 16), which change each time the WAL is restarted.
constexpr std::size_t kWalHeaderBytes = 32;
constexpr std::size_t kFrameHeaderBytes = 24;
constexpr std::uint32_t kWalMagic = 0x377f0682;  // low bit: checksum byte order
constexpr std::size_t kIndexHeaderBytes = 48;
constexpr std::uint32_t kIndexVersion = 3007000;

// A read-only descriptor. The -shm's is kept open for the process's life (schema/kept_files.hpp:
// closing it would drop this process's SQLite locks on the -shm); the -wal's is closed again, as
// SQLite takes no lock on the -wal file.
class Fd {
 public:
  enum class Kind { Wal, Shm };
  Fd(const std::filesystem::path& path, Kind kind)
      : fd_(kind == Kind::Shm ? kept_files::open_for_read(path) : ::open(path.c_str(), O_RDONLY | O_CLOEXEC)),
        owned_(kind == Kind::Wal) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0 && owned_) ::close(fd_);
  }
  bool is_open() const { return fd_ >= 0; }
  std::int64_t size() const {
    struct stat st {};
    return ::fstat(fd_, &st) == 0 ? static_cast<std::int64_t>(st.st_size) : -1;
  }
  // Reads exactly `bytes` at `offset`, or returns false.
  bool read_at(void* into, std::size_t bytes, std::int64_t offset) const {
    return ::pread(fd_, into, bytes, offset) == static_cast<ssize_t>(bytes);
  }

 private:
  int fd_;
  bool owned_;
};

std::uint32_t big_endian_u32(const unsigned char* bytes) {
  return (std::uint32_t{bytes[0]} << 24) | (std::uint32_t{bytes[1]} << 16) | (std::uint32_t{bytes[2]} << 8) |
         std::uint32_t{bytes[3]};
}

std::uint32_t native_u32(const unsigned char* bytes) {
  std::uint32_t value = 0;
  std::memcpy(&value, bytes, sizeof(value));
  return value;
}

// The index header as the -shm holds it, if both copies agree and it is initialised.
struct IndexHeader {
  std::array<unsigned char, kIndexHeaderBytes> bytes{};
  std::uint32_t max_frame() const { return native_u32(bytes.data() + 16); }
  const unsigned char* salts() const { return bytes.data() + 32; }
};

std::optional<IndexHeader> read_index_header(const std::filesystem::path& journal) {
  const Fd shm(shm_of(journal), Fd::Kind::Shm);
  if (!shm.is_open()) return std::nullopt;
  std::array<unsigned char, 2 * kIndexHeaderBytes> both{};
  if (!shm.read_at(both.data(), both.size(), 0)) return std::nullopt;
  if (std::memcmp(both.data(), both.data() + kIndexHeaderBytes, kIndexHeaderBytes) != 0) return std::nullopt;
  IndexHeader header;
  std::memcpy(header.bytes.data(), both.data(), kIndexHeaderBytes);
  if (native_u32(header.bytes.data()) != kIndexVersion || header.bytes[12] != 1) return std::nullopt;
  return header;
}

Error truncated(const std::filesystem::path& journal, std::string_view reason, std::string what,
                std::string remedy) {
  return Error::journal_wal_truncated("the write-ahead log " + wal_of(journal).string() + " was cut: " + what +
                   ". Nothing was opened or changed (" + remedy +
                   "; sequence numbers of the lost commits may then be issued again, so rebuild any replica "
                   "or sink that read past the survivors)")
      .with("path", journal.string())
      .with("reason", std::string(reason));
}

enum class Verdict { Intact, Truncated, Unsettled };

// One look at the files. Unsettled when the index changed while the WAL was read: a live writer
// committed or restarted the WAL, and the comparison would mean nothing.
Verdict inspect(const std::filesystem::path& journal, std::optional<Error>& error) {
  const Fd wal(wal_of(journal), Fd::Kind::Wal);
  if (!wal.is_open()) return Verdict::Intact;  // no WAL: everything is in the main file
  const std::optional<IndexHeader> before = read_index_header(journal);
  const std::int64_t wal_bytes = wal.size();
  if (wal_bytes <= 0) return Verdict::Intact;  // emptied by a checkpoint
  std::array<unsigned char, kWalHeaderBytes> header{};
  const bool whole_header = static_cast<std::size_t>(wal_bytes) >= kWalHeaderBytes &&
                            wal.read_at(header.data(), header.size(), 0);
  if (!whole_header || (big_endian_u32(header.data()) & ~1u) != kWalMagic) {
    error = truncated(journal, "header",
                      std::to_string(wal_bytes) + " bytes without a whole WAL header, so every commit in it is lost",
                      "to open what the main file holds, stop every process using the journal and move " +
                          wal_of(journal).string() + " and " + shm_of(journal).string() + " aside")
                .with("wal_bytes", std::to_string(wal_bytes));
    return Verdict::Truncated;
  }
  if (!before || before->max_frame() == 0) return Verdict::Intact;
  if (std::memcmp(before->salts(), header.data() + 16, 8) != 0) return Verdict::Intact;  // another generation
  const std::int64_t frame_bytes = static_cast<std::int64_t>(big_endian_u32(header.data() + 8)) + kFrameHeaderBytes;
  const std::int64_t wal_frames = (wal_bytes - static_cast<std::int64_t>(kWalHeaderBytes)) / frame_bytes;
  const std::int64_t indexed = before->max_frame();
  const std::optional<IndexHeader> after = read_index_header(journal);
  if (!after || after->bytes != before->bytes) return Verdict::Unsettled;
  if (wal_frames >= indexed) return Verdict::Intact;
  error = truncated(journal, "frames_missing",
                    "it holds " + std::to_string(wal_frames) + " whole frames, but its index " +
                        shm_of(journal).string() + " records commits up to frame " + std::to_string(indexed) +
                        ", so the commits past frame " + std::to_string(wal_frames) + " are lost",
                    "to open the commits that survive, stop every process using the journal and move " +
                        shm_of(journal).string() + " aside: SQLite then keeps the longest prefix of whole commits")
              .with("wal_bytes", std::to_string(wal_bytes))
              .with("wal_frames", std::to_string(wal_frames))
              .with("indexed_frames", std::to_string(indexed));
  return Verdict::Truncated;
}

}  // namespace

std::filesystem::path wal_of(const std::filesystem::path& journal) { return journal.string() + "-wal"; }
std::filesystem::path shm_of(const std::filesystem::path& journal) { return journal.string() + "-shm"; }

Status check_wal_not_truncated(const std::filesystem::path& journal) {
  for (int attempt = 0; attempt < 5; ++attempt) {
    std::optional<Error> error;
    switch (inspect(journal, error)) {
      case Verdict::Intact: return ok_status();
      case Verdict::Truncated: return *error;
      case Verdict::Unsettled: break;
    }
  }
  return ok_status();  // a live writer keeps committing: it, not a cut file, owns the WAL
}

Status check_shm_unchanged(const std::filesystem::path& journal, const FileIdentity& opened,
                           std::string_view journal_id, std::string_view who) {
  const auto now = shm_identity(journal);
  if (now && now->same_file(opened)) return ok_status();
  return Error::journal_shm_missing("the WAL index " + shm_of(journal).string() + " that this " + std::string(who) + " opened was " +
                   (now ? "replaced by another file" : "removed") +
                   "; a process opening the journal now builds a new index that this " + std::string(who) +
                   " does not share, so it stops here (close and reopen the journal; nothing committed is lost)")
      .with("path", journal.string())
      .with("journal_id", std::string(journal_id))
      .with("reason", now ? "replaced" : "removed");
}

}  // namespace hugo::wal_files

// Which file a path names, and whether it was rewritten: how a reader or the writer notices that
// its journal was replaced underneath it (docs/ERRORS.md, journal.replaced).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>

#include <sys/stat.h>

namespace hugo {

struct FileIdentity {
  dev_t device = 0;
  ino_t inode = 0;
  std::int64_t mtime_ns = 0;
  std::int64_t size = 0;

  // nullopt if the path names nothing (removed) or cannot be stat'ed.
  static std::optional<FileIdentity> of(const std::filesystem::path& path) { return of(path.c_str()); }
  static std::optional<FileIdentity> of(const char* path) {
    struct stat st {};
    if (::stat(path, &st) != 0) return std::nullopt;
    return FileIdentity{st.st_dev, st.st_ino,
                        static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec,
                        static_cast<std::int64_t>(st.st_size)};
  }

  bool same_file(const FileIdentity& other) const { return device == other.device && inode == other.inode; }
  // Same file with the same size and modification time: nothing wrote to the main file.
  bool unchanged(const FileIdentity& other) const {
    return same_file(other) && mtime_ns == other.mtime_ns && size == other.size;
  }
};

}  // namespace hugo

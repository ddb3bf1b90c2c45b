// Test support: a unique temporary folder, removed with everything in it at scope exit.
//
// The folder is always one this object made: if mkdtemp fails, the constructor throws
// std::runtime_error naming the folder and the reason (a doctest test case fails with that
// message; any other program stops). It never falls back to an existing folder, such as the
// system's temporary folder, which the destructor would then empty.
#pragma once

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>

#include <unistd.h>

namespace hugo::test {

class TempDir {
 public:
  // Makes $TMPDIR/<prefix>-XXXXXX ($TMPDIR unset or empty: /tmp).
  explicit TempDir(std::string_view prefix = "hugo-test") {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base && *base ? base : "/tmp") + "/" + std::string(prefix) + "-XXXXXX";
    const char* made = ::mkdtemp(pattern.data());
    if (made == nullptr) {
      const int error = errno;
      throw std::runtime_error("cannot make a temporary folder " + pattern + ": " + std::strerror(error) +
                               " (set TMPDIR to a writable folder)");
    }
    path_ = made;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

}  // namespace hugo::test

// Test support: a file's bytes, read whole or overwritten in place, for tests that damage files
// behind the library's back (fault injection, CLI error cases).
#pragma once

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>

namespace hugo::test {

inline std::string read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Overwrites `bytes` at `offset` of the file (which must exist).
inline void write_bytes_at(const std::filesystem::path& path, std::size_t offset, const std::string& bytes) {
  std::fstream file(path, std::ios::binary | std::ios::in | std::ios::out);
  REQUIRE(file.good());
  file.seekp(static_cast<std::streamoff>(offset));
  file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(file.good());
}

// Every name in `folder` with its bytes ("<dir>" for a directory): what an operation that must
// change nothing has to leave as it found it.
inline std::map<std::string, std::string> folder_snapshot(const std::filesystem::path& folder) {
  std::map<std::string, std::string> out;
  for (const auto& entry : std::filesystem::directory_iterator(folder)) {
    out[entry.path().filename().string()] = entry.is_directory() ? "<dir>" : read_bytes(entry.path());
  }
  return out;
}

}  // namespace hugo::test

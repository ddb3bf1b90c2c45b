// The owner's rolling hash at any seq (docs/PEERS.md), for the X-Hugo-After-Hash header of a
// stream. Computing it means hashing every event line up to that seq, so the index keeps a mark
// every kMarkEvery events and hashes only from the nearest mark below.
#pragma once

#include <hugo/journal.hpp>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

namespace hugo::peers {

class HashIndex {
 public:
  static constexpr std::size_t kMarkEvery = 4096;

  explicit HashIndex(std::filesystem::path journal) : journal_(std::move(journal)) {}

  // The rolling hash over every event with seq <= `seq`. Thread-safe.
  Result<std::uint64_t> hash_at(std::int64_t seq);

 private:
  std::filesystem::path journal_;
  std::mutex mutex_;
  std::unique_ptr<JournalReader> reader_;
  std::vector<std::pair<std::int64_t, std::uint64_t>> marks_;  // ascending (seq, hash after seq)
};

}  // namespace hugo::peers

// The rolling hash of an event history (docs/PEERS.md, "Rolling hash"), shared by the HTTP peers,
// the JetStream publisher and its followers. PERSISTED in replicas' meta rows and carried in
// stream headers: never change the formula.
#include <hugo/peers.hpp>

#include "core/hex.hpp"

#include <bit>
#include <cstring>

namespace hugo {

std::uint64_t chain_hash(std::uint64_t previous, std::string_view line) {
  constexpr std::uint64_t kMultiplier = 0x9e3779b97f4a7c15ULL;
  std::uint64_t h = previous;
  std::size_t i = 0;
  auto mix = [&h](std::uint64_t word) { h = std::rotl(h ^ word, 31) * kMultiplier; };
  for (; i + 8 <= line.size(); i += 8) {
    std::uint64_t word = 0;
    std::memcpy(&word, line.data() + i, 8);
    if constexpr (std::endian::native == std::endian::big) word = __builtin_bswap64(word);
    mix(word);
  }
  std::uint64_t tail = 0;
  for (std::size_t shift = 0; i < line.size(); ++i, shift += 8) {
    tail |= std::uint64_t(static_cast<unsigned char>(line[i])) << shift;
  }
  mix(tail);
  mix(line.size());
  return h ^ (h >> 29);
}

std::string format_hash(std::uint64_t hash) { return hex::u64(hash); }

}  // namespace hugo

// Hexadecimal digits: the one pair of digit tables every codec that writes base 16 uses (JSON
// \u00XX escapes, URI percent-encoding, GUIDs, journal ids, history hashes). Header-only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace hugo::hex {

inline constexpr char kLower[] = "0123456789abcdef";
inline constexpr char kUpper[] = "0123456789ABCDEF";

// Appends the two digits of `byte`, high nibble first, taken from `digits` (kLower or kUpper).
inline void append_byte(std::string& out, unsigned char byte, const char* digits = kLower) {
  out += digits[byte >> 4];
  out += digits[byte & 0xf];
}

// The 16 lower-case digits of `value`, most significant first, zero-padded.
inline std::string u64(std::uint64_t value) {
  std::string out(16, '0');
  for (std::size_t i = 16; i-- > 0; value >>= 4) out[i] = kLower[value & 0xf];
  return out;
}

// The value of one hex digit (either case), or -1 for any other character.
inline int digit_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace hugo::hex

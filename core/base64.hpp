// Standard base64 (RFC 4648, with padding), as .NET writes byte[] in JSON.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace hugo::base64 {

void encode(std::string_view bytes, std::string& out);
// Strict: rejects characters outside the alphabet, bad padding and non-zero trailing bits.
std::optional<std::string> decode(std::string_view text);

}  // namespace hugo::base64

// JsonOut: a minimal JSON emitter for the event codec's hot path (tail, export, the wire).
//
// It appends straight into a std::string: keys are literals chosen by the caller, strings are
// escaped span by span (RapidJSON's escaping: \" \\ \b \f \n \r \t, other control bytes as
// \u00XX, everything else verbatim), integers go through std::to_chars. The output is byte for
// byte what RapidJSON's Writer produced before (tests/golden/events.ndjson pins it).
#pragma once

#include "core/hex.hpp"

#include <hugo/time.hpp>

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

namespace hugo::detail {
// Writes the ISO-8601 form of `t` (format_iso8601's layout) into `buffer` (>= 48 bytes); returns
// its length. Defined in time.cpp.
std::size_t format_iso8601_to(Timestamp t, char* buffer);
// Writes lease_id_to_guid(lease_id) into `buffer` (>= kLeaseGuidLength bytes). Defined in event.cpp.
inline constexpr std::size_t kLeaseGuidLength = 36;
void format_lease_guid_to(std::int64_t lease_id, char* buffer);
}  // namespace hugo::detail

namespace hugo::json {

class JsonOut {
 public:
  explicit JsonOut(std::string& out) : out_(out) {}

  // Appends `text` as is (punctuation and literal keys such as `,"kind":`).
  JsonOut& raw(std::string_view text) {
    out_.append(text);
    return *this;
  }
  JsonOut& null() { return raw("null"); }
  JsonOut& integer(std::int64_t v) {
    char buffer[24];
    auto end = std::to_chars(buffer, buffer + sizeof(buffer), v).ptr;
    out_.append(buffer, static_cast<std::size_t>(end - buffer));
    return *this;
  }
  JsonOut& string(std::string_view s) {
    out_.push_back('"');
    std::size_t clean = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
      const auto c = static_cast<unsigned char>(s[i]);
      if (c >= 0x20 && c != '"' && c != '\\') continue;
      out_.append(s.data() + clean, i - clean);
      escape(c);
      clean = i + 1;
    }
    out_.append(s.data() + clean, s.size() - clean);
    out_.push_back('"');
    return *this;
  }
  JsonOut& lease_guid(std::int64_t lease_id) {
    char buffer[detail::kLeaseGuidLength];
    detail::format_lease_guid_to(lease_id, buffer);
    out_.push_back('"');
    out_.append(buffer, sizeof(buffer));
    out_.push_back('"');
    return *this;
  }
  JsonOut& time(Timestamp t) {
    char buffer[48];
    const std::size_t n = detail::format_iso8601_to(t, buffer);
    out_.push_back('"');
    out_.append(buffer, n);
    out_.push_back('"');
    return *this;
  }

 private:
  void escape(unsigned char c) {
    switch (c) {
      case '"': out_.append("\\\""); return;
      case '\\': out_.append("\\\\"); return;
      case '\b': out_.append("\\b"); return;
      case '\f': out_.append("\\f"); return;
      case '\n': out_.append("\\n"); return;
      case '\r': out_.append("\\r"); return;
      case '\t': out_.append("\\t"); return;
      default: {
        const char u[] = {'\\', 'u', '0', '0', hex::kUpper[c >> 4], hex::kUpper[c & 0xf]};
        out_.append(u, sizeof(u));
      }
    }
  }
  std::string& out_;
};

}  // namespace hugo::json

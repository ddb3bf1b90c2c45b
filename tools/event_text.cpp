#include "event_text.hpp"

#include "cli_common.hpp"

#include <hugo/event_json.hpp>

namespace hugo::cli {
namespace {

// True if `text` is valid UTF-8 without control characters other than tab and newline.
bool printable_utf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7f) return false;
      ++i;
      continue;
    }
    std::size_t extra = 0;
    if (c >= 0xC2 && c <= 0xDF) extra = 1;
    else if (c >= 0xE0 && c <= 0xEF) extra = 2;
    else if (c >= 0xF0 && c <= 0xF4) extra = 3;
    else return false;
    if (i + extra >= text.size()) return false;
    for (std::size_t k = 1; k <= extra; ++k) {
      if ((static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80) return false;
    }
    i += extra + 1;
  }
  return true;
}

std::string flags_text(std::uint32_t f) {
  std::string out;
  auto add = [&](std::uint32_t bit, const char* name) {
    if (!(f & bit)) return;
    if (!out.empty()) out += ',';
    out += name;
  };
  add(flags::FromDrain, "FromDrain");
  add(flags::FromExpiration, "FromExpiration");
  add(flags::DeadLetter, "DeadLetter");
  return out;
}

}  // namespace

std::string base64_encode(std::string_view bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const std::uint32_t n = (static_cast<unsigned char>(bytes[i]) << 16) |
                            (static_cast<unsigned char>(bytes[i + 1]) << 8) | static_cast<unsigned char>(bytes[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  if (i < bytes.size()) {
    std::uint32_t n = static_cast<unsigned char>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) n |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += i + 1 < bytes.size() ? kAlphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string payload_text(const std::optional<std::string>& payload, PayloadFormat format) {
  if (!payload) return "";
  if (format == PayloadFormat::Json || printable_utf8(*payload)) return *payload;
  return "base64:" + base64_encode(*payload);
}

std::vector<std::string> event_header() {
  return {"seq", "at", "queue", "kind", "task", "attempt", "owner", "lease", "flags", "error", "payload"};
}

std::vector<std::size_t> event_widths() { return {7, 32, 12, 12, 7, 7, 12, 7, 14, 32, 0}; }

std::vector<std::string> event_cells(const Event& e) {
  return {std::to_string(e.seq),
          iso(e.occurred_at),
          e.queue,
          std::string(to_string(e.kind)),
          std::to_string(e.task_id),
          std::to_string(e.attempt),
          e.owner_peer_id.value_or(""),
          e.token ? std::to_string(e.token->lease_id) : std::string(),
          flags_text(e.flags),
          error_text(e.error),
          payload_text(e.payload, e.payload_format)};
}

void append_event_json(const Event& e, std::string& buffer) {
  encode_event_json(e, buffer);
  buffer += '\n';
}

void event_row(Output& output, const Event& e) {
  if (output.json()) output.line([&e](std::string& buffer) { append_event_json(e, buffer); });
  else output.cells(event_cells(e));
}

}  // namespace hugo::cli

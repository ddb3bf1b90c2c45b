// The size and depth limits of payloads and JSON documents (docs/FORMAT.md, "Limits").
#include <hugo/error_codes.hpp>
#include <hugo/event_json.hpp>

#include "core/json_util.hpp"

namespace hugo {

bool nests_deeper_than(std::string_view json, int limit) {
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (in_string) {
      if (c == '\\') ++i;  // the escaped byte; a \uXXXX's hex digits are neither quotes nor brackets
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limit) return true;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return false;
}

std::string json_payload_problem(std::string_view json) {
  if (nests_deeper_than(json, kMaxJsonDepth)) {
    return "nests arrays and objects deeper than " + std::to_string(kMaxJsonDepth) + " levels, the limit";
  }
  if (!is_valid_json(json)) return "is not valid JSON";
  return {};
}

std::string task_key_problem(std::string_view key) {
  if (key.empty()) return "is empty";
  if (key.size() > 1024) return "is longer than 1024 bytes (" + std::to_string(key.size()) + ")";
  if (has_nul(key)) return "holds a NUL byte";
  if (!is_valid_utf8(key)) return "is not valid UTF-8";
  return {};
}

Status check_payload_size(std::size_t bytes) {
  if (bytes <= kMaxPayloadBytes) return ok_status();
  return Error::validation("payload of " + std::to_string(bytes) + " bytes exceeds the " +
                                                  std::to_string(kMaxPayloadBytes >> 20) +
                                                  " MiB limit (store large blobs elsewhere and enqueue a reference)")
      .with("bytes", std::to_string(bytes))
      .with("max_bytes", std::to_string(kMaxPayloadBytes));
}

}  // namespace hugo

#include "cli_json.hpp"

#include "core/hex.hpp"

#include <hugo/event_json.hpp>

#include <cmath>
#include <cstdio>

namespace hugo::cli {

void json_string(std::string& out, std::string_view s) {
  out += '"';
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          hex::append_byte(out, c);
        } else {
          out += ch;
        }
    }
  }
  out += '"';
}

std::string number_text(double value) {
  if (std::isfinite(value) && value == std::floor(value) && std::fabs(value) < 9e15) {
    return std::to_string(static_cast<long long>(value));
  }
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.6g", value);
  return buffer;
}

JsonObject::JsonObject(std::string& out) : out_(out) { out_ += '{'; }

void JsonObject::key(std::string_view key) {
  if (!first_) out_ += ',';
  first_ = false;
  json_string(out_, key);
  out_ += ':';
}

JsonObject& JsonObject::str(std::string_view k, std::string_view value) {
  key(k);
  json_string(out_, value);
  return *this;
}

JsonObject& JsonObject::opt_str(std::string_view k, const std::optional<std::string>& value) {
  return value ? str(k, std::string_view(*value)) : null(k);
}

JsonObject& JsonObject::num(std::string_view k, std::int64_t value) {
  key(k);
  out_ += std::to_string(value);
  return *this;
}

JsonObject& JsonObject::opt_num(std::string_view k, const std::optional<std::int64_t>& value) {
  return value ? num(k, *value) : null(k);
}

JsonObject& JsonObject::real(std::string_view k, double value) {
  key(k);
  out_ += std::isfinite(value) ? number_text(value) : std::string("null");
  return *this;
}

JsonObject& JsonObject::boolean(std::string_view k, bool value) {
  key(k);
  out_ += value ? "true" : "false";
  return *this;
}

JsonObject& JsonObject::null(std::string_view k) {
  key(k);
  out_ += "null";
  return *this;
}

JsonObject& JsonObject::time(std::string_view k, const std::optional<Timestamp>& value) {
  return value ? str(k, std::string_view(format_iso8601(*value))) : null(k);
}

JsonObject& JsonObject::error(std::string_view k, const std::optional<Error>& value) {
  if (!value) return null(k);
  key(k);
  encode_error_json(*value, out_);
  return *this;
}

JsonObject& JsonObject::raw(std::string_view k, std::string_view json) {
  key(k);
  out_ += json;
  return *this;
}

void JsonObject::close() {
  if (closed_) return;
  closed_ = true;
  out_ += '}';
}

}  // namespace hugo::cli

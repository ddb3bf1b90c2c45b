// JSON output of the verbs that do not print events (events use hugo::encode_event_json): one
// object per line, keys in camelCase like Hugo's event layout, absent values as explicit nulls.
#pragma once

#include <hugo/error.hpp>
#include <hugo/time.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hugo::cli {

// Appends `s` as a JSON string literal (quotes, escapes, control characters as \u00XX).
void json_string(std::string& out, std::string_view s);

// Writes one JSON object into `out`, key by key, in call order. close() ends it.
class JsonObject {
 public:
  explicit JsonObject(std::string& out);
  JsonObject& str(std::string_view key, std::string_view value);
  JsonObject& opt_str(std::string_view key, const std::optional<std::string>& value);  // null if unset
  JsonObject& num(std::string_view key, std::int64_t value);
  JsonObject& opt_num(std::string_view key, const std::optional<std::int64_t>& value);
  JsonObject& real(std::string_view key, double value);
  JsonObject& boolean(std::string_view key, bool value);
  JsonObject& null(std::string_view key);
  JsonObject& time(std::string_view key, const std::optional<Timestamp>& value);  // ISO-8601 or null
  JsonObject& error(std::string_view key, const std::optional<Error>& value);     // Hugo's Error JSON
  // `json` must be one complete JSON value (an object or array written by the caller).
  JsonObject& raw(std::string_view key, std::string_view json);
  void close();

 private:
  void key(std::string_view key);
  std::string& out_;
  bool first_ = true;
  bool closed_ = false;
};

// A JSON array of one object per element of `items`, each written by `fill(JsonObject&, item)`.
template <typename Items, typename Fill>
std::string json_array(const Items& items, Fill&& fill) {
  std::string list = "[";
  for (const auto& item : items) {
    if (list.size() > 1) list += ',';
    JsonObject object(list);
    fill(object, item);
    object.close();
  }
  return list + ']';
}

// Formats a double the way JSON and Prometheus expect: integers without a fraction, else up to
// 6 significant decimals.
std::string number_text(double value);

}  // namespace hugo::cli

// Reading one JSON object of the queue API (peers/queue_wire.hpp) field by field: each getter
// checks its field's type and range, and finish() refuses any field no getter asked for, so a
// misspelt option is an error instead of a silent default. Used only by peers/queue_wire_in.cpp.
#pragma once

#include <hugo/error.hpp>
#include <hugo/event.hpp>
#include <hugo/time.hpp>

#include "core/rapidjson_adapter.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hugo::peers::wire_fields {

namespace rj = RAPIDJSON_NAMESPACE;
using Value = rj::Value;

// Parses `body` (at most kMaxEventJsonBytes, nesting bounded, iteratively) into `doc`, which
// must then be an object. codec.malformed for bad JSON, error.validation for a non-object.
Status parse_object(std::string_view body, rj::Document& doc);

class Fields {
 public:
  // `object` must be an object; `where` names it in errors ("the request", "leases[3]").
  Fields(const Value& object, std::string where) : object_(object), where_(std::move(where)) {}

  // Absent or null: nullopt. A value of another type: error.validation naming the field.
  Result<std::optional<std::string>> string(const char* key);
  Result<std::optional<std::int64_t>> integer(const char* key, std::int64_t min, std::int64_t max);
  Result<std::optional<bool>> boolean(const char* key);
  Result<std::optional<Timestamp>> time(const char* key);
  Result<const Value*> array(const char* key);   // nullptr when absent
  Result<const Value*> object(const char* key);  // nullptr when absent
  // The error at `key` (Hugo's error JSON shape), or nullopt when absent.
  Result<std::optional<Error>> error(const char* key);
  // "format": "bytes" (also when absent) or "json".
  Result<PayloadFormat> format();
  // The payload: "payload" (a string) or "payloadBase64"; exactly one. With "format".
  Result<std::string> payload(PayloadFormat& format);
  // error.validation for a member no getter named.
  Status finish() const;

  const std::string& where() const { return where_; }

 private:
  const Value* member(const char* key);
  Error wrong(const char* key, std::string_view expected) const;

  const Value& object_;
  std::string where_;
  std::vector<const char*> known_;  // the keys asked for: string literals, a dozen at most
};

// The string `v` as a std::string (JSON strings may hold NUL bytes).
inline std::string text_of(const Value& v) { return std::string(v.GetString(), v.GetStringLength()); }

}  // namespace hugo::peers::wire_fields

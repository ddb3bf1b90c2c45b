// Fields: checked reads of one JSON object of the queue API (see queue_wire_fields.hpp).
#include "peers/queue_wire_fields.hpp"

#include <hugo/error_codes.hpp>
#include <hugo/event_json.hpp>

#include "core/base64.hpp"
#include "core/json_util.hpp"

#include <algorithm>

#include <rapidjson/error/en.h>

namespace hugo::peers::wire_fields {

Status parse_object(std::string_view body, rj::Document& doc) {
  if (body.size() > kMaxEventJsonBytes) {
    return Error::validation("the body is " + std::to_string(body.size()) + " bytes, above the " +
                             std::to_string(kMaxEventJsonBytes) + "-byte limit")
        .with("bytes", std::to_string(body.size()));
  }
  if (nests_deeper_than(body, kMaxJsonDepth + 4)) {
    return Error::validation("the body nests arrays and objects deeper than " + std::to_string(kMaxJsonDepth + 4) +
                             " levels");
  }
  try {
    doc.Parse<rj::kParseIterativeFlag | rj::kParseValidateEncodingFlag>(body.data(), body.size());
  } catch (const cereal::Exception& e) {
    return Error::codec_malformed(std::string("malformed JSON body: ") + e.what());
  }
  if (doc.HasParseError()) {
    return Error::codec_malformed(std::string("malformed JSON body: ") + rj::GetParseError_En(doc.GetParseError()) +
                                  " at byte " + std::to_string(doc.GetErrorOffset()))
        .with("offset", std::to_string(doc.GetErrorOffset()));
  }
  if (!doc.IsObject()) return Error::validation("the body must be a JSON object ({...})");
  return ok_status();
}

const Value* Fields::member(const char* key) {
  known_.push_back(key);
  const auto it = object_.FindMember(key);
  if (it == object_.MemberEnd() || it->value.IsNull()) return nullptr;
  return &it->value;
}

Error Fields::wrong(const char* key, std::string_view expected) const {
  return Error::validation(where_ + ": \"" + key + "\" must be " + std::string(expected)).with("field", key);
}

Result<std::optional<std::string>> Fields::string(const char* key) {
  const Value* v = member(key);
  if (v == nullptr) return std::optional<std::string>();
  if (!v->IsString()) return wrong(key, "a string");
  std::string text = text_of(*v);
  if (!is_valid_utf8(text)) return wrong(key, "valid UTF-8 (a \\u escape named a lone surrogate; send bytes as base64)");
  return std::optional<std::string>(std::move(text));
}

Result<std::optional<std::int64_t>> Fields::integer(const char* key, std::int64_t min, std::int64_t max) {
  const Value* v = member(key);
  if (v == nullptr) return std::optional<std::int64_t>();
  const std::string range = "an integer from " + std::to_string(min) + " to " + std::to_string(max);
  if (!v->IsInt64()) return wrong(key, range);
  const std::int64_t n = v->GetInt64();
  if (n < min || n > max) return wrong(key, range);
  return std::optional<std::int64_t>(n);
}

Result<std::optional<bool>> Fields::boolean(const char* key) {
  const Value* v = member(key);
  if (v == nullptr) return std::optional<bool>();
  if (!v->IsBool()) return wrong(key, "true or false");
  return std::optional<bool>(v->GetBool());
}

Result<std::optional<Timestamp>> Fields::time(const char* key) {
  HUGO_ASSIGN_OR_RETURN(auto text, string(key));
  if (!text) return std::optional<Timestamp>();
  auto t = parse_iso8601(*text);
  if (!t.ok()) return wrong(key, "an ISO 8601 UTC time such as 2026-01-02T03:04:05.000006Z");
  return std::optional<Timestamp>(*t);
}

Result<const Value*> Fields::array(const char* key) {
  const Value* v = member(key);
  if (v != nullptr && !v->IsArray()) return wrong(key, "an array");
  return v;
}

Result<const Value*> Fields::object(const char* key) {
  const Value* v = member(key);
  if (v != nullptr && !v->IsObject()) return wrong(key, "an object");
  return v;
}

Result<std::optional<Error>> Fields::error(const char* key) {
  HUGO_ASSIGN_OR_RETURN(const Value* v, object(key));
  if (v == nullptr) return std::optional<Error>();
  std::string text;
  rapid::StringSink sink{&text};
  rapid::Writer<> writer(sink);
  if (!v->Accept(writer)) return wrong(key, "an error object");
  std::optional<Error> error;
  if (auto status = decode_error_json(text, error); !status.ok()) {
    return Error::validation(where_ + ": \"" + key + "\" is not an error object: " + status.error().message())
        .with("field", key);
  }
  return error;
}

Result<PayloadFormat> Fields::format() {
  HUGO_ASSIGN_OR_RETURN(auto format, string("format"));
  if (format && *format != "bytes" && *format != "json") return wrong("format", "\"bytes\" or \"json\"");
  return format && *format == "json" ? PayloadFormat::Json : PayloadFormat::Bytes;
}

Result<std::string> Fields::payload(PayloadFormat& format) {
  HUGO_ASSIGN_OR_RETURN(auto text, string("payload"));
  HUGO_ASSIGN_OR_RETURN(auto encoded, string("payloadBase64"));
  HUGO_ASSIGN_OR_RETURN(format, this->format());
  if (text.has_value() == encoded.has_value()) {
    return Error::validation(where_ + ": give the payload as exactly one of \"payload\" (text) and "
                             "\"payloadBase64\" (bytes)");
  }
  if (text) return std::move(*text);
  auto bytes = base64::decode(*encoded);
  if (!bytes) return wrong("payloadBase64", "standard base64 (RFC 4648, padded)");
  return std::move(*bytes);
}

Status Fields::finish() const {
  for (auto it = object_.MemberBegin(); it != object_.MemberEnd(); ++it) {
    const std::string_view name(it->name.GetString(), it->name.GetStringLength());
    if (std::none_of(known_.begin(), known_.end(), [name](const char* key) { return name == key; })) {
      return Error::validation(where_ + ": unknown field \"" + std::string(name) + "\" (docs/WORKERS.md lists the fields)")
          .with("field", std::string(name));
    }
  }
  return ok_status();
}

}  // namespace hugo::peers::wire_fields

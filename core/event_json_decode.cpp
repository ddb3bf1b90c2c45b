// The event JSON decoder: RapidJSON's DOM, parsed iteratively, then every field checked strictly
// (include/hugo/event_json.hpp). Before anything is parsed, a linear scan bounds the nesting
// (docs/FORMAT.md, "Limits"), so the only recursive step (Accept() writing a JSON value back out
// as text) is bounded too. No cereal exception escapes this file.
#include <hugo/error_codes.hpp>
#include <hugo/event_json.hpp>

#include "core/base64.hpp"
#include "core/json_util.hpp"
#include "core/rapidjson_adapter.hpp"
#include "core/wire_json.hpp"

#include <rapidjson/error/en.h>

#include <algorithm>
#include <optional>
#include <vector>

namespace hugo {
namespace {

namespace rj = rapid::rj;

// `field` in the message with its NUL bytes spelled \u0000; metadata `field` keeps them.
Error invalid(std::string_view field, std::string why) {
  std::string shown;
  for (char c : field) shown += c == '\0' ? std::string_view("\\u0000") : std::string_view(&c, 1);
  return Error::codec_invalid("invalid event JSON: property '" + shown + "' " + why)
      .with("field", std::string(field));
}

// A document may nest kMaxJsonDepth + this; each value inside is then held to kMaxJsonDepth. An
// event line holds its deepest value 3 levels down (event, error, metadata); one level more lets
// the check of that value, which names its field, see a value just past the limit.
constexpr int kEnvelopeDepth = 4;

Error too_deep(std::string_view field) {
  return invalid(field, "nests arrays and objects deeper than " + std::to_string(kMaxJsonDepth) +
                            " levels, the limit (docs/FORMAT.md)")
      .with("max_depth", std::to_string(kMaxJsonDepth));
}

Error nul_in_name(std::string_view field) {
  return invalid(field, "holds a NUL byte (\\u0000), which names and keys may not (docs/FORMAT.md)");
}

using Value = rj::Value;

// codec.invalid naming the first key that appears twice in `object` (prefixed by `where`, such as
// "error."). Duplicate keys are refused, never resolved one way or the other (docs/FORMAT.md).
Status unique_keys(const Value& object, std::string_view where) {
  std::vector<std::string_view> names;
  names.reserve(object.MemberCount());
  for (auto it = object.MemberBegin(); it != object.MemberEnd(); ++it) {
    names.emplace_back(it->name.GetString(), it->name.GetStringLength());
  }
  std::sort(names.begin(), names.end());
  const auto twice = std::adjacent_find(names.begin(), names.end());
  if (twice == names.end()) return ok_status();
  return invalid(std::string(where) + std::string(*twice), "appears twice in one object (duplicate keys are refused)");
}

const Value* member(const Value& object, const char* name) {
  auto it = object.FindMember(name);
  return it == object.MemberEnd() ? nullptr : &it->value;
}

Result<std::int64_t> required_int(const Value& object, const char* name, std::int64_t min,
                                  std::int64_t max) {
  const Value* v = member(object, name);
  if (!v) return invalid(name, "is missing");
  if (!v->IsInt64()) return invalid(name, "must be an integer");
  const std::int64_t n = v->GetInt64();
  if (n < min || n > max) return invalid(name, "is out of range (" + std::to_string(n) + ")");
  return n;
}

Result<std::optional<std::string>> optional_string(const Value& object, const char* name) {
  const Value* v = member(object, name);
  if (!v || v->IsNull()) return std::optional<std::string>();
  if (!v->IsString()) return invalid(name, "must be a string or null");
  return std::optional<std::string>(std::string(v->GetString(), v->GetStringLength()));
}

// A queue or peer name: a string or null, without NUL bytes.
Result<std::optional<std::string>> optional_name(const Value& object, const char* name) {
  HUGO_ASSIGN_OR_RETURN(auto text, optional_string(object, name));
  if (text && has_nul(*text)) return nul_in_name(name);
  return text;
}

Result<std::optional<Timestamp>> optional_time(const Value& object, const char* name) {
  HUGO_ASSIGN_OR_RETURN(auto text, optional_string(object, name));
  if (!text) return std::optional<Timestamp>();
  auto parsed = parse_iso8601(*text);
  if (!parsed.ok()) return invalid(name, "is not an ISO-8601 time: " + *text);
  return std::optional<Timestamp>(*parsed);
}

// The compact JSON text of `v`; nullopt if it cannot be written back as JSON (a number that
// overflowed a double while parsing, which the writer refuses to print as Infinity). Accept()
// recurses, at most as deep as parse_document let the document nest.
std::optional<std::string> to_compact_text(const Value& v) {
  std::string out;
  rapid::StringSink sink{&out};
  rapid::Writer<> writer(sink);
  if (!v.Accept(writer)) return std::nullopt;
  return out;
}

std::string string_of(const Value& v) { return std::string(v.GetString(), v.GetStringLength()); }

// How an error's metadata keys holding a NUL byte are taken: an event line refuses them; an error
// column reads them as written, so that rows appended before the rule stay readable.
enum class NulKeys { Refuse, Keep };

Status decode_error_value(const Value& v, const std::string& field, NulKeys nul_keys, std::optional<Error>& out) {
  if (!v.IsObject()) return invalid(field, "must be an object or null");
  HUGO_TRY(unique_keys(v, field + "."));
  const Value* message = member(v, "message");
  if (!message || !message->IsString()) return invalid(field, "needs a string 'message'");
  std::string code;
  if (const Value* c = member(v, "code"); c && !c->IsNull()) {
    if (!c->IsString()) return invalid(field, "has a non-string 'code'");
    code.assign(c->GetString(), c->GetStringLength());
  }
  Error error(std::move(code), std::string(message->GetString(), message->GetStringLength()));
  if (const Value* cause = member(v, "cause"); cause && !cause->IsNull()) {
    if (!cause->IsObject()) return invalid(field, "has a non-object 'cause'");
    HUGO_TRY(unique_keys(*cause, field + ".cause."));
    ErrorCause parsed;
    if (const Value* t = member(*cause, "type"); t && t->IsString()) parsed.type = string_of(*t);
    if (const Value* m = member(*cause, "message"); m && m->IsString()) parsed.message = string_of(*m);
    if (const Value* s = member(*cause, "stackTrace"); s && s->IsString()) parsed.stack_trace = string_of(*s);
    error.with_cause(std::move(parsed));
  }
  if (const Value* md = member(v, "metadata"); md && !md->IsNull()) {
    if (!md->IsObject()) return invalid(field, "has a non-object 'metadata'");
    for (auto it = md->MemberBegin(); it != md->MemberEnd(); ++it) {
      std::string key = string_of(it->name);
      const std::string key_field = field + ".metadata." + key;
      if (nul_keys == NulKeys::Refuse && has_nul(key)) return nul_in_name(key_field);
      // Keys are case-insensitive (include/hugo/error.hpp): "a" and "A" are the same key twice.
      if (error.find(key)) return invalid(key_field, "appears twice in one object (keys are case-insensitive; duplicates are refused)");
      if (it->value.IsString()) {
        error.with(std::move(key), string_of(it->value));
      } else {
        auto text = to_compact_text(it->value);
        if (!text) return invalid(key_field, "holds a number out of range");
        if (nests_deeper_than(*text, kMaxJsonDepth)) return too_deep(key_field);
        error.with(std::move(key), std::move(*text));
      }
    }
  }
  out = std::move(error);
  return ok_status();
}

// A leaseId that is a GUID but not a hugo-journal lease id (Hugo draws a random one per grant)
// comes back in `foreign_guid` (canonical form), with token.lease_id 0: only the importer can map
// it to a lease id of a journal (docs/MIGRATION.md, "Hugo lease ids").
Result<OwnershipToken> decode_token(const Value& v, std::optional<std::string>& foreign_guid) {
  if (!v.IsObject()) return invalid("ownershipToken", "must be an object or null");
  HUGO_TRY(unique_keys(v, "ownershipToken."));
  OwnershipToken token;
  auto seq = required_int(v, "sequenceId", 0, INT64_MAX);
  if (!seq.ok()) return invalid("ownershipToken.sequenceId", "must be a non-negative integer");
  token.task_id = *seq;
  auto attempt = required_int(v, "attempt", 0, INT32_MAX);
  if (!attempt.ok()) return invalid("ownershipToken.attempt", "must be a non-negative 32-bit integer");
  token.attempt = static_cast<std::int32_t>(*attempt);
  const Value* lease = member(v, "leaseId");
  if (!lease || !lease->IsString()) return invalid("ownershipToken.leaseId", "must be a GUID string");
  const std::string_view text(lease->GetString(), lease->GetStringLength());
  auto guid = canonical_guid(text);
  if (!guid.ok()) return invalid("ownershipToken.leaseId", guid.error().message());
  auto lease_id = lease_id_from_guid(text);
  if (lease_id.ok()) {
    token.lease_id = *lease_id;
  } else {
    foreign_guid = std::move(guid).value();
  }
  return token;
}

Result<Event> decode_event_value(const Value& doc) {
  if (!doc.IsObject()) return invalid("(root)", "must be a JSON object");
  HUGO_TRY(unique_keys(doc, ""));
  Event e;
  HUGO_ASSIGN_OR_RETURN(e.seq, required_int(doc, "sequenceNumber", 0, INT64_MAX));
  if (member(doc, "sourceEventId")) {
    HUGO_ASSIGN_OR_RETURN(e.source_event_id, required_int(doc, "sourceEventId", INT64_MIN, INT64_MAX));
  } else {
    e.source_event_id = e.seq;
  }
  const Value* queue = member(doc, "queueName");
  if (!queue) return invalid("queueName", "was not provided");
  if (!queue->IsString() || queue->GetStringLength() == 0) return invalid("queueName", "must be a non-empty string");
  e.queue.assign(queue->GetString(), queue->GetStringLength());
  if (has_nul(e.queue)) return nul_in_name("queueName");
  HUGO_ASSIGN_OR_RETURN(std::int64_t kind, required_int(doc, "kind", 0, kEventKindCount - 1));
  e.kind = static_cast<EventKind>(kind);
  HUGO_ASSIGN_OR_RETURN(e.source_peer_id, optional_name(doc, "sourcePeerId"));
  HUGO_ASSIGN_OR_RETURN(e.owner_peer_id, optional_name(doc, "ownerPeerId"));
  HUGO_ASSIGN_OR_RETURN(auto occurred, optional_time(doc, "occurredAt"));
  if (!occurred) return invalid("occurredAt", "is missing");
  e.occurred_at = *occurred;
  HUGO_ASSIGN_OR_RETURN(auto recorded, optional_time(doc, "recordedAt"));
  e.recorded_at = recorded.value_or(e.occurred_at);
  HUGO_ASSIGN_OR_RETURN(e.task_id, required_int(doc, "taskSequenceId", 0, INT64_MAX));
  HUGO_ASSIGN_OR_RETURN(std::int64_t attempt, required_int(doc, "attempt", 0, INT32_MAX));
  e.attempt = static_cast<std::int32_t>(attempt);
  HUGO_ASSIGN_OR_RETURN(auto value_format, optional_string(doc, "valueFormat"));
  if (value_format && *value_format != "json" && *value_format != "bytes") {
    return invalid("valueFormat", "must be \"json\" or \"bytes\"");
  }
  if (const Value* value = member(doc, "value"); value && !value->IsNull()) {
    const bool as_json = value_format ? *value_format == "json" : !value->IsString();
    if (as_json) {
      auto text = to_compact_text(*value);
      if (!text) return invalid("value", "holds a number out of a double's range");
      if (nests_deeper_than(*text, kMaxJsonDepth)) return too_deep("value");
      e.payload = std::move(*text);
      e.payload_format = PayloadFormat::Json;
    } else {
      if (!value->IsString()) return invalid("value", "must be a base64 string when valueFormat is bytes");
      auto bytes = base64::decode(std::string_view(value->GetString(), value->GetStringLength()));
      if (!bytes) return invalid("value", "is not valid base64 (byte payloads are base64 strings)");
      e.payload = std::move(*bytes);
    }
  }
  if (const Value* error = member(doc, "error"); error && !error->IsNull()) {
    HUGO_TRY(decode_error_value(*error, "error", NulKeys::Refuse, e.error));
  }
  if (const Value* token = member(doc, "ownershipToken"); token && !token->IsNull()) {
    HUGO_ASSIGN_OR_RETURN(OwnershipToken decoded, decode_token(*token, e.lease_guid));
    e.token = decoded;
  }
  HUGO_ASSIGN_OR_RETURN(e.lease_expiration, optional_time(doc, "leaseExpiration"));
  HUGO_ASSIGN_OR_RETURN(std::int64_t flag_bits, required_int(doc, "flags", 0, flags::All));
  e.flags = static_cast<std::uint32_t>(flag_bits);
  HUGO_ASSIGN_OR_RETURN(e.enqueued_at, optional_time(doc, "enqueuedAt"));
  HUGO_ASSIGN_OR_RETURN(e.available_at, optional_time(doc, "availableAt"));
  HUGO_ASSIGN_OR_RETURN(e.journal_id, optional_string(doc, "journalId"));
  if (member(doc, "originalTaskId")) {
    HUGO_ASSIGN_OR_RETURN(e.original_task_id, required_int(doc, "originalTaskId", 1, INT64_MAX));
  }
  if (member(doc, "priority")) {
    HUGO_ASSIGN_OR_RETURN(std::int64_t priority, required_int(doc, "priority", INT32_MIN, INT32_MAX));
    e.priority = static_cast<std::int32_t>(priority);
  }
  HUGO_ASSIGN_OR_RETURN(e.idempotency_key, optional_string(doc, "idempotencyKey"));
  return e;
}

// True if a string holds a UTF-16 surrogate. The input is validated as UTF-8, but RapidJSON turns
// a lone low-surrogate escape ("\udc00") into the three bytes ED B0 80, which are not UTF-8 and
// would be written back out as such.
bool has_surrogate(const char* s, std::size_t n) {
  for (std::size_t i = 0; i + 1 < n; ++i) {
    if (static_cast<unsigned char>(s[i]) == 0xED && static_cast<unsigned char>(s[i + 1]) >= 0xA0) return true;
  }
  return false;
}

// Finds a string or member name with a surrogate anywhere in `root` (an explicit stack, so that
// deep nesting stays off the call stack).
bool any_surrogate(const Value& root) {
  std::vector<const Value*> todo{&root};
  while (!todo.empty()) {
    const Value* v = todo.back();
    todo.pop_back();
    if (v->IsString() && has_surrogate(v->GetString(), v->GetStringLength())) return true;
    if (v->IsArray()) {
      for (const Value& item : v->GetArray()) todo.push_back(&item);
    } else if (v->IsObject()) {
      for (auto it = v->MemberBegin(); it != v->MemberEnd(); ++it) {
        if (has_surrogate(it->name.GetString(), it->name.GetStringLength())) return true;
        todo.push_back(&it->value);
      }
    }
  }
  return false;
}

// Parses `json` into `doc`. The depth scan refuses a document deeper than any valid one before
// it is parsed, and iterative parsing keeps the parser itself off the call stack.
Status parse_document(std::string_view json, rj::Document& doc) {
  if (json.size() > kMaxEventJsonBytes) {
    return Error::codec_invalid("event JSON is " + std::to_string(json.size()) + " bytes, above the " +
                     std::to_string(kMaxEventJsonBytes) + "-byte limit")
        .with("bytes", std::to_string(json.size()));
  }
  if (nests_deeper_than(json, kMaxJsonDepth + kEnvelopeDepth)) {
    return Error::codec_invalid("invalid JSON: arrays and objects nest deeper than " + std::to_string(kMaxJsonDepth + kEnvelopeDepth) +
                     " levels (a value inside may nest at most " + std::to_string(kMaxJsonDepth) + ": docs/FORMAT.md)")
        .with("field", "(root)")
        .with("max_depth", std::to_string(kMaxJsonDepth));
  }
  doc.Parse<rj::kParseIterativeFlag | rj::kParseValidateEncodingFlag>(json.data(), json.size());
  if (doc.HasParseError()) {
    return Error::codec_malformed(std::string("malformed JSON: ") + rj::GetParseError_En(doc.GetParseError()) +
                     " at byte " + std::to_string(doc.GetErrorOffset()))
        .with("offset", std::to_string(doc.GetErrorOffset()));
  }
  if (any_surrogate(doc)) {
    return Error::codec_malformed("malformed JSON: a \\u escape names a lone UTF-16 surrogate");
  }
  return ok_status();
}

template <class Fn>
auto guarded(Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const cereal::Exception& e) {
    return Error::codec_invalid(std::string("invalid event JSON: ") + e.what());
  } catch (const std::bad_alloc&) {
    return Error::codec_invalid("invalid event JSON: out of memory while decoding");
  }
}

}  // namespace

Result<Event> decode_event_json(std::string_view json) {
  return guarded([&]() -> Result<Event> {
    rj::Document doc;
    HUGO_TRY(parse_document(json, doc));
    return decode_event_value(doc);
  });
}

Status decode_error_json(std::string_view json, std::optional<Error>& out) {
  return guarded([&]() -> Status {
    rj::Document doc;
    HUGO_TRY(parse_document(json, doc));
    return decode_error_value(doc, "error", NulKeys::Keep, out);
  });
}

Result<std::vector<Event>> decode_ndjson(std::string_view text) {
  std::vector<Event> events;
  std::size_t line_number = 0;
  while (!text.empty()) {
    ++line_number;
    const std::size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
    auto event = decode_event_json(line);
    if (!event.ok()) {
      Error error = std::move(event).error();
      return std::move(error).with("line", std::to_string(line_number));
    }
    events.push_back(std::move(event).value());
  }
  return events;
}

namespace wire {

Result<Heartbeat> decode_heartbeat_json(std::string_view json) {
  return guarded([&]() -> Result<Heartbeat> {
    rj::Document doc;
    HUGO_TRY(parse_document(json, doc));
    if (!doc.IsObject()) return invalid("type", "a stream line must be a JSON object");
    HUGO_TRY(unique_keys(doc, ""));
    HUGO_ASSIGN_OR_RETURN(auto type, optional_string(doc, "type"));
    if (type != "heartbeat") return invalid("type", "must be \"heartbeat\" on a control line");
    Heartbeat h;
    HUGO_ASSIGN_OR_RETURN(h.last_seq, required_int(doc, "lastSeq", 0, INT64_MAX));
    HUGO_ASSIGN_OR_RETURN(h.seq, required_int(doc, "seq", 0, INT64_MAX));
    HUGO_ASSIGN_OR_RETURN(auto hash, optional_string(doc, "hash"));
    if (!hash || hash->size() != 16) return invalid("hash", "must be 16 hex digits");
    h.hash = std::move(*hash);
    return h;
  });
}

}  // namespace wire
}  // namespace hugo

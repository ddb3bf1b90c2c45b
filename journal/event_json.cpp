// The event JSON codec. It is the cereal adapter: it includes cereal's JSON archive header, which
// configures the RapidJSON that cereal wraps (assertions throw cereal::RapidJSONException), and
// drives RapidJSON's writer and DOM directly. cereal's archives always pretty-print and nest
// under "value0", so they cannot produce Hugo's single-line layout; the low-level API can, and
// it also lets the decoder check every field strictly. No cereal exception escapes this file.
#include <hugo/error_codes.hpp>
#include <hugo/event_json.hpp>

#include "journal/base64.hpp"
#include "journal/json_out.hpp"
#include "journal/json_util.hpp"
#include "journal/wire_json.hpp"

#include <cereal/archives/json.hpp>
#include <rapidjson/error/en.h>

#include <cstring>
#include <optional>

namespace hugo {
namespace {

namespace rj = RAPIDJSON_NAMESPACE;

// RapidJSON output stream that appends to a std::string.
struct StringSink {
  using Ch = char;
  std::string* out;
  void Put(char c) { out->push_back(c); }
  void Flush() {}
};

// Explicit kWriteNoFlags (here and in compact_json): cereal's archive header makes NaN/Infinity
// writable by default, and a number that overflowed while parsing must not come back out as the
// non-JSON token Infinity.
using Writer = rj::Writer<StringSink, rj::UTF8<>, rj::UTF8<>, rj::CrtAllocator, rj::kWriteNoFlags>;

void write_error(json::JsonOut& w, const Error& error) {
  w.raw("{\"message\":").string(error.message());
  if (!error.code().empty()) w.raw(",\"code\":").string(error.code());
  if (error.cause()) {
    w.raw(",\"cause\":{\"type\":").string(error.cause()->type);
    w.raw(",\"message\":").string(error.cause()->message);
    if (error.cause()->stack_trace) w.raw(",\"stackTrace\":").string(*error.cause()->stack_trace);
    w.raw("}");
  }
  if (!error.metadata().empty()) {
    w.raw(",\"metadata\":{");
    bool first = true;
    for (const auto& [key, value] : error.metadata()) {
      if (!first) w.raw(",");
      first = false;
      w.string(key).raw(":").string(value);
    }
    w.raw("}");
  }
  w.raw("}");
}

void write_optional_string(json::JsonOut& w, const std::optional<std::string>& s) {
  if (s) w.string(*s);
  else w.null();
}

// Re-emits `json` compactly into `out`; false (and `out` unchanged) if it is not one JSON value.
// Writes straight into `out`, so a valid payload costs no buffer of its own, and cuts it back on
// failure, also when a RapidJSON assertion throws cereal::RapidJSONException through it (callers
// catch that: it only happens when an allocation fails).
bool compact_json(std::string_view json, std::string& out) {
  struct CutBackUnlessKept {
    std::string& out;
    std::size_t mark;
    bool keep = false;
    ~CutBackUnlessKept() {
      if (!keep) out.resize(mark);
    }
  } written{out, out.size()};
  // The reader's and the writer's internal stacks live in a buffer on this stack, which spares two
  // heap allocations per payload; a deeply nested payload spills over into heap chunks.
  alignas(8) char arena[2048];
  rj::MemoryPoolAllocator<> allocator(arena, sizeof(arena));
  StringSink sink{&out};
  rj::Writer<StringSink, rj::UTF8<>, rj::UTF8<>, rj::MemoryPoolAllocator<>, rj::kWriteNoFlags> writer(sink, &allocator);
  rj::GenericReader<rj::UTF8<>, rj::UTF8<>, rj::MemoryPoolAllocator<>> reader(&allocator);
  rj::MemoryStream raw(json.data(), json.size());
  rj::EncodedInputStream<rj::UTF8<>, rj::MemoryStream> stream(raw);
  const auto result = reader.Parse<rj::kParseIterativeFlag | rj::kParseStopWhenDoneFlag |
                                   rj::kParseValidateEncodingFlag>(stream, writer);
  if (result.IsError()) return false;
  // Only whitespace may follow the value.
  for (std::size_t i = stream.Tell(); i < json.size(); ++i) {
    if (json[i] != ' ' && json[i] != '\n' && json[i] != '\r' && json[i] != '\t') return false;
  }
  written.keep = true;
  return true;
}

// Writes the payload as `value`; sets json_value when it is a JSON string (see valueFormat).
void write_value(json::JsonOut& w, std::string& out, const Event& event, bool& json_value) {
  json_value = false;
  if (!event.payload) {
    w.null();
    return;
  }
  if (event.payload_format == PayloadFormat::Json) {
    const std::size_t mark = out.size();
    bool compacted = false;
    try {
      compacted = compact_json(*event.payload, out);
    } catch (const cereal::Exception&) {  // out is already cut back; write the bytes instead
    }
    if (compacted) {
      // Only a JSON string is ambiguous with base64 bytes; say so explicitly for those.
      json_value = out[mark] == '"';
      return;
    }
    // Not valid JSON after all (a damaged row): fall through and keep the bytes as base64.
  }
  out.push_back('"');
  base64::encode(*event.payload, out);
  out.push_back('"');
}

// ---- decoding -------------------------------------------------------------------------------

Error invalid(std::string_view field, std::string why) {
  return Error(std::string(errc::codec_invalid),
               "invalid event JSON: property '" + std::string(field) + "' " + why)
      .with("field", std::string(field));
}

using Value = rj::Value;

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

Result<std::optional<Timestamp>> optional_time(const Value& object, const char* name) {
  HUGO_ASSIGN_OR_RETURN(auto text, optional_string(object, name));
  if (!text) return std::optional<Timestamp>();
  auto parsed = parse_iso8601(*text);
  if (!parsed.ok()) return invalid(name, "is not an ISO-8601 time: " + *text);
  return std::optional<Timestamp>(*parsed);
}

// The compact JSON text of `v`; nullopt if it cannot be written back as JSON (a number that
// overflowed a double while parsing, which the writer refuses to print as Infinity).
std::optional<std::string> to_compact_text(const Value& v) {
  std::string out;
  StringSink sink{&out};
  Writer writer(sink);
  if (!v.Accept(writer)) return std::nullopt;
  return out;
}

Status decode_error_value(const Value& v, const char* field, std::optional<Error>& out) {
  if (!v.IsObject()) return invalid(field, "must be an object or null");
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
    ErrorCause parsed;
    if (const Value* t = member(*cause, "type"); t && t->IsString()) parsed.type = t->GetString();
    if (const Value* m = member(*cause, "message"); m && m->IsString()) parsed.message = m->GetString();
    if (const Value* s = member(*cause, "stackTrace"); s && s->IsString()) parsed.stack_trace = s->GetString();
    error.with_cause(std::move(parsed));
  }
  if (const Value* md = member(v, "metadata"); md && !md->IsNull()) {
    if (!md->IsObject()) return invalid(field, "has a non-object 'metadata'");
    for (auto it = md->MemberBegin(); it != md->MemberEnd(); ++it) {
      std::string key(it->name.GetString(), it->name.GetStringLength());
      if (it->value.IsString()) {
        error.with(std::move(key), std::string(it->value.GetString(), it->value.GetStringLength()));
      } else {
        auto text = to_compact_text(it->value);
        if (!text) return invalid(field, "has metadata '" + key + "' holding a number out of range");
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
  if (lease_id.ok()) token.lease_id = *lease_id;
  else foreign_guid = std::move(guid).value();
  return token;
}

Result<Event> decode_event_value(const Value& doc) {
  if (!doc.IsObject()) return invalid("(root)", "must be a JSON object");
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
  HUGO_ASSIGN_OR_RETURN(std::int64_t kind, required_int(doc, "kind", 0, kEventKindCount - 1));
  e.kind = static_cast<EventKind>(kind);
  HUGO_ASSIGN_OR_RETURN(e.source_peer_id, optional_string(doc, "sourcePeerId"));
  HUGO_ASSIGN_OR_RETURN(e.owner_peer_id, optional_string(doc, "ownerPeerId"));
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
    HUGO_TRY(decode_error_value(*error, "error", e.error));
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

// Parses `json` into `doc`. Iterative parsing keeps hostile nesting off the call stack.
Status parse_document(std::string_view json, rj::Document& doc) {
  if (json.size() > kMaxEventJsonBytes) {
    return Error(std::string(errc::codec_invalid),
                 "event JSON is " + std::to_string(json.size()) + " bytes, above the " +
                     std::to_string(kMaxEventJsonBytes) + "-byte limit")
        .with("bytes", std::to_string(json.size()));
  }
  doc.Parse<rj::kParseIterativeFlag | rj::kParseValidateEncodingFlag>(json.data(), json.size());
  if (doc.HasParseError()) {
    return Error(std::string(errc::codec_malformed),
                 std::string("malformed JSON: ") + rj::GetParseError_En(doc.GetParseError()) +
                     " at byte " + std::to_string(doc.GetErrorOffset()))
        .with("offset", std::to_string(doc.GetErrorOffset()));
  }
  if (any_surrogate(doc)) {
    return Error(std::string(errc::codec_malformed), "malformed JSON: a \\u escape names a lone UTF-16 surrogate");
  }
  return ok_status();
}

template <class Fn>
auto guarded(Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const cereal::Exception& e) {
    return Error(std::string(errc::codec_invalid), std::string("invalid event JSON: ") + e.what());
  } catch (const std::bad_alloc&) {
    return Error(std::string(errc::codec_invalid), "invalid event JSON: out of memory while decoding");
  }
}

}  // namespace

bool is_valid_json(std::string_view json) {
  std::string ignored;
  try {
    return compact_json(json, ignored);
  } catch (const cereal::Exception&) {
    return false;
  }
}

void encode_event_json(const Event& event, std::string& out) {
  json::JsonOut w(out);
  w.raw("{\"sequenceNumber\":").integer(event.seq);
  w.raw(",\"sourceEventId\":").integer(event.source_event_id);
  w.raw(",\"queueName\":").string(event.queue);
  w.raw(",\"kind\":").integer(static_cast<int>(event.kind));
  w.raw(",\"sourcePeerId\":");
  write_optional_string(w, event.source_peer_id);
  w.raw(",\"ownerPeerId\":");
  write_optional_string(w, event.owner_peer_id);
  w.raw(",\"occurredAt\":").time(event.occurred_at);
  w.raw(",\"recordedAt\":").time(event.recorded_at);
  w.raw(",\"taskSequenceId\":").integer(event.task_id);
  w.raw(",\"attempt\":").integer(event.attempt);
  w.raw(",\"value\":");
  bool json_value = false;
  write_value(w, out, event, json_value);
  w.raw(",\"error\":");
  if (event.error) write_error(w, *event.error);
  else w.null();
  w.raw(",\"ownershipToken\":");
  if (event.token) {
    w.raw("{\"sequenceId\":").integer(event.token->task_id);
    w.raw(",\"attempt\":").integer(event.token->attempt);
    if (event.lease_guid) w.raw(",\"leaseId\":").string(*event.lease_guid).raw("}");
    else w.raw(",\"leaseId\":").lease_guid(event.token->lease_id).raw("}");
  } else {
    w.null();
  }
  w.raw(",\"leaseExpiration\":");
  if (event.lease_expiration) w.time(*event.lease_expiration);
  else w.null();
  w.raw(",\"flags\":").integer(event.flags);
  if (json_value) w.raw(",\"valueFormat\":\"json\"");
  if (event.enqueued_at) w.raw(",\"enqueuedAt\":").time(*event.enqueued_at);
  if (event.available_at) w.raw(",\"availableAt\":").time(*event.available_at);
  if (event.original_task_id) w.raw(",\"originalTaskId\":").integer(*event.original_task_id);
  if (event.journal_id) w.raw(",\"journalId\":").string(*event.journal_id);
  w.raw("}");
}

std::string encode_event_json(const Event& event) {
  std::string out;
  out.reserve(384);
  encode_event_json(event, out);
  return out;
}

Result<Event> decode_event_json(std::string_view json) {
  return guarded([&]() -> Result<Event> {
    rj::Document doc;
    HUGO_TRY(parse_document(json, doc));
    return decode_event_value(doc);
  });
}

void encode_error_json(const Error& error, std::string& out) {
  json::JsonOut w(out);
  write_error(w, error);
}

Status decode_error_json(std::string_view json, std::optional<Error>& out) {
  return guarded([&]() -> Status {
    rj::Document doc;
    HUGO_TRY(parse_document(json, doc));
    return decode_error_value(doc, "error", out);
  });
}

std::string encode_ndjson(const std::vector<Event>& events) {
  std::string out;
  for (const Event& e : events) {
    encode_event_json(e, out);
    out += '\n';
  }
  return out;
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

void encode_heartbeat_json(const Heartbeat& heartbeat, std::string& out) {
  json::JsonOut w(out);
  w.raw("{\"type\":\"heartbeat\",\"lastSeq\":").integer(heartbeat.last_seq);
  w.raw(",\"seq\":").integer(heartbeat.seq);
  w.raw(",\"hash\":").string(heartbeat.hash);
  w.raw("}");
}

Result<Heartbeat> decode_heartbeat_json(std::string_view json) {
  return guarded([&]() -> Result<Heartbeat> {
    rj::Document doc;
    HUGO_TRY(parse_document(json, doc));
    if (!doc.IsObject()) return invalid("type", "a stream line must be a JSON object");
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

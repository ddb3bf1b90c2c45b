// The event JSON encoder. It drives RapidJSON's reader and writer directly (through
// core/rapidjson_adapter.hpp) for JSON payloads and writes the rest with JsonOut: cereal's
// archives always pretty-print and nest under "value0", so they cannot produce Hugo's single-line
// layout. The decoder is core/event_json_decode.cpp. No cereal exception escapes this file.
#include <hugo/event_json.hpp>

#include "core/base64.hpp"
#include "core/json_out.hpp"
#include "core/json_util.hpp"
#include "core/rapidjson_adapter.hpp"
#include "core/wire_json.hpp"

#include <optional>

namespace hugo {
namespace {

namespace rj = rapid::rj;

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
  rapid::StringSink sink{&out};
  rapid::Writer<rj::MemoryPoolAllocator<>> writer(sink, &allocator);
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
  if (event.priority != 0) w.raw(",\"priority\":").integer(event.priority);
  if (event.idempotency_key) w.raw(",\"idempotencyKey\":").string(*event.idempotency_key);
  if (event.journal_id) w.raw(",\"journalId\":").string(*event.journal_id);
  w.raw("}");
}

std::string encode_event_json(const Event& event) {
  std::string out;
  out.reserve(384);
  encode_event_json(event, out);
  return out;
}

void encode_error_json(const Error& error, std::string& out) {
  json::JsonOut w(out);
  write_error(w, error);
}

bool is_valid_utf8(std::string_view text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  std::size_t i = 0;
  while (i < n) {
    const unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    // The lead byte fixes the length and the range of the second byte (RFC 3629, table 3-7).
    std::size_t length = 0;
    unsigned char low = 0x80, high = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) length = 2;
    else if (c == 0xE0) length = 3, low = 0xA0;
    else if (c == 0xED) length = 3, high = 0x9F;  // U+D800..U+DFFF are surrogates
    else if (c >= 0xE1 && c <= 0xEF) length = 3;
    else if (c == 0xF0) length = 4, low = 0x90;
    else if (c == 0xF4) length = 4, high = 0x8F;  // nothing above U+10FFFF
    else if (c >= 0xF1 && c <= 0xF3) length = 4;
    else return false;  // a continuation byte, an overlong C0/C1 or F5..FF
    if (n - i < length || p[i + 1] < low || p[i + 1] > high) return false;
    for (std::size_t k = 2; k < length; ++k) {
      if (p[i + k] < 0x80 || p[i + k] > 0xBF) return false;
    }
    i += length;
  }
  return true;
}

std::string error_json_problem(const Error& error) {
  // Every string the encoder writes, with the longest its escaped form can be: 6 bytes per byte
  // (\u00XX) plus quotes and separators; the keys and braces fit in the fixed part.
  constexpr std::size_t kFixed = 128;
  std::size_t bound = kFixed;
  std::string_view invalid;
  const auto take = [&](std::string_view text, std::string_view what) {
    bound += 6 * text.size() + 4;
    if (invalid.empty() && !is_valid_utf8(text)) invalid = what;
  };
  take(error.message(), "message");
  take(error.code(), "code");
  if (const auto& cause = error.cause()) {
    take(cause->type, "cause type");
    take(cause->message, "cause message");
    if (cause->stack_trace) take(*cause->stack_trace, "cause stack trace");
  }
  for (const auto& [key, value] : error.metadata()) {
    take(key, "metadata key");
    take(value, "metadata value");
  }
  if (!invalid.empty()) return std::string(invalid) + " is not valid UTF-8";
  if (bound <= kMaxEventJsonBytes) return {};
  std::string json;  // large: only the encoded form tells its exact size
  encode_error_json(error, json);
  if (json.size() <= kMaxEventJsonBytes) return {};
  return "JSON would be " + std::to_string(json.size()) + " bytes, above the " + std::to_string(kMaxEventJsonBytes) +
         "-byte limit";
}

std::string encode_ndjson(const std::vector<Event>& events) {
  std::string out;
  for (const Event& e : events) {
    encode_event_json(e, out);
    out += '\n';
  }
  return out;
}

namespace wire {

void encode_heartbeat_json(const Heartbeat& heartbeat, std::string& out) {
  json::JsonOut w(out);
  w.raw("{\"type\":\"heartbeat\",\"lastSeq\":").integer(heartbeat.last_seq);
  w.raw(",\"seq\":").integer(heartbeat.seq);
  w.raw(",\"hash\":").string(heartbeat.hash);
  w.raw("}");
}

}  // namespace wire
}  // namespace hugo

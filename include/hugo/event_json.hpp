// JSON codec for events, in Hugo's TaskQueueReplicationEvent layout (docs/FORMAT.md, "JSON"):
//
//   {"sequenceNumber":7,"sourceEventId":7,"queueName":"q","kind":3,"sourcePeerId":null,
//    "ownerPeerId":null,"occurredAt":"2024-01-01T00:00:00+00:00","recordedAt":"...",
//    "taskSequenceId":1,"attempt":2,"value":"aGk=","error":null,"ownershipToken":null,
//    "leaseExpiration":null,"flags":0}
//
// All 15 properties always appear, in that order, nulls explicit; kind and flags are integers.
// Extension properties follow, in this order, each omitted when empty: "valueFormat":"json" (the
// value is a JSON string that is the payload itself, not base64 bytes), "enqueuedAt" (Restored),
// "availableAt" (Requeued with a delay) and "journalId" (the source journal). A .NET Hugo reader
// skips them. The decoder is strict: every property name is case-sensitive, the 15 Hugo
// properties except sourcePeerId/ownerPeerId/value/error/ownershipToken/leaseExpiration are
// required, types are checked, duplicate keys and NUL bytes in names are refused, and bad input
// yields codec.malformed or codec.invalid, never a crash (docs/FORMAT.md, "Limits").
#pragma once

#include <hugo/error.hpp>
#include <hugo/event.hpp>
#include <hugo/export.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hugo {

// Appends one event as a single-line JSON object (no trailing newline) to `out`.
HUGO_API void encode_event_json(const Event& event, std::string& out);
HUGO_API std::string encode_event_json(const Event& event);

HUGO_API Result<Event> decode_event_json(std::string_view json);

// Hugo's Error JSON shape: {"message":..,"code":..,"cause":{..},"metadata":{..}}; empty parts
// are omitted. Metadata values that are not strings in the input keep their JSON text.
HUGO_API void encode_error_json(const Error& error, std::string& out);
HUGO_API Status decode_error_json(std::string_view json, std::optional<Error>& out);

// NDJSON: one event per line, '\n' terminated. Decoding reports the 1-based line of the first
// bad line in the error's "line" metadata; blank lines are skipped.
HUGO_API std::string encode_ndjson(const std::vector<Event>& events);
HUGO_API Result<std::vector<Event>> decode_ndjson(std::string_view text);

// The limits every path applies (docs/FORMAT.md, "Limits"). Appends refuse what exceeds them
// with error.validation; the decoders with codec.invalid naming the limit.
//
// Longest line the decoders accept (bytes). Longer input is codec.invalid, not a memory blow-up.
inline constexpr std::size_t kMaxEventJsonBytes = 16u << 20;
// Largest payload an event may carry (bytes): enqueue, restore, Journal::append, import and a
// follower all refuse a larger one, so that every stored event fits one line (base64 grows a
// payload by a third).
inline constexpr std::size_t kMaxPayloadBytes = 8u << 20;
static_assert(kMaxPayloadBytes / 3 * 4 + 8 + (1u << 20) < kMaxEventJsonBytes, "an event must fit a line");
// Deepest nesting of arrays and objects in a JSON payload (PayloadFormat::Json, an event's
// "value") and in a JSON error metadata value: a scalar nests 0 deep, [1] 1, {"a":[1]} 2. No
// path recurses in proportion to its input, and a decoder refuses a document nested deeper than
// this plus its own fixed structure before it builds anything.
inline constexpr int kMaxJsonDepth = 64;

}  // namespace hugo

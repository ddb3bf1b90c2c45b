// The decoders' limits (docs/FORMAT.md, "Limits"): nesting depth, duplicate keys and NUL bytes in
// names, refused with codec.invalid naming the field, never a crash.
#include <doctest/doctest.h>

#include <hugo/error_codes.hpp>
#include <hugo/event_json.hpp>

#include "core/json_util.hpp"
#include "core/wire_json.hpp"
#include "peers/stream.hpp"
#include "tests/support/events.hpp"

#include <optional>
#include <string>
#include <vector>

namespace core_limits_test {

using namespace hugo;

namespace {

constexpr int kHostileDepth = 100'000;

std::string nested(int depth, const std::string& inner = "7") {
  return std::string(static_cast<std::size_t>(depth), '[') + inner + std::string(static_cast<std::size_t>(depth), ']');
}

// `depth` levels of objects: {"k":{"k":...7...}}.
std::string nested_objects(int depth) {
  std::string out;
  for (int i = 0; i < depth; ++i) out += "{\"k\":";
  out += "7";
  out += std::string(static_cast<std::size_t>(depth), '}');
  return out;
}

Event enqueued_json(std::string payload) {
  Event e = test::enqueued("orders", std::move(payload));
  e.seq = 1;
  e.source_event_id = 1;
  e.task_id = 1;
  e.recorded_at = e.occurred_at;
  e.payload_format = PayloadFormat::Json;
  return e;
}

// A valid event line whose `value` is `value` verbatim, and one whose error carries `metadata`.
std::string line_with_value(const std::string& value) {
  std::string line = encode_event_json(enqueued_json("0"));
  const auto at = line.find("\"value\":0") + 8;
  return line.replace(at, 1, value);
}

std::string line_with_error_metadata(const std::string& metadata) {
  Event e = enqueued_json("0");
  e.kind = EventKind::Failed;
  e.payload.reset();
  e.error = Error("app.x", "boom");
  std::string line = encode_event_json(e);
  const std::string plain = R"({"message":"boom","code":"app.x"})";
  return line.replace(line.find(plain), plain.size(), R"({"message":"boom","code":"app.x","metadata":)" + metadata + "}");
}

void check_invalid(const Status& status, const std::string& field) {
  REQUIRE_FALSE(status.ok());
  CHECK(status.error().code() == errc::codec_invalid);
  REQUIRE(status.error().find("field") != nullptr);
  CHECK(*status.error().find("field") == field);
}

void check_too_deep(const Status& status, const std::string& field) {
  check_invalid(status, field);
  if (status.ok()) return;
  REQUIRE(status.error().find("max_depth") != nullptr);
  CHECK(*status.error().find("max_depth") == std::to_string(kMaxJsonDepth));
  CHECK(status.error().message().find(std::to_string(kMaxJsonDepth)) != std::string::npos);
}

Status status_of(const Result<Event>& r) { return r.ok() ? ok_status() : Status(r.error()); }

}  // namespace

TEST_SUITE("codec.limits") {

TEST_CASE("a value nested 100,000 deep is codec.invalid naming the limit in every decoder, never a crash") {
  for (const std::string& deep : {nested(kHostileDepth), nested_objects(kHostileDepth)}) {
    const std::string line = line_with_value(deep);
    check_too_deep(status_of(decode_event_json(line)), "(root)");
    auto ndjson = decode_ndjson(encode_event_json(enqueued_json("1")) + "\n" + line + "\n");
    REQUIRE_FALSE(ndjson.ok());
    check_too_deep(Status(ndjson.error()), "(root)");
    CHECK(*ndjson.error().find("line") == "2");
    // The follower's stream parser (HttpFollower): its fast path gives up, the strict decoder refuses.
    CHECK_FALSE(peers::decode_canonical_event_line(line).has_value());
    auto streamed = peers::parse_stream_line(line);
    REQUIRE_FALSE(streamed.ok());
    CHECK(streamed.error().code() == errc::replication_stream_malformed);
    CHECK(streamed.error().message().find(std::to_string(kMaxJsonDepth)) != std::string::npos);
  }
  // Error JSON (an error column, an event's error) and a heartbeat control line.
  std::optional<Error> error;
  check_too_deep(decode_error_json(R"({"message":"m","metadata":{"k":)" + nested(kHostileDepth) + "}}", error), "(root)");
  check_too_deep(status_of(decode_event_json(line_with_error_metadata(R"({"k":)" + nested(kHostileDepth) + "}"))), "(root)");
  auto heartbeat = wire::decode_heartbeat_json(R"({"type":"heartbeat","x":)" + nested(kHostileDepth) + "}");
  REQUIRE_FALSE(heartbeat.ok());
  CHECK(heartbeat.error().code() == errc::codec_invalid);
}

TEST_CASE("a value may nest exactly kMaxJsonDepth deep, in the value and in error metadata") {
  for (const std::string& at_limit : {nested(kMaxJsonDepth), nested_objects(kMaxJsonDepth)}) {
    CAPTURE(at_limit);
    auto decoded = decode_event_json(line_with_value(at_limit));
    REQUIRE_MESSAGE(decoded.ok(), (decoded.ok() ? "" : decoded.error().to_string()));
    CHECK(*decoded->payload == at_limit);
    CHECK(decode_event_json(encode_event_json(*decoded)).ok());  // export output imports again
    auto in_metadata = decode_event_json(line_with_error_metadata(R"({"k":)" + at_limit + "}"));
    REQUIRE(in_metadata.ok());
    CHECK(*in_metadata->error->find("k") == at_limit);
  }
  for (const std::string& over : {nested(kMaxJsonDepth + 1), nested_objects(kMaxJsonDepth + 1)}) {
    check_too_deep(status_of(decode_event_json(line_with_value(over))), "value");
    check_too_deep(status_of(decode_event_json(line_with_error_metadata(R"({"k":)" + over + "}"))),
                   "error.metadata.k");
    std::optional<Error> error;
    check_too_deep(decode_error_json(R"({"message":"m","metadata":{"k":)" + over + "}}", error), "error.metadata.k");
  }
  // Brackets inside strings are text, not nesting.
  const std::string brackets = "[\"" + std::string(1000, '[') + "\\\"" + std::string(1000, '{') + "\"]";
  auto text = decode_event_json(line_with_value(brackets));
  REQUIRE(text.ok());
  CHECK(*text->payload == brackets);
}

TEST_CASE("a duplicate key in the event, its error or its token is codec.invalid naming the key") {
  const std::string good = encode_event_json(enqueued_json("0"));
  auto with = [&](const std::string& extra) { return good.substr(0, good.size() - 1) + "," + extra + "}"; };
  check_invalid(status_of(decode_event_json(with(R"("queueName":"other")"))), "queueName");
  check_invalid(status_of(decode_event_json(with(R"("kind":3)"))), "kind");
  check_invalid(status_of(decode_event_json(with(R"("value":1)"))), "value");
  check_invalid(status_of(decode_event_json(line_with_error_metadata(R"({"a":"1","b":"2","a":"3"})"))),
                "error.metadata.a");
  // Metadata keys are case-insensitive: "Stage" and "stage" are one key twice.
  check_invalid(status_of(decode_event_json(line_with_error_metadata(R"({"stage":"1","Stage":"2"})"))),
                "error.metadata.Stage");
  std::optional<Error> error;
  check_invalid(decode_error_json(R"({"message":"a","message":"b"})", error), "error.message");
  check_invalid(decode_error_json(R"({"message":"a","cause":{"type":"T","type":"U"}})", error), "error.cause.type");
  Event leased = enqueued_json("0");
  leased.kind = EventKind::Completed;
  leased.payload.reset();
  leased.token = OwnershipToken{1, 1, 1};
  std::string token_line = encode_event_json(leased);
  token_line.replace(token_line.find("\"sequenceId\":1,"), 15, "\"sequenceId\":1,\"sequenceId\":1,");
  check_invalid(status_of(decode_event_json(token_line)), "ownershipToken.sequenceId");
  auto heartbeat = wire::decode_heartbeat_json(R"({"type":"heartbeat","lastSeq":1,"lastSeq":2,"seq":0,"hash":"0000000000000000"})");
  REQUIRE_FALSE(heartbeat.ok());
  CHECK(*heartbeat.error().find("field") == "lastSeq");
  // A payload is the user's own JSON: it is kept as written, duplicate keys included.
  auto payload = decode_event_json(line_with_value(R"({"a":1,"a":2})"));
  REQUIRE(payload.ok());
  CHECK(*payload->payload == R"({"a":1,"a":2})");
}

TEST_CASE("a NUL byte in a queue or peer name or an error metadata key is codec.invalid") {
  const std::string good = encode_event_json(enqueued_json("0"));
  auto replaced = [&](const std::string& from, const std::string& to) {
    std::string s = good;
    return s.replace(s.find(from), from.size(), to);
  };
  check_invalid(status_of(decode_event_json(replaced(R"("queueName":"orders")", R"("queueName":"ord\u0000ers")"))),
                "queueName");
  check_invalid(status_of(decode_event_json(replaced(R"("ownerPeerId":null)", R"("ownerPeerId":"w\u0000")"))),
                "ownerPeerId");
  check_invalid(status_of(decode_event_json(replaced(R"("sourcePeerId":null)", R"("sourcePeerId":"\u0000")"))),
                "sourcePeerId");
  check_invalid(status_of(decode_event_json(line_with_error_metadata(R"({"st\u0000age":"1"})"))),
                std::string("error.metadata.st\0age", 21));
  CHECK(decode_event_json(line_with_error_metadata(R"({"st\u0000age":"1"})")).error().message().find("st\\u0000age") !=
        std::string::npos);
  // NUL inside values (messages, metadata values, payloads) is data and survives.
  auto value = decode_event_json(line_with_error_metadata(R"({"stage":"a\u0000b"})"));
  REQUIRE(value.ok());
  CHECK(*value->error->find("stage") == std::string("a\0b", 3));
  // An error column reads a NUL key as written: rows appended before the rule stay readable.
  std::optional<Error> error;
  REQUIRE(decode_error_json(R"({"message":"m","metadata":{"k\u0000":"v"}})", error).ok());
  CHECK(error->find(std::string("k\0", 2)) != nullptr);
}

}  // TEST_SUITE

// validate_for_append checks an error with error_json_problem instead of encoding and decoding it;
// the two must agree on every error, byte for byte at the edges of UTF-8 and at the size limit.
TEST_SUITE("core.error_json_problem") {

namespace {

bool reads_back(const Error& error) {
  std::string json;
  encode_error_json(error, json);
  std::optional<Error> decoded;
  return decode_error_json(json, decoded).ok();
}

void check_agrees(const Error& error) {
  const std::string why = error_json_problem(error);
  CHECK_MESSAGE(why.empty() == reads_back(error), why);
}

}  // namespace

TEST_CASE("agrees with a decode of the encoded error on every short byte string, in every field") {
  // Every 1- and 2-byte string, and 3- and 4-byte strings whose bytes after the lead sit at the
  // edges of the ranges UTF-8 allows.
  const unsigned char edges[] = {0x00, 0x22, 0x41, 0x5C, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xFF};
  std::vector<std::string> samples;
  for (int a = 0; a < 256; ++a) {
    samples.push_back(std::string(1, static_cast<char>(a)));
    for (int b = 0; b < 256; ++b) samples.push_back({static_cast<char>(a), static_cast<char>(b)});
  }
  for (int lead = 0xC0; lead < 0x100; ++lead) {
    for (unsigned char b : edges) {
      for (unsigned char c : edges) {
        samples.push_back({static_cast<char>(lead), static_cast<char>(b), static_cast<char>(c)});
        for (unsigned char d : edges) {
          samples.push_back({static_cast<char>(lead), static_cast<char>(b), static_cast<char>(c), static_cast<char>(d)});
        }
      }
    }
  }
  std::size_t refused = 0;
  for (const std::string& s : samples) {
    CAPTURE(s.size());
    const bool ok = is_valid_utf8(s);
    refused += ok ? 0 : 1;
    REQUIRE(ok == reads_back(Error("code", s)));
  }
  CHECK(refused > samples.size() / 2);  // the samples do reach the refused forms
  // Each field the encoder writes is checked (a sample per field, valid and not).
  for (const std::string& bad : {std::string("\xc3"), std::string("\xed\xa0\x80")}) {
    check_agrees(Error(bad, "m"));
    check_agrees(Error("c", bad));
    check_agrees(Error("c", "m").with_cause(ErrorCause{bad, "m", std::nullopt}));
    check_agrees(Error("c", "m").with_cause(ErrorCause{"t", bad, std::nullopt}));
    check_agrees(Error("c", "m").with_cause(ErrorCause{"t", "m", bad}));
    check_agrees(Error("c", "m").with(bad, "v"));
    check_agrees(Error("c", "m").with("k", bad));
    CHECK_FALSE(error_json_problem(Error("c", "m").with("k", bad)).empty());
  }
  check_agrees(Error("c", "m\xc3\xa9").with_cause(ErrorCause{"t", "\xf0\x9f\x98\x80", std::string("s\n")}).with("k\xe2\x82\xac", "v"));
  CHECK(error_json_problem(Error("c", "m\xc3\xa9")).empty());
}

TEST_CASE("agrees with a decode of the encoded error at the event size limit") {
  // Error("", m) encodes as {"message":"<m>"}: 14 bytes around the message.
  const std::size_t fits = kMaxEventJsonBytes - 14;
  for (std::size_t size : {fits - 1, fits, fits + 1}) {
    CAPTURE(size);
    check_agrees(Error("", std::string(size, 'a')));
  }
  CHECK(error_json_problem(Error("", std::string(fits, 'a'))).empty());
  CHECK(error_json_problem(Error("", std::string(fits + 1, 'a'))).find("above the") != std::string::npos);
  // Escapes count: a control byte takes 6 bytes once encoded.
  const std::size_t escaped = fits / 6;
  check_agrees(Error("", std::string(escaped, '\x01')));
  check_agrees(Error("", std::string(escaped + 1, '\x01')));
}

}  // TEST_SUITE

}  // namespace core_limits_test

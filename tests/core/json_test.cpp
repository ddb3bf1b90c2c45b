// The event JSON codec: Hugo's layout byte for byte, lossless round trips, strict decoding.
#include <doctest/doctest.h>

#include <hugo/error_codes.hpp>
#include <hugo/event_json.hpp>

#include "core/base64.hpp"
#include "tests/support/events.hpp"

#include <fstream>
#include <sstream>

namespace core_json_test {

using namespace hugo;

namespace {

std::string golden_path(const std::string& name) {
  const char* dir = std::getenv("HUGO_GOLDEN_DIR");
  REQUIRE_MESSAGE(dir != nullptr, "HUGO_GOLDEN_DIR is not set; run through meson test");
  return std::string(dir) + "/" + name;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// One event of every kind, with every optional field exercised somewhere. PERSISTED expectations:
// the golden file pins the encoding of each; changing it must be a deliberate format change.
std::vector<Event> every_kind() {
  std::vector<Event> out;
  const Timestamp base = test::t0();
  for (int k = 0; k < kEventKindCount; ++k) {
    Event e;
    e.seq = 100 + k;
    e.source_event_id = e.seq;
    e.queue = "orders";
    e.kind = static_cast<EventKind>(k);
    e.task_id = 100;
    e.attempt = 1 + k % 3;
    e.occurred_at = base + std::chrono::microseconds(1'500'000 * k);
    e.recorded_at = e.occurred_at;
    e.journal_id = "0123456789abcdef0123456789abcdef";
    switch (e.kind) {
      case EventKind::Enqueued:
        e.payload = std::string("\x01\x02\x03 bytes", 9);
        e.idempotency_key = "order-100";
        break;
      case EventKind::Restored:
        e.payload = R"({"sku":"A-1","qty":2})";
        e.payload_format = PayloadFormat::Json;
        e.token = OwnershipToken{100, e.attempt - 1, 104};
        break;
      case EventKind::LeaseGranted:
      case EventKind::Heartbeat:
        e.owner_peer_id = "worker-7";
        e.token = OwnershipToken{100, e.attempt, 101};
        e.lease_expiration = e.occurred_at + std::chrono::seconds(30);
        break;
      case EventKind::Failed:
      case EventKind::Requeued:
        e.token = OwnershipToken{100, e.attempt, 101};
        e.error = Error("app.failed", "payment \"declined\"").with("Attempt", "2").with("stage", "charge");
        break;
      case EventKind::LeaseExpired:
        e.flags = flags::FromExpiration;
        e.token = OwnershipToken{100, e.attempt, 101};
        e.error = Error("error.taskqueue.lease_expired", "Lease expired without heartbeat.");
        break;
      case EventKind::DeadLettered:
        e.flags = flags::DeadLetter;
        e.source_peer_id = "node-a";
        e.error = Error("", "no code").with_cause(ErrorCause{"System.Exception", "boom", "at X"});
        break;
      case EventKind::Drained:
        e.flags = flags::FromDrain;
        e.payload = R"("a json string")";
        e.payload_format = PayloadFormat::Json;
        break;
      case EventKind::Canceled:  // a leased task's: the row fences its lease, and carries the reason
        e.token = OwnershipToken{100, e.attempt, 101};
        e.error = Error("error.canceled", "the order was withdrawn");
        break;
      default:
        e.token = OwnershipToken{100, e.attempt, 101};
        break;
    }
    out.push_back(e);
  }
  return out;
}

}  // namespace

TEST_SUITE("codec.json") {

TEST_CASE("Hugo's documented example encodes byte for byte") {
  Event e;
  e.seq = 7;
  e.source_event_id = 5;
  e.queue = "q";
  e.kind = EventKind::Completed;
  e.source_peer_id = "a";
  e.occurred_at = test::t0();
  e.recorded_at = test::t0();
  e.task_id = 11;
  e.attempt = 2;
  e.payload = "42";
  e.payload_format = PayloadFormat::Json;
  const std::string hugo =
      R"({"sequenceNumber":7,"sourceEventId":5,"queueName":"q","kind":3,"sourcePeerId":"a",)"
      R"("ownerPeerId":null,"occurredAt":"2024-01-01T00:00:00+00:00","recordedAt":"2024-01-01T00:00:00+00:00",)"
      R"("taskSequenceId":11,"attempt":2,"value":42,"error":null,"ownershipToken":null,"leaseExpiration":null,"flags":0})";
  CHECK(encode_event_json(e) == hugo);
  auto decoded = decode_event_json(hugo);
  REQUIRE(decoded.ok());
  CHECK(*decoded == e);
}

TEST_CASE("a JSON payload is written compactly, and a damaged one as base64 with nothing half-written") {
  Event e;
  e.seq = 7;
  e.queue = "q";
  e.occurred_at = test::t0();
  e.recorded_at = test::t0();
  e.payload_format = PayloadFormat::Json;
  auto value_of = [&](const std::string& payload) {
    e.payload = payload;
    const std::string line = encode_event_json(e);
    const auto start = line.find(",\"value\":") + 9;
    return line.substr(start, line.find(",\"error\":") - start);
  };
  CHECK(value_of(R"( { "a" : [1, 2,  {"b": "c d"}] } )") == R"({"a":[1,2,{"b":"c d"}]})");
  // Nested deeper than the encoder's stack buffer holds: the same output, through heap chunks.
  const std::string deep = std::string(300, '[') + "7" + std::string(300, ']');
  CHECK(value_of(" " + deep) == deep);
  // Damaged rows (the flag says JSON, the bytes are not): base64 of the bytes, the encoder's
  // partial output of the valid prefix cut back. "eyJhIjpbMSwy" is base64 of {"a":[1,2.
  CHECK(value_of(R"({"a":[1,2)") == "\"eyJhIjpbMSwy\"");
  CHECK(value_of(R"({"a":1} x)") == "\"eyJhIjoxfSB4\"");
  const std::string damaged_deep = value_of(deep + "]");
  REQUIRE(damaged_deep.size() > 2);
  CHECK(base64::decode(std::string_view(damaged_deep).substr(1, damaged_deep.size() - 2)) == deep + "]");
}

TEST_CASE("every kind matches the golden NDJSON file") {
  if (std::getenv("HUGO_UPDATE_GOLDEN")) {  // deliberate format changes only; review the diff
    std::ofstream(golden_path("events.ndjson"), std::ios::binary) << encode_ndjson(every_kind());
  }
  const std::string expected = read_file(golden_path("events.ndjson"));
  CHECK(encode_ndjson(every_kind()) == expected);
}

TEST_CASE("every kind round-trips through JSON, and the golden file decodes to the same events") {
  for (const Event& e : every_kind()) {
    CAPTURE(to_string(e.kind));
    auto back = decode_event_json(encode_event_json(e));
    REQUIRE_MESSAGE(back.ok(), (back.ok() ? "" : back.error().to_string()));
    CHECK(*back == e);
  }
  auto golden = decode_ndjson(read_file(golden_path("events.ndjson")));
  REQUIRE(golden.ok());
  CHECK(*golden == every_kind());
}

TEST_CASE("kind numbers are persisted and never renumbered") {
  CHECK(static_cast<int>(EventKind::Enqueued) == 0);
  CHECK(static_cast<int>(EventKind::LeaseGranted) == 1);
  CHECK(static_cast<int>(EventKind::Heartbeat) == 2);
  CHECK(static_cast<int>(EventKind::Completed) == 3);
  CHECK(static_cast<int>(EventKind::Failed) == 4);
  CHECK(static_cast<int>(EventKind::Requeued) == 5);
  CHECK(static_cast<int>(EventKind::DeadLettered) == 6);
  CHECK(static_cast<int>(EventKind::LeaseExpired) == 7);
  CHECK(static_cast<int>(EventKind::Drained) == 8);
  CHECK(static_cast<int>(EventKind::Restored) == 9);
  CHECK(static_cast<int>(EventKind::Canceled) == 10);
  CHECK(kEventKindCount == 11);
  CHECK(flags::FromDrain == 1);
  CHECK(flags::FromExpiration == 2);
  CHECK(flags::DeadLetter == 4);
}

TEST_CASE("lease ids are written as reversible GUIDs and tokens keep Hugo's ToString layout") {
  CHECK(lease_id_to_guid(42) == "00000000-0000-0000-0000-00000000002a");
  CHECK(lease_id_to_guid(INT64_MAX) == "00000000-0000-0000-7fff-ffffffffffff");
  CHECK(lease_id_from_guid("00000000-0000-0000-0000-00000000002A").value_or(-1) == 42);
  CHECK(lease_id_from_guid("0000000000000000000000000000002a").value_or(-1) == 42);
  CHECK(lease_id_from_guid("3f2504e0-4f89-11d3-9a0c-0305e82c3301").error().code() == errc::validation);
  CHECK(lease_id_from_guid("not-a-guid").error().code() == errc::validation);
  CHECK(OwnershipToken{11, 2, 42}.to_string() == "11:2:0000000000000000000000000000002a");
}

TEST_CASE("malformed JSON gives codec.malformed with the offset") {
  for (const char* text : {"", "{", "{\"sequenceNumber\":1,", "[1,2", "nul", "{\"a\":1}}", "\xff\xfe"}) {
    CAPTURE(text);
    auto r = decode_event_json(text);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code() == errc::codec_malformed);
    CHECK(r.error().find("offset") != nullptr);
  }
}

TEST_CASE("well-formed JSON that is not a valid event gives codec.invalid naming the field") {
  const std::string good = encode_event_json(every_kind()[1]);
  auto replace = [&](const std::string& from, const std::string& to) {
    std::string s = good;
    const auto at = s.find(from);
    REQUIRE(at != std::string::npos);
    s.replace(at, from.size(), to);
    return s;
  };
  struct Case {
    std::string json;
    std::string field;
  };
  const std::vector<Case> cases = {
      {"[]", "(root)"},
      {"42", "(root)"},
      {replace(R"("queueName":"orders")", R"("QueueName":"orders")"), "queueName"},  // case-sensitive
      {replace(R"("queueName":"orders")", R"("queueName":"")"), "queueName"},
      {replace(R"("kind":1)", R"("kind":11)"), "kind"},
      {replace(R"("kind":1)", R"("kind":"1")"), "kind"},
      {replace(R"("sequenceNumber":101)", R"("sequenceNumber":-1)"), "sequenceNumber"},
      {replace(R"("sequenceNumber":101)", R"("sequenceNumber":1e400)"), "sequenceNumber"},
      {replace(R"("attempt":2)", R"("attempt":4294967296)"), "attempt"},
      {replace(R"("flags":0)", R"("flags":8)"), "flags"},
      {replace(R"("occurredAt":"2024-01-01T00:00:01.5+00:00")", R"("occurredAt":"yesterday")"), "occurredAt"},
      {replace(R"("leaseId":"00000000-0000-0000-0000-000000000065")", R"("leaseId":7)"), "ownershipToken.leaseId"},
      {replace(R"("ownershipToken":{"sequenceId":100,)", R"("ownershipToken":{)"), "ownershipToken.sequenceId"},
      // A JSON payload whose number overflows a double cannot be written back as JSON (found by fuzzing).
      {replace(R"("value":null)", R"("value":132.456789012245617e+308)"), "value"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.json);
    auto r = decode_event_json(c.json);
    REQUIRE_FALSE(r.ok());
    if (r.error().code() == errc::codec_malformed) continue;  // 1e400 may be rejected by the parser
    CHECK(r.error().code() == errc::codec_invalid);
    REQUIRE(r.error().find("field") != nullptr);
    CHECK(*r.error().find("field") == c.field);
  }
}

TEST_CASE("hostile JSON is refused without crashing") {
  // Deep nesting: parsed iteratively, so it cannot blow the stack.
  std::string deep = "{\"sequenceNumber\":1,\"value\":" + std::string(200000, '[') + std::string(200000, ']') + "}";
  auto r1 = decode_event_json(deep);
  CHECK_FALSE(r1.ok());
  // Oversize input is refused before parsing.
  std::string huge(kMaxEventJsonBytes + 1, ' ');
  auto r2 = decode_event_json(huge);
  REQUIRE_FALSE(r2.ok());
  CHECK(r2.error().code() == errc::codec_invalid);
  // Bad base64 in a byte payload, invalid UTF-8 inside a string.
  std::string good = encode_event_json(every_kind()[0]);
  std::string bad_b64 = good;
  bad_b64.replace(bad_b64.find("\"value\":\"") + 9, 4, "!!!!");
  CHECK(decode_event_json(bad_b64).error().code() == errc::codec_invalid);
  std::string bad_utf8 = good;
  bad_utf8.replace(bad_utf8.find("orders"), 6, "\xc3\x28rder");
  CHECK_FALSE(decode_event_json(bad_utf8).ok());
}

TEST_CASE("NDJSON decoding names the bad line and skips blank lines") {
  const auto events = every_kind();
  std::string text = encode_ndjson({events[0], events[1]});
  text += "\n\r\n";
  text += "{broken\n";
  auto r = decode_ndjson(text);
  REQUIRE_FALSE(r.ok());
  CHECK(*r.error().find("line") == "5");
  auto ok = decode_ndjson(encode_ndjson(events));
  REQUIRE(ok.ok());
  CHECK(ok->size() == events.size());
}

TEST_CASE("error JSON uses Hugo's shape with empty parts omitted and case-insensitive metadata") {
  std::string out;
  encode_error_json(Error("", "plain"), out);
  CHECK(out == R"({"message":"plain"})");
  std::optional<Error> decoded;
  REQUIRE(decode_error_json(R"({"message":"m","code":"c","metadata":{"Attempt":2,"ok":true,"who":"x"}})", decoded).ok());
  REQUIRE(decoded.has_value());
  CHECK(decoded->code() == "c");
  CHECK(*decoded->find("attempt") == "2");
  CHECK(*decoded->find("OK") == "true");
  CHECK(*decoded->find("who") == "x");
  CHECK_FALSE(decode_error_json(R"({"code":"c"})", decoded).ok());
}

}  // TEST_SUITE

}  // namespace core_json_test

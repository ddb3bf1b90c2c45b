// Hugo's data can move in: a Hugo stream, whose tokens carry random GUID lease ids, imports, maps
// every GUID to a lease id of the journal, and gets its GUIDs back on export (docs/MIGRATION.md,
// "Hugo lease ids").
#include <doctest/doctest.h>

#include <hugo/error_codes.hpp>
#include <hugo/event_json.hpp>
#include <hugo/journal.hpp>
#include <hugo/maintenance.hpp>

#include "tests/support/queue_fixture.hpp"

#include <string>
#include <vector>

using namespace hugo;
using test::must;
using K = EventKind;

namespace {

constexpr const char* kGuid1 = "3f2504e0-4f89-41d3-9a0c-0305e82c3301";
constexpr const char* kGuid2 = "9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d";
constexpr const char* kGuid3 = "c56a4180-65aa-42ec-a945-5fd21dec0538";

std::string hugo_line(int seq, int kind, int task, int attempt, const char* guid, int token_attempt,
                      const char* extra = "\"value\":null,\"error\":null") {
  std::string token = guid ? "{\"sequenceId\":" + std::to_string(task) + ",\"attempt\":" + std::to_string(token_attempt) +
                                 ",\"leaseId\":\"" + guid + "\"}"
                           : "null";
  return "{\"sequenceNumber\":" + std::to_string(seq) + ",\"sourceEventId\":" + std::to_string(seq) +
         ",\"queueName\":\"orders\",\"kind\":" + std::to_string(kind) +
         ",\"sourcePeerId\":\"node-a\",\"ownerPeerId\":null,\"occurredAt\":\"2024-01-01T00:00:0" + std::to_string(seq) +
         "+00:00\",\"recordedAt\":\"2024-01-01T00:00:0" + std::to_string(seq) + "+00:00\",\"taskSequenceId\":" +
         std::to_string(task) + ",\"attempt\":" + std::to_string(attempt) + "," + extra +
         ",\"ownershipToken\":" + token + ",\"leaseExpiration\":" +
         (kind == 1 ? "\"2024-01-01T00:00:30+00:00\"" : "null") + ",\"flags\":" + (kind == 8 ? "1" : "0") + "}";
}

// A Hugo stream: task 1 leased (GUID 1), failed, requeued, leased again (GUID 2) and completed;
// task 7 drained with a last token whose grant the stream does not hold (GUID 3).
std::vector<std::string> hugo_stream() {
  const char* failed = "\"value\":null,\"error\":{\"message\":\"declined\",\"code\":\"app.declined\"}";
  return {
      hugo_line(1, 0, 1, 1, nullptr, 0, "\"value\":\"aGk=\",\"error\":null"),
      hugo_line(2, 1, 1, 1, kGuid1, 1),
      hugo_line(3, 4, 1, 1, kGuid1, 1, failed),
      hugo_line(4, 5, 1, 2, kGuid1, 1, failed),
      hugo_line(5, 1, 1, 2, kGuid2, 2),
      hugo_line(6, 3, 1, 2, kGuid2, 2),
      hugo_line(7, 0, 7, 1, nullptr, 0, "\"value\":\"eW8=\",\"error\":null"),
      hugo_line(8, 8, 7, 1, kGuid3, 1),
  };
}

std::filesystem::path import_lines(const test::TempDir& dir, const std::vector<std::string>& lines) {
  const auto path = dir / "hugo.journal";
  auto importer = must(JournalImporter::create(path));
  for (const std::string& line : lines) must(importer->add(must(decode_event_json(line))));
  must(importer->finish());
  return path;
}

// What `hugo-journal export` writes for every event of `path`.
std::vector<Event> exported(const std::filesystem::path& path) {
  auto reader = must(JournalReader::open(path));
  std::vector<Event> out;
  for (Event e : must(reader->read(0, 1000))) {
    if (e.token) e.lease_guid = must(reader->lease_guid(e.token->lease_id));
    out.push_back(must(decode_event_json(encode_event_json(e))));
  }
  return out;
}

}  // namespace

TEST_CASE("a token with a Hugo GUID lease id decodes, keeping the GUID") {
  const Event e = must(decode_event_json(hugo_line(2, 1, 1, 1, kGuid1, 1)));
  REQUIRE(e.token.has_value());
  CHECK(e.token->lease_id == 0);
  CHECK(e.lease_guid == std::optional<std::string>(kGuid1));
  // Upper case and the 32-digit form are the same GUID.
  const Event upper = must(decode_event_json(hugo_line(2, 1, 1, 1, "3F2504E04F8941D39A0C0305E82C3301", 1)));
  CHECK(upper.lease_guid == std::optional<std::string>(kGuid1));
  // hugo-journal's own lease ids still decode to their number.
  const Event native = must(decode_event_json(hugo_line(2, 1, 1, 1, "00000000-0000-0000-0000-000000000002", 1)));
  CHECK(native.token->lease_id == 2);
  CHECK_FALSE(native.lease_guid.has_value());
  // Not a GUID at all is still refused.
  CHECK(decode_event_json(hugo_line(2, 1, 1, 1, "lease-7", 1)).error().code() == errc::codec_invalid);
}

TEST_CASE("a Hugo stream imports, maps each GUID to a lease id, and exports with the same GUIDs") {
  test::TempDir dir;
  const auto lines = hugo_stream();
  const auto path = import_lines(dir, lines);

  auto reader = must(JournalReader::open(path));
  const auto events = must(reader->read(0, 100));
  REQUIRE(events.size() == lines.size());
  // A GUID maps to the seq of its LeaseGranted row, or of the first row naming it.
  const std::vector<std::int64_t> leases{0, 2, 2, 2, 5, 5, 0, 8};
  for (std::size_t i = 0; i < events.size(); ++i) {
    CAPTURE(i);
    CHECK(events[i].token.has_value() == (leases[i] != 0));
    if (events[i].token) CHECK(events[i].token->lease_id == leases[i]);
    CHECK_FALSE(events[i].lease_guid.has_value());
  }
  CHECK(must(reader->lease_guid(2)) == std::optional<std::string>(kGuid1));
  CHECK(must(reader->lease_guid(5)) == std::optional<std::string>(kGuid2));
  CHECK(must(reader->lease_guid(8)) == std::optional<std::string>(kGuid3));
  CHECK_FALSE(must(reader->lease_guid(1)).has_value());
  CHECK(must(verify_journal(path)).ok());
  CHECK(must(project_journal(path)).at("orders").pending.empty());

  // Export gives every token its GUID back, and the export imports again to the same journal.
  const auto out = exported(path);
  for (std::size_t i = 0; i < out.size(); ++i) {
    CAPTURE(i);
    const Event original = must(decode_event_json(lines[i]));
    CHECK(out[i].lease_guid == original.lease_guid);
    CHECK(out[i].kind == original.kind);
    CHECK(out[i].payload == original.payload);
  }
  test::TempDir again;
  std::vector<std::string> exported_lines;
  for (const Event& e : out) exported_lines.push_back(encode_event_json(e));
  const auto copy = import_lines(again, exported_lines);
  const auto round_trip = exported(copy);
  REQUIRE(round_trip.size() == out.size());
  for (std::size_t i = 0; i < out.size(); ++i) CHECK(round_trip[i].lease_guid == out[i].lease_guid);
}

TEST_CASE("a GUID granted twice is refused, and a foreign GUID cannot be appended raw") {
  test::TempDir dir;
  auto importer = must(JournalImporter::create(dir / "twice.journal"));
  must(importer->add(must(decode_event_json(hugo_line(1, 0, 1, 1, nullptr, 0, "\"value\":\"aGk=\",\"error\":null")))));
  must(importer->add(must(decode_event_json(hugo_line(2, 1, 1, 1, kGuid1, 1)))));
  const auto refused = importer->add(must(decode_event_json(hugo_line(3, 1, 1, 1, kGuid1, 1))));
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code() == errc::validation);
  REQUIRE(refused.error().find("lease_guid") != nullptr);
  CHECK(*refused.error().find("lease_guid") == kGuid1);

  test::QueueFixture f;
  must(f.journal->append(must(decode_event_json(hugo_line(1, 0, 1, 1, nullptr, 0, "\"value\":\"aGk=\",\"error\":null")))));
  CHECK(f.journal->append(must(decode_event_json(hugo_line(2, 1, 1, 1, kGuid1, 1)))).error().code() == errc::validation);
}

// Hugo's data can move in: a Hugo stream, whose tokens carry random GUID lease ids and whose task
// ids are Hugo's own, imports, maps every GUID to a lease id and every task id to a task id of the
// journal, and gets both back on export (docs/MIGRATION.md, "Hugo lease ids", "Hugo task ids").
#include <doctest/doctest.h>

#include <hugo/error_codes.hpp>
#include <hugo/event_json.hpp>
#include <hugo/journal.hpp>
#include <hugo/journal_admin.hpp>
#include <hugo/task_queue.hpp>
#include <hugo/verify.hpp>

#include "tests/support/queue_fixture.hpp"

#include <string>
#include <vector>

namespace journal_hugo_import_test {

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
    if (auto hugo_id = must(reader->task_sequence_id(e.task_id))) {
      if (e.token) e.token->task_id = *hugo_id;
      e.task_id = *hugo_id;
    }
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

namespace {

// One line of a Hugo stream as a Hugo node with no SourcePeerId writes it: sequenceNumber = seq,
// one event per second, the payload on the Enqueued event only.
struct HugoEvent {
  int seq;
  int kind;
  int task;     // Hugo's taskSequenceId
  int attempt;
  const char* value = nullptr;        // base64, Enqueued only
  const char* error = nullptr;        // error JSON
  const char* guid = nullptr;         // the token's lease GUID
  int token_attempt = 0;
  int expires_in = 0;                 // leaseExpiration, seconds after occurredAt
  int flags = 0;
};

std::string at(int second) {
  const std::string s = std::to_string(second);
  return "\"2024-01-01T00:00:" + (second < 10 ? "0" + s : s) + "+00:00\"";
}

std::string line_of(const HugoEvent& e) {
  const auto quoted = [](const char* text) { return text ? "\"" + std::string(text) + "\"" : std::string("null"); };
  const std::string token = e.guid ? "{\"sequenceId\":" + std::to_string(e.task) + ",\"attempt\":" +
                                         std::to_string(e.token_attempt) + ",\"leaseId\":\"" + e.guid + "\"}"
                                   : "null";
  return "{\"sequenceNumber\":" + std::to_string(e.seq) + ",\"sourceEventId\":" + std::to_string(e.seq) +
         ",\"queueName\":\"orders\",\"kind\":" + std::to_string(e.kind) +
         ",\"sourcePeerId\":null,\"ownerPeerId\":\"node-a\",\"occurredAt\":" + at(e.seq) + ",\"recordedAt\":" + at(e.seq) +
         ",\"taskSequenceId\":" + std::to_string(e.task) + ",\"attempt\":" + std::to_string(e.attempt) +
         ",\"value\":" + quoted(e.value) + ",\"error\":" + (e.error ? e.error : "null") + ",\"ownershipToken\":" + token +
         ",\"leaseExpiration\":" + (e.expires_in ? at(e.seq + e.expires_in) : "null") +
         ",\"flags\":" + std::to_string(e.flags) + "}";
}

constexpr const char* kGuid4 = "e4eaaaf2-d142-11e1-b3e4-080027620cdd";
constexpr const char* kTimeout = "{\"message\":\"timed out\",\"code\":\"app.timeout\"}";
constexpr const char* kPoison = "{\"message\":\"poison message\",\"code\":\"app.poison\"}";

// A Hugo queue whose counter stood at 1000: tasks 1001..1004 interleave. 1001 is leased, kept
// alive, fails, is requeued, leased again and completes; 1002 fails for good (dead letter); 1003
// is leased at the end; 1004 is pending.
std::vector<std::string> realistic_stream() {
  const std::vector<HugoEvent> events{
      {1, 0, 1001, 1, "aGk="},
      {2, 0, 1002, 1, "eW8="},
      {3, 1, 1001, 1, nullptr, nullptr, kGuid1, 1, 30},
      {4, 0, 1003, 1, "c2Vl"},
      {5, 2, 1001, 1, nullptr, nullptr, kGuid1, 1, 30},
      {6, 1, 1002, 1, nullptr, nullptr, kGuid2, 1, 30},
      {7, 4, 1001, 1, nullptr, kTimeout, kGuid1, 1},
      {8, 5, 1001, 2, nullptr, kTimeout, kGuid1, 1},
      {9, 4, 1002, 1, nullptr, kPoison, kGuid2, 1},
      {10, 6, 1002, 1, nullptr, kPoison, kGuid2, 1, 0, 4},
      {11, 1, 1001, 2, nullptr, nullptr, kGuid3, 2, 30},
      {12, 3, 1001, 2, nullptr, nullptr, kGuid3, 2},
      {13, 0, 1004, 1, "bW9yZQ=="},
      {14, 1, 1003, 1, nullptr, nullptr, kGuid4, 1, 30},
  };
  std::vector<std::string> lines;
  for (const HugoEvent& e : events) lines.push_back(line_of(e));
  return lines;
}

// `hugo-journal export`'s lines: the input's, plus the journalId extension the import gave it.
std::vector<std::string> exported_lines(const std::filesystem::path& path) {
  std::vector<std::string> lines;
  for (const Event& e : exported(path)) lines.push_back(encode_event_json(e));
  return lines;
}

std::string with_journal_id(std::string line, const std::string& journal_id) {
  line.insert(line.size() - 1, ",\"journalId\":\"" + journal_id + "\"");
  return line;
}

}  // namespace

TEST_CASE("a real Hugo stream imports with its task ids mapped, opens as a queue, and exports byte for byte") {
  test::TempDir dir;
  const auto lines = realistic_stream();
  const auto path = import_lines(dir, lines);

  // Each Hugo task is the task of its Enqueued row; every later row and token follows it.
  auto reader = must(JournalReader::open(path));
  const auto events = must(reader->read(0, 100));
  REQUIRE(events.size() == lines.size());
  const std::vector<std::int64_t> tasks{1, 2, 1, 4, 1, 2, 1, 1, 2, 2, 1, 1, 13, 4};
  for (std::size_t i = 0; i < events.size(); ++i) {
    CAPTURE(i);
    CHECK(events[i].task_id == tasks[i]);
    if (events[i].token) CHECK(events[i].token->task_id == tasks[i]);
  }
  CHECK(must(reader->task_sequence_id(1)) == std::optional<std::int64_t>(1001));
  CHECK(must(reader->task_sequence_id(2)) == std::optional<std::int64_t>(1002));
  CHECK(must(reader->task_sequence_id(4)) == std::optional<std::int64_t>(1003));
  CHECK(must(reader->task_sequence_id(13)) == std::optional<std::int64_t>(1004));
  CHECK_FALSE(must(reader->task_sequence_id(3)).has_value());
  CHECK(must(verify_journal(path)).ok());

  // The queue opens on it: 1004 pending, 1003 leased, 1002 dead-lettered.
  auto clock = std::make_shared<ManualClock>(must(parse_iso8601("2024-01-01T00:00:20+00:00")));
  JournalOptions journal_options;
  journal_options.clock = clock;
  std::shared_ptr<Journal> journal(must(Journal::open(path, journal_options)).release());
  TaskQueueOptions options;
  options.name = "orders";
  options.clock = clock;
  options.run_sweeper = false;
  {
    auto queue = must(TaskQueue::open(journal, options));
    const QueueSnapshot state = queue->snapshot();
    REQUIRE(state.pending.size() == 1);
    CHECK(state.pending[0].task_id == 13);
    REQUIRE(state.leased.size() == 1);
    CHECK(state.leased[0].token == OwnershipToken{4, 1, 14});
    REQUIRE(state.dead.size() == 1);
    CHECK(state.dead[0].task_id == 2);
    CHECK(state.dead[0].payload == "yo");
    CHECK(state.dead[0].error.code() == "app.poison");
    const Lease next = must(queue->lease("node-b"));
    CHECK(next.token.task_id == 13);
    CHECK(next.payload == "more");
  }
  journal.reset();

  // Export gives back Hugo's lines, task ids and GUIDs included, with the journal id added at the
  // end; the new lease's row (seq 15) names task 1004 too, under the journal's own lease id.
  const auto out = exported_lines(path);
  REQUIRE(out.size() == lines.size() + 1);
  const std::string journal_id = reader->journal_id();
  for (std::size_t i = 0; i < lines.size(); ++i) CHECK(out[i] == with_journal_id(lines[i], journal_id));
  CHECK(out.back().find(R"("taskSequenceId":1004,)") != std::string::npos);
  CHECK(out.back().find(R"("sequenceId":1004,"attempt":1,"leaseId":"00000000-0000-0000-0000-00000000000f")") !=
        std::string::npos);
}

TEST_CASE("an event naming a Hugo task id the stream never enqueued is refused, or skipped") {
  const std::string enqueue = line_of({1, 0, 1001, 1, "aGk="});
  const std::string grant = line_of({2, 1, 1001, 1, nullptr, nullptr, kGuid1, 1, 30});
  // 1005 was never enqueued; 1 is the journal's id of task 1001, not a Hugo id of this stream.
  for (const int unknown : {1005, 1}) {
    CAPTURE(unknown);
    const std::string stray = line_of({3, 3, unknown, 1, nullptr, nullptr, kGuid1, 1});
    test::TempDir dir;
    auto importer = must(JournalImporter::create(dir / "refused.journal"));
    must(importer->add(must(decode_event_json(enqueue))));
    must(importer->add(must(decode_event_json(grant))));
    const auto refused = importer->add(must(decode_event_json(stray)));
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code() == errc::codec_invalid);
    CHECK(*refused.error().find("seq") == "3");
    CHECK(*refused.error().find("rule") ==
          "Hugo task id " + std::to_string(unknown) + " of queue 'orders' was never enqueued in the imported stream");
    // An id at or below the seq that names no task is the queue fold's to refuse.
    const auto no_task = importer->add(must(decode_event_json(line_of({3, 3, 2, 1, nullptr, nullptr, kGuid1, 1}))));
    REQUIRE_FALSE(no_task.ok());
    CHECK(no_task.error().code() == errc::codec_invalid);
    CHECK(*no_task.error().find("rule") == "lease 2 of task 2 is not active");

    auto skipping = must(JournalImporter::create(dir / "skipped.journal", ImportOptions{true}));
    for (const auto& line : {enqueue, grant, stray}) must(skipping->add(must(decode_event_json(line))));
    CHECK(must(skipping->finish()) == 2);
    REQUIRE(skipping->skipped().size() == 1);
    CHECK(skipping->skipped()[0].seq == 3);
    CHECK(skipping->skipped()[0].task_id == unknown);
  }
}

TEST_CASE("a Hugo task id enqueued twice in one queue is refused; other queues have their own ids") {
  test::TempDir dir;
  auto importer = must(JournalImporter::create(dir / "twice.journal"));
  must(importer->add(must(decode_event_json(line_of({1, 0, 1001, 1, "aGk="})))));
  std::string other_queue = line_of({2, 0, 1001, 1, "eW8="});
  other_queue.replace(other_queue.find("\"orders\""), 8, "\"refunds\"");
  must(importer->add(must(decode_event_json(other_queue))));
  const auto refused = importer->add(must(decode_event_json(line_of({3, 0, 1001, 1, "c2Vl"}))));
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code() == errc::codec_invalid);
  CHECK(refused.error().find("rule")->find("was enqueued before, as task 1") != std::string::npos);
  must(importer->finish());
  auto reader = must(JournalReader::open(dir / "twice.journal"));
  CHECK(must(reader->task_sequence_id(1)) == std::optional<std::int64_t>(1001));
  CHECK(must(reader->task_sequence_id(2)) == std::optional<std::int64_t>(1001));
}

}  // namespace journal_hugo_import_test

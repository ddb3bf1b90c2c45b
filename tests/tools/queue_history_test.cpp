// The CLI and queue histories: `import` refuses events that do not form a valid history (or
// leaves them out with --skip-invalid and says so), and `info` and `tasks` show what they can of
// a journal whose queue holds such rows, with the problem beside it (docs/CLI.md).
#include <doctest/doctest.h>

#include "tests/tools/fixture.hpp"
#include "tests/tools/sqlite_surgery.hpp"

namespace tools_queue_history_test {

using namespace hugo;
using namespace hugo::test::cli;

namespace {

// tests/golden/events.ndjson: one event of every kind, each valid, together no valid history.
std::string golden_events() { return read_text(golden_path("../events.ndjson")); }

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_SUITE("cli.history") {

TEST_CASE("import refuses events that are each valid but form no valid history: exit 3, line and rule") {
  FixtureJournal f;
  const Run r = f.cli({"import", "copy.journal"}, golden_events());
  CAPTURE(r.err);
  CHECK(r.code == 3);
  CHECK(is_one_error_line(r.err));
  CHECK(contains(r.err, "codec.invalid: line "));
  CHECK(contains(r.err, "is not a valid transition: "));
  CHECK_FALSE(std::filesystem::exists(f.dir / "copy.journal"));
}

TEST_CASE("import --skip-invalid leaves such events out, names each, and info and tasks then read the copy") {
  FixtureJournal f;
  const Run r = f.cli({"import", "--skip-invalid", "copy.journal"}, golden_events());
  CAPTURE(r.err);
  REQUIRE(r.code == 0);
  const auto out = lines_of(r.out);
  REQUIRE(out.size() == 2);
  CHECK(out[0] == "path\tevents\tskipped");
  const auto warnings = lines_of(r.err);
  REQUIRE_FALSE(warnings.empty());
  for (const std::string& w : warnings) CHECK(w.rfind("hugo-journal: import: skipped event ", 0) == 0);
  const std::size_t events = lines_of(golden_events()).size();  // one per kind
  CHECK(out[1] == "copy.journal\t" + std::to_string(events - warnings.size()) + "\t" + std::to_string(warnings.size()));
  const Run info = f.cli({"info", "copy.journal"});
  CAPTURE(info.err);
  CHECK(info.code == 0);
  CHECK_FALSE(contains(info.out, "problem"));
  const Run tasks = f.cli({"tasks", "copy.journal"});
  CHECK(tasks.code == 0);
  CHECK(tasks.err.empty());
}

TEST_CASE("info shows id, seq range, rows and sizes of a journal whose queue is damaged, with the problem beside") {
  FixtureJournal f;
  sql_surgery(f.path, "UPDATE events SET kind = 1 WHERE seq = 7");  // Completed -> a second LeaseGranted
  const Run r = f.cli({"info", "f.journal"});
  CAPTURE(r.err);
  REQUIRE(r.code == 0);
  for (const char* field : {"journal_id\t", "first_seq\t1", "last_seq\t24", "rows\t24", "file_bytes\t", "wal_bytes\t"}) {
    CHECK(contains(r.out, field));
  }
  CHECK(contains(r.out, "problem\t1 row is not a valid transition and left out; first: seq 7 (LeaseGranted of task "));
  const Run json = f.cli({"info", "--json", "f.journal"});
  REQUIRE(json.code == 0);
  CHECK(contains(json.out, "\"lastSeq\":24"));
  CHECK(contains(json.out, "\"skippedRows\":1,\"problem\":\"1 row is not a valid transition"));
}

TEST_CASE("info shows the journal's facts even when its queues cannot be folded at all") {
  FixtureJournal f;
  sql_surgery(f.path, "UPDATE events SET kind = 42 WHERE seq = 9");  // undecodable
  const Run r = f.cli({"info", "f.journal"});
  CAPTURE(r.err);
  REQUIRE(r.code == 0);
  CHECK(contains(r.out, "last_seq\t24"));
  CHECK(contains(r.out, "queues_problem\tjournal.corrupt: "));
}

TEST_CASE("tasks shows the damaged queue without the bad row, with one warning line naming it") {
  FixtureJournal f;
  sql_surgery(f.path, "UPDATE events SET kind = 1 WHERE seq = 7");
  const Run r = f.cli({"tasks", "f.journal"});
  CAPTURE(r.err);
  REQUIRE(r.code == 0);
  CHECK(lines_of(r.out).size() > 1);
  REQUIRE(lines_of(r.err).size() == 1);
  CHECK(contains(r.err, "warning: queue '"));
  CHECK(contains(r.err, "first: seq 7 (LeaseGranted"));
}

}  // TEST_SUITE

}  // namespace tools_queue_history_test

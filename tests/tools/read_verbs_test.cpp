// The read-only verbs against the fixture journal: --json output pinned by golden files, text
// output shaped for scripts, filters, and payload/owner hydration.
#include <doctest/doctest.h>

#include "tests/tools/fixture.hpp"

namespace tools_read_verbs_test {

using namespace hugo;
using namespace hugo::test::cli;
using hugo::test::TempDir;

TEST_SUITE("cli.read") {

TEST_CASE("every read verb's --json output matches its golden file") {
  FixtureJournal f;
  auto sizes = [](std::string text) {
    for (const char* key : {"fileBytes", "walBytes", "bytesPerEvent"}) text = zero_json_number(text, key);
    return text;
  };
  check_golden("info.ndjson", sizes(f.ok({"info", "--json", "f.journal"})));
  check_golden("tail.ndjson", f.ok({"tail", "--json", "f.journal"}));
  check_golden("show-16.ndjson", f.ok({"show", "--json", "f.journal", "16"}));
  check_golden("tasks.ndjson", f.ok({"tasks", "--json", "f.journal"}));
  check_golden("history-2.ndjson", f.ok({"history", "--json", "f.journal", "2"}));
  check_golden("dead-letters.ndjson", f.ok({"dead-letters", "--json", "f.journal"}));
  check_golden("stats.ndjson", sizes(f.ok({"stats", "--json", "f.journal"})));
  check_golden("verify.ndjson", f.ok({"verify", "--json", "f.journal"}));
  check_golden("export.ndjson", f.ok({"export", "f.journal"}));
  std::string metrics = f.ok({"metrics", "--json", "f.journal"});
  const std::size_t bytes = metrics.find("\"name\":\"hugo.journal.bytes\"");
  REQUIRE(bytes != std::string::npos);
  metrics = metrics.substr(0, bytes) + zero_json_number(metrics.substr(bytes), "value");
  check_golden("metrics.ndjson", metrics);
}

TEST_CASE("text output is tab-separated with one header line when stdout is not a terminal") {
  FixtureJournal f;
  check_golden("tail.tsv", f.ok({"tail", "f.journal"}));
  check_golden("tasks.tsv", f.ok({"tasks", "f.journal"}));
  check_golden("dead-letters.tsv", f.ok({"dead-letters", "f.journal"}));
  for (const char* verb : {"tail", "tasks", "dead-letters", "stats", "info"}) {
    CAPTURE(verb);
    const auto lines = lines_of(f.ok({verb, "f.journal"}));
    REQUIRE(lines.size() > 1);
    const auto tabs = std::count(lines[0].begin(), lines[0].end(), '\t');
    for (const auto& line : lines) CHECK(std::count(line.begin(), line.end(), '\t') == tabs);
  }
  // A tab or newline inside a cell never breaks a row: task 18's payload shows escaped.
  CHECK(f.ok({"show", "f.journal", "18"}).find("\npayload\thello\\tworld\\n\n") != std::string::npos);
  CHECK(f.ok({"show", "f.journal", "9"}).find("\nerror.metadata.card\tvisa\n") != std::string::npos);
}

TEST_CASE("tasks tells a scheduled task (not leasable before available_at) from a pending one") {
  TempDir dir;
  {
    auto clock = std::make_shared<ManualClock>();
    auto journal = open_fixture_journal(dir / "s.journal", clock);
    auto queue = ok_or_throw(TaskQueue::open(journal, fixture_queue("orders", clock)));
    EnqueueOptions later;
    later.not_before = ok_or_throw(parse_iso8601("2100-01-01T00:00:00+00:00"));
    ok_or_throw(queue->enqueue_with("later", later));
    ok_or_throw(queue->enqueue("now"));
  }
  const Run scheduled = run_cli({"tasks", "--state", "scheduled", "--json", "s.journal"}, dir.path());
  CHECK(scheduled.code == 0);
  const auto rows = lines_of(scheduled.out);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].find("\"task\":1,\"state\":\"scheduled\"") != std::string::npos);
  CHECK(rows[0].find("\"availableAt\":\"2100-01-01T00:00:00+00:00\"") != std::string::npos);
  const Run pending = run_cli({"tasks", "--state", "pending", "s.journal"}, dir.path());
  CHECK(pending.code == 0);
  const auto pending_rows = lines_of(pending.out);
  REQUIRE(pending_rows.size() == 2);  // the header and task 2
  CHECK(pending_rows[1].rfind("orders\t2\tpending\t", 0) == 0);
}

TEST_CASE("on a terminal: an aligned table on stdout and a progress bar on stderr") {
  FixtureJournal f;
  const Run tasks = run_cli_on_tty({"tasks", "--state", "dead", "f.journal"}, f.dir.path());
  CHECK(tasks.code == 0);
  CHECK(tasks.out ==
        "queue   task  state  attempt  owner  lease  expires_at  available_at  enqueued_at                last_error\n"
        "orders  3     dead   1                                                2024-01-01T00:00:02+00:00  app.fatal: bad bytes\n");
  CHECK(tasks.err.empty());
  for (const char* verb : {"verify", "export"}) {
    const Run r = run_cli_on_tty({verb, "f.journal"}, f.dir.path());
    CAPTURE(verb);
    CHECK(r.code == 0);
    CHECK(r.err.find(std::string(verb) + " [##############################] 100% 24/24") != std::string::npos);
    CHECK(r.err.substr(r.err.size() - 4) == "\r\033[K");  // the bar is erased when done
  }
  // Not on a terminal: no bar at all.
  CHECK(f.cli({"verify", "f.journal"}).err.empty());
}

TEST_CASE("metrics prints the Prometheus text exposition") {
  FixtureJournal f;
  std::string text = f.ok({"metrics", "f.journal"});
  const std::size_t at = text.find("\nhugo_journal_bytes ");
  REQUIRE(at != std::string::npos);
  text.replace(at, text.find('\n', at + 1) - at, "\nhugo_journal_bytes 0");
  check_golden("metrics.prom", text);
  CHECK(text.find("taskqueue_pending{taskqueue_name=\"orders\"} 1\n") != std::string::npos);
  CHECK(text.find("taskqueue_dead_letters{taskqueue_name=\"orders\"} 1\n") != std::string::npos);
  CHECK(text.find("hugo_journal_events_total{taskqueue_event_kind=\"LeaseGranted\",taskqueue_name=\"orders\"} 5\n") !=
        std::string::npos);
}

TEST_CASE("tail filters by queue, kind, first seq and count") {
  FixtureJournal f;
  auto seqs = [&](const std::vector<std::string>& args) {
    std::vector<std::int64_t> out;
    const auto lines = lines_of(f.ok(args));
    for (std::size_t i = 1; i < lines.size(); ++i) out.push_back(std::stoll(lines[i].substr(0, lines[i].find('\t'))));
    return out;
  };
  CHECK(seqs({"tail", "--queue", "emails", "f.journal"}) == std::vector<std::int64_t>{18, 19, 20, 21, 22, 23, 24});
  CHECK(seqs({"tail", "--kind", "Heartbeat", "--kind", "7", "f.journal"}) == std::vector<std::int64_t>{6, 15});
  CHECK(seqs({"tail", "--from", "10", "--limit", "3", "f.journal"}) == std::vector<std::int64_t>{10, 11, 12});
  CHECK(seqs({"tail", "--from", "25", "f.journal"}).empty());
  CHECK(seqs({"tail", "--queue", "nope", "f.journal"}).empty());
}

TEST_CASE("show and tail fill in the payload and owner of a row that does not store them") {
  FixtureJournal f;
  // Row 12 (Failed) stores neither: the payload is task 3's, the owner is lease 11's.
  const std::string shown = f.ok({"show", "--json", "f.journal", "12"});
  CHECK(shown.find("\"ownerPeerId\":\"w-c\"") != std::string::npos);
  CHECK(shown.find("\"value\":\"AAH/\"") != std::string::npos);
  const auto tailed = lines_of(f.ok({"tail", "--json", "--from", "12", "--limit", "1", "f.journal"}));
  REQUIRE(tailed.size() == 1);
  CHECK(tailed[0] + "\n" == shown);
  // export writes the stored row: no payload, no owner.
  const auto exported = lines_of(f.ok({"export", "--from", "12", "--to", "12", "f.journal"}));
  REQUIRE(exported.size() == 1);
  CHECK(exported[0].find("\"ownerPeerId\":null") != std::string::npos);
  CHECK(exported[0].find("\"value\":null") != std::string::npos);
}

TEST_CASE("history lists exactly the task's events, in seq order") {
  FixtureJournal f;
  const auto lines = lines_of(f.ok({"history", "f.journal", "4"}));
  REQUIRE(lines.size() == 5);  // header + Enqueued, LeaseGranted, LeaseExpired, Requeued
  CHECK(lines[1].rfind("4\t", 0) == 0);
  CHECK(lines[2].rfind("14\t", 0) == 0);
  CHECK(lines[3].rfind("15\t", 0) == 0);
  CHECK(lines[4].rfind("16\t", 0) == 0);
  // A drained and restored task keeps its id: its history spans both.
  CHECK(lines_of(f.ok({"history", "f.journal", "18"})).size() == 1 + 4);
}

TEST_CASE("tasks filters by state and queue") {
  FixtureJournal f;
  const auto leased = lines_of(f.ok({"tasks", "--state", "leased", "f.journal"}));
  REQUIRE(leased.size() == 3);
  CHECK(leased[1].rfind("emails\t18\tleased\t1\tmailer\t24\t", 0) == 0);
  CHECK(leased[2].rfind("orders\t2\tleased\t2\tw-e\t17\t", 0) == 0);
  const auto orders = lines_of(f.ok({"tasks", "--queue", "orders", "--json", "f.journal"}));
  CHECK(orders.size() == 3);
}

TEST_CASE("export --from/--to bounds the seqs, inclusively") {
  FixtureJournal f;
  const auto lines = lines_of(f.ok({"export", "--from", "5", "--to", "7", "f.journal"}));
  REQUIRE(lines.size() == 3);
  CHECK(lines[0].rfind("{\"sequenceNumber\":5,", 0) == 0);
  CHECK(lines[2].rfind("{\"sequenceNumber\":7,", 0) == 0);
}

TEST_CASE("stats counts every kind and queue, and buckets by time") {
  FixtureJournal f;
  const std::string text = f.ok({"stats", "--bucket", "minute", "f.journal"});
  CHECK(text.find("total\trows\t24\n") != std::string::npos);
  CHECK(text.find("kind\tHeartbeat\t1\n") != std::string::npos);
  CHECK(text.find("queue\torders\t17\n") != std::string::npos);
  CHECK(text.find("minute\t2024-01-01T00:00:00+00:00\t17\n") != std::string::npos);
  CHECK(text.find("minute\t2024-01-01T00:01:00+00:00\t7\n") != std::string::npos);
}

}  // TEST_SUITE

}  // namespace tools_read_verbs_test

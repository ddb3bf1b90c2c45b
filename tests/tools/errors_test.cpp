// Exit codes and error lines: bad paths, files that are not journals, damaged headers, a newer
// schema, a journal locked by a live writer in another process, and usage errors.
#include <doctest/doctest.h>

#include "tests/tools/fixture.hpp"
#include "tests/tools/sqlite_surgery.hpp"
#include "tests/support/process.hpp"

namespace tools_errors_test {

using namespace hugo;
using namespace hugo::test::cli;

namespace {

// Every verb that reads JOURNAL, with its arguments around it.
std::vector<std::vector<std::string>> journal_verbs(const std::string& journal) {
  return {{"info", journal},         {"tail", journal},         {"show", journal, "1"},
          {"tasks", journal},        {"history", journal, "1"}, {"dead-letters", journal},
          {"verify", journal},       {"stats", journal},        {"export", journal},
          {"metrics", journal},      {"requeue", journal, "3"}, {"compact", "--force", journal},
          {"tail", "--json", journal}, {"cancel", journal, "4"}};
}

void expect_every_verb_fails(const FixtureJournal& f, const std::string& journal, int code, const std::string& error) {
  for (const auto& args : journal_verbs(journal)) {
    const Run r = f.cli(args);
    CAPTURE(args[0]);
    CAPTURE(r.err);
    CHECK(r.code == code);
    CHECK(is_one_error_line(r.err));
    CHECK(r.err.find(error) != std::string::npos);
  }
}

}  // namespace

TEST_SUITE("cli.errors") {

TEST_CASE("a missing journal is exit 3 for every verb, and never gets created") {
  FixtureJournal f;
  expect_every_verb_fails(f, "missing.journal", 3, "journal.not_found");
  CHECK_FALSE(std::filesystem::exists(f.dir / "missing.journal"));
  const Run sink = f.cli({"checkpoints", "missing.db"});
  CHECK(sink.code == 3);
  CHECK_FALSE(std::filesystem::exists(f.dir / "missing.db"));
  CHECK(f.cli({"effects", "missing.db"}).code == 3);
  CHECK_FALSE(std::filesystem::exists(f.dir / "missing.db"));
}

TEST_CASE("a file that is not a journal is exit 3: text, a directory, another SQLite database") {
  FixtureJournal f;
  write_text(f.dir / "notes.txt", "hello, I am not a database\n");
  expect_every_verb_fails(f, "notes.txt", 3, "journal.corrupt");
  std::filesystem::create_directory(f.dir / "folder");
  expect_every_verb_fails(f, "folder", 3, "journal.corrupt");
  sql_surgery(f.dir / "other.db", "CREATE TABLE t (x INTEGER)");
  expect_every_verb_fails(f, "other.db", 3, "journal.corrupt");
  // Sink-side verbs refuse files that hold no checkpoints or effects.
  CHECK(f.cli({"checkpoints", "other.db"}).code == 3);
  CHECK(f.cli({"effects", "other.db"}).code == 3);
  CHECK(f.cli({"checkpoints", "f.journal"}).code == 3);
}

TEST_CASE("a journal whose header bytes are damaged is exit 3") {
  FixtureJournal f;
  byte_surgery(f.path, 0, "NOT A DATABASE!!");
  expect_every_verb_fails(f, "f.journal", 3, "journal.corrupt");
}

TEST_CASE("a journal written by a newer schema is exit 3 with journal.schema_newer") {
  FixtureJournal f;
  sql_surgery(f.path, "PRAGMA user_version = 99");
  for (const auto& args : std::vector<std::vector<std::string>>{{"info", "f.journal"}, {"tail", "f.journal"}}) {
    const Run r = f.cli(args);
    CHECK(r.code == 3);
    CHECK(r.err.find("journal.schema_newer") != std::string::npos);
  }
}

// The journal's files as a crash leaves them (copied while a writer holds them open, its commits
// still in the WAL and indexed by the -shm), then the WAL cut to half its frames.
TEST_CASE("a journal whose -wal was cut is exit 3 with journal.wal_truncated for every verb, and no byte changes") {
  FixtureJournal f;
  {
    auto clock = std::make_shared<ManualClock>();
    auto journal = open_fixture_journal(f.dir / "live.journal", clock);
    auto orders = ok_or_throw(TaskQueue::open(journal, fixture_queue("orders", clock)));
    for (int i = 0; i < 200; ++i) ok_or_throw(orders->enqueue(std::string(300, static_cast<char>('a' + i % 26))));
    for (const char* suffix : {"", "-wal", "-shm"}) {
      std::filesystem::copy_file(f.dir / ("live.journal" + std::string(suffix)),
                                 f.dir / ("cut.journal" + std::string(suffix)));
    }
  }
  const auto wal = f.dir / "cut.journal-wal";
  const std::uintmax_t frames = (std::filesystem::file_size(wal) - 32) / (24 + 4096);
  REQUIRE(frames > 4);
  std::filesystem::resize_file(wal, 32 + (frames / 2) * (24 + 4096));
  const std::string before = read_text(f.dir / "cut.journal") + read_text(wal) + read_text(f.dir / "cut.journal-shm");
  expect_every_verb_fails(f, "cut.journal", 3, "journal.wal_truncated");
  CHECK(read_text(f.dir / "cut.journal") + read_text(wal) + read_text(f.dir / "cut.journal-shm") == before);
}

TEST_CASE("write verbs on a journal held by a live writer exit 4 naming its pid; read verbs still work") {
  FixtureJournal f;
  hugo::test::Child holder({hugo::test::child_binary(), "hold-writer", f.path.string()});
  REQUIRE(holder.read_line() == std::optional<std::string>("ready"));
  const std::string pid = std::to_string(holder.pid());
  for (const auto& args : std::vector<std::vector<std::string>>{{"requeue", "f.journal", "3"},
                                                               {"cancel", "f.journal", "4"},
                                                               {"compact", "--force", "f.journal"}}) {
    const Run r = f.cli(args);
    CAPTURE(r.err);
    CHECK(r.code == 4);
    CHECK(is_one_error_line(r.err));
    CHECK(r.err.find("journal.locked") != std::string::npos);
    CHECK(r.err.find("process " + pid) != std::string::npos);
  }
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"info", "f.journal"}, {"tail", "f.journal"}, {"verify", "f.journal"}, {"tasks", "f.journal"}}) {
    const Run r = f.cli(args);
    CAPTURE(args[0]);
    CHECK(r.code == 0);
  }
  holder.kill_hard();
  holder.wait();
  CHECK(f.cli({"requeue", "f.journal", "3"}).code == 0);
  CHECK(f.cli({"cancel", "f.journal", "4"}).code == 0);
}

TEST_CASE("usage errors are exit 2 with one line on stderr") {
  FixtureJournal f;
  const std::vector<std::vector<std::string>> bad = {
      {},
      {"frobnicate", "f.journal"},
      {"info"},
      {"show", "f.journal"},
      {"show", "f.journal", "abc"},
      {"show", "f.journal", "0"},
      {"tail", "--from", "0", "f.journal"},
      {"tail", "--limit", "-1", "f.journal"},
      {"tail", "--kind", "Exploded", "f.journal"},
      {"tasks", "--state", "sleeping", "f.journal"},
      {"stats", "--bucket", "week", "f.journal"},
      {"export", "--from", "9", "--to", "3", "f.journal"},
      {"info", "--no-such-option", "f.journal"},
      {"compact", "f.journal"},
      {"requeue", "f.journal"},
      {"cancel", "f.journal"},
      {"cancel", "--reason", "f.journal"},
  };
  for (const auto& args : bad) {
    const Run r = f.cli(args);
    CAPTURE(args.empty() ? std::string("(none)") : args[0] + (args.size() > 1 ? " " + args[1] : ""));
    CAPTURE(r.err);
    CHECK(r.code == 2);
    CHECK(is_one_error_line(r.err));
    CHECK(r.out.empty());
  }
}

TEST_CASE("arguments that name nothing are exit 2 and change nothing") {
  FixtureJournal f;
  const std::string before = f.ok({"export", "f.journal"});
  for (const auto& args : std::vector<std::vector<std::string>>{{"show", "f.journal", "99"},
                                                               {"history", "f.journal", "99"},
                                                               {"requeue", "f.journal", "99"},
                                                               {"requeue", "f.journal", "2"},      // leased, not dead
                                                               {"requeue", "f.journal", "3", "4"},  // 4 is pending
                                                               {"requeue", "f.journal", "5"},      // a lease row
                                                               {"cancel", "f.journal", "99"},
                                                               {"cancel", "f.journal", "1"},       // completed
                                                               {"cancel", "f.journal", "3"},       // dead
                                                               {"cancel", "f.journal", "4", "1"},  // 4 is pending
                                                               {"cancel", "f.journal", "5"}}) {    // a lease row
    const Run r = f.cli(args);
    CAPTURE(args[0] + " " + args.back());
    CHECK(r.code == 2);
    CHECK(is_one_error_line(r.err));
  }
  CHECK(f.ok({"export", "f.journal"}) == before);
}

TEST_CASE("--help documents the exit codes, and every verb's help has an example") {
  FixtureJournal f;
  const Run top = f.cli({"--help"});
  CHECK(top.code == 0);
  for (const char* text : {"Exit codes:", "0  ok", "1  verify", "2  usage", "3  not a journal", "4  locked",
                           "5  I/O", "Example:"}) {
    CAPTURE(text);
    CHECK(top.out.find(text) != std::string::npos);
  }
  for (const char* verb : {"info", "tail", "show", "tasks", "history", "dead-letters", "requeue", "cancel",
                           "checkpoints", "effects", "verify", "stats", "export", "import", "compact", "metrics"}) {
    const Run r = f.cli({verb, "--help"});
    CAPTURE(verb);
    CHECK(r.code == 0);
    CHECK(r.out.find("Example:\n  hugo-journal " + std::string(verb)) != std::string::npos);
  }
}

}  // TEST_SUITE

}  // namespace tools_errors_test

// Where the read verbs meet files they did not make: a file that is not a journal is refused and
// left exactly as it was (every byte, and the folder's list of names); a cleanly closed journal in
// a folder the process cannot write is read by every read verb, with the same output as anywhere.
#include <doctest/doctest.h>

#include "tests/tools/fixture.hpp"
#include "tests/tools/sqlite_surgery.hpp"

#include <hugo/checkpoint.hpp>
#include <hugo/effect_capture.hpp>
#include <hugo/sink_database.hpp>

#include <random>

namespace tools_open_boundaries_test {

using namespace hugo;
using namespace hugo::test::cli;

namespace {

using test::folder_snapshot;

// Each read verb's arguments for the file `x` (checkpoints reads a sink database).
std::vector<std::vector<std::string>> read_verbs(const std::string& x) {
  return {{"info", x},    {"verify", x},        {"tasks", x},  {"dead-letters", x}, {"metrics", x},
          {"stats", x},   {"export", x},        {"tail", x},   {"show", x, "1"},    {"history", x, "1"},
          {"effects", x}, {"checkpoints", x}, {"checkpoints", "--journal", x, x}};
}

struct BadFile {
  const char* kind;
  void (*make)(const std::filesystem::path&);
};

const BadFile kBadFiles[] = {
    {"another application's SQLite database (rollback mode)",
     [](const std::filesystem::path& p) {
       sql_surgery(p, "CREATE TABLE contacts (name TEXT); INSERT INTO contacts VALUES ('ada')");
     }},
    {"an empty file", [](const std::filesystem::path& p) { write_text(p, ""); }},
    {"random bytes",
     [](const std::filesystem::path& p) {
       std::mt19937 random(7);
       std::string bytes(8192, '\0');
       for (char& c : bytes) c = static_cast<char>(random());
       write_text(p, bytes);
     }},
    {"a directory", [](const std::filesystem::path& p) { std::filesystem::create_directory(p); }},
};

constexpr auto kReadOnlyFolder = std::filesystem::perms::owner_read | std::filesystem::perms::owner_exec |
                                 std::filesystem::perms::group_read | std::filesystem::perms::group_exec |
                                 std::filesystem::perms::others_read | std::filesystem::perms::others_exec;

}  // namespace

TEST_SUITE("cli.errors") {

TEST_CASE("every read verb refuses a file that is not a journal and leaves the folder as it was") {
  for (const BadFile& bad : kBadFiles) {
    CAPTURE(bad.kind);
    test::TempDir dir;
    bad.make(dir / "x.db");
    const auto before = folder_snapshot(dir.path());
    for (const auto& args : read_verbs("x.db")) {
      CAPTURE(args[0]);
      CAPTURE(args.size());
      const Run r = run_cli(args, dir.path());
      CAPTURE(r.err);
      CHECK(r.code == 3);
      CHECK(is_one_error_line(r.err));
      CHECK(folder_snapshot(dir.path()) == before);
    }
  }
}

TEST_CASE("checkpoints pointed at another application's database keeps its rollback journal mode") {
  test::TempDir dir;
  sql_surgery(dir / "app.db", "CREATE TABLE contacts (name TEXT); INSERT INTO contacts VALUES ('ada')");
  const Run r = run_cli({"checkpoints", "app.db"}, dir.path());
  CHECK(r.code == 3);
  CHECK(r.err.find("holds no sink checkpoints") != std::string::npos);
  CHECK(read_text(dir / "app.db").substr(18, 2) == std::string("\x01\x01", 2));  // not WAL (2, 2)
}

TEST_CASE("in a read-only folder every read verb reads a cleanly closed journal, as it would anywhere") {
  FixtureJournal f;
  {
    auto db = ok_or_throw(SinkDatabase::open(f.dir / "sink.db"));
    auto store = ok_or_throw(SqliteCheckpointStore::open(db));
    const Timestamp at{std::chrono::seconds{1'704'070'800}};
    ok_or_throw(store->persist(TaskQueueReplicationCheckpoint::empty("projection", f.id).advance("default", 20, at)));
  }
  {
    auto store = ok_or_throw(DeterministicEffectStore::open(f.dir / "effects.db"));
    ok_or_throw(store->capture<int>("charge:order-1", "int", [] { return 42; }));
  }
  std::vector<std::vector<std::string>> verbs = read_verbs("f.journal");
  verbs.resize(verbs.size() - 3);  // effects and checkpoints read their own databases
  verbs.push_back({"effects", "effects.db"});
  verbs.push_back({"checkpoints", "--journal", "f.journal", "sink.db"});
  std::vector<std::string> expected;
  for (const auto& args : verbs) expected.push_back(f.ok(args));  // as root, in a writable folder

  std::filesystem::permissions(f.dir.path(), kReadOnlyFolder);
  struct Writable {
    std::filesystem::path folder;
    ~Writable() { std::filesystem::permissions(folder, std::filesystem::perms::owner_all, std::filesystem::perm_options::add); }
  } restore{f.dir.path()};
  const auto before = folder_snapshot(f.dir.path());
  for (std::size_t i = 0; i < verbs.size(); ++i) {
    CAPTURE(verbs[i][0]);
    const Run r = run_cli(verbs[i], f.dir.path(), std::nullopt, true);
    CAPTURE(r.err);
    CHECK(r.code == 0);
    CHECK(r.err.empty());
    CHECK(replace_all(r.out, f.id, "JOURNAL_ID") == expected[i]);
  }
  CHECK(folder_snapshot(f.dir.path()) == before);
}

// run_cli's child run as nobody gets the sanitizer stages' options with their files moved where
// it can reach them (a checkout in root's 0700 home is not such a place).
TEST_CASE("sanitizer options for the CLI run as nobody: log files into the reports folder, suppressions copied") {
  test::TempDir dir;
  const auto reports = dir / "reports";
  write_text(dir / "tsan.supp", "race:example\n");
  const std::string rewritten = options_for_nobody(
      "halt_on_error=1,log_path=/checkout/build/sanitizer-reports/tsan suppressions=" + (dir / "tsan.supp").string() +
          "::second_deadlock_stack=1",
      reports);
  const auto parts = lines_of(replace_all(rewritten, ":", "\n"));
  REQUIRE(parts.size() == 4);
  CHECK(parts[0] == "halt_on_error=1");
  CHECK(parts[1] == "log_path=" + (reports / "tsan").string());
  REQUIRE(parts[2].rfind("suppressions=", 0) == 0);
  const std::filesystem::path copy = parts[2].substr(13);
  CHECK(copy.parent_path().parent_path().parent_path() == reach_folder());
  CHECK(read_text(copy) == "race:example\n");
  CHECK((std::filesystem::status(copy).permissions() & std::filesystem::perms::others_read) != std::filesystem::perms::none);
  CHECK(parts[3] == "second_deadlock_stack=1");
  // What the runtimes read as "no file" or "not a file" stays as it is, and so do quoted values.
  CHECK(options_for_nobody("log_path=stderr:suppressions=:verbosity=1", reports) ==
        "log_path=stderr:suppressions=:verbosity=1");
  CHECK(options_for_nobody("log_path='/a b/c'", reports) == "log_path='/a b/c'");
  CHECK(options_for_nobody("", reports).empty());
}

}  // TEST_SUITE

}  // namespace tools_open_boundaries_test

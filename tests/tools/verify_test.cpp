// verify detects each invariant violation planted behind the library's back, by row surgery (the
// sqlite3 C API) or byte surgery (the file), exits 1, and names the offending seq.
#include <doctest/doctest.h>

#include "tests/tools/fixture.hpp"
#include "tests/tools/sqlite_surgery.hpp"

#include <set>

namespace tools_verify_test {

using namespace hugo;
using namespace hugo::test::cli;

namespace {

struct Finding {
  std::int64_t seq;
  std::string check;
};

// Runs verify twice (text and --json), expects exit 1 from both, and returns the violations of
// the text report (seq, check), checking that the JSON report names the same seqs.
std::vector<Finding> violations(const FixtureJournal& f) {
  const Run text = f.cli({"verify", "f.journal"});
  CAPTURE(text.out);
  CAPTURE(text.err);
  CHECK(text.code == 1);
  CHECK(is_one_error_line(text.err));
  const auto lines = lines_of(text.out);
  REQUIRE(lines.size() > 1);
  CHECK(lines[0] == "seq\tcheck\tmessage");
  std::vector<Finding> found;
  for (std::size_t i = 1; i < lines.size(); ++i) {
    const auto tab = lines[i].find('\t');
    found.push_back({std::stoll(lines[i].substr(0, tab)), lines[i].substr(tab + 1, lines[i].find('\t', tab + 1) - tab - 1)});
  }
  const Run json = f.cli({"verify", "--json", "f.journal"});
  CHECK(json.code == 1);
  CHECK(json.out.rfind("{\"ok\":false,", 0) == 0);
  for (const Finding& v : found) CHECK(json.out.find("{\"seq\":" + std::to_string(v.seq) + ",") != std::string::npos);
  return found;
}

bool names(const std::vector<Finding>& found, std::int64_t seq, const std::string& check) {
  for (const Finding& v : found) {
    if (v.seq == seq && v.check == check) return true;
  }
  return false;
}

}  // namespace

TEST_SUITE("cli.verify") {

TEST_CASE("an intact journal verifies: exit 0") {
  FixtureJournal f;
  const Run r = f.cli({"verify", "f.journal"});
  CHECK(r.code == 0);
  CHECK(r.out == "ok: 24 rows, last seq 24\n");
}

TEST_CASE("a row with an unknown kind is named as undecodable") {
  FixtureJournal f;
  sql_surgery(f.path, "UPDATE events SET kind = 42 WHERE seq = 9");
  CHECK(names(violations(f), 9, "decode"));
}

TEST_CASE("a row whose kind was changed to an invalid transition is named") {
  FixtureJournal f;
  sql_surgery(f.path, "UPDATE events SET kind = 1 WHERE seq = 7");  // Completed -> a second LeaseGranted
  const auto found = violations(f);
  CHECK(names(found, 7, "state_machine"));
  CHECK(found.size() == 1);
}

TEST_CASE("a deleted LeaseGranted row is found at the first row whose token names it") {
  FixtureJournal f;
  sql_surgery(f.path, "DELETE FROM events WHERE seq = 8");
  const auto found = violations(f);
  CHECK(names(found, 9, "state_machine"));  // Failed with the token of lease 8, which no row granted
  for (const Finding& v : found) CHECK(v.seq >= 9);
}

TEST_CASE("a token naming another lease or attempt fails fencing at its row") {
  FixtureJournal f;
  sql_surgery(f.path, "UPDATE events SET lease = 5 WHERE seq = 9");
  CHECK(names(violations(f), 9, "state_machine"));
  FixtureJournal g;
  sql_surgery(g.path, "UPDATE events SET attempt = 3 WHERE seq = 9");
  CHECK(names(violations(g), 9, "state_machine"));
}

TEST_CASE("an error column that is not Error JSON is named") {
  FixtureJournal f;
  sql_surgery(f.path, "UPDATE events SET error = '{not json' WHERE seq = 12");
  const auto found = violations(f);
  CHECK(names(found, 12, "decode"));
  CHECK(found.size() == 1);
}

TEST_CASE("a task's first row without its payload, or with broken JSON, is named") {
  FixtureJournal f;
  sql_surgery(f.path, "UPDATE events SET payload = NULL WHERE seq = 2");
  CHECK(names(violations(f), 2, "payload"));
  FixtureJournal g;
  sql_surgery(g.path, "UPDATE events SET payload = X'7b7b' WHERE seq = 1");
  CHECK(names(violations(g), 1, "payload"));
}

TEST_CASE("rows above the recorded highest seq are named") {
  FixtureJournal f;
  sql_surgery(f.path, "UPDATE sqlite_sequence SET seq = 20 WHERE name = 'events'");
  const auto found = violations(f);
  std::set<std::int64_t> seqs;
  for (const Finding& v : found) {
    if (v.check == "sequence") seqs.insert(v.seq);
  }
  CHECK(seqs == std::set<std::int64_t>{21, 22, 23, 24});
}

TEST_CASE("byte surgery inside a row's payload is named at that row") {
  FixtureJournal f;
  const std::string bytes = read_text(f.path);
  const std::size_t at = bytes.find("{\"order\":1}");
  REQUIRE(at != std::string::npos);
  REQUIRE(bytes.find("{\"order\":1}", at + 1) == std::string::npos);
  byte_surgery(f.path, at + 10, "{");  // {"order":1{ : still a blob, no longer JSON
  CHECK(names(violations(f), 1, "payload"));
}

TEST_CASE("a damaged b-tree page fails the integrity check") {
  FixtureJournal f;
  const std::int64_t page_size = sql_int(f.path, "PRAGMA page_size");
  const std::int64_t root = sql_int(f.path, "SELECT rootpage FROM sqlite_master WHERE name = 'events'");
  byte_surgery(f.path, static_cast<std::uint64_t>((root - 1) * page_size + page_size / 2),
               std::string(static_cast<std::size_t>(page_size / 4), '\xa5'));
  const auto found = violations(f);
  REQUIRE_FALSE(found.empty());
  CHECK(found[0].check == "integrity");
  const Run r = f.cli({"verify", "f.journal"});
  CHECK(r.out.find("page " + std::to_string(root)) != std::string::npos);
}

TEST_CASE("one overwritten page: verify reads past it, names the unreadable range and the last good seq") {
  test::TempDir dir;
  const auto path = dir / "big.journal";
  constexpr int kRows = 3000;
  auto payload = [](int i) { return "row-" + std::to_string(100000 + i) + std::string(150, 'x'); };
  {
    auto journal = ok_or_throw(Journal::open(path, {}));
    std::vector<Event> group;
    for (int i = 1; i <= kRows; ++i) {
      Event e;
      e.kind = EventKind::Enqueued;
      e.queue = "q";
      e.payload = payload(i);
      e.occurred_at = Timestamp{std::chrono::seconds{1'704'067'200}};
      group.push_back(std::move(e));
    }
    ok_or_throw(journal->append_group_async(group).wait());
    ok_or_throw(journal->close());
  }
  const std::int64_t page_size = sql_int(path, "PRAGMA page_size");
  const std::string bytes = read_text(path);
  const auto at = bytes.find(payload(1500));
  REQUIRE(at != std::string::npos);
  const std::uint64_t page = at / static_cast<std::uint64_t>(page_size);
  byte_surgery(path, page * static_cast<std::uint64_t>(page_size), std::string(static_cast<std::size_t>(page_size), '\xa5'));

  const Run text = run_cli({"verify", "big.journal"}, dir.path());
  CAPTURE(text.out);
  CAPTURE(text.err);
  CHECK(text.code == 1);
  CHECK(is_one_error_line(text.err));
  CHECK(text.out.find("hugo-journal verify") == std::string::npos);  // verify never advises verify
  CHECK(text.err.find("hugo-journal verify") == std::string::npos);
  const Run json = run_cli({"verify", "--json", "big.journal"}, dir.path());
  CAPTURE(json.out);
  CHECK(json.code == 1);
  auto number = [&](const std::string& key) {
    const auto k = json.out.find("\"" + key + "\":");
    REQUIRE(k != std::string::npos);
    return std::stoll(json.out.substr(k + key.size() + 3));
  };
  const std::int64_t last_good = number("lastGoodSeq");
  const std::int64_t next = number("nextSeq");
  CHECK(number("afterSeq") == last_good);
  CHECK(last_good < 1500);
  CHECK(last_good > 1500 - 40);  // one 4 KiB page holds a few dozen of these rows
  CHECK(next > 1500);
  CHECK(next < 1500 + 40);
  CHECK(number("lastSeq") == kRows);
  CHECK(number("rows") == kRows - (next - last_good - 1));  // every row outside the range was read
  CHECK(text.err.find("last good seq " + std::to_string(last_good)) != std::string::npos);
  CHECK(text.err.find("after seq " + std::to_string(last_good) + " before seq " + std::to_string(next)) !=
        std::string::npos);
}

}  // TEST_SUITE

}  // namespace tools_verify_test

// Damaged files: byte surgery on a closed journal (a page, the header), a schema from the
// future. Each gives journal.corrupt or journal.schema_newer, a failed open writes nothing, and
// what is not damaged stays readable.
#include "tests/faults/fault_support.hpp"

#include "schema/schema.hpp"
#include "schema/sqlite.hpp"

namespace faults_damage_test {

using namespace hugo;
using namespace hugo::faults;

namespace {

constexpr std::size_t kPageSize = 4096;

// Both ways in fail with `code`, and neither attempt changed a byte of the file.
void expect_refused_untouched(const std::filesystem::path& path, std::string_view code) {
  const std::string before = read_bytes(path);
  auto journal = Journal::open(path, {});
  REQUIRE_FALSE(journal.ok());
  CHECK(journal.error().code() == code);
  CHECK(journal.error().find("path") != nullptr);
  auto reader = JournalReader::open(path);
  REQUIRE_FALSE(reader.ok());
  CHECK(reader.error().code() == code);
  CHECK(read_bytes(path) == before);
}

}  // namespace

TEST_SUITE("faults.damage") {

TEST_CASE("corrupted page: journal.corrupt names the last good seq; every other page stays readable") {
  test::TempDir dir;
  const auto path = dir / "j.db";
  const auto committed = write_history(path, 400);
  // Overwrite the whole leaf page that holds event 200 (header, cell pointers and cells).
  const std::size_t page = page_holding(path, marker(200), kPageSize);
  write_bytes_at(path, page * kPageSize, std::string(kPageSize, '\xA5'));

  auto reader = JournalReader::open(path);
  REQUIRE_MESSAGE(reader.ok(), describe(reader));
  auto all = (*reader)->read(0, 1000);
  REQUIRE_FALSE(all.ok());
  CHECK(all.error().code() == errc::journal_corrupt);
  const std::string* last_good = all.error().find("last_good_seq");
  REQUIRE(last_good != nullptr);
  const std::int64_t damaged_from = std::stoll(*last_good) + 1;
  CHECK(damaged_from <= 200);

  // Read around the damage: everything before it, then probe forward past the damaged page.
  auto before = (*reader)->read(0, static_cast<std::size_t>(damaged_from - 1));
  REQUIRE_MESSAGE(before.ok(), describe(before));
  std::vector<Event> readable = *before;
  std::int64_t after = damaged_from;
  while (after < 400) {
    auto batch = (*reader)->read(after, 1000);
    if (batch.ok()) {
      readable.insert(readable.end(), batch->begin(), batch->end());
      break;
    }
    CHECK(batch.error().code() == errc::journal_corrupt);
    ++after;
  }
  // Only the rows of one page are lost (a 4 KiB page holds at most ~20 of these rows).
  CHECK(readable.size() >= committed.size() - 20);
  for (const Event& e : readable) {
    INFO("seq " << e.seq);
    CHECK(same_event(e, committed[static_cast<std::size_t>(e.seq - 1)]));
  }
  CHECK(readable.back().seq == 400);
}

// Header fields whose damage SQLite or the journal detects: each gives its code, the failed
// opens change no byte, and with the original bytes put back every event reads again.
TEST_CASE("corrupted header fields: the documented code, nothing written, every event back once repaired") {
  struct Damage {
    const char* field;
    std::size_t offset;
    std::string bytes;
    std::string_view code;
  };
  const Damage cases[] = {
      {"magic string", 0, "hugo-journal!!!!", errc::journal_corrupt},
      {"page size 768 (not a power of two)", 16, std::string("\x03\x00", 2), errc::journal_corrupt},
      {"application id", 68, "XXXX", errc::journal_corrupt},
      {"schema version 7 (from the future)", 60, std::string("\x00\x00\x00\x07", 4), errc::journal_schema_newer},
  };
  for (const Damage& damage : cases) {
    CAPTURE(damage.field);
    test::TempDir dir;
    const auto path = dir / "j.db";
    const auto committed = write_history(path, 50);
    const std::string original = read_bytes(path).substr(damage.offset, damage.bytes.size());
    write_bytes_at(path, damage.offset, damage.bytes);
    expect_refused_untouched(path, damage.code);
    if (damage.code == errc::journal_schema_newer) {
      auto reader = JournalReader::open(path);
      REQUIRE_FALSE(reader.ok());
      CHECK(*reader.error().find("schema_version") == "7");
      CHECK(*reader.error().find("supported_version") == std::to_string(schema::kCurrentVersion));
      CHECK(reader.error().message().find("upgrade") != std::string::npos);
    }
    write_bytes_at(path, damage.offset, original);
    expect_all_readable(path, committed);
  }
}

}  // TEST_SUITE

}  // namespace faults_damage_test

// The depth limit at the CLI (docs/FORMAT.md, "Limits"): a journal that already holds a payload
// nested 100,000 deep (what older builds accepted) is verified, printed and exported without a
// crash, and importing that export is refused with exit 3 naming the limit.
#include <doctest/doctest.h>

#include <hugo/event_json.hpp>

#include "tests/tools/fixture.hpp"
#include "tests/tools/sqlite_surgery.hpp"

namespace tools_limits_test {

using namespace hugo;
using namespace hugo::test::cli;

TEST_SUITE("cli.limits") {

TEST_CASE("a stored payload nested 100,000 deep: verify names it, tail, show and export print it, import refuses it") {
  FixtureJournal f;
  const std::string n = "100000";
  const std::int64_t seq = sql_int(f.path, "SELECT min(seq) FROM events WHERE kind = 0");
  sql_surgery(f.path, "UPDATE events SET flags = flags | 256, payload = CAST(replace(hex(zeroblob(" + n +
                          ")), '00', '[') || '7' || replace(hex(zeroblob(" + n + ")), '00', ']') AS BLOB) WHERE seq = " +
                          std::to_string(seq));
  const std::string deep = std::string(100000, '[') + "7" + std::string(100000, ']');
  const std::string limit = std::to_string(kMaxJsonDepth);

  const Run verified = f.cli({"verify", "f.journal"});
  CHECK(verified.code == 1);
  CHECK(is_one_error_line(verified.err));
  const auto lines = lines_of(verified.out);
  REQUIRE(lines.size() == 2);
  CHECK(lines[1].rfind(std::to_string(seq) + "\tpayload\t", 0) == 0);
  CHECK(lines[1].find(limit) != std::string::npos);

  CHECK(f.ok({"show", "f.journal", std::to_string(seq)}).find(deep) != std::string::npos);
  CHECK(f.ok({"tail", "--json", "f.journal"}).find(deep) != std::string::npos);
  const Run exported = f.cli({"export", "f.journal"});
  REQUIRE(exported.code == 0);
  CHECK(exported.out.find(deep) != std::string::npos);

  const Run imported = f.cli({"import", "copy.journal"}, exported.out);
  CHECK(imported.code == 3);
  CHECK(is_one_error_line(imported.err));
  CHECK(imported.err.find("codec.invalid") != std::string::npos);
  CHECK(imported.err.find(limit) != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(f.dir / "copy.journal"));
}

TEST_CASE("import of NDJSON with a value nested 100,000 deep is exit 3 naming the limit, and creates nothing") {
  FixtureJournal f;
  const Run exported = f.cli({"export", "f.journal"});
  REQUIRE(exported.code == 0);
  const std::string first = exported.out.substr(0, exported.out.find('\n'));
  const auto value = first.find("\"value\":") + 8;
  const std::string deep_line = first.substr(0, value) + std::string(100000, '[') + std::string(100000, ']') +
              first.substr(first.find(",\"error\":"));
  const Run imported = f.cli({"import", "copy.journal"}, deep_line + "\n");
  CHECK(imported.code == 3);
  CHECK(is_one_error_line(imported.err));
  CHECK(imported.err.find(std::to_string(kMaxJsonDepth)) != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(f.dir / "copy.journal"));
}

}  // TEST_SUITE

}  // namespace tools_limits_test

// Cross-process behaviour, with real child processes: one writer at a time, many readers.
#include <doctest/doctest.h>

#include <hugo/error_codes.hpp>
#include <hugo/journal.hpp>

#include "tests/support/events.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

#include <string>

namespace journal_process_test {

using namespace hugo;
using hugo::test::Child;
using hugo::test::TempDir;

TEST_SUITE("journal.process") {

TEST_CASE("a second writer process gets journal.locked with the holder's pid") {
  TempDir dir;
  const std::string path = (dir / "j.db").string();
  Child holder({test::child_binary(), "hold-writer", path});
  REQUIRE(holder.read_line() == std::optional<std::string>("ready"));

  Child second({test::child_binary(), "try-writer", path});
  const auto line = second.read_line();
  CHECK(second.wait() == 3);
  REQUIRE(line.has_value());
  CHECK(*line == "error journal.locked " + std::to_string(holder.pid()));

  // In-process too: the lock is per open file description, so this process is refused as well.
  auto here = Journal::open(path, {});
  REQUIRE_FALSE(here.ok());
  CHECK(here.error().code() == errc::journal_locked);
  REQUIRE(here.error().find("pid") != nullptr);
  CHECK(*here.error().find("pid") == std::to_string(holder.pid()));

  // SIGKILL releases the lock: the next writer gets in.
  holder.kill_hard();
  holder.wait();
  auto after = Journal::open(path, {});
  CHECK(after.ok());
}

TEST_CASE("a reader in another process sees rows committed while it is open") {
  TempDir dir;
  const auto path = dir / "j.db";
  auto journal = Journal::open(path, {});
  REQUIRE(journal.ok());
  REQUIRE((*journal)->append(test::enqueued("q", "before")).ok());

  Child watcher({test::child_binary(), "watch", path.string(), "501"});
  REQUIRE(watcher.read_line() == std::optional<std::string>("ready"));
  for (int i = 0; i < 500; ++i) REQUIRE((*journal)->append(test::enqueued("q", std::to_string(i))).ok());
  const auto line = watcher.read_line();
  CHECK(watcher.wait() == 0);
  CHECK(line == std::optional<std::string>("seen 501 501"));
}

TEST_CASE("a reader in this process reads while another process writes") {
  TempDir dir;
  const auto path = dir / "j.db";
  {
    auto journal = Journal::open(path, {});
    REQUIRE(journal.ok());
  }
  Child writer({test::child_binary(), "append", path.string(), "200"});
  std::string last;
  while (auto line = writer.read_line()) last = *line;
  CHECK(writer.wait() == 0);
  CHECK(last == "200");
  auto reader = JournalReader::open(path);
  REQUIRE(reader.ok());
  auto events = (*reader)->read(0, 1000);
  REQUIRE(events.ok());
  CHECK(events->size() == 200);
  CHECK(events->back().payload == std::optional<std::string>("payload-199"));
}

}  // TEST_SUITE

}  // namespace journal_process_test

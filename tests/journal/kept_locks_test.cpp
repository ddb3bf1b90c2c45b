// A journal probed in the writer's own process keeps the writer's SQLite locks
// (schema/kept_files.hpp): closing any descriptor of a file drops every fcntl lock the process
// holds on it, and a reader or server opened beside the writer used to open and close the -shm.
#include <doctest/doctest.h>

#include <hugo/journal.hpp>

#include "schema/wal_files.hpp"
#include "tests/support/events.hpp"
#include "tests/support/queue_fixture.hpp"
#include "tests/support/temp_dir.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace journal_kept_locks_test {

using namespace hugo;
using hugo::test::must;

namespace {

// SQLite's unix VFS: every open WAL connection holds a shared lock on this byte of the -shm (the
// "dead man switch"); a process that finds it unlocked takes the index for unused and resets it.
constexpr off_t kShmDeadManSwitch = 128;

// Whether another process sees a lock on the -shm's dead man switch byte (asked from a forked
// child: F_GETLK does not report the asking process's own locks).
bool shm_looks_in_use(const std::filesystem::path& journal) {
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    const int fd = ::open(wal_files::shm_of(journal).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) ::_exit(2);
    struct flock probe {};
    probe.l_type = F_WRLCK;
    probe.l_whence = SEEK_SET;
    probe.l_start = kShmDeadManSwitch;
    probe.l_len = 1;
    if (::fcntl(fd, F_GETLK, &probe) != 0) ::_exit(2);
    ::_exit(probe.l_type == F_UNLCK ? 1 : 0);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) != 2);
  return WEXITSTATUS(status) == 0;
}

}  // namespace

TEST_SUITE("journal") {

TEST_CASE("a reader opened in the writer's process leaves the writer's lock on the -shm in place") {
  test::TempDir dir;
  const auto path = dir / "j.journal";
  auto writer = must(Journal::open(path));
  must(writer->append(test::enqueued("orders", "a")));
  REQUIRE(shm_looks_in_use(path));
  for (int i = 0; i < 3; ++i) {
    auto reader = must(JournalReader::open(path));
    CHECK(must(reader->read(0, 10)).size() == 1);
    reader.reset();
    CHECK(shm_looks_in_use(path));  // on the old probe: false, the reader's probe dropped it
  }
  must(writer->append(test::enqueued("orders", "b")));
  CHECK(shm_looks_in_use(path));
}

}  // TEST_SUITE

}  // namespace journal_kept_locks_test

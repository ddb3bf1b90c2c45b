// Disk full: the page cap, and a filesystem that really runs out of space. The failing append
// and every later one get journal.full; everything committed before stays readable.
#include "tests/faults/fault_support.hpp"

#include <cerrno>
#include <csignal>
#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>

namespace faults_disk_full_test {

using namespace hugo;
using namespace hugo::faults;

namespace {

struct FillOutcome {
  std::int64_t last_ok = 0;
  Status failure;
  Status later;
  Status health;
};

// Appends groups of three marker events until one fails; then tries one more append.
FillOutcome fill(Journal& journal) {
  FillOutcome out;
  for (int i = 0; i < 100'000; ++i) {
    std::vector<Event> group;
    for (int k = 0; k < 3; ++k) group.push_back(test::enqueued("faults", marker(3 * i + k + 1)));
    auto seq = journal.append_group_async(group).wait();
    if (!seq.ok()) {
      out.failure = std::move(seq).error();
      break;
    }
    out.last_ok = *seq + 2;
  }
  if (auto later = journal.append(test::enqueued("faults", "small")); !later.ok()) {
    out.later = std::move(later).error();
  }
  out.health = journal.health();
  return out;
}

// Every event up to last_ok is there, with its marker payload, and groups were all or nothing.
void expect_prefix(const std::filesystem::path& path, std::int64_t last_ok) {
  auto all = read_all(path);
  REQUIRE_MESSAGE(all.ok(), describe(all));
  REQUIRE(static_cast<std::int64_t>(all->size()) == last_ok);
  CHECK(last_ok % 3 == 0);
  for (std::int64_t i = 0; i < last_ok; ++i) {
    INFO("seq " << i + 1);
    CHECK((*all)[static_cast<std::size_t>(i)].payload == std::optional<std::string>(marker(i + 1)));
  }
}

// A tmpfs of `bytes` mounted at `dir` in this process's own mount namespace; false if the
// environment forbids it (not root, or a container without CAP_SYS_ADMIN).
bool mount_small_tmpfs(const std::filesystem::path& dir, std::size_t bytes) {
  if (::unshare(CLONE_NEWNS) != 0) return false;
  if (::mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return false;
  const std::string options = "size=" + std::to_string(bytes) + ",mode=0700";
  return ::mount("tmpfs", dir.c_str(), "tmpfs", 0, options.c_str()) == 0;
}

enum class SmallDisk { Tmpfs, FileSizeLimit };

// In a forked child: puts a journal on a small disk, fills it, and copies the files out to
// `copy` (a tmpfs vanishes with the child's mount namespace). Exit code 20: mounting refused.
ChildReport fill_small_disk(SmallDisk kind, const std::filesystem::path& small, const std::filesystem::path& copy) {
  return run_forked([&](FILE* report) {
    constexpr std::size_t kBytes = 384 * 1024;
    if (kind == SmallDisk::Tmpfs) {
      if (!mount_small_tmpfs(small, kBytes)) return 20;
    } else {
      std::signal(SIGXFSZ, SIG_IGN);  // a write past the limit then fails with EFBIG
      const rlimit limit{kBytes, kBytes};
      if (::setrlimit(RLIMIT_FSIZE, &limit) != 0) return 10;
    }
    const auto path = small / "j.db";
    JournalOptions options;
    options.wal_limit_bytes = 64 * 1024;
    options.wal_checkpoint_bytes = 32 * 1024;
    auto journal = Journal::open(path, options);
    if (!journal.ok()) {
      report_result(report, journal);
      return 11;
    }
    FillOutcome out = fill(**journal);
    std::fprintf(report, "last_ok %lld\n", static_cast<long long>(out.last_ok));
    if (out.failure.ok()) return 12;
    report_result(report, out.failure);
    std::fprintf(report, "later %s\n", out.later.ok() ? "ok" : out.later.error().code().c_str());
    (void)(*journal)->close();
    std::error_code ec;
    std::filesystem::copy_file(path, copy, ec);
    if (!ec && std::filesystem::exists(wal_of(path))) std::filesystem::copy_file(wal_of(path), wal_of(copy), ec);
    return ec ? 13 : 0;
  });
}

}  // namespace

TEST_SUITE("faults.disk_full") {

TEST_CASE("page cap: journal.full with stage and sqlite_code, groups all or nothing, reopen continues") {
  test::TempDir dir;
  const auto path = dir / "j.db";
  JournalOptions options;
  options.max_pages = 60;
  FillOutcome out;
  {
    auto journal = Journal::open(path, options);
    REQUIRE(journal.ok());
    out = fill(**journal);
    CHECK((*journal)->durable_seq() == out.last_ok);
  }
  REQUIRE_FALSE(out.failure.ok());
  CHECK(out.failure.error().code() == errc::journal_full);
  CHECK(out.failure.error().find("sqlite_code") != nullptr);
  CHECK(out.failure.error().find("stage") != nullptr);
  CHECK(out.failure.error().message().find("free space") != std::string::npos);
  REQUIRE_FALSE(out.later.ok());
  CHECK(out.later.error().code() == errc::journal_full);
  CHECK(out.health.error().code() == errc::journal_full);
  CHECK(out.last_ok > 30);
  expect_prefix(path, out.last_ok);

  auto reopened = Journal::open(path, {});
  REQUIRE(reopened.ok());
  auto next = (*reopened)->append(test::enqueued("faults", "after"));
  REQUIRE(next.ok());
  CHECK(*next == out.last_ok + 1);
}

// A real "no space left on device": a 384 KiB tmpfs in a private mount namespace (root with
// CAP_SYS_ADMIN). RLIMIT_FSIZE runs everywhere: the kernel refuses writes past the limit with
// EFBIG, as a quota would. Both must give journal.full and keep every committed event.
TEST_CASE("small filesystem: journal.full when the disk runs out, every committed event readable") {
  for (const SmallDisk kind : {SmallDisk::Tmpfs, SmallDisk::FileSizeLimit}) {
    const char* name = kind == SmallDisk::Tmpfs ? "tmpfs" : "RLIMIT_FSIZE";
    CAPTURE(name);
    test::TempDir dir;
    const auto small = dir / "small";
    std::filesystem::create_directory(small);
    const auto copy = dir / "copy.db";
    ChildReport child = fill_small_disk(kind, small, copy);
    INFO(child.text);
    if (kind == SmallDisk::Tmpfs && child.exit_code == 20) {
      MESSAGE("mounting a tmpfs is not allowed here; the small disk is covered by RLIMIT_FSIZE");
      continue;
    }
    REQUIRE(child.exit_code == 0);
    CHECK(reported_code(child.text) == errc::journal_full);
    CHECK(child.text.find("later journal.full") != std::string::npos);
    const auto at = child.text.find("last_ok ");
    REQUIRE(at != std::string::npos);
    const std::int64_t last_ok = std::stoll(child.text.substr(at + 8));
    CHECK(last_ok > 30);
    expect_prefix(copy, last_ok);
    // With space again, the journal takes appends and continues the numbering.
    auto reopened = Journal::open(copy, {});
    REQUIRE(reopened.ok());
    auto next = (*reopened)->append(test::enqueued("faults", "after"));
    REQUIRE(next.ok());
    CHECK(*next == last_ok + 1);
  }
}

}  // TEST_SUITE

}  // namespace faults_disk_full_test

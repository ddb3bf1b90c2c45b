// A read-only journal file, and a read-only folder. Root ignores permission bits, so each case
// runs in a forked child that becomes nobody (65534) when the suite runs as root; run as an
// ordinary user, the child keeps that user. Writing gives journal.read_only; reading gives
// every committed event.
#include "tests/faults/fault_support.hpp"

namespace faults_permissions_test {

using namespace hugo;
using namespace hugo::faults;

namespace {

// In a child without privileges: Journal::open's outcome, then every event a JournalReader reads.
ChildReport open_both_ways(const std::filesystem::path& path) {
  return run_forked([&](FILE* report) {
    if (!drop_privileges()) return 10;
    report_result(report, Journal::open(path, {}));
    auto all = read_all(path);
    if (!all.ok()) {
      std::fprintf(report, "read failed\n");
      report_result(report, all);
      return 11;
    }
    for (const Event& e : *all) std::fprintf(report, "event %lld %s\n", static_cast<long long>(e.seq), e.payload->c_str());
    return 0;
  });
}

// The child read exactly the committed events, with their payloads.
void expect_child_read(const ChildReport& child, const std::vector<Event>& committed) {
  std::string expected;
  for (const Event& e : committed) expected += "event " + std::to_string(e.seq) + " " + *e.payload + "\n";
  const auto at = child.text.find("event ");
  REQUIRE(at != std::string::npos);
  CHECK(child.text.substr(at) == expected);
}

// Lets an unprivileged child reach `dir` (mkdtemp makes it 0700), with write access or not.
void open_folder(const std::filesystem::path& dir, bool writable) {
  std::filesystem::permissions(dir, writable ? std::filesystem::perms::all
                                             : (std::filesystem::perms::owner_read | std::filesystem::perms::owner_exec |
                                                std::filesystem::perms::group_read | std::filesystem::perms::group_exec |
                                                std::filesystem::perms::others_read | std::filesystem::perms::others_exec));
}

// Gives the owner write access back at scope exit, so the temporary folder can be removed when
// the suite does not run as root.
struct WritableAgain {
  std::filesystem::path folder;
  ~WritableAgain() {
    std::error_code ec;
    std::filesystem::permissions(folder, std::filesystem::perms::owner_all, std::filesystem::perm_options::add, ec);
  }
};

// With `folder` (inside `dir`) made read-only for the child: open_both_ways.
ChildReport open_in_read_only_folder(const std::filesystem::path& dir, const std::filesystem::path& folder,
                                     const std::filesystem::path& path) {
  open_folder(dir, true);
  WritableAgain restore{folder};
  open_folder(folder, false);
  return open_both_ways(path);
}

constexpr auto kReadOnly = std::filesystem::perms::owner_read | std::filesystem::perms::group_read |
                           std::filesystem::perms::others_read;

}  // namespace

TEST_SUITE("faults.permissions") {

TEST_CASE("read-only journal file: Journal::open gives journal.read_only, readers read every event") {
  test::TempDir dir;
  const auto path = dir / "j.db";
  const auto committed = write_history(path, 60);
  std::filesystem::remove(path.string() + "-lock");  // the unprivileged child makes its own
  std::filesystem::permissions(path, kReadOnly);
  open_folder(dir.path(), true);
  ChildReport child = open_both_ways(path);
  INFO(child.text);
  CHECK(child.exit_code == 0);
  CHECK(reported_code(child.text) == errc::journal_read_only);
  CHECK(child.text.find("not writable") != std::string::npos);
  expect_child_read(child, committed);
}

TEST_CASE("read-only folder after a clean close: journal.read_only (lock file), readers read every event") {
  test::TempDir dir;
  const auto folder = dir / "ro";
  std::filesystem::create_directory(folder);
  const auto path = folder / "j.db";
  const auto committed = write_history(path, 60);
  std::filesystem::remove(path.string() + "-lock");
  ChildReport child = open_in_read_only_folder(dir.path(), folder, path);
  INFO(child.text);
  CHECK(child.exit_code == 0);
  CHECK(reported_code(child.text) == errc::journal_read_only);
  CHECK(child.text.find("lock_file=") != std::string::npos);
  expect_child_read(child, committed);
}

TEST_CASE("read-only folder and files after a writer crash: the un-checkpointed WAL is read, nothing lost") {
  test::TempDir dir;
  const auto folder = dir / "ro";
  std::filesystem::create_directory(folder);
  const auto path = folder / "j.db";
  const std::int64_t acked = kill_writer_after(path, 150);
  REQUIRE(std::filesystem::file_size(wal_of(path)) > 0);
  auto committed = read_all(path);
  REQUIRE(committed.ok());
  REQUIRE(static_cast<std::int64_t>(committed->size()) >= acked);
  for (const auto& entry : std::filesystem::directory_iterator(folder)) {
    std::filesystem::permissions(entry.path(), kReadOnly);
  }
  ChildReport child = open_in_read_only_folder(dir.path(), folder, path);
  INFO(child.text);
  CHECK(child.exit_code == 0);
  CHECK(reported_code(child.text) == errc::journal_read_only);
  expect_child_read(child, *committed);
}

}  // TEST_SUITE

}  // namespace faults_permissions_test

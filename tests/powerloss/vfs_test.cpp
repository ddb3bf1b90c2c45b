// The power-loss VFS on its own (power_loss_vfs.hpp): what restore() keeps, byte for byte.
#include <doctest/doctest.h>

#include "tests/powerloss/power_loss_vfs.hpp"
#include "tests/support/file_bytes.hpp"
#include "tests/support/temp_dir.hpp"

#include <sqlite3.h>

#include <fstream>
#include <memory>
#include <random>
#include <string>

using namespace hugo::test::powerloss;

namespace {

// One file opened through the installed VFS, as SQLite would open a database.
class VfsFile {
 public:
  // The name ends with extra NULs, as SQLite's own file names do (no URI parameters follow).
  VfsFile(const std::filesystem::path& path, int type) : path_(path.string() + std::string(4, '\0')) {
    sqlite3_vfs* vfs = sqlite3_vfs_find(nullptr);
    memory_.reset(new char[static_cast<std::size_t>(vfs->szOsFile)]());
    file_ = reinterpret_cast<sqlite3_file*>(memory_.get());
    int out = 0;
    REQUIRE(vfs->xOpen(vfs, path_.c_str(), file_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | type, &out) == SQLITE_OK);
  }
  ~VfsFile() { close(); }
  int write(const std::string& bytes, sqlite3_int64 offset) {
    return file_->pMethods->xWrite(file_, bytes.data(), static_cast<int>(bytes.size()), offset);
  }
  int sync() { return file_->pMethods->xSync(file_, SQLITE_SYNC_NORMAL); }
  void close() {
    if (file_ != nullptr && file_->pMethods != nullptr) file_->pMethods->xClose(file_);
    file_ = nullptr;
  }

 private:
  std::string path_;
  std::unique_ptr<char[]> memory_;
  sqlite3_file* file_ = nullptr;
};

std::string bytes_of(const std::filesystem::path& path) { return hugo::test::read_bytes(path); }

}  // namespace

TEST_SUITE("powerloss") {

TEST_CASE("the power-loss VFS keeps what was synced and throws away the rest") {
  PowerLossVfs& vfs = PowerLossVfs::install();
  const hugo::test::TempDir dir("hugo-power-loss-vfs");
  const auto path = dir.path() / "data.db";
  std::mt19937_64 rng(1);
  vfs.arm(1000);
  VfsFile file(path, SQLITE_OPEN_MAIN_DB);
  REQUIRE(file.write(std::string(1024, 'a'), 0) == SQLITE_OK);
  REQUIRE(file.sync() == SQLITE_OK);
  REQUIRE(file.write(std::string(1024, 'b'), 512) == SQLITE_OK);  // over the synced bytes and past them
  REQUIRE(file.write(std::string(100, 'c'), 2000) == SQLITE_OK);
  CHECK(vfs.operations() == 4);

  SUBCASE("a cut refuses every later write and sync") {
    vfs.cut_now();
    CHECK(file.write("x", 0) == SQLITE_IOERR_WRITE);
    CHECK(file.sync() == SQLITE_IOERR_FSYNC);
    file.close();
    const RestoreReport report = vfs.restore(CutMode::Clean, rng);
    CHECK(report.writes_undone == 2);
    CHECK_FALSE(report.torn);
    CHECK(bytes_of(path) == std::string(1024, 'a'));
  }

  SUBCASE("Torn: a last write that starts past the end of the file as restored keeps nothing") {
    file.close();
    vfs.cut_now();
    REQUIRE(vfs.restore(CutMode::Torn, rng).torn);
    // The last write (100 x 'c' at 2000) lies wholly past the old end (1536): its one sector is
    // lost whole; the write before it is undone.
    CHECK(bytes_of(path) == std::string(1024, 'a'));
  }

  SUBCASE("Torn inside the old size: new bytes up to a random byte of the last sector, old after") {
    REQUIRE(file.write(std::string(700, 'd'), 100) == SQLITE_OK);  // sectors 0 and 1, over old bytes
    file.close();
    vfs.cut_now();
    REQUIRE(vfs.restore(CutMode::Torn, rng).torn);
    const std::string after = bytes_of(path);
    REQUIRE(after.size() == 1024);
    CHECK(after.substr(0, 100) == std::string(100, 'a'));
    CHECK(after.substr(100, 412) == std::string(412, 'd'));  // the first sector of the write: new
    const std::size_t kept = after.find_first_not_of('d', 512);  // the last sector: 'd' then 'a'
    REQUIRE(kept != std::string::npos);
    CHECK(kept < 800);
    CHECK(after.substr(kept) == std::string(1024 - kept, 'a'));
  }

  SUBCASE("Subset: each unsynced write survives or not, and none opens a hole") {
    file.close();
    vfs.cut_now();
    const RestoreReport report = vfs.restore(CutMode::Subset, rng);
    // 'b' (512..1536) kept or not; 'c' (at 2000) only past a hole, so never.
    const std::string after = bytes_of(path);
    CHECK((after == std::string(1024, 'a') || after == std::string(512, 'a') + std::string(1024, 'b')));
    CHECK(report.writes_kept == (after.size() == 1536 ? 1u : 0u));
  }

  SUBCASE("the planted fault: a sync makes nothing durable") {
    vfs.forget_syncs(true);
    REQUIRE(file.sync() == SQLITE_OK);
    vfs.forget_syncs(false);
    file.close();
    vfs.cut_now();
    CHECK(vfs.restore(CutMode::Clean, rng).writes_undone == 2);
    CHECK(bytes_of(path) == std::string(1024, 'a'));
  }
}

TEST_CASE("the power-loss VFS drops files whose folder was not synced, and the -shm") {
  PowerLossVfs& vfs = PowerLossVfs::install();
  const hugo::test::TempDir dir("hugo-power-loss-vfs");
  std::mt19937_64 rng(2);
  std::size_t dropped = 0;
  std::size_t kept_after_folder_sync = 0;
  for (int round = 0; round < 40; ++round) {
    const auto db = dir.path() / ("db-" + std::to_string(round));
    const auto wal = dir.path() / ("db-" + std::to_string(round) + "-wal");
    vfs.arm(1000);
    {
      VfsFile main(db, SQLITE_OPEN_MAIN_DB);
      REQUIRE(main.write("main", 0) == SQLITE_OK);
      REQUIRE(main.sync() == SQLITE_OK);  // its bytes are synced, its name is not
      if (round % 2 == 1) {
        VfsFile log(wal, SQLITE_OPEN_WAL);
        REQUIRE(log.write("wal", 0) == SQLITE_OK);
        REQUIRE(log.sync() == SQLITE_OK);  // the first sync of a new WAL syncs the folder
      }
    }
    std::ofstream(db.string() + "-shm") << "index";
    vfs.cut_now();
    vfs.restore(CutMode::Clean, rng);
    CHECK_FALSE(std::filesystem::exists(db.string() + "-shm"));
    if (round % 2 == 1) {
      kept_after_folder_sync += std::filesystem::exists(db) && std::filesystem::exists(wal) ? 1 : 0;
    } else if (!std::filesystem::exists(db)) {
      ++dropped;
    } else {
      CHECK(bytes_of(db) == "main");
    }
  }
  CHECK(kept_after_folder_sync == 20);
  CHECK(dropped > 0);
  CHECK(dropped < 20);
}

}  // TEST_SUITE

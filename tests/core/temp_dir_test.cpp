// The tests' TempDir removes only a folder it made itself.
#include <doctest/doctest.h>

#include "tests/support/temp_dir.hpp"

#include <climits>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

namespace core_temp_dir_test {

namespace fs = std::filesystem;
using hugo::test::TempDir;

namespace {

// Sets an environment variable for the scope, then puts back what was there.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

}  // namespace

TEST_SUITE("core") {

TEST_CASE("TempDir makes a fresh folder and removes it with its contents") {
  fs::path made;
  {
    TempDir dir("hugo-temp-dir-test");
    made = dir.path();
    CHECK(fs::is_directory(made));
    CHECK(made.filename().string().rfind("hugo-temp-dir-test-", 0) == 0);
    CHECK(fs::is_empty(made));
    std::ofstream(dir / "file") << "x";
  }
  CHECK_FALSE(fs::exists(made));
}

TEST_CASE("TempDir fails when it cannot make its folder, and leaves the parent folder alone") {
  // A parent that exists but in which mkdtemp fails, even for root: its path is short enough to
  // stat, but the path of the folder to make inside it exceeds PATH_MAX (ENAMETOOLONG).
  TempDir outer("hugo-temp-dir-outer");
  fs::path parent = outer.path();
  const std::size_t want = PATH_MAX - 12;  // "/hugo-test-XXXXXX" no longer fits, "/keep" does
  while (parent.native().size() < want) {
    parent /= std::string(std::min<std::size_t>(200, want - parent.native().size() - 1), 'd');
  }
  fs::create_directories(parent);
  std::ofstream(parent / "keep") << "not the test's to delete";
  REQUIRE(fs::exists(parent / "keep"));

  {
    const ScopedEnv tmpdir("TMPDIR", parent.string());
    CHECK_THROWS_WITH_AS(TempDir(), doctest::Contains("cannot make a temporary folder"), std::runtime_error);
  }
  CHECK(fs::exists(parent / "keep"));
}

}  // TEST_SUITE

}  // namespace core_temp_dir_test

// `hugo-journal import` as a process: killed at any moment it leaves no journal or a complete one
// (never a part of one), a rerun succeeds, and input that does not follow on is bad input (exit 3).
#include <doctest/doctest.h>

#include "tests/support/process.hpp"
#include "tests/tools/bulk_journal.hpp"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <random>
#include <thread>

#include <fcntl.h>
#include <sys/prctl.h>

namespace tools_import_test {

using namespace hugo;
using namespace hugo::test::cli;
using hugo::test::TempDir;

namespace {

// `hugo-journal import TARGET` in `cwd`, reading stdin from `input_fd`, stdout and stderr discarded.
class ImportProcess {
 public:
  ImportProcess(const std::filesystem::path& cwd, const std::string& target, int input_fd) {
    const std::string cli = cli_binary();
    const pid_t parent = ::getpid();
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);
      const int null = ::open("/dev/null", O_WRONLY);
      if (null < 0 || ::chdir(cwd.c_str()) != 0) ::_exit(126);
      ::dup2(input_fd, STDIN_FILENO);
      ::dup2(null, STDOUT_FILENO);
      ::dup2(null, STDERR_FILENO);
      ::execl(cli.c_str(), cli.c_str(), "import", target.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
  }
  ~ImportProcess() {
    if (!reaped_) {
      ::kill(pid_, SIGKILL);
      (void)wait();
    }
  }
  ImportProcess(const ImportProcess&) = delete;
  ImportProcess& operator=(const ImportProcess&) = delete;

  pid_t pid() const { return pid_; }
  void kill_hard() { ::kill(pid_, SIGKILL); }
  // The exit code, or 128 + signal.
  int wait() {
    int status = 0;
    ::waitpid(pid_, &status, 0);
    reaped_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
};

// The export of a journal of `count` events.
std::string large_export(const TempDir& dir, int count) {
  build_bulk_journal(dir / "source.journal", count);
  const Run exported = run_cli({"export", "source.journal"}, dir.path());
  REQUIRE(exported.code == 0);
  return exported.out;
}

// The names in `dir` that start with `prefix`.
std::vector<std::string> files_starting(const std::filesystem::path& dir, const std::string& prefix) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(prefix, 0) == 0) names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

// `target` in `dir` is a whole journal: verify finds nothing, and it exports exactly `input`.
void check_complete(const std::filesystem::path& dir, const std::string& target, const std::string& input) {
  const Run verify = run_cli({"verify", target}, dir);
  CAPTURE(verify.err);
  CHECK(verify.code == 0);
  const Run exported = run_cli({"export", target}, dir);
  CHECK(exported.code == 0);
  CHECK(exported.out.size() == input.size());
  CHECK(exported.out == input);
}

std::uintmax_t file_bytes(const std::filesystem::path& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  return ec ? 0 : size;
}

// A rerun of `import copy.journal` after killed ones succeeds, and removes the temps they left
// ("copy.journal.import-PID.tmp" and its companions).
void check_rerun(const std::filesystem::path& dir, const std::string& input) {
  const Run rerun = run_cli({"import", "copy.journal"}, dir, input);
  CAPTURE(rerun.err);
  REQUIRE(rerun.code == 0);
  check_complete(dir, "copy.journal", input);
  CHECK(files_starting(dir, "copy.journal.") == std::vector<std::string>{});
}

void write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    REQUIRE(n > 0);
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

}  // namespace

TEST_SUITE("cli.import") {

TEST_CASE("an import SIGKILLed at random points leaves no journal or a complete one, and a rerun succeeds") {
  TempDir dir;
  const std::string input = large_export(dir, 60000);
  write_text(dir / "in.ndjson", input);
  auto import_once = [&](const std::string& target) {
    const int fd = ::open((dir / "in.ndjson").c_str(), O_RDONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    auto child = std::make_unique<ImportProcess>(dir.path(), target, fd);
    ::close(fd);
    return child;
  };
  // One whole import first: its duration spreads the kill points over an import's lifetime.
  const auto started = std::chrono::steady_clock::now();
  REQUIRE(import_once("reference.journal")->wait() == 0);
  const auto whole = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  std::filesystem::remove(dir / "reference.journal");
  std::mt19937 rng(std::random_device{}());
  // Lowered under the sanitizers (scripts/test.sh), never raised: each round imports 60,000 events.
  const int kills = std::min(hugo::test::crash_kills(20), 20);
  for (int kill = 0; kill < kills; ++kill) {
    CAPTURE(kill);
    auto child = import_once("copy.journal");
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % (whole.count() + 1)));  // a random kill point
    child->kill_hard();
    const int code = child->wait();
    CHECK((code == 128 + SIGKILL || code == 0));  // never refused: a killed import leaves no "copy.journal"
    if (std::filesystem::exists(dir / "copy.journal")) {
      check_complete(dir.path(), "copy.journal", input);
      for (const char* name : {"copy.journal", "copy.journal-wal", "copy.journal-shm"}) {
        std::filesystem::remove(dir / name);  // the next import starts from nothing again
      }
    } else {
      CHECK(files_starting(dir.path(), "copy.journal-").empty());  // no -wal, -shm or -lock either
    }
  }
  check_rerun(dir.path(), input);
}

TEST_CASE("a killed import leaves only a temp file that every verb refuses, and a rerun removes it") {
  TempDir dir;
  const std::string input = large_export(dir, 30000);
  const std::size_t most = input.find('\n', input.size() / 4 * 3) + 1;
  int pipe_fds[2];
  REQUIRE(::pipe2(pipe_fds, O_CLOEXEC) == 0);
  ImportProcess child(dir.path(), "copy.journal", pipe_fds[0]);
  ::close(pipe_fds[0]);
  write_all(pipe_fds[1], std::string_view(input).substr(0, most));  // then it waits for the rest
  // Killed once it committed its first large transaction (20000 rows) into the file it builds.
  const std::string temp = "copy.journal.import-" + std::to_string(child.pid()) + ".tmp";
  auto wal_bytes = [&] { return file_bytes(dir / (temp + "-wal")); };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (wal_bytes() < (512u << 10) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  REQUIRE(wal_bytes() >= (512u << 10));
  child.kill_hard();
  CHECK(child.wait() == 128 + SIGKILL);
  ::close(pipe_fds[1]);

  CHECK_FALSE(std::filesystem::exists(dir / "copy.journal"));
  CHECK(run_cli({"info", "copy.journal"}, dir.path()).code == 3);
  for (const char* verb : {"info", "verify", "export", "tasks"}) {
    const Run refused = run_cli({verb, temp}, dir.path());
    CAPTURE(verb);
    CAPTURE(refused.err);
    CHECK(refused.code == 3);
    CHECK(refused.err.find("journal.corrupt") != std::string::npos);
  }
  check_rerun(dir.path(), input);
}

TEST_CASE("import of seqs that go backwards, or of another journal's events, is exit 3 naming the line") {
  FixtureJournal f;
  const auto lines = lines_of(f.cli({"export", "f.journal"}).out);  // with the real journal id
  REQUIRE(lines.size() == 24);
  auto join = [](const std::vector<std::string>& parts) {
    std::string text;
    for (const auto& line : parts) text += line + "\n";
    return text;
  };
  auto backwards = lines;
  backwards[6] = lines[3];  // seq 4 after seq 6
  auto mixed = lines;
  mixed[9] = replace_all(lines[9], f.id, "another-journal");
  for (const auto& [input, line] : {std::pair{join(backwards), "line 7"}, std::pair{join(mixed), "line 10"}}) {
    const Run r = f.cli({"import", "bad.journal"}, input);
    CAPTURE(r.err);
    CHECK(r.code == 3);
    CHECK(is_one_error_line(r.err));
    CHECK(r.err.rfind(std::string("hugo-journal: import: codec.invalid: ") + line + ": ", 0) == 0);
    CHECK(r.err.find("--help") == std::string::npos);
    CHECK(files_starting(f.dir.path(), "bad.journal").empty());
  }
}

}  // TEST_SUITE

}  // namespace tools_import_test

// `hugo-journal follow` that stops: an owner that cannot be reached, drops every connection or
// dies mid-stream never leaves a half-made replica (a file that every verb calls damaged).
#include <doctest/doctest.h>

#include "tests/tools/bulk_journal.hpp"
#include "tests/support/journal_text.hpp"
#include "tests/support/process.hpp"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

namespace tools_follow_stop_test {

using namespace hugo;
using namespace hugo::test::cli;
using hugo::test::Child;
using hugo::test::TempDir;

namespace {

// A loopback TCP socket listening on a free port (closed by the destructor).
struct Listener {
  int fd = -1;
  int port = 0;
  Listener() {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    REQUIRE(::listen(fd, 16) == 0);
    socklen_t len = sizeof(addr);
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port = ntohs(addr.sin_port);
  }
  ~Listener() { close(); }
  void close() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port); }
  // Accepts one connection within `timeout_ms` and closes it at once; false if none came.
  bool accept_and_drop(int timeout_ms) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) return false;
    const int client = ::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) return false;
    ::close(client);
    return true;
  }
};

std::vector<std::string> files_in(const std::filesystem::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

TEST_SUITE("cli.follow_stop") {

TEST_CASE("follow --once to a closed port is exit 6, says no replica was created, and leaves no file") {
  TempDir dir;
  Listener closed;
  const std::string url = closed.url();
  closed.close();  // nothing listens there any more
  const Run r = run_cli({"follow", url, "--into", "r.journal", "--once"}, dir.path());
  CAPTURE(r.err);
  CHECK(r.code == 6);
  CHECK(is_one_error_line(r.err));
  CHECK(r.err.rfind("hugo-journal: follow: replication.unavailable: cannot follow " + url, 0) == 0);
  CHECK(r.err.find("r.journal was not created") != std::string::npos);
  CHECK(r.err.find("will retry") == std::string::npos);
  CHECK(files_in(dir.path()).empty());  // no replica, -wal, -shm, -lock or temp
  CHECK(run_cli({"info", "r.journal"}, dir.path()).code == 3);
}

TEST_CASE("follow against an owner that drops every connection leaves no file when stopped") {
  TempDir dir;
  Listener dropping;
  Child follower({cli_binary(), "follow", dropping.url(), "--into", (dir / "r.journal").string()});
  for (int attempt = 0; attempt < 3; ++attempt) REQUIRE(dropping.accept_and_drop(20000));  // it keeps retrying
  ::kill(follower.pid(), SIGTERM);
  CHECK(follower.wait() == 0);
  CHECK(files_in(dir.path()).empty());
}

TEST_CASE("a follower SIGKILLed before its owner answered leaves only a temp, which the next follow removes") {
  TempDir dir;
  Listener dropping;
  Child follower({cli_binary(), "follow", dropping.url(), "--into", (dir / "r.journal").string()});
  REQUIRE(dropping.accept_and_drop(20000));  // it has opened its replica and asked the owner
  follower.kill_hard();
  CHECK(follower.wait() == 128 + SIGKILL);
  const std::string temp = "r.journal.follow-" + std::to_string(follower.pid()) + ".tmp";
  const auto left = files_in(dir.path());
  CHECK(std::find(left.begin(), left.end(), temp) != left.end());
  for (const auto& name : left) CHECK(name.rfind(temp, 0) == 0);  // the temp and its companions only
  CHECK(run_cli({"info", temp}, dir.path()).code == 3);
  CHECK(run_cli({"info", "r.journal"}, dir.path()).code == 3);
  const std::string url = dropping.url();
  dropping.close();
  CHECK(run_cli({"follow", url, "--into", "r.journal", "--once"}, dir.path()).code == 6);
  CHECK(files_in(dir.path()).empty());
}

TEST_CASE("follow whose owner dies mid-stream keeps a replica every verb reads, holding a prefix of the owner") {
  TempDir dir;
  build_bulk_journal(dir / "owner.journal", 60000);
  Child server({cli_binary(), "serve", (dir / "owner.journal").string(), "--listen", "127.0.0.1:0"});
  const auto line = server.read_line();
  REQUIRE(line.has_value());
  const std::size_t at = line->find(" on http://");
  REQUIRE(at != std::string::npos);
  const std::string url = line->substr(at + 4);
  Child follower({cli_binary(), "follow", url, "--into", (dir / "r.journal").string()});
  // Until the replica names its owner it is built beside r.journal; once it is there it is whole.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!std::filesystem::exists(dir / "r.journal") && std::chrono::steady_clock::now() < deadline) {
    const Run info = run_cli({"info", "r.journal"}, dir.path());
    CHECK((info.code == 0 || info.err.find("journal.not_found") != std::string::npos));
  }
  REQUIRE(std::filesystem::exists(dir / "r.journal"));
  server.kill_hard();
  CHECK(server.wait() == 128 + SIGKILL);
  for (const char* verb : {"info", "verify", "tasks"}) {
    const Run read = run_cli({verb, "r.journal"}, dir.path());
    CAPTURE(verb);
    CAPTURE(read.err);
    CHECK(read.code == 0);
  }
  ::kill(follower.pid(), SIGTERM);
  CHECK(follower.wait() == 0);
  const std::string replica = ok_or_throw(hugo::test::journal_as_ndjson(dir / "r.journal"));
  const std::string owner = ok_or_throw(hugo::test::journal_as_ndjson(dir / "owner.journal"));
  CHECK(owner.substr(0, replica.size()) == replica);
  const Run info = run_cli({"info", "--json", "r.journal"}, dir.path());
  CHECK(info.code == 0);
  CHECK(info.out.find("\"role\":\"replica\"") != std::string::npos);
  for (const auto& name : files_in(dir.path())) CHECK(name.find(".tmp") == std::string::npos);
}

}  // TEST_SUITE

}  // namespace tools_follow_stop_test

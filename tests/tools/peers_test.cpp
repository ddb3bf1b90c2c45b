// Peers as processes: `hugo-journal follow` and `hugo-journal serve` SIGKILLed and restarted over
// real loopback sockets resume exactly where they stopped, with no duplicate and nothing lost.
#include <doctest/doctest.h>

#include "tests/tools/cli_support.hpp"
#include "tests/support/journal_text.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

#include <hugo/event_json.hpp>
#include <hugo/journal.hpp>
#include <hugo/peers.hpp>

#include <random>
#include <thread>

namespace tools_peers_test {

using namespace hugo;
using namespace hugo::test::cli;
using hugo::test::Child;
using hugo::test::TempDir;

namespace {

template <class T>
T ok_or_fail(Result<T> r) {
  REQUIRE_MESSAGE(r.ok(), (r.ok() ? std::string() : r.error().to_string()));
  return std::move(r).value();
}

std::string all_events(const std::filesystem::path& path) { return ok_or_fail(hugo::test::journal_as_ndjson(path)); }

void append_events(Journal& journal, int count, const std::string& tag) {
  for (int i = 0; i < count; i += 100) {
    std::vector<AppendTicket> tickets;
    for (int j = i; j < std::min(count, i + 100); ++j) {
      Event e;
      e.kind = EventKind::Enqueued;
      e.queue = j % 2 ? "orders" : "billing";
      e.payload = tag + "-" + std::to_string(j);
      e.occurred_at = SystemClock().now();
      tickets.push_back(journal.append_async(std::move(e)));
    }
    for (auto& t : tickets) ok_or_fail(t.wait());
  }
}

// The owner journal at `path` (Process durability) with `count` events tagged "first".
std::unique_ptr<Journal> open_owner(const std::filesystem::path& path, int count) {
  JournalOptions o;
  o.durability = Durability::Process;
  auto owner = ok_or_fail(Journal::open(path, o));
  append_events(*owner, count, "first");
  return owner;
}

// `follow --once` exits 0 once the replica holds everything the owner has.
void finish_follow(const std::string& url, const std::filesystem::path& replica, const std::filesystem::path& cwd) {
  const Run done = run_cli({"follow", url, "--into", replica.string(), "--once"}, cwd);
  INFO(done.err);
  REQUIRE(done.code == 0);
}

}  // namespace

TEST_SUITE("cli.peers") {

TEST_CASE("a SIGKILLed follower restarts and resumes with no duplicates") {
  TempDir dir;
  auto owner = open_owner(dir / "owner.journal", 60000);
  ReplicationServerOptions so;
  so.journal = dir / "owner.journal";
  so.port = 0;
  so.live = owner.get();
  auto server = ok_or_fail(ReplicationServer::start(so));
  std::mt19937 rng(std::random_device{}());
  std::int64_t previous = 0;
  for (int kill = 0; kill < 6; ++kill) {
    Child follower({cli_binary(), "follow", server->url(), "--into", (dir / "replica.journal").string()});
    std::this_thread::sleep_for(std::chrono::milliseconds(20 + rng() % 120));  // a random kill point
    follower.kill_hard();
    CHECK(follower.wait() == 128 + SIGKILL);
    append_events(*owner, 500, "between-" + std::to_string(kill));
    auto readable = read_replica_position(dir / "replica.journal");
    if (!readable.ok()) {
      // Killed before it first reached the owner: the file may not be a replica yet, which is
      // only allowed while nothing was ever applied.
      CHECK(previous == 0);
    } else {
      // Whatever survived is a consistent prefix: the position matches the rows it covers.
      const ReplicaPosition& position = *readable;
      CHECK(position.seq >= previous);
      previous = position.seq;
      const std::string rows = all_events(dir / "replica.journal");
      CHECK(rows == all_events(dir / "owner.journal").substr(0, rows.size()));
    }
  }
  finish_follow(server->url(), dir / "replica.journal", dir.path());
  CHECK(all_events(dir / "replica.journal") == all_events(dir / "owner.journal"));
  auto position = ok_or_fail(read_replica_position(dir / "replica.journal"));
  CHECK(position.seq == owner->durable_seq());
  const Run verify = run_cli({"verify", (dir / "replica.journal").string()}, dir.path());
  CHECK(verify.code == 0);
}

TEST_CASE("a SIGKILLed server is resumed from when it restarts") {
  TempDir dir;
  auto owner = open_owner(dir / "owner.journal", 2000);
  auto serve = [&](const std::string& listen) {
    auto child = std::make_unique<Child>(
        std::vector<std::string>{cli_binary(), "serve", (dir / "owner.journal").string(), "--listen", listen});
    const auto line = child->read_line();
    REQUIRE(line.has_value());
    const std::size_t at = line->find(" on http://");
    REQUIRE(at != std::string::npos);
    return std::make_pair(std::move(child), line->substr(at + 4));
  };
  auto [server, url] = serve("127.0.0.1:0");
  const std::string port = url.substr(url.rfind(':') + 1);
  FollowerOptions fo;
  fo.url = url;
  fo.replica = dir / "replica.journal";
  fo.backoff_min = std::chrono::milliseconds(10);
  fo.backoff_max = std::chrono::milliseconds(200);
  fo.idle_timeout = std::chrono::milliseconds(3000);
  auto follower = ok_or_fail(HttpFollower::open(fo));
  Status result = ok_status();
  std::thread runner([&] { result = follower->run(); });
  auto wait_for = [&](std::int64_t seq) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (follower->position().seq < seq && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return follower->position().seq;
  };
  CHECK(wait_for(owner->durable_seq()) == owner->durable_seq());
  // The replica is readable by the CLI while its follower holds it.
  for (const std::vector<std::string>& verb : {std::vector<std::string>{"info", "--json"}, {"verify"}, {"tail", "--json"},
                                              {"tasks", "--json"}, {"stats", "--json"}}) {
    std::vector<std::string> args = verb;
    args.push_back((dir / "replica.journal").string());
    const Run read = run_cli(args, dir.path());
    CAPTURE(verb.front());
    CHECK(read.code == 0);
  }
  const Run info = run_cli({"info", "--json", (dir / "replica.journal").string()}, dir.path());
  CHECK(info.out.find("\"role\":\"replica\"") != std::string::npos);
  server->kill_hard();
  CHECK(server->wait() == 128 + SIGKILL);
  append_events(*owner, 3000, "while-down");
  auto [restarted, url2] = serve("127.0.0.1:" + port);
  CHECK(url2 == url);
  CHECK(wait_for(owner->durable_seq()) == owner->durable_seq());
  follower->stop();
  runner.join();
  CHECK(result.ok());
  CHECK(all_events(dir / "replica.journal") == all_events(dir / "owner.journal"));
}

TEST_CASE("serve, follow and promote report peer errors on one line with exit code 6") {
  TempDir dir;
  {
    auto owner = ok_or_fail(Journal::open(dir / "owner.journal"));
    append_events(*owner, 10, "x");
  }
  const Run open_listen = run_cli({"serve", (dir / "owner.journal").string(), "--listen", "0.0.0.0:0"}, dir.path());
  CHECK(open_listen.code == 6);
  CHECK(is_one_error_line(open_listen.err));
  CHECK(open_listen.err.find("replication.token_required") != std::string::npos);
  const Run unreachable =
      run_cli({"follow", "http://127.0.0.1:9", "--into", (dir / "r.journal").string(), "--once"}, dir.path());
  CHECK(unreachable.code == 6);
  CHECK(is_one_error_line(unreachable.err));
  const Run not_replica = run_cli({"promote", (dir / "owner.journal").string()}, dir.path());
  CHECK(not_replica.code == 2);
  CHECK(is_one_error_line(not_replica.err));
}

TEST_CASE("serve refuses a port outside 0..65535 instead of listening elsewhere") {
  TempDir dir;
  {
    auto owner = ok_or_fail(Journal::open(dir / "owner.journal"));
    append_events(*owner, 1, "x");
  }
  for (const std::string listen : {"127.0.0.1:99999", "127.0.0.1:65536", "127.0.0.1:70x", "127.0.0.1:-1"}) {
    CAPTURE(listen);
    // A child, so that a server wrongly listening is seen (its "serving" line) and killed.
    Child serve({cli_binary(), "serve", (dir / "owner.journal").string(), "--listen", listen});
    const auto line = serve.read_line(5000);
    CHECK_FALSE(line.has_value());
    if (line) serve.kill_hard();
    CHECK(serve.wait() == 2);
  }
}

}  // TEST_SUITE

}  // namespace tools_peers_test

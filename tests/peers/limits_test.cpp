// The replication server's boundaries over real loopback sockets: slow and numerous clients from
// one address (127.0.0.2) while well-behaved clients (127.0.0.1) keep being served, the
// connection limits' 503, and the answers to requests it does not serve.
#include "tests/peers/peers_support.hpp"

#include <hugo/error_codes.hpp>
#include <hugo/task_queue.hpp>

#include <httplib.h>

#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <thread>
#include <vector>

namespace peers_limits_test {

using namespace hugo;
using namespace hugo::test;

namespace {

constexpr const char* kToken = "s3cret";

// A TCP connection from `source` (a loopback address) to 127.0.0.1:port; -1 if it failed.
int connect_from(const char* source, int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in local{};
  local.sin_family = AF_INET;
  ::inet_pton(AF_INET, source, &local.sin_addr);
  sockaddr_in remote{};
  remote.sin_family = AF_INET;
  remote.sin_port = htons(static_cast<std::uint16_t>(port));
  ::inet_pton(AF_INET, "127.0.0.1", &remote.sin_addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0 ||
      ::connect(fd, reinterpret_cast<sockaddr*>(&remote), sizeof remote) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool send_text(int fd, const std::string& text) {
  return ::send(fd, text.data(), text.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(text.size());
}

// Reads what is there without waiting; false once the server closed the connection.
bool still_open(int fd, std::string& received) {
  char buf[4096];
  while (true) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) {
      received.append(buf, static_cast<std::size_t>(n));
      continue;
    }
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }
}

std::unique_ptr<ReplicationServer> serve_with(const std::filesystem::path& journal,
                                              const std::function<void(ReplicationServerOptions&)>& adjust = {}) {
  ReplicationServerOptions o;
  o.journal = journal;
  o.port = 0;
  o.token = kToken;
  o.heartbeat = std::chrono::milliseconds(50);
  if (adjust) adjust(o);
  return must(ReplicationServer::start(o));
}

// The client timeouts below are 1 s, times HUGO_TEST_TIME_FACTOR where a sanitizer stage slows
// every thread down (scripts/test.sh sets it); a server starved by the attack misses them.
int time_factor() {
  const char* f = std::getenv("HUGO_TEST_TIME_FACTOR");
  const int n = f ? std::atoi(f) : 1;
  return n > 0 ? n : 1;
}

// What a well-behaved client must get while an attack runs: /healthz within a 1 s client
// timeout, and a complete catch-up of an authenticated follower with 1 s timeouts.
void served_while_attacked(ReplicationServer& server, Journal& owner, const std::filesystem::path& replica) {
  const int seconds = time_factor();
  httplib::Client health(server.url());
  health.set_connection_timeout(seconds, 0);
  health.set_read_timeout(seconds, 0);
  health.set_write_timeout(seconds, 0);
  auto ok = health.Get("/healthz");
  REQUIRE_MESSAGE(ok, "healthz: " << (ok ? "" : httplib::to_string(ok.error())));
  CHECK(ok->status == 200);
  FollowerOptions fo;
  fo.url = server.url();
  fo.replica = replica;
  fo.token = kToken;
  fo.connect_timeout = std::chrono::seconds(seconds);
  fo.idle_timeout = std::chrono::seconds(seconds);
  auto follower = must(HttpFollower::open(fo));
  auto caught = follower->catch_up();
  REQUIRE_MESSAGE(caught.ok(), (caught.ok() ? std::string() : caught.error().to_string()));
  CHECK(*caught == owner.durable_seq());
}

}  // namespace

TEST_CASE("slow headers from 40 connections do not starve /healthz or a follower, and are cut at the deadline") {
  TempDir dir;
  auto owner = must(Journal::open(dir / "owner.journal", fast_options()));
  append_workload(*owner, 200);
  auto server = serve_with(dir / "owner.journal", [](ReplicationServerOptions& o) {
    o.header_timeout = std::chrono::milliseconds(500);
  });
  const int port = server->port();

  // 40 connections from 127.0.0.2, each sending one header line per round (never the blank line
  // that ends the headers); a connection the server closes is counted and opened again.
  constexpr int kAttackers = 40;
  std::atomic<bool> done{false};
  std::atomic<int> connected{0};
  std::atomic<int> cut{0};
  std::thread attack([&] {
    std::vector<int> fds(kAttackers, -1);
    std::vector<int> lines(kAttackers, 0);
    for (int round = 0; round < 400 && !done; ++round) {  // bounded: at most 400 rounds of 25 ms
      for (int i = 0; i < kAttackers; ++i) {
        std::string ignored;
        if (fds[i] >= 0 && (!still_open(fds[i], ignored) ||
                            !send_text(fds[i], "X-Slow-" + std::to_string(lines[i]++) + ": 1\r\n"))) {
          ::close(fds[i]);
          fds[i] = -1;
          cut.fetch_add(1);
        }
        if (fds[i] < 0) {
          fds[i] = connect_from("127.0.0.2", port);
          lines[i] = 0;
          if (fds[i] >= 0 && send_text(fds[i], "GET /v1/info HTTP/1.1\r\nHost: attacker\r\n") && round == 0) {
            connected.fetch_add(1);
          }
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    for (int fd : fds) {
      if (fd >= 0) ::close(fd);
    }
  });
  struct StopAttack {  // also when a REQUIRE below fails
    std::atomic<bool>& done;
    std::thread& attack;
    ~StopAttack() {
      done = true;
      if (attack.joinable()) attack.join();
    }
  } stop_attack{done, attack};
  REQUIRE(eventually([&] { return connected.load() == kAttackers; }, std::chrono::seconds(10)));

  for (int i = 0; i < 5; ++i) {
    CAPTURE(i);
    append_workload(*owner, 50, "during-" + std::to_string(i));
    served_while_attacked(*server, *owner, dir / "replica.journal");
  }
  // Each slow connection is closed at the total deadline although it sends a line every 25 ms.
  const bool all_cut = eventually([&] { return cut.load() >= kAttackers; }, std::chrono::seconds(10));
  CHECK(all_cut);
}

TEST_CASE("1000 connections from one address: beyond the per-address cap each gets a 503 with a JSON error") {
  // 1000 client sockets plus the server's own exceed Debian's default soft limit of 1024 open
  // files: raise it to the hard limit's allowance.
  rlimit files{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &files) == 0);
  if (files.rlim_cur < 4096) {
    files.rlim_cur = std::min<rlim_t>(files.rlim_max, 4096);
    REQUIRE_MESSAGE(::setrlimit(RLIMIT_NOFILE, &files) == 0, "cannot raise the open-file limit to 4096");
  }
  REQUIRE(files.rlim_cur >= 2048);
  TempDir dir;
  auto owner = must(Journal::open(dir / "owner.journal", fast_options()));
  append_workload(*owner, 100);
  auto server = serve_with(dir / "owner.journal", [](ReplicationServerOptions& o) {
    o.header_timeout = std::chrono::seconds(120);  // the admitted ones stay for the whole count
    o.max_connections = 256;
    o.max_connections_per_address = 64;
  });

  // Every attacker sends an unfinished request: the admitted ones hold their slot until the
  // header deadline, the others must be refused at once.
  constexpr int kConnections = 1000;
  std::vector<int> fds;
  for (int i = 0; i < kConnections; ++i) {
    const int fd = connect_from("127.0.0.2", server->port());
    REQUIRE(fd >= 0);
    fds.push_back(fd);
    (void)send_text(fd, "GET /healthz HTTP/1.1\r\nHost: attacker\r\n");
  }
  served_while_attacked(*server, *owner, dir / "replica.journal");

  // Each connection beyond the cap gets its 503 and is closed; the 64 admitted ones wait for
  // headers (the deadline is far away). Bounded: at most 1200 rounds of 50 ms.
  std::vector<std::string> received(kConnections);
  std::vector<bool> open(kConnections, true);
  int still = kConnections;
  for (int round = 0; round < 1200 && still > 64; ++round) {
    for (int i = 0; i < kConnections; ++i) {
      if (open[i] && !still_open(fds[i], received[i])) {
        open[i] = false;
        --still;
      }
    }
    if (still > 64) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  for (int fd : fds) ::close(fd);
  CHECK(still == 64);
  int refused = 0;
  int cut = 0;
  for (const std::string& r : received) {
    if (r.empty()) {
      ++cut;
      continue;
    }
    CHECK(r.rfind("HTTP/1.1 503", 0) == 0);
    CHECK(r.find("Retry-After: 1") != std::string::npos);
    CHECK(r.find("\r\n\r\n{\"error\":{\"message\":") != std::string::npos);
    CHECK(r.find("\"code\":\"replication.unavailable\"") != std::string::npos);
    CHECK(r.find("per address") != std::string::npos);
    ++refused;
  }
  CHECK(refused == kConnections - 64);
  CHECK(cut == 64);  // still open: admitted, waiting for their headers
  httplib::Client metrics(server->url());
  auto text = metrics.Get("/metrics", {{"Authorization", std::string("Bearer ") + kToken}});
  REQUIRE(text);
  CHECK(text->body.find("hugo_peer_rejected_connections_total " + std::to_string(refused)) != std::string::npos);
}

TEST_CASE("beyond max_connections every address gets the 503") {
  TempDir dir;
  { auto owner = must(Journal::open(dir / "owner.journal", fast_options())); append_workload(*owner, 5); }
  auto server = serve_with(dir / "owner.journal", [](ReplicationServerOptions& o) { o.max_connections = 3; });
  std::vector<int> held;
  for (int i = 0; i < 3; ++i) held.push_back(connect_from("127.0.0.2", server->port()));
  // The server counts a connection once it accepted it: wait until the fourth is refused.
  std::string reply;
  const bool refused = eventually([&] {
    const int fd = connect_from("127.0.0.1", server->port());
    reply.clear();
    (void)send_text(fd, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    for (int i = 0; i < 100 && still_open(fd, reply); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    ::close(fd);
    return reply.rfind("HTTP/1.1 503", 0) == 0;
  }, std::chrono::seconds(10));
  CHECK(refused);
  CHECK(reply.find("too many connections (3 open)") != std::string::npos);
  CHECK(reply.find("replication.unavailable") != std::string::npos);
  for (int fd : held) ::close(fd);
}

TEST_CASE("requests the server does not serve are answered at once with the JSON error body") {
  TempDir dir;
  { auto owner = must(Journal::open(dir / "owner.journal", fast_options())); append_workload(*owner, 5); }
  auto server = serve_with(dir / "owner.journal");
  httplib::Client client(server->url());
  client.set_read_timeout(1, 0);  // the old server waited 10 s for a body that never comes
  client.set_default_headers({{"Authorization", std::string("Bearer ") + kToken}});
  auto post = client.Post("/v1/info");
  REQUIRE(post);
  CHECK(post->status == 405);
  CHECK(post->body.find("{\"error\":{\"message\":") == 0);
  CHECK(post->body.find("\"code\":\"error.validation\"") != std::string::npos);
  auto missing = client.Get("/v2/nothing");
  REQUIRE(missing);
  CHECK(missing->status == 404);
  CHECK(missing->get_header_value("Content-Type") == "application/json");
  CHECK(missing->body.find("{\"error\":{\"message\":") == 0);
  CHECK(missing->body.find("\"code\":\"error.validation\"") != std::string::npos);
  CHECK(missing->body.find("/v2/nothing") != std::string::npos);
  auto health = client.Post("/healthz");
  REQUIRE(health);
  CHECK(health->status == 405);
}

TEST_CASE("a stream ends with exactly one heartbeat; a heartbeat never reports a lastSeq past the journal's") {
  TempDir dir;
  { auto owner = must(Journal::open(dir / "owner.journal", fast_options())); append_workload(*owner, 5); }
  auto server = serve_with(dir / "owner.journal", [](ReplicationServerOptions& o) {
    o.token.clear();
    o.batch = 2;  // batches of 2, 2 and 1 events, each closed by a heartbeat
  });
  httplib::Client client(server->url());
  auto beyond = client.Get("/v1/events?after=100");
  REQUIRE(beyond);
  CHECK(beyond->body.find("\"lastSeq\":5,") != std::string::npos);
  auto all = client.Get("/v1/events?after=0");
  REQUIRE(all);
  std::vector<std::string> lines;
  for (std::size_t start = 0; start < all->body.size();) {
    const std::size_t nl = all->body.find('\n', start);
    lines.push_back(all->body.substr(start, nl - start));
    start = nl + 1;
  }
  REQUIRE(lines.size() == 8);
  CHECK(lines[7] == "{\"type\":\"heartbeat\",\"lastSeq\":5,\"seq\":5,\"hash\":\"" +
                        format_hash(journal_hash(dir / "owner.journal")) + "\"}");
  CHECK(lines[6].find("\"type\":\"heartbeat\"") == std::string::npos);  // the one before is an event
  CHECK(lines[2].find("{\"type\":\"heartbeat\",\"lastSeq\":5,\"seq\":2,") == 0);

  std::string first_idle;
  (void)client.Get("/v1/events?after=100&follow=1", [&](const char* data, std::size_t size) {
    first_idle.append(data, size);
    return first_idle.find('\n') == std::string::npos;
  });
  CHECK(first_idle.find("{\"type\":\"heartbeat\",\"lastSeq\":5,") == 0);
}

TEST_CASE("a port outside 0..65535 is refused") {
  TempDir dir;
  { auto owner = must(Journal::open(dir / "owner.journal", fast_options())); append_workload(*owner, 1); }
  for (const int port : {65536, 99999, -1}) {
    CAPTURE(port);
    ReplicationServerOptions o;
    o.journal = dir / "owner.journal";
    o.port = port;
    auto refused = ReplicationServer::start(o);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code() == errc::validation);
  }
}

// An owner with 10 events served live (no token), and followers that commit one event per batch.
struct LiveOwner {
  TempDir dir;
  std::unique_ptr<Journal> owner = must(Journal::open(dir / "owner.journal", fast_options()));
  std::unique_ptr<ReplicationServer> server = start();

  std::unique_ptr<ReplicationServer> start() {
    append_workload(*owner, 10);
    return serve_with(dir / "owner.journal", [&](ReplicationServerOptions& o) {
      o.token.clear();
      o.live = owner.get();
    });
  }
  auto follower_per_event() {
    FollowerOptions fo;
    fo.url = server->url();
    fo.replica = dir / "replica.journal";
    fo.max_batch = 1;  // a callback per event
    return must(HttpFollower::open(fo));
  }
};

TEST_CASE("on_applied may be replaced while the follower runs") {
  LiveOwner live;
  auto& [dir, owner, server] = live;
  auto follower = live.follower_per_event();
  std::atomic<int> calls{0};
  std::thread runner([&] { (void)follower->run(); });
  // Each round replaces the callback, then lets the follower commit (and call it) once more.
  bool caught = true;
  for (int i = 0; i < 100 && caught; ++i) {
    follower->on_applied([&calls](const ReplicaPosition&) { calls.fetch_add(1); });
    must(owner->append(enqueued("orders", "replaced-" + std::to_string(i))));
    caught = eventually([&] { return follower->position().seq == owner->durable_seq(); });
  }
  follower->stop();
  runner.join();
  CHECK(caught);
  CHECK(calls.load() >= 100);
}

TEST_CASE("on_applied may call back into the follower and into a queue, and stop the follower from inside") {
  LiveOwner live;
  auto& [dir, owner, server] = live;
  // The application's own queue, fed from the replica's progress.
  std::shared_ptr<Journal> local(must(Journal::open(dir / "local.journal", fast_options())).release());
  TaskQueueOptions qo;
  qo.name = "applied";
  qo.run_sweeper = false;
  auto queue = must(TaskQueue::open(local, qo));

  auto follower = live.follower_per_event();
  int calls = 0;
  std::int64_t last_seen = 0;
  follower->on_applied([&](const ReplicaPosition& p) {
    ++calls;
    last_seen = follower->position().seq;  // re-enters the follower
    CHECK(last_seen == p.seq);
    (void)queue->pending_count();
    (void)queue->snapshot();
    (void)queue->dead_letters();
    (void)queue->backpressure();
    CHECK(queue->enqueue("applied-" + std::to_string(p.seq)).ok());
    if (p.seq == owner->durable_seq()) follower->stop();  // ends run() from its own thread
  });
  const Status ran = follower->run();
  CHECK(ran.ok());
  CHECK(last_seen == owner->durable_seq());
  CHECK(calls >= 1);
  CHECK(queue->pending_count() == static_cast<std::size_t>(calls));
}

}  // namespace peers_limits_test

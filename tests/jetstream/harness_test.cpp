// The test servers themselves (tests/support/nats_server.hpp): a server starts with JetStream,
// dies by SIGKILL, comes back on the same port with the same store; a cluster forms, elects a meta
// leader, and the harness finds a stream's leader again after that leader is killed. JetStream
// API requests go over the plain NATS text protocol here, so the harness is tested without the
// library's own client.
#include "tests/support/nats_server.hpp"

#include <doctest/doctest.h>

#include <cerrno>
#include <csignal>
#include <string>

namespace {

using hugo::test::NatsCluster;
using hugo::test::NatsServer;

// One request-reply over the NATS protocol (CONNECT, SUB, PUB, read MSG): the reply's payload.
std::string nats_request(int port, const std::string& subject, const std::string& payload) {
  const int fd = hugo::test::nats_detail::connect_loopback(port);
  REQUIRE_MESSAGE(fd >= 0, "cannot connect to port " << port);
  const std::string out = "CONNECT {\"verbose\":false,\"pedantic\":false}\r\nSUB _INBOX.harness 1\r\nPUB " + subject +
                          " _INBOX.harness " + std::to_string(payload.size()) + "\r\n" + payload + "\r\n";
  REQUIRE(::send(fd, out.data(), out.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(out.size()));
  std::string in;
  std::string reply;
  for (int reads = 0; reads < 200; ++reads) {  // bounded: 200 reads of at most 5 s each
    if (auto msg = in.find("MSG _INBOX.harness 1 "); msg != std::string::npos) {
      const auto eol = in.find("\r\n", msg);
      if (eol != std::string::npos) {
        const auto size = std::stoul(in.substr(msg + 21, eol - msg - 21));
        if (in.size() >= eol + 2 + size) {
          reply = in.substr(eol + 2, size);
          break;
        }
      }
    }
    if (in.find("PING\r\n") != std::string::npos) {
      in.erase(in.find("PING\r\n"), 6);
      ::send(fd, "PONG\r\n", 6, MSG_NOSIGNAL);
    }
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 5000) <= 0) break;
    char chunk[8192];
    const ssize_t n = ::read(fd, chunk, sizeof(chunk));
    if (n <= 0) break;
    in.append(chunk, static_cast<std::size_t>(n));
  }
  ::close(fd);
  REQUIRE_MESSAGE(!reply.empty(), "no reply to " << subject << "; read: " << in);
  return reply;
}

std::string create_stream(int port, const std::string& name, int replicas) {
  return nats_request(port, "$JS.API.STREAM.CREATE." + name,
                      "{\"name\":\"" + name + "\",\"subjects\":[\"" + name + ".x\"],\"storage\":\"file\",\"num_replicas\":" +
                          std::to_string(replicas) + "}");
}

bool alive(pid_t pid) { return ::kill(pid, 0) == 0 || errno != ESRCH; }

}  // namespace

TEST_CASE("a test server starts with JetStream, dies by SIGKILL and restarts on its port and store") {
  auto server = NatsServer::start();
  const pid_t first = server.pid();
  REQUIRE(first > 0);
  CHECK(server.url() == "nats://127.0.0.1:" + std::to_string(server.port()));
  const std::string created = create_stream(server.port(), "HARNESS", 1);
  CHECK_MESSAGE(created.find("\"error\"") == std::string::npos, created);

  server.kill();
  CHECK_FALSE(server.running());
  CHECK_FALSE(alive(first));  // reaped, not a zombie
  CHECK(hugo::test::nats_detail::connect_loopback(server.port()) < 0);

  const int port = server.port();
  server.restart();
  CHECK(server.port() == port);
  CHECK(server.pid() != first);
  const std::string info = nats_request(server.port(), "$JS.API.STREAM.INFO.HARNESS", "");
  CHECK_MESSAGE(info.find("\"name\":\"HARNESS\"") != std::string::npos, info);  // the store survived
  CHECK(info.find("\"error\"") == std::string::npos);

  const pid_t second = server.pid();
  server.stop();
  CHECK_FALSE(alive(second));
}

TEST_CASE("a test server takes an auth token and a max_payload") {
  hugo::test::NatsServerOptions options;
  options.token = "s3cret";
  options.max_payload = 4096;
  auto server = NatsServer::start(options);
  const auto varz = server.monitor("/varz");
  REQUIRE(varz);
  CHECK_MESSAGE(varz->find("\"max_payload\": 4096") != std::string::npos, *varz);
  CHECK(varz->find("\"auth_required\": true") != std::string::npos);
}

TEST_CASE("a three-node cluster elects a meta leader and a stream leader, and again after a kill") {
  auto cluster = NatsCluster::start(3);
  REQUIRE(cluster.size() == 3);
  CHECK(cluster.urls() == cluster.node(0).url() + "," + cluster.node(1).url() + "," + cluster.node(2).url());
  const std::string meta = cluster.meta_leader(0);
  CHECK(!meta.empty());
  CHECK(cluster.meta_leader(1) == meta);
  CHECK(cluster.meta_leader(2) == meta);

  const std::string created = create_stream(cluster.node(0).port(), "HARNESS3", 3);
  CHECK_MESSAGE(created.find("\"num_replicas\":3") != std::string::npos, created);
  const std::size_t leader = cluster.wait_stream_leader("HARNESS3");

  cluster.kill(leader);
  const std::size_t next = cluster.wait_stream_leader("HARNESS3");
  CHECK(next != leader);
  cluster.restart(leader);
  CHECK(cluster.node(leader).running());
  CHECK(!cluster.meta_leader(leader).empty());
  CHECK(cluster.wait_stream_leader("HARNESS3") < 3);
}

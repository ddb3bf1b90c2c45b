// The test servers themselves (tests/support/nats_server.hpp): a server starts with JetStream,
// dies by SIGKILL, comes back on the same port with the same store; a cluster forms, elects a meta
// leader, and the harness finds a stream's leader again after that leader is killed. JetStream
// API requests go through RawNats (the plain text protocol), so the harness is tested without the
// library's own client.
#include "tests/jetstream/raw_nats.hpp"
#include "tests/support/nats_server.hpp"

#include <doctest/doctest.h>

#include <cerrno>
#include <csignal>
#include <string>
#include <vector>

namespace jetstream_harness_test {

namespace {

using hugo::test::NatsCluster;
using hugo::test::NatsServer;
using hugo::test::RawNats;

bool alive(pid_t pid) { return ::kill(pid, 0) == 0 || errno != ESRCH; }

}  // namespace

TEST_CASE("a test server starts with JetStream, dies by SIGKILL and restarts on its port and store") {
  auto server = NatsServer::start();
  const pid_t first = server.pid();
  REQUIRE(first > 0);
  CHECK(server.url() == "nats://127.0.0.1:" + std::to_string(server.port()));
  RawNats(server.port()).create_open_stream("HARNESS", "harness.x");

  server.kill();
  CHECK_FALSE(server.running());
  CHECK_FALSE(alive(first));  // reaped, not a zombie
  CHECK(hugo::test::nats_detail::connect_loopback(server.port()) < 0);

  const int port = server.port();
  server.restart();
  CHECK(server.port() == port);
  CHECK(server.pid() != first);
  const auto info = RawNats(server.port()).stream_info("HARNESS");  // the store survived
  REQUIRE(info);
  CHECK(info->subjects == std::vector<std::string>{"harness.x"});

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

  RawNats(cluster.node(0).port()).create_open_stream("HARNESS3", "harness3.x", 3);
  const std::size_t leader = cluster.wait_stream_leader("HARNESS3");

  cluster.kill(leader);
  const std::size_t next = cluster.wait_stream_leader("HARNESS3");
  CHECK(next != leader);
  cluster.restart(leader);
  CHECK(cluster.node(leader).running());
  CHECK(!cluster.meta_leader(leader).empty());
  CHECK(cluster.wait_stream_leader("HARNESS3") < 3);
}

}  // namespace jetstream_harness_test

// nats-server SIGKILLed and restarted (same port, same store) while a writer appends, a publisher
// publishes and a follower follows, all three real processes: the publisher and the follower
// reconnect on their own and, once the writer is done, the stream and the replica hold every
// event exactly once (docs/SCALE-OUT.md).
#include "tests/jetstream/e2e_support.hpp"

#include <doctest/doctest.h>

#include <string>

namespace jetstream_server_restart_test {

namespace {

using namespace hugo::test;
using namespace hugo::test::e2e;

}  // namespace

TEST_CASE("nats-server killed and restarted mid-stream: publisher and follower resume, nothing lost or repeated") {
  TempDir dir("hugo-js-restart");
  auto server = NatsServer::start();
  const auto journal = (dir / "owner.journal").string();
  const auto replica = (dir / "replica.journal").string();
  Proc writer(dir.path(), "writer", {e2e::writer(), journal, "100000", "10"});
  const std::string id = writer.wait_line("ready ").substr(6);
  const std::string stream = "HUGO_" + id;
  Proc publisher(dir.path(), "publisher", {cli(), "publish", journal, "--nats", server.url()});
  publisher.wait_line("publishing ");
  wait_until([&] { return stream_last_seq(server.port(), stream) > 0; }, "the publisher to create the stream");
  Proc follower(dir.path(), "follower", {cli(), "follow", server.url() + "/" + stream, "--into", replica});

  for (int outage = 0; outage < 2; ++outage) {
    // Mid-stream: the stream and the replica have moved since the last outage, the writer goes on.
    const auto published = stream_last_seq(server.port(), stream);
    const auto applied = last_seq(replica);
    wait_until([&] { return stream_last_seq(server.port(), stream) > published; }, "the stream to grow");
    wait_until([&] { return last_seq(replica) > applied; }, "the replica to grow");
    server.kill();
    // While the server is down the writer keeps appending; neither process may give up.
    const auto before = last_seq(journal);
    wait_until([&] { return last_seq(journal) > before + 20; }, "the writer to append");
    REQUIRE_MESSAGE(!publisher.poll(), "the publisher stopped: " << publisher.err());
    REQUIRE_MESSAGE(!follower.poll(), "the follower stopped: " << follower.err());
    server.restart();
  }

  // The writer appended all along; it stops appending only now (and keeps its journal open until
  // the end, as an owner process does).
  writer.signal(SIGUSR1);
  const std::string done = writer.wait_line("paused ");
  const auto lines = export_lines(dir.path(), journal);
  REQUIRE(std::to_string(lines.size()) == done.substr(7));
  REQUIRE_MESSAGE(eventually([&] { return stream_last_seq(server.port(), stream) == lines.size(); }),
                  "the stream is at " << stream_last_seq(server.port(), stream) << " of " << lines.size()
                                      << " events; the publisher says: " << publisher.err());
  REQUIRE_MESSAGE(eventually([&] { return last_seq(replica) == static_cast<std::int64_t>(lines.size()); }),
                  "the replica is at " << last_seq(replica) << " of " << lines.size()
                                       << " events; the follower says: " << follower.err());
  CHECK_MESSAGE(publisher.terminate() == 0, publisher.err());
  CHECK_MESSAGE(follower.terminate() == 0, follower.err());
  CHECK(writer.terminate() == 0);

  RawNats nats(server.port());
  check_stream_holds(nats, stream, id, lines);
  CHECK(export_lines(dir.path(), replica) == lines);
  const Ran verify = run_cli(dir.path(), {"verify", replica});
  CHECK_MESSAGE(verify.code == 0, verify.out << verify.err);
}

}  // namespace jetstream_server_restart_test

// A three-node cluster on loopback and an R3 stream: the member leading the stream is SIGKILLed
// while a writer appends and the publisher (given every member's URL) publishes. Publishing goes
// on through the new leader, and the stream ends with every event exactly once; a follower reading
// from a surviving member rebuilds the same journal (docs/SCALE-OUT.md, "Operating a cluster").
#include "tests/jetstream/e2e_support.hpp"

#include <doctest/doctest.h>

#include <string>

namespace jetstream_cluster_test {

namespace {

using namespace hugo::test;
using namespace hugo::test::e2e;

// The stream's last seq as the first running member answers it (any member forwards to the leader).
std::uint64_t cluster_last_seq(NatsCluster& cluster, const std::string& stream) {
  for (std::size_t i = 0; i < cluster.size(); ++i) {
    if (cluster.node(i).running()) {
      if (const auto seq = stream_last_seq(cluster.node(i).port(), stream)) return seq;
    }
  }
  return 0;
}

}  // namespace

TEST_CASE("an R3 stream whose leader is killed mid-stream: publishing goes on through the new leader, every event once") {
  TempDir dir("hugo-js-cluster");
  auto cluster = NatsCluster::start(3);
  const auto journal = (dir / "owner.journal").string();
  Proc writer(dir.path(), "writer", {e2e::writer(), journal, "100000", "10"});
  const std::string id = writer.wait_line("ready ").substr(6);
  const std::string stream = "HUGO_" + id;
  Proc publisher(dir.path(), "publisher", {cli(), "publish", journal, "--nats", cluster.urls(), "--replicas", "3"});
  publisher.wait_line("publishing ");
  wait_until([&] { return cluster_last_seq(cluster, stream) > 0; }, "the publisher to create the stream");
  const std::size_t leader = cluster.wait_stream_leader(stream);

  const auto published = cluster_last_seq(cluster, stream);
  wait_until([&] { return cluster_last_seq(cluster, stream) > published; }, "the stream to grow");
  cluster.kill(leader);
  const std::size_t next = cluster.wait_stream_leader(stream);
  CHECK(next != leader);
  const auto at_kill = cluster_last_seq(cluster, stream);
  wait_until([&] { return cluster_last_seq(cluster, stream) > at_kill; }, "publishing through the new leader");
  REQUIRE_MESSAGE(!publisher.poll(), "the publisher stopped: " << publisher.err());

  // The writer appended all along; it stops appending only now (and keeps its journal open until
  // the end, as an owner process does).
  writer.signal(SIGUSR1);
  const std::string done = writer.wait_line("paused ");
  const auto lines = export_lines(dir.path(), journal);
  REQUIRE(std::to_string(lines.size()) == done.substr(7));
  REQUIRE_MESSAGE(eventually([&] { return cluster_last_seq(cluster, stream) == lines.size(); }),
                  "the stream is at " << cluster_last_seq(cluster, stream) << " of " << lines.size()
                                      << " events; the publisher says: " << publisher.err());
  CHECK_MESSAGE(publisher.terminate() == 0, publisher.err());
  CHECK(writer.terminate() == 0);

  RawNats nats(cluster.node(next).port());
  check_stream_holds(nats, stream, id, lines);

  // The killed member comes back on its store and catches up; a follower then rebuilds the journal.
  cluster.restart(leader);
  const auto replica = (dir / "replica.journal").string();
  const Ran follow = run_cli(dir.path(), {"follow", cluster.node(next).url() + "/" + stream, "--into", replica, "--once"});
  REQUIRE_MESSAGE(follow.code == 0, follow.err);
  CHECK(export_lines(dir.path(), replica) == lines);
}

}  // namespace jetstream_cluster_test

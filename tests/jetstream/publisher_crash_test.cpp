// The publisher (`hugo-journal publish`, a real process) SIGKILLed at random points while a writer
// process keeps appending: afterwards the stream holds every event of the journal exactly once
// and in order (docs/SCALE-OUT.md, "Exactly once"), checked end to end through RawNats.
#include "tests/jetstream/e2e_support.hpp"
#include "tests/support/process.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <random>
#include <string>
#include <thread>

namespace jetstream_publisher_crash_test {

using namespace hugo::test;
using namespace hugo::test::e2e;

TEST_CASE("the publisher SIGKILLed at random points 50 times while the journal grows: every event once, in order") {
  TempDir dir("hugo-js-crash");
  auto server = NatsServer::start();
  const auto journal = (dir / "owner.journal").string();
  Proc writer(dir.path(), "writer", {e2e::writer(), journal, "20000", "5"});
  const std::string id = writer.wait_line("ready ").substr(6);
  const std::string stream = "HUGO_" + id;
  const unsigned seed = std::random_device{}();
  INFO("seed " << seed);
  std::mt19937 rng(seed);

  const int kills = crash_kills(50);  // scripts/test.sh lowers it under the sanitizers' slowdown
  int advanced = 0;  // rounds that waited until the stream took new events before the kill
  for (int round = 0; round < kills; ++round) {
    Proc publisher(dir.path(), "publisher", {cli(), "publish", journal, "--nats", server.url()});
    if (round % 10 == 5) {  // mid-stream, after it certainly published something this round
      publisher.wait_line("publishing ");
      const auto before = stream_last_seq(server.port(), stream);
      wait_until([&] { return stream_last_seq(server.port(), stream) > before; }, "the publisher to publish");
      ++advanced;
    } else if (rng() % 8 == 0) {  // while it starts: before or while it connects and recovers
      std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 40));
    } else {  // at a random point of its run
      publisher.wait_line("publishing ");
      std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 120));
    }
    const int code = publisher.kill();
    // A publisher stops on its own only on a fatal error: none may happen here.
    REQUIRE_MESSAGE(code == 128 + SIGKILL, "round " << round << ": the publisher exited " << code << ": "
                                                    << publisher.err());
  }
  CHECK(writer.terminate() == 0);
  const std::string done = writer.wait_line("done ");
  const auto lines = export_lines(dir.path(), journal);
  REQUIRE(std::to_string(lines.size()) == done.substr(5));
  MESSAGE(kills << " kills (" << advanced << " after a publish), stream at "
                  << stream_last_seq(server.port(), stream) << " of " << lines.size() << " events");

  const Ran rest = run_cli(dir.path(), {"publish", journal, "--nats", server.url(), "--once"});
  REQUIRE_MESSAGE(rest.code == 0, rest.err);
  RawNats nats(server.port());
  check_stream_holds(nats, stream, id, lines);
}

}  // namespace jetstream_publisher_crash_test

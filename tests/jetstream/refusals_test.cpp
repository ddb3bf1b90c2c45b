// What the publisher and the follower refuse, through the CLI against a real server: a purged
// stream, a stream with a message deleted, a stream of another journal, and an event larger than
// the server's max_payload. Each is one error line with its documented code and exit status
// (docs/CLI.md), and the refusal changes nothing: not the stream, not the replica.
#include "tests/jetstream/e2e_support.hpp"

#include <hugo/journal.hpp>

#include <doctest/doctest.h>

#include <string>

namespace jetstream_refusals_test {

namespace {

using namespace hugo::test;
using namespace hugo::test::e2e;

constexpr int kPeerExit = 6;  // docs/CLI.md: replication.* errors

// Appends `count` events with payloads of `payload_bytes` bytes; returns the journal id.
std::string append_events(const std::filesystem::path& path, int count, std::size_t payload_bytes = 20) {
  auto journal = hugo::Journal::open(path);
  REQUIRE_MESSAGE(journal.ok(), journal.error().to_string());
  for (int i = 0; i < count; ++i) {
    hugo::Event e;
    e.kind = hugo::EventKind::Enqueued;
    e.queue = "refusals";
    e.payload = std::string(payload_bytes, static_cast<char>('a' + i % 26));
    e.occurred_at = hugo::SystemClock().now();
    REQUIRE((*journal)->append(std::move(e)).ok());
  }
  return (*journal)->journal_id();
}

// A refusal: exit 6, one line on stderr naming `code` and containing `words`.
void check_refused(const Ran& ran, const std::string& code, const std::string& words) {
  CHECK_MESSAGE(ran.code == kPeerExit, "exit " << ran.code << ": " << ran.err);
  CHECK_MESSAGE(ran.err.find(code) != std::string::npos, ran.err);
  CHECK_MESSAGE(ran.err.find(words) != std::string::npos, ran.err);
  CHECK_MESSAGE(lines_of(ran.err).size() == 1, ran.err);
}

// A server, a folder for the journals, and a RawNats connection to inspect and damage streams.
struct Refusals {
  explicit Refusals(const NatsServerOptions& options = {}) : server(NatsServer::start(options)), nats(server.port()) {}
  TempDir dir{"hugo-js-refusals"};
  NatsServer server;
  RawNats nats;

  Ran publish(const std::filesystem::path& journal, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args{"publish", journal.string(), "--nats", server.url(), "--once"};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_cli(dir.path(), args);
  }
  Ran follow(const std::string& stream, const std::filesystem::path& replica) {
    return run_cli(dir.path(), {"follow", server.url() + "/" + stream, "--into", replica.string(), "--once"});
  }
};

// A server whose max_payload is 4096 bytes.
struct SmallMaxPayload : Refusals {
  static NatsServerOptions options() {
    NatsServerOptions o;
    o.max_payload = 4096;
    return o;
  }
  SmallMaxPayload() : Refusals(options()) {}
};

}  // namespace

TEST_CASE_FIXTURE(Refusals, "a purged stream, or one with a message deleted, stops the publisher and the follower") {
  const auto journal = dir / "owner.journal";
  const auto replica = dir / "replica.journal";
  const std::string id = append_events(journal, 10);
  const std::string stream = "HUGO_" + id;
  // The publisher's own streams deny purges and deletes; this one, made beforehand, allows both.
  nats.create_open_stream(stream, "hugo." + id + ".events");
  REQUIRE(publish(journal).code == 0);
  REQUIRE(follow(stream, replica).code == 0);  // the replica stops at seq 10 of the stream's 20
  append_events(journal, 10);
  REQUIRE(publish(journal).code == 0);
  const auto replica_lines = export_lines(dir.path(), replica);
  REQUIRE(replica_lines.size() == 10);
  const auto fresh = dir / "fresh.journal";

  SUBCASE("purged") {
    nats.purge(stream);
    append_events(journal, 5);
    check_refused(publish(journal), "replication.diverged", "purged");
    CHECK(nats.stream_info(stream)->messages == 0);
    // Its next message (stream seq 11) is gone. (A replica that held all 20 would miss nothing.)
    check_refused(follow(stream, replica), "replication.diverged", stream);
    check_refused(follow(stream, fresh), "replication.diverged", stream);
    CHECK_FALSE(std::filesystem::exists(fresh));
  }
  SUBCASE("a message deleted") {
    nats.delete_message(stream, 15);
    check_refused(publish(journal), "replication.diverged", "purged");
    // Both replicas meet the hole at stream seq 15 and keep nothing past 14.
    check_refused(follow(stream, fresh), "replication.diverged", stream);
    CHECK(last_seq(fresh) <= 14);
    check_refused(follow(stream, replica), "replication.diverged", stream);
    const auto after = export_lines(dir.path(), replica);
    CHECK(after.size() <= 14);
    CHECK(std::vector<std::string>(after.begin(), after.begin() + 10) == replica_lines);
    return;
  }
  CHECK(export_lines(dir.path(), replica) == replica_lines);
}

TEST_CASE_FIXTURE(Refusals, "a stream of another journal is refused by the publisher and the follower") {
  const auto a = dir / "a.journal";
  const auto b = dir / "b.journal";
  const std::string id_a = append_events(a, 10);
  const std::string id_b = append_events(b, 15);

  SUBCASE("the publisher: a stream that holds another journal") {
    REQUIRE(publish(b, {"--stream", "SHARED"}).code == 0);
    check_refused(publish(a, {"--stream", "SHARED"}), "replication.diverged", id_b);
    CHECK(nats.stream_info("SHARED")->last_seq == 15);
  }
  SUBCASE("the follower: its stream deleted and made again by another journal") {
    REQUIRE(publish(a, {"--stream", "SHARED"}).code == 0);
    const auto replica = dir / "replica-a.journal";
    REQUIRE(follow("SHARED", replica).code == 0);
    const auto before = export_lines(dir.path(), replica);
    REQUIRE(before.size() == 10);
    nats.delete_stream("SHARED");
    REQUIRE(publish(b, {"--stream", "SHARED"}).code == 0);
    // Stream seq 11 follows on, but it is journal B's seq 11.
    check_refused(follow("SHARED", replica), "replication.diverged", "SHARED");
    CHECK(export_lines(dir.path(), replica) == before);
  }
  SUBCASE("the publisher: journal A's stream name on another subject") {
    nats.create_open_stream("HUGO_" + id_a, "elsewhere.events");
    nats.publish("elsewhere.events", "{\"not\":\"an event\"}");
    check_refused(publish(a), "replication.diverged", "HUGO_" + id_a);
    CHECK(nats.stream_info("HUGO_" + id_a)->last_seq == 1);
  }
}

TEST_CASE_FIXTURE(SmallMaxPayload, "an event larger than the server's max_payload is a clear error, not a hang") {
  const auto journal = dir / "owner.journal";
  const std::string id = append_events(journal, 3);
  append_events(journal, 1, 8000);
  append_events(journal, 2);

  // run_cli's wait is bounded: a publisher that hangs fails the test instead of stalling it.
  const Ran ran = publish(journal);
  check_refused(ran, "replication.message_too_large", "max_payload");
  CHECK_MESSAGE(ran.err.find("4096") != std::string::npos, ran.err);
  // The events before it are published, and nothing of it or after it.
  const auto lines = export_lines(dir.path(), journal);
  check_stream_holds(nats, "HUGO_" + id, id, {lines.begin(), lines.begin() + 3});
}

}  // namespace jetstream_refusals_test

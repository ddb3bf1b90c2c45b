// JetStreamFollower against a real nats-server on loopback: a journal published by JetStreamSink
// makes the same replica as the HTTP follower's; resuming repeats nothing; damaged, gapped and
// purged streams are refused without writing; a promoted replica publishing on is followed.
#include "tests/peers/jetstream_support.hpp"
#include "tests/jetstream/raw_nats.hpp"
#include "tests/support/nats_server.hpp"
#include "tests/support/compacted_journal.hpp"
#include "tests/support/queue_fixture.hpp"

#include <hugo/error_codes.hpp>
#include <hugo/journal_admin.hpp>
#include <hugo/task_queue.hpp>

#include <algorithm>
#include <atomic>
#include <thread>

namespace peers_jetstream_follower_test {

using namespace hugo;
using namespace hugo::test;

namespace {

// Publishes everything `journal` holds into its default stream; returns the stream's name.
std::string publish(const std::filesystem::path& journal, const std::string& url) {
  JetStreamSinkOptions o;
  o.nats = nats_options(url);
  o.journal = journal;
  auto sink = must(JetStreamSink::open(o));
  const std::int64_t last = must(must(JournalReader::open(journal))->info()).last_seq;
  CHECK(must(sink->publish_available()) == last);
  return default_stream_name(journal_id_of(journal));
}

std::unique_ptr<JetStreamFollower> follower_of(const std::string& url, const std::string& stream,
                                               const std::filesystem::path& replica) {
  return must(JetStreamFollower::open(stream_follower_options(url, stream, replica)));
}

std::int64_t append_to(const std::filesystem::path& journal, int count, const std::string& tag) {
  auto writer = must(Journal::open(journal, fast_options()));
  append_workload(*writer, count, tag);
  return writer->durable_seq();
}

void check_refused(const Result<std::int64_t>& result, const std::string& says) {
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().code() == errc::replication_diverged);
  CHECK_MESSAGE(result.error().message().find(says) != std::string::npos, result.error().message());
  CHECK(result.error().metadata().count("stream") == 1);
  CHECK(result.error().metadata().count("stream_seq") == 1);
  CHECK(result.error().metadata().count("expected") == 1);
}

// A server, and an owner journal of `events` events published into its stream.
struct Published {
  NatsServer server = NatsServer::start();
  TempDir dir;
  std::filesystem::path owner = dir / "owner.journal";
  std::string stream;
  Published(int events, const std::string& tag) {
    append_to(owner, events, tag);
    stream = publish(owner, server.url());
  }
  std::unique_ptr<JetStreamFollower> follower(const std::string& replica) {
    return follower_of(server.url(), stream, dir / replica);
  }
};

}  // namespace

TEST_SUITE("jetstream") {

TEST_CASE("a stream replica equals the journal and an HTTP replica of it") {
  Published p(700, "job");
  const auto& [server, dir, owner, stream] = p;
  auto follower = p.follower("stream.journal");
  CHECK(must(follower->catch_up()) == 700);
  CHECK(follower->stream_seq() == 700);
  CHECK(follower->position().journal_id == journal_id_of(owner));
  CHECK(follower->position().hash == journal_hash(owner));
  CHECK(journal_ndjson(dir / "stream.journal") == journal_ndjson(owner));
  auto info = must(must(JournalReader::open(dir / "stream.journal"))->info());
  CHECK(info.journal_id == journal_id_of(owner));
  CHECK(info.role == "replica");
  CHECK(info.first_seq == 1);
  CHECK(info.last_seq == 700);
  auto point = must(read_stream_replica_position(dir / "stream.journal"));
  REQUIRE(point.has_value());
  CHECK(point->stream == stream);
  CHECK(point->stream_seq == 700);
  CHECK(point->seq == 700);

  // The HTTP follower's replica of the same journal: the same rows and the same rolling hash.
  ReplicationServerOptions so;
  so.journal = owner;
  so.port = 0;
  auto http = must(ReplicationServer::start(so));
  FollowerOptions fo;
  fo.url = http->url();
  fo.replica = dir / "http.journal";
  CHECK(must(must(HttpFollower::open(fo))->catch_up()) == 700);
  CHECK(journal_ndjson(dir / "http.journal") == journal_ndjson(dir / "stream.journal"));
  CHECK(must(read_replica_position(dir / "http.journal")).hash == must(read_replica_position(dir / "stream.journal")).hash);
  CHECK_FALSE(must(read_stream_replica_position(dir / "http.journal")).has_value());
}

TEST_CASE("a reopened follower resumes after its stream seq, repeating nothing, and follows live") {
  Published p(200, "first");
  const auto& [server, dir, owner, stream] = p;
  const auto replica = dir / "replica.journal";
  CHECK(must(p.follower("replica.journal")->catch_up()) == 200);

  append_to(owner, 150, "second");
  publish(owner, server.url());
  auto follower = p.follower("replica.journal");
  CHECK(follower->position().seq == 200);
  CHECK(follower->stream_seq() == 200);
  std::vector<std::int64_t> applied;
  follower->on_applied([&](const ReplicaPosition& p) { applied.push_back(p.seq); });
  CHECK(must(follower->catch_up()) == 350);
  REQUIRE_FALSE(applied.empty());
  CHECK(applied.back() == 350);
  CHECK(journal_ndjson(replica) == journal_ndjson(owner));  // each seq once: none repeated, none lost

  // Live: run() applies what the publisher adds.
  Status result = ok_status();
  std::thread runner([&] { result = follower->run(); });
  append_to(owner, 40, "live");
  publish(owner, server.url());
  const bool caught = eventually([&] { return follower->position().seq == 390; });
  follower->stop();
  runner.join();
  REQUIRE(caught);
  CHECK(result.ok());
  CHECK(follower->stream_seq() == 390);
  CHECK(journal_ndjson(replica) == journal_ndjson(owner));
}

TEST_CASE("run() outlives a server killed and restarted: nothing lost, nothing repeated") {
  Published p(100, "before");
  auto follower = p.follower("replica.journal");
  std::atomic<std::int64_t> last_applied{0};
  std::atomic<bool> repeated{false};
  follower->on_applied([&](const ReplicaPosition& position) {
    if (position.seq <= last_applied.load()) repeated.store(true);
    last_applied.store(position.seq);
  });
  Status result = ok_status();
  std::thread runner([&] { result = follower->run(); });
  const bool first = eventually([&] { return follower->position().seq == 100; });

  p.server.kill();
  append_to(p.owner, 60, "while-down");
  p.server.restart();
  publish(p.owner, p.server.url());
  const bool second = eventually([&] { return follower->position().seq == 160; });
  follower->stop();
  runner.join();
  CHECK(first);
  CHECK(second);
  CHECK(result.ok());
  CHECK_FALSE(repeated.load());
  CHECK(follower->stream_seq() == 160);
  CHECK(journal_ndjson(p.dir / "replica.journal") == journal_ndjson(p.owner));
}

TEST_CASE("another journal's message, a wrong hash, a gap and a purge are diverged and write nothing") {
  auto server = NatsServer::start();
  RawNats raw(server.port());
  TempDir dir;
  const auto owner = dir / "owner.journal";
  append_to(owner, 30, "job");
  const auto messages = stream_messages(owner);
  const std::string subject = stream_subject(journal_id_of(owner));
  const std::vector<nats::StoredMessage> first(messages.begin(), messages.begin() + 10);
  const std::vector<nats::StoredMessage> rest(messages.begin() + 10, messages.end());

  // A replica at stream seq 10 of stream `name`, whose messages 11.. are `damaged`.
  const auto refused_after_ten = [&](const std::string& name, std::vector<nats::StoredMessage> damaged,
                                     bool open_stream) {
    if (open_stream) raw.create_open_stream(name, subject);
    publish_messages(server.url(), name, subject, first);
    const auto replica = dir / (name + ".journal");
    CHECK(must(follower_of(server.url(), name, replica)->catch_up()) == 10);
    publish_messages(server.url(), name, subject, damaged, 10);
    return replica;
  };
  // The replica holds its first ten events and at most the sound messages before the damaged one
  // (seq `last_sound`): they may have committed in a batch of their own before the damage arrived
  // (how the server splits deliveries decides); nothing from the damaged message on ever does.
  const auto unchanged = [&](const std::filesystem::path& replica, std::int64_t last_sound = 10) {
    const std::int64_t applied = must(read_replica_position(replica)).seq;
    CHECK(applied >= 10);
    CHECK(applied <= last_sound);
    CHECK(must(read_stream_replica_position(replica))->stream_seq == static_cast<std::uint64_t>(applied));
    CHECK(must(JournalReader::open(replica))->info()->row_count == applied);
  };

  SUBCASE("another journal's message") {
    // Event 14 of another journal, as its own publisher wrote it (headers, body and hash).
    const auto foreign_journal = dir / "foreign.journal";
    append_to(foreign_journal, 30, "job");
    auto damaged = rest;
    damaged[3] = stream_messages(foreign_journal)[13];
    const auto replica = refused_after_ten("FOREIGN", damaged, false);
    auto follower = follower_of(server.url(), "FOREIGN", replica);
    check_refused(follower->catch_up(), "a message of journal '" + journal_id_of(foreign_journal) + "'");
    follower.reset();
    unchanged(replica, 13);
  }
  SUBCASE("a hash that is not the replica's history") {
    auto damaged = rest;
    rehash_from(damaged, 0xff);  // the publisher's history before event 11 is another
    const auto replica = refused_after_ten("HASH", damaged, false);
    auto follower = follower_of(server.url(), "HASH", replica);
    check_refused(follower->catch_up(), "Hugo-Hash '" + std::string(*damaged[0].header("Hugo-Hash")) +
                                            "' is not the replica's history plus this event");
    follower.reset();
    unchanged(replica);
  }
  SUBCASE("a journal seq that jumps") {
    auto damaged = rest;
    damaged.erase(damaged.begin() + 2);
    const auto replica = refused_after_ten("JUMP", damaged, false);
    auto follower = follower_of(server.url(), "JUMP", replica);
    check_refused(follower->catch_up(), "Hugo-Seq '14' after seq 12 (a gap)");
    follower.reset();
    unchanged(replica, 12);
  }
  SUBCASE("a message removed from the stream") {
    const auto replica = refused_after_ten("REMOVED", rest, true);
    raw.delete_message("REMOVED", 15);
    auto follower = follower_of(server.url(), "REMOVED", replica);
    check_refused(follower->catch_up(), "a gap: stream seq 16 after 14");
    follower.reset();
    unchanged(replica, 14);
  }
  SUBCASE("a purged stream") {
    const auto replica = refused_after_ten("PURGED", rest, true);
    raw.purge("PURGED");
    auto follower = follower_of(server.url(), "PURGED", replica);
    check_refused(follower->catch_up(), "the stream was purged");
    // run() stops on it too, rather than retrying (bounded: a run() that retried would be stopped).
    Status ran = ok_status();
    std::atomic<bool> returned{false};
    std::thread runner([&] {
      ran = follower->run();
      returned.store(true);
    });
    const bool stopped_itself = eventually([&] { return returned.load(); });
    follower->stop();
    runner.join();
    CHECK(stopped_itself);
    REQUIRE_FALSE(ran.ok());
    CHECK(ran.error().code() == errc::replication_diverged);
    follower.reset();
    unchanged(replica);
  }
  SUBCASE("a fresh replica refused in its first batch leaves no file") {
    auto damaged = messages;
    set_header(damaged[0], "Hugo-Hash", "00000000000000ff");
    publish_messages(server.url(), "FRESH", subject, damaged);
    auto follower = follower_of(server.url(), "FRESH", dir / "fresh.journal");
    check_refused(follower->catch_up(), "Hugo-Hash");
    follower.reset();
    CHECK_FALSE(std::filesystem::exists(dir / "fresh.journal"));
  }
}

TEST_CASE("a promoted stream replica takes writes and publishes on; followers adopt its epoch") {
  Published p(120, "job");
  const auto& [server, dir, owner, stream] = p;
  auto a = p.follower("a.journal");
  CHECK(must(a->catch_up()) == 120);
  CHECK(must(p.follower("b.journal")->catch_up()) == 120);

  // The owner is gone; b is promoted, written to, and publishes on into the same stream.
  auto promoted = must(promote_replica(dir / "b.journal"));
  CHECK(promoted.epoch == 2);
  CHECK(promoted.last_seq == 120);
  CHECK_FALSE(must(must(JournalReader::open(dir / "b.journal"))->info()).role == "replica");
  CHECK(append_to(dir / "b.journal", 30, "after") == 150);
  CHECK(publish(dir / "b.journal", server.url()) == stream);

  CHECK(must(a->catch_up()) == 150);
  CHECK(a->stream_seq() == 150);
  CHECK(a->position().epoch == 2);
  CHECK(a->position().epoch_history == "1:0,2:120");
  CHECK(journal_ndjson(dir / "a.journal") == journal_ndjson(dir / "b.journal"));

  // A fresh follower of the stream reads epoch 1, then epoch 2, and ends where a is.
  auto c = p.follower("c.journal");
  CHECK(must(c->catch_up()) == 150);
  CHECK(c->position().epoch == 2);
  CHECK(c->position().hash == a->position().hash);
}

TEST_CASE("a journal with holes in its seqs (compacted) is followed: the publisher declares each skip") {
  NatsServer server = NatsServer::start();
  test::QueueFixture f;
  const auto owner = test::compacted_journal(f);  // seqs 3, 4, 5, 6, 11, 12, 13
  const std::string stream = publish(owner, server.url());
  auto follower = follower_of(server.url(), stream, f.dir / "replica.journal");
  CHECK(must(follower->catch_up()) == 13);
  CHECK(follower->stream_seq() == 7);
  CHECK(journal_ndjson(f.dir / "replica.journal") == journal_ndjson(owner));
  CHECK(follower->position().hash == journal_hash(owner));

  // A skip the publisher did not declare is still a gap: the same stream's messages with their
  // Hugo-Prev-Seq headers dropped, into a stream of their own.
  auto messages = stream_messages(owner);
  for (auto& m : messages) std::erase_if(m.headers, [](const auto& h) { return h.first == "Hugo-Prev-Seq"; });
  publish_messages(server.url(), "UNDECLARED", "undeclared.events", messages);
  auto strict = follower_of(server.url(), "UNDECLARED", f.dir / "strict.journal");
  check_refused(strict->catch_up(), "(a gap)");
}

}  // TEST_SUITE

}  // namespace peers_jetstream_follower_test

// JetStreamSink against a real nats-server: every event once, in order, with the headers of
// include/hugo/jetstream.hpp; resuming from the stream; fencing a second publisher; refusing a
// stream of another journal, a purged stream and a journal behind its stream; a clear error for an
// event over max_payload; run() and stop(). Suite jetstream.
#include "sinks/nats_client.hpp"
#include "tests/sinks/jetstream_test_support.hpp"
#include "tests/support/compacted_journal.hpp"
#include "tests/support/events.hpp"
#include "tests/support/lost_commits.hpp"
#include "tests/support/queue_fixture.hpp"
#include "tests/support/temp_dir.hpp"

#include <hugo/event_json.hpp>
#include <hugo/jetstream.hpp>
#include <hugo/journal.hpp>
#include <hugo/peers.hpp>

#include <nats/nats.h>

#include <doctest/doctest.h>

#include <future>
#include <set>
#include <thread>

namespace sinks_jetstream_sink_test {

using namespace hugo;
using hugo::test::NatsServer;
using hugo::test::connect_options;
using hugo::test::must;

namespace {

// Appends `count` events (Enqueued with payloads, and leases without) and returns the last seq.
std::int64_t append_events(const std::filesystem::path& path, int count, const std::string& tag = "p") {
  auto journal = must(Journal::open(path));
  std::int64_t last = 0;
  for (int i = 0; i < count; ++i) {
    Event e = (i % 3 == 2) ? test::lease_granted("q", last, 1, "worker") : test::enqueued("q", tag + std::to_string(i));
    last = must(journal->append(std::move(e)));
  }
  must(journal->close());
  return last;
}

std::vector<std::string> journal_lines(const std::filesystem::path& path) {
  auto reader = must(JournalReader::open(path));
  std::vector<std::string> lines;
  for (const Event& e : must(reader->read(0, 100000))) lines.push_back(encode_event_json(e));
  return lines;
}

JetStreamSinkOptions sink_options(const NatsServer& server, const std::filesystem::path& journal) {
  JetStreamSinkOptions o;
  o.nats = connect_options(server);
  o.journal = journal;
  o.window = 4;
  o.batch = 7;
  return o;
}

// Every message of `stream` from stream seq 1 (bounded: stops after `expected` or 5 idle seconds).
std::vector<nats::StoredMessage> read_stream(const NatsServer& server, const std::string& stream,
                                             const std::string& subject, std::size_t expected) {
  auto conn = must(nats::Connection::connect(connect_options(server), "hugo-test-reader"));
  auto reader = must(conn->read(stream, subject, 1));
  std::vector<nats::StoredMessage> out;
  while (out.size() < expected) {
    auto batch = must(reader->next(1000, std::chrono::milliseconds(5000)));
    if (batch.empty()) break;
    for (auto& m : batch) out.push_back(std::move(m));
  }
  auto extra = must(reader->next(1000, std::chrono::milliseconds(100)));  // nothing beyond
  for (auto& m : extra) out.push_back(std::move(m));
  return out;
}

std::string journal_id_of(const std::filesystem::path& path) { return must(JournalReader::open(path))->journal_id(); }

// The journal seqs the stream holds, in stream order; each once (checked).
std::vector<std::int64_t> stream_seqs(const std::vector<nats::StoredMessage>& messages) {
  std::vector<std::int64_t> seqs;
  std::set<std::int64_t> seen;
  for (std::size_t i = 0; i < messages.size(); ++i) {
    CHECK(messages[i].stream_seq == i + 1);
    const std::int64_t seq = std::stoll(std::string(messages[i].header("Hugo-Seq").value_or("0")));
    CHECK(seen.insert(seq).second);
    seqs.push_back(seq);
  }
  return seqs;
}

std::vector<std::int64_t> one_to(std::int64_t n) {
  std::vector<std::int64_t> out;
  for (std::int64_t i = 1; i <= n; ++i) out.push_back(i);
  return out;
}

}  // namespace

TEST_SUITE("jetstream") {
  TEST_CASE("every event is published once, in order, as the journal's line with its headers") {
    auto server = NatsServer::start();
    test::TempDir dir;
    const auto path = dir.path() / "j.journal";
    append_events(path, 25);
    const std::string id = journal_id_of(path);
    auto metrics = std::make_shared<MetricsRegistry>();
    JetStreamSinkOptions options = sink_options(server, path);
    options.metrics = metrics;
    auto sink = must(JetStreamSink::open(options));
    CHECK(sink->position().seq == 0);
    CHECK(must(sink->publish_available()) == 25);
    const JetStreamPosition at = sink->position();
    CHECK(at.stream == "HUGO_" + id);
    CHECK(at.journal_id == id);
    CHECK(at.seq == 25);
    CHECK(at.stream_seq == 25);

    const auto lines = journal_lines(path);
    const auto messages = read_stream(server, at.stream, "hugo." + id + ".events", 25);
    REQUIRE(messages.size() == 25);
    CHECK(stream_seqs(messages) == one_to(25));
    auto reader = must(JournalReader::open(path));
    const auto events = must(reader->read(0, 100));
    const auto info = must(reader->info());
    std::uint64_t hash = kEmptyHistoryHash;
    for (std::size_t i = 0; i < messages.size(); ++i) {
      const auto& m = messages[i];
      const std::string seq = std::to_string(i + 1);
      CAPTURE(seq);
      CHECK(m.body == lines[i]);
      hash = chain_hash(hash, lines[i]);
      CHECK(m.header("Nats-Msg-Id") == id + ":" + seq);
      CHECK(m.header("Nats-Expected-Last-Sequence") == std::to_string(i));
      CHECK(m.header("Hugo-Journal-Id") == id);
      CHECK(m.header("Hugo-Seq") == seq);
      CHECK(m.header("Hugo-Kind") == std::to_string(static_cast<int>(events[i].kind)));
      CHECK(m.header("Hugo-Schema-Version") == std::to_string(info.schema_version));
      CHECK(m.header("Hugo-Epoch") == "1");
      CHECK(m.header("Hugo-Epoch-History") == "1:0");
      CHECK(m.header("Hugo-Hash") == format_hash(hash));
      CHECK_FALSE(m.header("Hugo-Prev-Seq").has_value());  // sent only where the journal skips seqs
    }
    const MetricTags enqueued{{"taskqueue.name", "q"}, {"taskqueue.replication.kind", "Enqueued"}};
    const MetricTags leased{{"taskqueue.name", "q"}, {"taskqueue.replication.kind", "LeaseGranted"}};
    CHECK(metrics->value("taskqueue.replication.events", enqueued) + metrics->value("taskqueue.replication.events", leased) == 25);
    CHECK(metrics->count("taskqueue.replication.sequence_lag", {{"taskqueue.name", "q"}}) == 25);
    CHECK(metrics->count("taskqueue.replication.wall_clock_lag", {{"taskqueue.name", "q"}}) == 25);
  }

  TEST_CASE("Hugo-Prev-Seq is sent exactly where the journal skips seqs (a compacted journal)") {
    auto server = NatsServer::start();
    test::QueueFixture f;
    const auto path = test::compacted_journal(f);  // seqs 3, 4, 5, 6, 11, 12, 13
    auto sink = must(JetStreamSink::open(sink_options(server, path)));
    CHECK(must(sink->publish_available()) == 13);
    const std::string id = journal_id_of(path);
    const auto messages = read_stream(server, "HUGO_" + id, stream_subject(id), 7);
    REQUIRE(stream_seqs(messages) == std::vector<std::int64_t>{3, 4, 5, 6, 11, 12, 13});
    std::string prev;  // each message's Hugo-Prev-Seq, "-" where it has none
    for (const auto& m : messages) prev += std::string(m.header("Hugo-Prev-Seq").value_or("-")) + " ";
    CHECK(prev == "- - - - 6 - - ");  // the stream starts after seq 2: its first message skips nothing
  }

  TEST_CASE("a reopened publisher resumes after the stream's last event; nothing is repeated") {
    auto server = NatsServer::start();
    test::TempDir dir;
    const auto path = dir.path() / "j.journal";
    append_events(path, 10);
    CHECK(must(must(JetStreamSink::open(sink_options(server, path)))->publish_available()) == 10);
    append_events(path, 6, "more");
    auto again = must(JetStreamSink::open(sink_options(server, path)));
    CHECK(again->position().seq == 10);
    CHECK(again->position().stream_seq == 10);
    CHECK(must(again->publish_available()) == 16);
    CHECK(must(again->publish_available()) == 16);  // nothing new: nothing sent
    const std::string id = journal_id_of(path);
    const auto messages = read_stream(server, "HUGO_" + id, "hugo." + id + ".events", 16);
    CHECK(stream_seqs(messages) == one_to(16));
    const auto lines = journal_lines(path);
    for (std::size_t i = 0; i < messages.size(); ++i) CHECK(messages[i].body == lines[i]);
  }

  TEST_CASE("a publisher the stream overtook with its own journal's events goes on; twice in 30 s, it is fenced") {
    auto server = NatsServer::start();
    test::TempDir dir;
    const auto path = dir.path() / "j.journal";
    append_events(path, 10);
    const std::string id = journal_id_of(path);
    const std::string stream = "HUGO_" + id;
    const std::string subject = "hugo." + id + ".events";
    // Two publishers of one journal, each on its own clock, one publish on the wire at a time (so
    // a refused batch is refused from its first message on).
    auto clock_a = std::make_shared<ManualClock>();
    auto clock_b = std::make_shared<ManualClock>();
    auto options = [&](const std::shared_ptr<ManualClock>& clock) {
      JetStreamSinkOptions o = sink_options(server, path);
      o.clock = clock;
      o.window = 1;
      return o;
    };
    auto a = must(JetStreamSink::open(options(clock_a)));
    auto b = must(JetStreamSink::open(options(clock_b)));  // both start at 0

    // `a` plays a predecessor of `b` killed with publishes on the wire that land after `b`
    // recovered: `b` finds the stream past what it sent, with its own journal's events.
    CHECK(must(a->publish_available()) == 10);
    CHECK(must(b->publish_available()) == 10);  // overtaken once: it goes on after the stream's end
    append_events(path, 5, "b");
    CHECK(must(b->publish_available()) == 15);
    CHECK(stream_seqs(read_stream(server, stream, subject, 15)) == one_to(15));

    // 31 s later, overtaken again: that is once again.
    clock_b->advance(std::chrono::seconds(31));
    append_events(path, 5, "a");
    CHECK(must(a->publish_available()) == 20);  // `a` too was overtaken (by b's 11-15), once
    append_events(path, 5, "b2");
    CHECK(must(b->publish_available()) == 25);

    // 29 s after that, overtaken again: another publisher keeps writing this journal. `b` stops.
    clock_a->advance(std::chrono::seconds(31));
    clock_b->advance(std::chrono::seconds(29));
    append_events(path, 5, "a2");
    CHECK(must(a->publish_available()) == 30);
    append_events(path, 5, "b3");
    auto fenced = b->publish_available();
    REQUIRE_FALSE(fenced.ok());
    CHECK(fenced.error().code() == errc::replication_fenced);
    CHECK(fenced.error().metadata().at("stream_last_seq") == "30");
    CHECK(stream_seqs(read_stream(server, stream, subject, 30)) == one_to(30));
    CHECK(must(a->publish_available()) == 35);  // `a` was not overtaken this time
    CHECK(stream_seqs(read_stream(server, stream, subject, 35)) == one_to(35));
  }

  TEST_CASE("a stream of another journal is replication.diverged") {
    auto server = NatsServer::start();
    test::TempDir dir;
    const auto a = dir.path() / "a.journal";
    const auto b = dir.path() / "b.journal";
    append_events(a, 3);
    append_events(b, 3);
    JetStreamSinkOptions into_shared = sink_options(server, a);
    into_shared.stream = "SHARED";
    CHECK(must(must(JetStreamSink::open(into_shared))->publish_available()) == 3);
    JetStreamSinkOptions other = sink_options(server, b);
    other.stream = "SHARED";
    auto refused = JetStreamSink::open(other);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code() == errc::replication_diverged);

    // Our subject, but the last message names another journal.
    const std::string id = journal_id_of(b);
    auto conn = must(nats::Connection::connect(connect_options(server), "hugo-test"));
    must(conn->ensure_stream({"FOREIGN", "hugo." + id + ".events", 1}));
    must(conn->start_publishing(1, [](const nats::PublishOutcome&) {}));
    must(conn->publish_async("hugo." + id + ".events",
                             {{"Hugo-Journal-Id", "someone-else"}, {"Hugo-Seq", "1"}, {"Hugo-Hash", "0000000000000001"}},
                             journal_lines(b)[0], 0, 1));
    must(conn->wait_published(std::chrono::milliseconds(10000)));
    other.stream = "FOREIGN";
    auto foreign = JetStreamSink::open(other);
    REQUIRE_FALSE(foreign.ok());
    CHECK(foreign.error().code() == errc::replication_diverged);
    CHECK(foreign.error().message().find("someone-else") != std::string::npos);
  }

  TEST_CASE("a purged stream is replication.diverged") {
    auto server = NatsServer::start();
    test::TempDir dir;
    const auto path = dir.path() / "j.journal";
    append_events(path, 5);
    const std::string id = journal_id_of(path);
    const std::string subject = "hugo." + id + ".events";
    // A stream an operator made by hand, without DenyPurge.
    natsConnection* nc = nullptr;
    jsCtx* js = nullptr;
    REQUIRE(natsConnection_ConnectTo(&nc, server.url().c_str()) == NATS_OK);
    REQUIRE(natsConnection_JetStream(&js, nc, nullptr) == NATS_OK);
    jsStreamConfig config;
    jsStreamConfig_Init(&config);
    const char* subjects[] = {subject.c_str()};
    config.Name = "PURGEABLE";
    config.Subjects = subjects;
    config.SubjectsLen = 1;
    config.Storage = js_FileStorage;
    REQUIRE(js_AddStream(nullptr, js, &config, nullptr, nullptr) == NATS_OK);

    JetStreamSinkOptions options = sink_options(server, path);
    options.stream = "PURGEABLE";
    CHECK(must(must(JetStreamSink::open(options))->publish_available()) == 5);
    REQUIRE(js_PurgeStream(js, "PURGEABLE", nullptr, nullptr) == NATS_OK);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);

    auto purged = JetStreamSink::open(options);
    REQUIRE_FALSE(purged.ok());
    CHECK(purged.error().code() == errc::replication_diverged);
    CHECK(purged.error().message().find("purged") != std::string::npos);
  }

  TEST_CASE("a journal behind its stream is checkpoint_ahead; one that rewrote the seqs is diverged") {
    auto server = NatsServer::start();
    test::TempDir dir;
    test::LostCommits journal(dir.path() / "j.journal");
    CHECK(journal.commit({"a", "b", "c"}, {"d", "e"}) == 5);
    CHECK(must(must(JetStreamSink::open(sink_options(server, journal.path())))->publish_available()) == 5);
    journal.lose_commits();
    auto behind = JetStreamSink::open(sink_options(server, journal.path()));
    REQUIRE_FALSE(behind.ok());
    test::check_ahead(behind.ok() ? Status() : Status(behind.error()), "behind", 5);
    journal.append("q", {"x", "y"});  // seqs 4 and 5 again, other events
    auto rewritten = JetStreamSink::open(sink_options(server, journal.path()));
    REQUIRE_FALSE(rewritten.ok());
    CHECK(rewritten.error().code() == errc::replication_diverged);
  }

  TEST_CASE("an event over the server's max_payload stops the publisher with a clear error") {
    auto server = NatsServer::start(test::with_max_payload(4096));
    test::TempDir dir;
    const auto path = dir.path() / "j.journal";
    {
      auto journal = must(Journal::open(path));
      must(journal->append(test::enqueued("q", "small")));
      must(journal->append(test::enqueued("q", "also small")));
      must(journal->append(test::enqueued("q", std::string(5000, 'x'))));
      must(journal->append(test::enqueued("q", "after")));
      must(journal->close());
    }
    auto sink = must(JetStreamSink::open(sink_options(server, path)));
    auto pending = std::async(std::launch::async, [&] { return sink->publish_available(); });
    if (pending.wait_for(std::chrono::seconds(60)) != std::future_status::ready) {
      FAIL_CHECK("publish_available hung on an event over max_payload");
      std::_Exit(1);  // the stuck thread cannot be joined
    }
    auto refused = pending.get();
    REQUIRE_FALSE(refused.ok());
    REQUIRE(refused.error().code() == errc::replication_message_too_large);
    CHECK(refused.error().to_string().find("seq=3") != std::string::npos);
    CHECK(refused.error().to_string().find("max_payload=4096") != std::string::npos);
    CHECK(sink->position().seq == 2);  // what came before it is published
  }

  TEST_CASE("run() publishes what a live writer commits until stop()") {
    auto server = NatsServer::start();
    test::TempDir dir;
    const auto path = dir.path() / "j.journal";
    auto journal = must(Journal::open(path));
    must(journal->append(test::enqueued("q", "first")));
    JetStreamSinkOptions options = sink_options(server, path);
    options.live = journal.get();
    auto sink = must(JetStreamSink::open(options));
    auto ran = std::async(std::launch::async, [&] { return sink->run(); });
    for (int i = 0; i < 20; ++i) must(journal->append(test::enqueued("q", "p" + std::to_string(i))));
    const std::string id = journal->journal_id();
    const auto messages = read_stream(server, "HUGO_" + id, "hugo." + id + ".events", 21);
    CHECK(stream_seqs(messages) == one_to(21));
    sink->stop();
    REQUIRE(ran.wait_for(std::chrono::seconds(30)) == std::future_status::ready);
    CHECK(ran.get().ok());
    CHECK(sink->position().seq == 21);  // run() settles what it left on the way before it returns
    CHECK(sink->position().stream_seq == 21);
    must(journal->close());
  }
}

TEST_SUITE("jetstream") {
  TEST_CASE("run() rides out a server restart: it reconnects, recovers and repeats nothing") {
    auto server = NatsServer::start();
    test::TempDir dir;
    const auto path = dir.path() / "j.journal";
    auto journal = must(Journal::open(path));
    JetStreamSinkOptions options = sink_options(server, path);
    options.live = journal.get();
    options.backoff_max = std::chrono::milliseconds(200);
    auto sink = must(JetStreamSink::open(options));
    auto ran = std::async(std::launch::async, [&] { return sink->run(); });
    for (int i = 0; i < 10; ++i) must(journal->append(test::enqueued("q", "before" + std::to_string(i))));
    const std::string id = journal->journal_id();
    const std::string stream = "HUGO_" + id;
    const std::string subject = "hugo." + id + ".events";
    CHECK(stream_seqs(read_stream(server, stream, subject, 10)) == one_to(10));
    server.stop();
    for (int i = 0; i < 10; ++i) must(journal->append(test::enqueued("q", "after" + std::to_string(i))));
    server.restart();
    CHECK(stream_seqs(read_stream(server, stream, subject, 20)) == one_to(20));
    sink->stop();
    REQUIRE(ran.wait_for(std::chrono::seconds(30)) == std::future_status::ready);
    CHECK(ran.get().ok());
    CHECK(sink->position().seq == 20);
    must(journal->close());
  }
}

TEST_SUITE("jetstream") {
  TEST_CASE("a promoted replica publishes on into the owner's stream, its messages in the new epoch") {
    auto server = NatsServer::start();
    test::TempDir dir;
    const auto owner = dir.path() / "owner.journal";
    const auto replica = dir.path() / "replica.journal";
    append_events(owner, 8);
    {
      ReplicationServerOptions serve;
      serve.journal = owner;
      serve.port = 0;
      auto http = must(ReplicationServer::start(serve));
      FollowerOptions follow;
      follow.url = http->url();
      follow.replica = replica;
      CHECK(must(must(HttpFollower::open(follow))->catch_up()) == 8);
    }
    CHECK(must(must(JetStreamSink::open(sink_options(server, owner)))->publish_available()) == 8);
    const PromoteReport promoted = must(promote_replica(replica));
    CHECK(promoted.epoch == 2);
    append_events(replica, 3, "after");  // seqs 9..11 in epoch 2
    auto sink = must(JetStreamSink::open(sink_options(server, replica)));
    CHECK(sink->position().seq == 8);
    CHECK(must(sink->publish_available()) == 11);

    const std::string id = journal_id_of(owner);
    const auto messages = read_stream(server, "HUGO_" + id, "hugo." + id + ".events", 11);
    REQUIRE(stream_seqs(messages) == one_to(11));
    const auto lines = journal_lines(replica);
    std::uint64_t hash = kEmptyHistoryHash;
    for (std::size_t i = 0; i < messages.size(); ++i) {
      CAPTURE(i);
      CHECK(messages[i].body == lines[i]);
      hash = chain_hash(hash, lines[i]);
      CHECK(messages[i].header("Hugo-Hash") == format_hash(hash));
      CHECK(messages[i].header("Hugo-Epoch") == (i < 8 ? "1" : "2"));
      CHECK(messages[i].header("Hugo-Epoch-History") == (i < 8 ? "1:0" : promoted.epoch_history));
    }
  }
}

TEST_SUITE("jetstream") {
  TEST_CASE("two histories of one journal publishing at once: the stale one stops with replication.diverged") {
    auto server = NatsServer::start();
    test::TempDir dir;
    const auto owner = dir.path() / "owner.journal";
    const auto copy = dir.path() / "copy.journal";  // the same journal id and first 3 events
    append_events(owner, 3);
    for (const char* suffix : {"", "-wal"}) {
      if (std::filesystem::exists(owner.string() + suffix)) {
        std::filesystem::copy_file(owner.string() + suffix, copy.string() + suffix);
      }
    }
    CHECK(must(must(JetStreamSink::open(sink_options(server, owner)))->publish_available()) == 3);
    auto first = must(JetStreamSink::open(sink_options(server, owner)));
    auto second = must(JetStreamSink::open(sink_options(server, copy)));  // both resume after seq 3
    append_events(owner, 1, "owner");
    append_events(copy, 5, "copy");  // seqs 4..8: another history from seq 4 on
    CHECK(must(first->publish_available()) == 4);
    // The copy's event 4 meets the owner's (a duplicate Nats-Msg-Id) and its pipelined 5.. may land
    // after it: whichever, the copy must stop, not carry on as if the stream were its own.
    auto stale = second->publish_available();
    REQUIRE_FALSE(stale.ok());
    CHECK(stale.error().code() == errc::replication_diverged);
  }
}

}  // namespace sinks_jetstream_sink_test

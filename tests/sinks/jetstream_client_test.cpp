// The libnats adapter (sinks/nats_client.hpp) against a real nats-server: connecting and its
// errors, stream creation, message reads, asynchronous publishing with the expected-last-sequence
// chain, and the ordered reader. Suite jetstream.
#include "sinks/nats_client.hpp"
#include "tests/sinks/jetstream_test_support.hpp"

#include <hugo/jetstream.hpp>

#include <doctest/doctest.h>

#include <condition_variable>
#include <mutex>

namespace sinks_jetstream_client_test {

using namespace hugo;
using hugo::nats::Connection;
using hugo::test::NatsServer;
using hugo::test::connect_options;

namespace {

std::unique_ptr<Connection> connect(const NatsServer& server) {
  auto conn = Connection::connect(connect_options(server), "hugo-test");
  REQUIRE_MESSAGE(conn.ok(), conn.error().to_string());
  return std::move(conn).value();
}

// Collects publish outcomes from libnats's thread.
struct Outcomes {
  std::mutex mutex;
  std::vector<nats::PublishOutcome> list;
  std::function<void(const nats::PublishOutcome&)> callback() {
    return [this](const nats::PublishOutcome& o) {
      std::lock_guard lock(mutex);
      list.push_back(o);
    };
  }
  std::vector<nats::PublishOutcome> take() {
    std::lock_guard lock(mutex);
    return list;
  }
};

nats::Headers headers_for(int n) { return {{"Hugo-Seq", std::to_string(n)}, {"Nats-Msg-Id", "j:" + std::to_string(n)}}; }

}  // namespace

TEST_SUITE("jetstream") {
  TEST_CASE("names and the follow URL are strict") {
    CHECK(default_stream_name("abc") == "HUGO_abc");
    CHECK(stream_subject("abc") == "hugo.abc.events");
    auto ok = parse_nats_stream_url("nats://127.0.0.1:4222/HUGO_x-1");
    REQUIRE(ok.ok());
    CHECK(ok->server == "nats://127.0.0.1:4222");
    CHECK(ok->stream == "HUGO_x-1");
    for (const char* bad : {"http://h:1/S", "nats://h/S", "nats://h:0/S", "nats://h:65536/S", "nats://:4222/S",
                            "nats://h:4222/", "nats://h:4222", "nats://h:42a/S", "nats://h:4222/a.b",
                            "nats://h:4222/a b", "nats://h:4222/a*", "nats://h:4222/a>", "nats://h:4222/a/b"}) {
      CAPTURE(bad);
      auto r = parse_nats_stream_url(bad);
      REQUIRE_FALSE(r.ok());
      CHECK(r.error().code() == errc::validation);
    }
    CHECK(nats::check_stream_name(std::string(255, 'a')).ok());
    CHECK_FALSE(nats::check_stream_name(std::string(256, 'a')).ok());
    CHECK(jetstream_supported());
  }

  TEST_CASE("no server and a refused token are told apart") {
    NatsConnectOptions none;
    {
      auto gone = NatsServer::start();  // a port that held a server a moment ago, closed now
      none.url = gone.url();
      gone.kill();
    }
    none.timeout = std::chrono::milliseconds(500);
    auto refused = Connection::connect(none, "t");
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code() == errc::replication_unavailable);
    CHECK(*refused.error().find("url") == none.url);

    test::NatsServerOptions with_token;
    with_token.token = "s3cret";
    auto guarded = NatsServer::start(with_token);
    NatsConnectOptions wrong = connect_options(guarded);
    wrong.token = "nope";
    auto denied = Connection::connect(wrong, "t");
    REQUIRE_FALSE(denied.ok());
    CHECK(denied.error().code() == errc::replication_unauthorized);
    wrong.token = "s3cret";
    CHECK(Connection::connect(wrong, "t").ok());

    NatsConnectOptions both = connect_options(guarded);
    both.token = "s3cret";
    both.creds = "/nonexistent.creds";
    auto twice = Connection::connect(both, "t");
    REQUIRE_FALSE(twice.ok());
    CHECK(twice.error().code() == errc::validation);
    NatsConnectOptions no_creds = connect_options(guarded);
    no_creds.creds = "/nonexistent/user.creds";
    auto unreadable = Connection::connect(no_creds, "t");
    REQUIRE_FALSE(unreadable.ok());
    CHECK(unreadable.error().code() == errc::validation);
  }

  TEST_CASE("ensure_stream creates the stream once, locked against delete and purge") {
    auto server = NatsServer::start();
    auto conn = connect(server);
    auto absent = conn->stream_info("S1");
    REQUIRE(absent.ok());
    CHECK_FALSE(absent->has_value());
    auto made = conn->ensure_stream({"S1", "hugo.j.events", 1});
    REQUIRE_MESSAGE(made.ok(), made.error().to_string());
    CHECK(made->name == "S1");
    CHECK(made->subjects == std::vector<std::string>{"hugo.j.events"});
    CHECK(made->deny_delete);
    CHECK(made->deny_purge);
    CHECK(made->last_seq == 0);
    CHECK(made->messages == 0);
    auto again = conn->ensure_stream({"S1", "hugo.j.events", 1});
    REQUIRE(again.ok());
    CHECK(again->name == "S1");
    auto three = conn->ensure_stream({"S3", "hugo.k.events", 3});  // a single server holds one replica
    REQUIRE_FALSE(three.ok());
    CHECK(three.error().code() == errc::validation);
    CHECK(conn->max_payload() > 0);
  }

  TEST_CASE("publishes chain on the expected last sequence; a stale one gets 10071") {
    auto server = NatsServer::start();
    auto conn = connect(server);
    REQUIRE(conn->ensure_stream({"S", "hugo.j.events", 1}).ok());
    auto none = conn->last_message("S", "hugo.j.events");
    REQUIRE(none.ok());
    CHECK_FALSE(none->has_value());
    auto missing = conn->message("S", 7);
    REQUIRE(missing.ok());
    CHECK_FALSE(missing->has_value());
    auto gone = conn->message("NO_SUCH_STREAM", 1);
    REQUIRE_FALSE(gone.ok());
    CHECK(gone.error().code() == errc::replication_diverged);

    Outcomes outcomes;
    REQUIRE(conn->start_publishing(2, outcomes.callback()).ok());
    for (int n = 1; n <= 5; ++n) {
      REQUIRE(conn->publish_async("hugo.j.events", headers_for(n), "body " + std::to_string(n),
                                  static_cast<std::uint64_t>(n - 1), n)
                  .ok());
    }
    REQUIRE(conn->wait_published(std::chrono::milliseconds(10000)).ok());
    auto got = outcomes.take();
    REQUIRE(got.size() == 5);
    for (const auto& o : got) {
      CHECK_FALSE(o.error.has_value());
      CHECK(o.stream_seq == static_cast<std::uint64_t>(o.tag));
    }

    auto last = conn->last_message("S", "hugo.j.events");
    REQUIRE(last.ok());
    REQUIRE(last->has_value());
    CHECK((*last)->stream_seq == 5);
    CHECK((*last)->body == "body 5");
    CHECK((*last)->header("Hugo-Seq") == "5");
    CHECK((*last)->header("Nats-Expected-Last-Sequence") == "4");
    auto third = conn->message("S", 3);
    REQUIRE(third.ok());
    REQUIRE(third->has_value());
    CHECK((*third)->body == "body 3");
    CHECK((*third)->header("Nats-Msg-Id") == "j:3");

    // A second writer that believes the stream ends at 4 is refused.
    auto other = connect(server);
    Outcomes refused;
    REQUIRE(other->start_publishing(4, refused.callback()).ok());
    REQUIRE(other->publish_async("hugo.j.events", headers_for(99), "stale", 4, 99).ok());
    REQUIRE(other->wait_published(std::chrono::milliseconds(10000)).ok());
    auto stale = refused.take();
    REQUIRE(stale.size() == 1);
    CHECK(stale[0].tag == 99);
    CHECK(stale[0].jetstream_error == 10071);
    REQUIRE(stale[0].error.has_value());
    CHECK(stale[0].error->code() == errc::replication_unavailable);
    auto info = conn->stream_info("S");
    REQUIRE(info.ok());
    CHECK((*info)->last_seq == 5);

    // The ordered reader returns every message from a stream seq, with its seq.
    auto reader = conn->read("S", "hugo.j.events", 2);
    REQUIRE_MESSAGE(reader.ok(), reader.error().to_string());
    std::vector<nats::StoredMessage> read;
    for (int round = 0; round < 50 && read.size() < 4; ++round) {
      auto batch = (*reader)->next(10, std::chrono::milliseconds(200));
      REQUIRE(batch.ok());
      for (auto& m : *batch) read.push_back(std::move(m));
    }
    REQUIRE(read.size() == 4);
    for (std::size_t i = 0; i < read.size(); ++i) {
      CHECK(read[i].stream_seq == i + 2);
      CHECK(read[i].body == "body " + std::to_string(i + 2));
      CHECK(read[i].header("Hugo-Seq") == std::to_string(i + 2));
    }
    auto idle = (*reader)->next(10, std::chrono::milliseconds(50));
    REQUIRE(idle.ok());
    CHECK(idle->empty());
  }

  TEST_CASE("the server's max_payload is reported") {
    auto server = NatsServer::start(test::with_max_payload(4096));
    auto conn = connect(server);
    CHECK(conn->max_payload() == 4096);
  }
}

TEST_SUITE("jetstream") {
  TEST_CASE("a second stream on a subject another stream takes is refused, not retried") {
    auto server = NatsServer::start();
    auto conn = connect(server);
    REQUIRE(conn->ensure_stream({"FIRST", "hugo.j.events", 1}).ok());
    auto overlap = conn->ensure_stream({"SECOND", "hugo.j.events", 1});
    REQUIRE_FALSE(overlap.ok());
    CHECK(overlap.error().code() == errc::validation);
    CHECK(overlap.error().to_string().find("jetstream_error=10065") != std::string::npos);
  }
}

}  // namespace sinks_jetstream_client_test

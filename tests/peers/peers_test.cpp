// Peers over real loopback sockets, in one process: catch-up and live following, divergence,
// tokens, malformed streams, and failover of the queue state.
#include "tests/peers/peers_support.hpp"

#include <hugo/error_codes.hpp>
#include <hugo/task_queue.hpp>
#include <hugo/verify.hpp>

#include <httplib.h>

#include <algorithm>
#include <filesystem>
#include <thread>

namespace peers_peers_test {

using namespace hugo;
using namespace hugo::test;

namespace {

std::unique_ptr<ReplicationServer> serve(const std::filesystem::path& journal, std::string token = {},
                                         const Journal* live = nullptr) {
  ReplicationServerOptions o;
  o.journal = journal;
  o.port = 0;
  o.token = std::move(token);
  o.live = live;
  o.heartbeat = std::chrono::milliseconds(50);
  return must(ReplicationServer::start(o));
}

FollowerOptions follower_options(const std::string& url, const std::filesystem::path& replica) {
  FollowerOptions o;
  o.url = url;
  o.replica = replica;
  o.backoff_min = std::chrono::milliseconds(10);
  o.backoff_max = std::chrono::milliseconds(100);
  return o;
}

}  // namespace

TEST_CASE("a follower catches up from 0, then follows live commits") {
  TempDir dir;
  auto owner = must(Journal::open(dir / "owner.journal", fast_options()));
  append_workload(*owner, 5000);
  auto server = serve(dir / "owner.journal", {}, owner.get());
  auto follower = must(HttpFollower::open(follower_options(server->url(), dir / "replica.journal")));

  CHECK(must(follower->catch_up()) == 5000);
  CHECK(journal_ndjson(dir / "replica.journal") == journal_ndjson(dir / "owner.journal"));
  CHECK(follower->position().hash == journal_hash(dir / "owner.journal"));
  auto info = must(must(JournalReader::open(dir / "replica.journal"))->info());
  CHECK(info.journal_id == owner->journal_id());
  CHECK(info.role == "replica");

  Status result = ok_status();
  std::thread runner([&] { result = follower->run(); });
  append_workload(*owner, 700, "live");
  const bool caught = eventually([&] { return follower->position().seq == owner->durable_seq(); });
  follower->stop();
  runner.join();
  REQUIRE(caught);
  CHECK(result.ok());
  CHECK(journal_ndjson(dir / "replica.journal") == journal_ndjson(dir / "owner.journal"));
  // The replica is readable meanwhile and afterwards, and refuses a writer until promoted.
  auto refused = Journal::open(dir / "replica.journal");
  REQUIRE_FALSE(refused.ok());
}

TEST_CASE("a replica carries scheduled, prioritized, keyed, canceled and transactional tasks exactly") {
  TempDir dir;
  std::shared_ptr<Journal> owner(must(Journal::open(dir / "owner.journal", fast_options())).release());
  {
    auto clock = std::make_shared<ManualClock>();
    TaskQueueOptions o;
    o.name = "orders";
    o.clock = clock;
    o.run_sweeper = false;
    o.retry = RetryPolicy{RetryPolicy::Backoff::Exponential, std::chrono::seconds(1), 2.0, std::chrono::minutes(1), 0.5, 7};
    auto q = must(TaskQueue::open(owner, o));
    EnqueueOptions later;
    later.delay = std::chrono::seconds(30);
    later.priority = 3;
    must(q->enqueue_with("scheduled", later));
    must(q->enqueue_keyed("order-1", "keyed"));
    const std::int64_t doomed = must(q->enqueue("canceled while pending"));
    must(q->cancel(doomed, "withdrawn"));
    const Lease l = must(q->lease("w", Wait::none()));  // the keyed task
    must(q->fail(l.token, Error("app.x", "retry with backoff")));
    must(q->enqueue("leased then canceled"));
    clock->advance(std::chrono::minutes(2));
    const Lease held = must(q->lease("w", Wait::none()));
    must(q->cancel(held.task_id()));
    must(owner->transaction([&](Tx& tx) -> Status {
      HUGO_TRY(tx.execute("CREATE TABLE shop_orders (id INTEGER PRIMARY KEY)"));
      HUGO_TRY(tx.execute("INSERT INTO shop_orders (id) VALUES (?1)", {std::int64_t{1}}));
      return q->enqueue(tx, "in a transaction");
    }));
    must(q->close());
  }
  auto server = serve(dir / "owner.journal", {}, owner.get());
  auto follower = must(HttpFollower::open(follower_options(server->url(), dir / "replica.journal")));
  CHECK(must(follower->catch_up()) == owner->durable_seq());
  const std::string replicated = journal_ndjson(dir / "replica.journal");
  CHECK(replicated == journal_ndjson(dir / "owner.journal"));
  for (const char* part : {"\"kind\":10", "\"idempotencyKey\":\"order-1\"", "\"priority\":3", "\"availableAt\""}) {
    CAPTURE(part);
    CHECK(replicated.find(part) != std::string::npos);
  }
  const auto owned = must(project_journal(dir / "owner.journal"));
  const auto replica = must(project_journal(dir / "replica.journal"));
  REQUIRE(replica.count("orders") == 1);
  CHECK(replica.at("orders").digest == owned.at("orders").digest);
  CHECK(replica.at("orders").pending.size() == 3);  // keyed (retrying), never leased, from the transaction
}

TEST_CASE("a follower of a cross-process writer wakes by polling; the replica refuses writable opens") {
  TempDir dir;
  auto owner = must(Journal::open(dir / "owner.journal", fast_options()));
  append_workload(*owner, 10);
  auto server = serve(dir / "owner.journal");  // no live journal: polls data_version
  auto follower = must(HttpFollower::open(follower_options(server->url(), dir / "replica.journal")));
  std::thread runner([&] { (void)follower->run(); });
  append_workload(*owner, 90, "later");
  const bool caught = eventually([&] { return follower->position().seq == 100; });
  follower->stop();
  runner.join();
  CHECK(caught);
  follower.reset();  // releases the replica's writer lock
  auto refused = Journal::open(dir / "replica.journal");
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code() == errc::journal_replica);
}

TEST_CASE("a different journal is diverged; an owner that lost its last commits is checkpoint_ahead") {
  TempDir dir;
  {
    auto owner = must(Journal::open(dir / "owner.journal", fast_options()));
    append_workload(*owner, 100);
  }
  // The copy is the owner as a power cut at durability Process can leave it: its last commits
  // (seqs 101..200 here) gone, and issued again for other events once it goes on.
  std::filesystem::copy_file(dir / "owner.journal", dir / "backup.journal");
  {
    auto owner = must(Journal::open(dir / "owner.journal", fast_options()));
    append_workload(*owner, 100, "second");
  }
  {
    auto server = serve(dir / "owner.journal");
    auto follower = must(HttpFollower::open(follower_options(server->url(), dir / "replica.journal")));
    CHECK(must(follower->catch_up()) == 200);
  }
  const std::string replica_before = journal_ndjson(dir / "replica.journal");
  // The replica follows the owner served from `journal`: refused with `code`; gives the error.
  auto refused_by = [&](const std::filesystem::path& journal, std::string_view code) {
    auto server = serve(journal);
    auto follower = must(HttpFollower::open(follower_options(server->url(), dir / "replica.journal")));
    auto r = follower->catch_up();
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code() == code);
    return r.error();
  };

  SUBCASE("another journal") {
    { auto other = must(Journal::open(dir / "other.journal", fast_options())); append_workload(*other, 300); }
    refused_by(dir / "other.journal", errc::replication_diverged);
  }
  SUBCASE("an owner that lost its last commits, behind the replica") {
    const Error e = refused_by(dir / "backup.journal", errc::replication_checkpoint_ahead);
    CHECK(*e.find("reason") == "behind");
    CHECK(*e.find("checkpoint_seq") == "200");
    CHECK(*e.find("journal_last_seq") == "100");
    CHECK(*e.find("consumer") == (dir / "replica.journal").string());
  }
  SUBCASE("an owner that lost its last commits and issued their seqs again") {
    {
      auto restored = must(Journal::open(dir / "backup.journal", fast_options()));
      append_workload(*restored, 150, "rewritten");
    }
    const Error e = refused_by(dir / "backup.journal", errc::replication_checkpoint_ahead);
    CHECK(*e.find("reason") == "rewritten");
    CHECK(*e.find("journal_last_seq") == "250");
  }
  CHECK(journal_ndjson(dir / "replica.journal") == replica_before);  // nothing was written
}

TEST_CASE("tokens: required off loopback, and a wrong or missing token is rejected") {
  TempDir dir;
  { auto owner = must(Journal::open(dir / "owner.journal", fast_options())); append_workload(*owner, 20); }
  ReplicationServerOptions open_to_all;
  open_to_all.journal = dir / "owner.journal";
  open_to_all.host = "0.0.0.0";
  open_to_all.port = 0;
  auto refused = ReplicationServer::start(open_to_all);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code() == errc::replication_token_required);

  auto server = serve(dir / "owner.journal", "s3cret");
  httplib::Client raw(server->url());
  auto info = raw.Get("/v1/info");
  REQUIRE(info);
  CHECK(info->status == 401);
  CHECK(info->body.find("replication.unauthorized") != std::string::npos);
  auto health = raw.Get("/healthz");
  REQUIRE(health);
  CHECK(health->status == 200);

  for (const std::string token : {"", "wrong", "s3cret-but-longer"}) {
    CAPTURE(token);
    auto o = follower_options(server->url(), dir / "replica.journal");
    o.token = token;
    auto follower = must(HttpFollower::open(o));
    auto r = follower->catch_up();
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code() == errc::replication_unauthorized);
    CHECK(follower->run().error().code() == errc::replication_unauthorized);  // fatal: no retry loop
  }
  auto o = follower_options(server->url(), dir / "replica.journal");
  o.token = "s3cret";
  auto follower = must(HttpFollower::open(o));
  CHECK(must(follower->catch_up()) == 20);
  httplib::Headers auth = {{"Authorization", "Bearer s3cret"}};
  auto metrics = raw.Get("/metrics", auth);
  REQUIRE(metrics);
  CHECK(metrics->body.find("hugo_peer_rejected_unauthorized_total") != std::string::npos);
}

TEST_CASE("a malformed stream gives replication.stream_malformed and loses nothing") {
  TempDir dir;
  { auto owner = must(Journal::open(dir / "owner.journal", fast_options())); append_workload(*owner, 12); }
  const std::string lines = journal_ndjson(dir / "owner.journal");
  std::vector<std::string> events;
  for (std::size_t start = 0; start < lines.size();) {
    const std::size_t nl = lines.find('\n', start);
    events.push_back(lines.substr(start, nl - start));
    start = nl + 1;
  }
  REQUIRE(events.size() == 12);
  std::uint64_t hash5 = kEmptyHistoryHash;
  for (int i = 0; i < 5; ++i) hash5 = chain_hash(hash5, events[i]);
  std::string good;  // five events and the heartbeat that closes their batch
  for (int i = 0; i < 5; ++i) good += events[i] + "\n";
  good += "{\"type\":\"heartbeat\",\"lastSeq\":12,\"seq\":5,\"hash\":\"" + format_hash(hash5) + "\"}\n";
  auto journal_id = must(must(JournalReader::open(dir / "owner.journal"))->info()).journal_id;

  struct Case {
    std::string name;
    std::string tail;
    std::size_t max_line = 16u << 20;
  };
  const std::vector<Case> cases = {
      {"truncated line", events[5] + "\n" + events[6].substr(0, 40)},
      {"garbage", events[5] + "\n" + "<html>502 Bad Gateway</html>\n"},
      {"invalid event", events[5] + "\n" + "{\"sequenceNumber\":7,\"kind\":99}\n"},
      {"seq going backwards", events[5] + "\n" + events[2] + "\n"},
      {"oversize line", events[5] + "\n" + "{\"sequenceNumber\":7," + std::string(5000, 'x') + "\n", 1000},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    TempDir replica_dir;
    httplib::Server fake;
    fake.Get("/v1/events", [&](const httplib::Request&, httplib::Response& res) {
      res.set_header("X-Hugo-Journal-Id", journal_id);
      res.set_header("X-Hugo-Epoch", "1");
      res.set_header("X-Hugo-Epoch-History", "1:0");
      res.set_header("X-Hugo-Last-Seq", "12");
      res.set_header("X-Hugo-After", "0");
      res.set_header("X-Hugo-After-Hash", format_hash(kEmptyHistoryHash));
      res.set_content(good + c.tail, "application/x-ndjson");
    });
    const int port = fake.bind_to_any_port("127.0.0.1");
    std::thread listener([&] { fake.listen_after_bind(); });
    auto o = follower_options("http://127.0.0.1:" + std::to_string(port), replica_dir / "replica.journal");
    o.max_line_bytes = c.max_line;
    auto follower = must(HttpFollower::open(o));
    auto r = follower->catch_up();
    fake.stop();
    listener.join();
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code() == errc::replication_stream_malformed);
    CHECK(follower->position().seq == 5);  // the closed batch is kept, the open one is not
    follower.reset();
    CHECK(journal_ndjson(replica_dir / "replica.journal") == good.substr(0, good.find("{\"type\"")));
    // Nothing is lost: the real owner completes the replica from where it stopped.
    auto server = serve(dir / "owner.journal");
    auto resumed = must(HttpFollower::open(follower_options(server->url(), replica_dir / "replica.journal")));
    CHECK(must(resumed->catch_up()) == 12);
    CHECK(journal_ndjson(replica_dir / "replica.journal") == lines);
  }
}

TEST_CASE("after failover the promoted replica holds the dead owner's exact queue state") {
  TempDir dir;
  auto clock = std::make_shared<ManualClock>(t0());
  JournalOptions jo = fast_options();
  jo.clock = clock;
  // The same queue on the owner and, after promotion, on the replica.
  auto orders_on = [&](const std::shared_ptr<Journal>& journal) {
    TaskQueueOptions qo;
    qo.name = "orders";
    qo.clock = clock;
    qo.run_sweeper = false;
    qo.lease_duration = std::chrono::seconds(30);
    return must(TaskQueue::open(journal, qo));
  };
  std::vector<OwnershipToken> dead_tokens;
  QueueSnapshot before;
  std::int64_t owner_last = 0;
  {
    auto journal = std::shared_ptr<Journal>(must(Journal::open(dir / "owner.journal", jo)).release());
    auto queue = orders_on(journal);
    for (int i = 0; i < 10; ++i) must(queue->enqueue("job-" + std::to_string(i)));
    for (int i = 0; i < 4; ++i) dead_tokens.push_back(must(queue->lease("worker-1")).token);
    must(queue->complete(dead_tokens.back()));  // one finished before the owner died
    dead_tokens.pop_back();
    before = queue->snapshot();
    owner_last = journal->durable_seq();
    auto server = serve(dir / "owner.journal", {}, journal.get());
    auto follower = must(HttpFollower::open(follower_options(server->url(), dir / "replica.journal")));
    CHECK(must(follower->catch_up()) == owner_last);
  }  // the owner is gone

  auto promoted = must(promote_replica(dir / "replica.journal"));
  CHECK(promoted.epoch == 2);
  CHECK(promoted.last_seq == owner_last);
  CHECK(promoted.epoch_history == "1:0,2:" + std::to_string(owner_last));

  auto journal = std::shared_ptr<Journal>(must(Journal::open(dir / "replica.journal", jo)).release());
  auto queue = orders_on(journal);
  const QueueSnapshot after = queue->snapshot();
  CHECK(after.digest == before.digest);
  CHECK(after.pending.size() == 6);
  CHECK(after.leased.size() == 3);

  // The dead owner's leases expire on time, are requeued with attempt + 1, and its tokens are fenced.
  clock->advance(std::chrono::seconds(29));
  CHECK(must(queue->sweep_expired()) == 0);
  clock->advance(std::chrono::seconds(2));
  CHECK(must(queue->sweep_expired()) == 3);
  for (const OwnershipToken& token : dead_tokens) {
    Status stale = queue->complete(token);
    REQUIRE_FALSE(stale.ok());
  }
  std::vector<std::int32_t> attempts;
  for (int i = 0; i < 10; ++i) {
    auto lease = queue->lease("worker-2", Wait::none());
    if (!lease.ok()) break;
    attempts.push_back(lease->attempt);
    CHECK(lease->token.task_id > 0);
  }
  CHECK(attempts.size() == 9);
  CHECK(std::count(attempts.begin(), attempts.end(), 2) == 3);
  // Seqs continue after the owner's last one, never reusing it.
  CHECK(journal->durable_seq() > owner_last);
  auto first_new = must(journal->read(owner_last, 1));
  REQUIRE(first_new.size() == 1);
  CHECK(first_new.front().seq == owner_last + 1);
}

TEST_CASE("SSE carries the same events; streams beyond max_subscribers get 503; /v1/info describes the owner") {
  TempDir dir;
  auto owner = must(Journal::open(dir / "owner.journal", fast_options()));
  append_workload(*owner, 3);
  ReplicationServerOptions o;
  o.journal = dir / "owner.journal";
  o.port = 0;
  o.max_subscribers = 1;
  o.live = owner.get();
  o.heartbeat = std::chrono::milliseconds(20);
  auto server = must(ReplicationServer::start(o));

  httplib::Client sse(server->url());
  auto events = sse.Get("/v1/events?after=1", {{"Accept", "text/event-stream"}});
  REQUIRE(events);
  CHECK(events->status == 200);
  CHECK(events->get_header_value("Content-Type").find("text/event-stream") == 0);
  const std::string lines = journal_ndjson(dir / "owner.journal");
  const std::string second = lines.substr(lines.find('\n') + 1, lines.find('\n', lines.find('\n') + 1) - lines.find('\n') - 1);
  CHECK(events->body.find("id: 2\ndata: " + second + "\n\n") != std::string::npos);
  CHECK(events->body.find("id: 1\n") == std::string::npos);
  CHECK(events->body.find("event: heartbeat\ndata: {\"type\":\"heartbeat\",\"lastSeq\":3,\"seq\":3") != std::string::npos);

  auto info = sse.Get("/v1/info");
  REQUIRE(info);
  CHECK(info->body.find("\"journalId\":\"" + owner->journal_id() + "\"") != std::string::npos);
  CHECK(info->body.find("\"lastSeq\":3") != std::string::npos);
  CHECK(info->body.find("\"epoch\":1") != std::string::npos);
  auto bad = sse.Get("/v1/events?after=-4");
  REQUIRE(bad);
  CHECK(bad->status == 400);

  // One follow stream holds the only slot; a second stream is refused, the follower retries later.
  // The SSE stream above gives its slot back only after its last byte is sent, so the first
  // follow request may still be refused; it asks again until it holds the slot (status 200).
  std::atomic<bool> holding{false};
  httplib::Client first(server->url());
  std::thread hold([&] {
    for (int attempt = 0; attempt < 100 && !holding; ++attempt) {
      (void)first.Get(
          "/v1/events?after=0&follow=1", [](const httplib::Response& r) { return r.status == 200; },
          [&](const char*, std::size_t) {
            holding = true;
            return true;
          });
    }
  });
  REQUIRE(eventually([&] { return holding.load(); }));
  httplib::Client second_client(server->url());
  auto refused = second_client.Get("/v1/events?after=0");
  REQUIRE(refused);
  CHECK(refused->status == 503);
  CHECK(refused->body.find("replication.unavailable") != std::string::npos);
  server->stop();  // ends the held stream too
  hold.join();
}

}  // namespace peers_peers_test

// The queue API over HTTP (docs/WORKERS.md): RemoteTaskQueue against a server on loopback, and raw
// requests for the statuses, tokens and hostile bodies that a client library would never send.
#include <doctest/doctest.h>

#include <hugo/error_codes.hpp>
#include <hugo/peers.hpp>
#include <hugo/remote_queue.hpp>

#include "tests/peers/queue_api_support.hpp"

#include <httplib.h>

#include <atomic>
#include <future>
#include <map>
#include <set>
#include <thread>

namespace hugo::test {
namespace {

TEST_CASE("queue_api.round_trip: every call of the interface works remotely and journals what TaskQueue would") {
  QueueServer s;
  auto remote = s.remote();
  TaskQueueApi& api = *remote;  // the worker code sees only the interface
  EnqueueOptions urgent;
  urgent.priority = 5;
  const auto plain = must(api.enqueue("plain text"));
  const auto bytes = must(api.enqueue(std::string("\xff\x00\x01", 3)));
  const auto first = must(api.enqueue_with("{\"urgent\":true}", [] {
    EnqueueOptions o;
    o.priority = 5;
    o.format = PayloadFormat::Json;
    return o;
  }()));
  const auto batch = must(api.enqueue_batch({"b1", "b2"}));
  CHECK(batch.size() == 2);
  CHECK(s.queue->pending_count() == 5);

  Lease lease = must(api.lease("worker-1"));
  CHECK(lease.task_id() == first);  // the highest priority first
  CHECK(lease.payload == "{\"urgent\":true}");
  CHECK(lease.payload_format == PayloadFormat::Json);
  CHECK(lease.owner == "worker-1");
  CHECK(lease.queue == "orders");
  CHECK(must(api.heartbeat(lease.token)).expires_at >= lease.expires_at);
  must(api.complete(lease.token));
  CHECK(s.queue->active_lease_count() == 0);

  Lease second = must(api.lease("worker-1"));
  CHECK(second.task_id() == plain);
  CHECK(must(api.fail(second.token, Error("job.failed", "disk on fire"))) == FailOutcome::Requeued);
  std::vector<Lease> leases = must(api.lease_batch("worker-2", 10));
  REQUIRE(leases.size() == 4);
  CHECK(leases[0].task_id() == bytes);
  CHECK(leases[0].payload == std::string("\xff\x00\x01", 3));  // bytes travel as base64
  Lease retried = leases[3];
  CHECK(retried.task_id() == plain);
  CHECK(retried.attempt == 2);
  REQUIRE(retried.last_error.has_value());
  CHECK(retried.last_error->message() == "disk on fire");
  must(api.complete_batch({leases[0].token, leases[1].token}));
  CHECK(must(api.fail(retried.token, Error("job.failed", "again"))) == FailOutcome::DeadLettered);
  CHECK(must(api.cancel(leases[2].task_id(), "not needed")) == CancelOutcome::WasLeased);
  CHECK(s.queue->dead_letter_count() == 1);
  must(api.requeue_dead_letter(plain));
  CHECK(s.queue->pending_count() == 1);

  auto drained = must(api.drain());
  REQUIRE(drained.size() == 1);
  CHECK(drained[0].task_id == plain);
  CHECK(s.queue->pending_count() == 0);
  must(api.restore(drained));
  CHECK(s.queue->pending_count() == 1);
  auto counts = must(remote->counts());
  CHECK(counts.pending == 1);
  CHECK(counts.leased == 0);

  // The journal holds what the in-process calls would have written: replaying it gives this state.
  const std::string digest = s.queue->snapshot().digest;
  s.server->stop();
  must(s.queue->close());
  s.queue.reset();
  auto reopened = s.open(s.options("orders"));
  CHECK(reopened->snapshot().digest == digest);
}

TEST_CASE("queue_api.stale_token: a lease that is no longer live is refused with 409 and lease_inactive") {
  QueueServer s;
  auto remote = s.remote();
  must(remote->enqueue("x"));
  Lease lease = must(remote->lease("w"));
  must(remote->complete(lease.token));
  const std::size_t rows = s.rows();
  auto again = remote->complete(lease.token);
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().code() == errc::lease_inactive);
  auto beat = remote->heartbeat(lease.token);
  REQUIRE_FALSE(beat.ok());
  CHECK(beat.error().code() == errc::lease_inactive);
  auto res = s.post("/v1/queues/orders/leases/" + lease.token.to_string() + "/complete", "");
  REQUIRE(res);
  CHECK(res->status == 409);
  CHECK(code_of(res->body) == "error.taskqueue.lease_inactive");
  CHECK(s.rows() == rows);  // nothing journaled by the refusals
}

TEST_CASE("queue_api.tokens: writes need the write token even on loopback; the read token only reads") {
  QueueServer s;
  must(s.queue->enqueue("x"));
  const std::size_t rows = s.rows();
  auto anonymous = s.post("/v1/queues/orders/leases", "{}", "");
  REQUIRE(anonymous);
  CHECK(anonymous->status == 401);
  auto reader = s.post("/v1/queues/orders/leases", "{}", kReadToken);
  REQUIRE(reader);
  CHECK(reader->status == 403);
  CHECK(code_of(reader->body) == "replication.unauthorized");
  auto wrong = s.remote("not-the-token")->lease("w", Wait::none());
  REQUIRE_FALSE(wrong.ok());
  CHECK(wrong.error().code() == errc::replication_unauthorized);
  CHECK(s.rows() == rows);
  CHECK(must(s.remote(kReadToken)->counts()).pending == 1);  // reads with the read token

  SUBCASE("a server with queues and no write token does not start") {
    ReplicationServerOptions o;
    o.journal = s.dir / "queue.journal";
    o.live = s.journal.get();
    o.port = 0;
    o.queues = {s.queue};
    auto refused = ReplicationServer::start(o);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code() == errc::replication_token_required);
  }
}

TEST_CASE("queue_api.boundaries: unknown queues, bad bodies and bad tokens change nothing") {
  QueueServer s;
  must(s.queue->enqueue("x"));
  const std::size_t rows = s.rows();
  auto unknown = s.remote(kWriteToken, "nope")->enqueue("y");
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().code() == errc::queue_unknown);
  const std::map<std::string, std::pair<std::string, std::string>> cases = {
      {"malformed JSON", {"/v1/queues/orders/tasks", "{\"payload\":"}},
      {"not an object", {"/v1/queues/orders/tasks", "[1,2]"}},
      {"an unknown field", {"/v1/queues/orders/tasks", "{\"payload\":\"a\",\"priorty\":3}"}},
      {"no payload", {"/v1/queues/orders/tasks", "{}"}},
      {"both payload forms", {"/v1/queues/orders/tasks", "{\"payload\":\"a\",\"payloadBase64\":\"YQ==\"}"}},
      {"bad base64", {"/v1/queues/orders/tasks", "{\"payloadBase64\":\"***\"}"}},
      {"a priority out of range", {"/v1/queues/orders/tasks", "{\"payload\":\"a\",\"priority\":4294967296}"}},
      {"deep nesting", {"/v1/queues/orders/tasks", std::string(100000, '[') + std::string(100000, ']')}},
      {"a lease batch too large", {"/v1/queues/orders/leases", "{\"max\":100000}"}},
      {"a bad token", {"/v1/queues/orders/leases/12:1:xyz/complete", ""}},
      {"a lone surrogate", {"/v1/queues/orders/tasks", "{\"payload\":\"a\\udc00b\"}"}},
      {"a lone surrogate in a batch", {"/v1/queues/orders/tasks", "{\"payloads\":[\"\\udc00\"]}"}},
      {"a fail without an error", {"/v1/queues/orders/leases/1:1:00000000000000000000000000000002/fail", "{}"}},
      {"a bad task id", {"/v1/queues/orders/tasks/-3/cancel", ""}},
  };
  for (const auto& [name, request] : cases) {
    CAPTURE(name);
    auto res = s.post(request.first, request.second);
    REQUIRE(res);
    CHECK(res->status == 400);
    CHECK_FALSE(code_of(res->body).empty());
  }
  auto no_route = s.post("/v1/queues/orders/whatever", "{}");
  REQUIRE(no_route);
  CHECK(no_route->status == 404);
  CHECK(s.rows() == rows);
  CHECK(s.queue->pending_count() == 1);
}

TEST_CASE("queue_api.idempotency: an enqueue retried with its key finds the task instead of adding one") {
  QueueServer s;
  auto remote = s.remote();
  const auto first = must(remote->enqueue_keyed("order-17", "charge"));
  const auto again = must(remote->enqueue_keyed("order-17", "charge"));
  CHECK_FALSE(first.duplicate);
  CHECK(again.duplicate);
  CHECK(again.task_id == first.task_id);
  CHECK(s.queue->pending_count() == 1);
  auto res = s.post("/v1/queues/orders/tasks", "{\"payload\":\"charge\"}");
  REQUIRE(res);
  CHECK(res->status == 201);
  httplib::Client client(s.server->url());
  auto keyed = client.Post("/v1/queues/orders/tasks",
                           {{"Authorization", std::string("Bearer ") + kWriteToken}, {"Idempotency-Key", "order-17"}},
                           "{\"payload\":\"charge\"}", "application/json");
  REQUIRE(keyed);
  CHECK(keyed->status == 200);  // found, not created
  CHECK(keyed->body.find("\"duplicate\":true") != std::string::npos);
  CHECK(s.queue->pending_count() == 2);
}

TEST_CASE("queue_api.long_poll: a waiting lease holds no server thread and wakes on an enqueue") {
  QueueServer s(/*threads=*/1, std::chrono::milliseconds(3000));
  auto remote = s.remote();
  auto waiting = std::async(std::launch::async, [&] {
    return remote->lease("poller", Wait::for_duration(std::chrono::seconds(20)));
  });
  // The only server thread stays free: other requests are answered while the poll waits.
  REQUIRE(eventually([&] {
    httplib::Client client(s.server->url());
    auto health = client.Get("/healthz");
    return health && health->status == 200;
  }));
  CHECK(waiting.wait_for(std::chrono::milliseconds(200)) == std::future_status::timeout);
  const auto id = must(s.queue->enqueue("wake up"));
  REQUIRE(waiting.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
  Lease lease = must(waiting.get());
  CHECK(lease.task_id() == id);

  SUBCASE("a poll that sees nothing before its deadline ends with queue.timeout") {
    auto none = remote->lease("poller", Wait::for_duration(std::chrono::milliseconds(300)));
    REQUIRE_FALSE(none.ok());
    CHECK(none.error().code() == errc::queue_timeout);
  }
}

TEST_CASE("queue_api.mixed_workers: remote and in-process workers on one queue complete every task once") {
  QueueServer s(4);
  constexpr int kTasks = 300;
  for (int i = 0; i < kTasks; ++i) must(s.queue->enqueue("task-" + std::to_string(i)));
  // Each worker does its share, so both kinds certainly take part; a task leased twice would
  // leave another one undone (and show twice in the journal).
  auto work = [&](TaskQueueApi& api, const std::string& owner) {
    int mine = 0;
    while (mine < kTasks / 4) {
      auto lease = api.lease(owner, Wait::for_duration(std::chrono::milliseconds(200)));
      if (!lease.ok()) continue;
      if (api.complete(lease->token).ok()) ++mine;
    }
  };
  std::vector<std::unique_ptr<RemoteTaskQueue>> remotes;
  for (int i = 0; i < 3; ++i) remotes.push_back(s.remote());
  std::vector<std::thread> workers;
  for (int i = 0; i < 3; ++i) workers.emplace_back([&, i] { work(*remotes[i], "remote-" + std::to_string(i)); });
  workers.emplace_back([&] { work(*s.queue, "local"); });
  for (auto& t : workers) t.join();
  std::map<std::int64_t, int> completions;
  std::set<std::string> owners;
  for (const Event& e : s.events()) {
    if (e.kind == EventKind::Completed) completions[e.task_id]++;
    if (e.kind == EventKind::LeaseGranted && e.owner_peer_id) owners.insert(*e.owner_peer_id);
  }
  CHECK(completions.size() == static_cast<std::size_t>(kTasks));
  for (const auto& [task, count] : completions) CHECK(count == 1);
  CHECK(owners.size() == 4);  // the three remote workers and the local one
  CHECK(s.queue->pending_count() == 0);
}

}  // namespace
}  // namespace hugo::test

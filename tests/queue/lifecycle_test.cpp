// Hugo's TaskQueue behaviours (docs/QUEUE.md), driven by a ManualClock and read back from the
// journal: identity, retries, dead letters, expiry, heartbeats, fencing.
#include <doctest/doctest.h>

#include <hugo/error_codes.hpp>
#include <hugo/task_queue.hpp>

#include "tests/support/queue_fixture.hpp"

namespace queue_lifecycle_test {

using namespace hugo;
using namespace std::chrono_literals;
using test::must;
using K = EventKind;

TEST_SUITE("queue.lifecycle") {

TEST_CASE("task id is the Enqueued seq, lease id the LeaseGranted seq, and the token names both") {
  test::QueueFixture f;
  auto q = f.open();
  const auto task = must(q->enqueue("payload-1"));
  CHECK(task == 1);
  const Lease lease = must(q->lease("worker-a", Wait::none()));
  CHECK(lease.token == OwnershipToken{1, 1, 2});
  CHECK(lease.payload == "payload-1");
  CHECK(lease.attempt == 1);
  CHECK(lease.owner == "worker-a");
  CHECK(lease.enqueued_at == f.clock->now());
  CHECK(lease.expires_at == f.clock->now() + 30s);
  CHECK_FALSE(lease.last_error.has_value());
  CHECK(q->pending_count() == 0);
  CHECK(q->active_lease_count() == 1);
  must(q->complete(lease.token));
  CHECK(q->active_lease_count() == 0);
  CHECK(f.kinds() == std::vector<K>{K::Enqueued, K::LeaseGranted, K::Completed});
}

TEST_CASE("success sequence journals Hugo's fields for each row") {
  test::QueueFixture f;
  auto q = f.open();
  must(q->enqueue("v"));
  const Timestamp t0 = f.clock->now();
  f.clock->advance(1s);
  const Lease lease = must(q->lease("w", Wait::none()));
  f.clock->advance(6s);
  CHECK(must(q->heartbeat(lease.token)).outcome == HeartbeatResult::Outcome::Extended);
  f.clock->advance(1s);
  must(q->complete(lease.token));
  const auto ev = f.events();
  REQUIRE(ev.size() == 4);
  // Enqueued: attempt 1, no token, no error, no expiration, OccurredAt = enqueue time.
  CHECK(ev[0].attempt == 1);
  CHECK_FALSE(ev[0].token.has_value());
  CHECK(ev[0].occurred_at == t0);
  CHECK(ev[0].payload == std::optional<std::string>("v"));
  // LeaseGranted: new token, expiration = grant + lease duration, owner, no error.
  CHECK(ev[1].token == std::optional<OwnershipToken>(OwnershipToken{1, 1, 2}));
  CHECK(ev[1].lease_expiration == std::optional<Timestamp>(t0 + 1s + 30s));
  CHECK(ev[1].owner_peer_id == std::optional<std::string>("w"));
  CHECK_FALSE(ev[1].error.has_value());
  // Heartbeat: the absolute reset now + lease duration.
  CHECK(ev[2].lease_expiration == std::optional<Timestamp>(t0 + 7s + 30s));
  CHECK(ev[2].token == ev[1].token);
  // Completed: token, no error.
  CHECK(ev[3].token == ev[1].token);
  CHECK(ev[3].occurred_at == t0 + 8s);
  for (const auto& e : ev) CHECK(e.flags == flags::None);
}

TEST_CASE("fail with requeue: same task, attempt + 1, new lease id, last error carried") {
  test::QueueFixture f;
  auto q = f.open();
  must(q->enqueue("v"));
  const Lease first = must(q->lease("w", Wait::none()));
  const Error boom("app.boom", "boom");
  CHECK(must(q->fail(first.token, boom)) == FailOutcome::Requeued);
  CHECK(q->pending_count() == 1);
  const Lease second = must(q->lease("w", Wait::none()));
  CHECK(second.token.task_id == first.token.task_id);
  CHECK(second.attempt == first.attempt + 1);
  CHECK(second.token.lease_id != first.token.lease_id);
  CHECK(second.enqueued_at == first.enqueued_at);
  REQUIRE(second.last_error.has_value());
  CHECK(second.last_error->code() == "app.boom");
  CHECK(f.kinds() == std::vector<K>{K::Enqueued, K::LeaseGranted, K::Failed, K::Requeued, K::LeaseGranted});
  const auto ev = f.events();
  CHECK(ev[3].attempt == 2);  // Requeued carries attempt + 1 ...
  CHECK(ev[3].token == std::optional<OwnershipToken>(first.token));  // ... and the previous lease's token
  CHECK(ev[3].error->code() == "app.boom");
  CHECK(ev[4].error == std::nullopt);  // LeaseGranted never carries an error, even on retries
}

TEST_CASE("fail without requeue dead-letters at once with the current attempt") {
  test::QueueFixture f;
  std::vector<DeadLetter> seen;
  auto options = f.options();
  options.dead_letter_handler = [&](const DeadLetter& d) {
    seen.push_back(d);
    return ok_status();
  };
  auto q = f.open(options);
  must(q->enqueue("v"));
  const Lease lease = must(q->lease("w", Wait::none()));
  CHECK(must(q->fail(lease.token, Error("app.fatal", "fatal"), false)) == FailOutcome::DeadLettered);
  CHECK(f.kinds() == std::vector<K>{K::Enqueued, K::LeaseGranted, K::Failed, K::DeadLettered});
  const auto ev = f.events();
  CHECK(ev[3].attempt == 1);
  CHECK(ev[3].flags == flags::DeadLetter);
  CHECK(ev[3].token == std::optional<OwnershipToken>(lease.token));
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].payload == "v");
  CHECK(seen[0].error.code() == "app.fatal");
  CHECK(seen[0].attempt == 1);
  CHECK(seen[0].task_id == 1);
  CHECK(seen[0].seq == 4);
  CHECK(seen[0].last_token == std::optional<OwnershipToken>(lease.token));
  CHECK(q->dead_letter_count() == 1);
}

TEST_CASE("attempts exhausted: dead-lettered as is when the next attempt would exceed the maximum") {
  test::QueueFixture f;
  auto options = f.options();
  options.max_delivery_attempts = 2;
  auto q = f.open(options);
  must(q->enqueue("v"));
  CHECK(must(q->fail(must(q->lease("w", Wait::none())).token, Error("e", "1"))) == FailOutcome::Requeued);
  const Lease second = must(q->lease("w", Wait::none()));
  CHECK(second.attempt == 2);
  CHECK(must(q->fail(second.token, Error("e", "2"))) == FailOutcome::DeadLettered);
  const auto ev = f.events();
  CHECK(ev.back().kind == K::DeadLettered);
  CHECK(ev.back().attempt == 2);
  CHECK(ev.back().error->message() == "2");
  CHECK(q->pending_count() == 0);
  auto dead = q->dead_letters();
  REQUIRE(dead.size() == 1);
  CHECK(dead[0].attempt == 2);
}

TEST_CASE("expiry happens at the deadline, requeues FromExpiration, and fences the late worker") {
  test::QueueFixture f;
  auto q = f.open();
  must(q->enqueue("v"));
  const Lease lease = must(q->lease("w", Wait::none()));
  f.clock->advance(30s - 1us);
  CHECK(must(q->sweep_expired()) == 0);
  f.clock->advance(1us);  // now == expiration: expired
  CHECK(must(q->sweep_expired()) == 1);
  CHECK(f.kinds() == std::vector<K>{K::Enqueued, K::LeaseGranted, K::LeaseExpired, K::Requeued});
  const auto ev = f.events();
  CHECK(ev[2].flags == flags::FromExpiration);
  CHECK(ev[2].error->code() == errc::lease_expired);
  CHECK(ev[2].error->message() == "Lease expired without heartbeat.");
  CHECK(*ev[2].error->find("attempt") == "1");
  CHECK(*ev[2].error->find("expiredAt") == format_iso8601(f.clock->now()));
  CHECK(*ev[2].error->find("enqueuedAt") == format_iso8601(lease.enqueued_at));
  CHECK(ev[3].flags == flags::FromExpiration);
  CHECK(ev[3].attempt == 2);
  // The late worker cannot complete, heartbeat or fail: the lease never comes back.
  CHECK(q->complete(lease.token).error().code() == errc::lease_inactive);
  CHECK(q->heartbeat(lease.token).error().code() == errc::lease_inactive);
  CHECK(q->fail(lease.token, Error("x", "y")).error().code() == errc::lease_inactive);
  const Lease retry = must(q->lease("w2", Wait::none()));
  CHECK(retry.attempt == 2);
  CHECK(retry.last_error->code() == errc::lease_expired);
  // An older attempt's token with a live lease id is still refused.
  CHECK(q->complete(OwnershipToken{retry.token.task_id, 1, retry.token.lease_id}).error().code() == errc::lease_inactive);
  must(q->complete(retry.token));
}

TEST_CASE("expiry with attempts exhausted dead-letters with DeadLetter only") {
  test::QueueFixture f;
  auto options = f.options();
  options.max_delivery_attempts = 1;
  auto q = f.open(options);
  must(q->enqueue("v"));
  (void)must(q->lease("w", Wait::none()));
  f.clock->advance(31s);
  CHECK(must(q->sweep_expired()) == 1);
  const auto ev = f.events();
  REQUIRE(ev.size() == 4);
  CHECK(ev[3].kind == K::DeadLettered);
  CHECK(ev[3].flags == flags::DeadLetter);
  CHECK(ev[3].attempt == 1);
}

TEST_CASE("heartbeat inside the interval is reported as throttled, outside it extends") {
  test::QueueFixture f;
  auto q = f.open();  // heartbeat interval 5 s, lease 30 s
  must(q->enqueue("v"));
  const Lease lease = must(q->lease("w", Wait::none()));
  f.clock->advance(4s);
  const auto throttled = must(q->heartbeat(lease.token));
  CHECK(throttled.outcome == HeartbeatResult::Outcome::Throttled);
  CHECK(throttled.expires_at == lease.expires_at);  // nothing extended ...
  CHECK(f.events().size() == 2);                    // ... and nothing journaled
  f.clock->advance(1s);
  const auto extended = must(q->heartbeat(lease.token));
  CHECK(extended.outcome == HeartbeatResult::Outcome::Extended);
  CHECK(extended.expires_at == f.clock->now() + 30s);
  // The extension holds: the original deadline passes without expiry.
  f.clock->advance(26s);
  CHECK(must(q->sweep_expired()) == 0);
  must(q->complete(lease.token));
  CHECK(q->heartbeat(lease.token).error().code() == errc::lease_inactive);
  CHECK(q->complete(lease.token).error().code() == errc::lease_inactive);  // double complete
}

TEST_CASE("heartbeat interval 0 makes every heartbeat effective") {
  test::QueueFixture f;
  auto options = f.options();
  options.heartbeat_interval = Duration::zero();
  auto q = f.open(options);
  must(q->enqueue("v"));
  const Lease lease = must(q->lease("w", Wait::none()));
  CHECK(must(q->heartbeat(lease.token)).outcome == HeartbeatResult::Outcome::Extended);
  CHECK(must(q->heartbeat(lease.token)).outcome == HeartbeatResult::Outcome::Extended);
  CHECK(f.kinds() == std::vector<K>{K::Enqueued, K::LeaseGranted, K::Heartbeat, K::Heartbeat});
}

TEST_CASE("FIFO order, requeued tasks go to the tail") {
  test::QueueFixture f;
  auto q = f.open();
  for (const char* p : {"a", "b", "c"}) must(q->enqueue(p));
  const Lease a = must(q->lease("w", Wait::none()));
  must(q->fail(a.token, Error("e", "retry")));
  std::vector<std::string> order;
  for (int i = 0; i < 3; ++i) order.push_back(must(q->lease("w", Wait::none())).payload);
  CHECK(order == std::vector<std::string>{"b", "c", "a"});
}

TEST_CASE("a requeue delay keeps the task from being leased until it passes") {
  test::QueueFixture f;
  auto options = f.options();
  options.requeue_delay = 10s;
  auto q = f.open(options);
  must(q->enqueue("v"));
  must(q->fail(must(q->lease("w", Wait::none())).token, Error("e", "later")));
  CHECK(q->lease("w", Wait::none()).error().code() == errc::queue_timeout);
  CHECK(f.events().back().available_at == std::optional<Timestamp>(f.clock->now() + 10s));
  f.clock->advance(10s);
  CHECK(must(q->lease("w", Wait::none())).attempt == 2);
}

TEST_CASE("a throwing or failing dead-letter handler is reported and never stops the sweeper") {
  test::QueueFixture f;
  std::vector<Error> reported;
  int calls = 0;
  auto options = f.options();
  options.max_delivery_attempts = 1;
  options.dead_letter_handler = [&](const DeadLetter& d) -> Status {
    ++calls;
    // The DeadLettered row is journaled (and durable) before the handler runs.
    auto ev = f.journal->read(d.seq - 1, 1);
    REQUIRE(ev.ok());
    CHECK(ev->at(0).kind == K::DeadLettered);
    if (calls == 1) throw std::runtime_error("handler exploded");
    return Error("app.handler", "downstream unavailable");
  };
  options.on_handler_error = [&](const Error& e) { reported.push_back(e); };
  auto q = f.open(options);
  must(q->enqueue("a"));
  must(q->enqueue("b"));
  (void)must(q->lease("w", Wait::none()));
  f.clock->advance(31s);
  CHECK(must(q->sweep_expired()) == 1);
  (void)must(q->lease("w", Wait::none()));
  f.clock->advance(31s);
  CHECK(must(q->sweep_expired()) == 1);  // the sweeper survived the throw
  CHECK(calls == 2);
  REQUIRE(reported.size() == 2);
  CHECK(reported[0].code() == errc::exception);
  CHECK(reported[1].code() == "app.handler");
  CHECK(*reported[1].find("stage") == "dead_letter_handler");
  CHECK(q->dead_letter_count() == 2);
}

TEST_CASE("a closed queue refuses calls with error.taskqueue.disposed") {
  test::QueueFixture f;
  auto q = f.open();
  must(q->enqueue("v"));
  const Lease lease = must(q->lease("w", Wait::none()));
  must(q->close());
  CHECK(q->enqueue("x").error().code() == errc::disposed);
  CHECK(q->lease("w", Wait::none()).error().code() == errc::disposed);
  CHECK(q->complete(lease.token).error().code() == errc::disposed);
  CHECK(q->close().ok());  // idempotent
}

TEST_CASE("stale tokens: completed, failed, expired and older attempts are all lease_inactive") {
  test::QueueFixture f;
  auto q = f.open();
  must(q->enqueue("v"));
  const Lease l1 = must(q->lease("w", Wait::none()));
  must(q->fail(l1.token, Error("e", "x")));
  const Lease l2 = must(q->lease("w", Wait::none()));
  CHECK(q->complete(l1.token).error().code() == errc::lease_inactive);
  CHECK(q->complete(OwnershipToken{l2.token.task_id, l2.attempt, l1.token.lease_id}).error().code() ==
        errc::lease_inactive);
  CHECK(q->complete(OwnershipToken{l2.token.task_id + 1, l2.attempt, l2.token.lease_id}).error().code() ==
        errc::lease_inactive);
  must(q->complete(l2.token));
}

}  // TEST_SUITE

}  // namespace queue_lifecycle_test

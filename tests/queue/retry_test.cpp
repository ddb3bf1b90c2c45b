// Retry backoff (docs/QUEUE.md, "Retry backoff"): a queue's RetryPolicy decides how long a failed
// or expired task waits before its next attempt, and fail_and_retry_after lets the caller pick it
// for one retry. The delay is journaled on the Requeued row and read back, never drawn again.
// Driven by a ManualClock.
#include <doctest/doctest.h>

#include <hugo/error_codes.hpp>
#include <hugo/task_queue.hpp>

#include "tests/support/queue_fixture.hpp"

#include <cmath>
#include <limits>
#include <set>

namespace queue_retry_test {

using namespace hugo;
using namespace std::chrono_literals;
using test::must;

RetryPolicy exponential(Duration first, double factor, Duration cap, double jitter = 0.0, std::uint64_t seed = 0) {
  RetryPolicy p;
  p.backoff = RetryPolicy::Backoff::Exponential;
  p.delay = first;
  p.factor = factor;
  p.max_delay = cap;
  p.jitter = jitter;
  p.seed = seed;
  return p;
}

// Leases the queue's only task, fails it, and returns the delay its Requeued row recorded.
Duration fail_once(test::QueueFixture& f, TaskQueue& q) {
  const Lease lease = must(q.lease("w", Wait::none()));
  REQUIRE(must(q.fail(lease.token, Error("app.retry", "try again"))) == FailOutcome::Requeued);
  const Event requeued = f.events().back();
  REQUIRE(requeued.kind == EventKind::Requeued);
  return requeued.available_at ? *requeued.available_at - requeued.occurred_at : Duration::zero();
}

// Opens the fixture's queue with `policy` and enqueues its one task.
std::unique_ptr<TaskQueue> open_with_task(test::QueueFixture& f, RetryPolicy policy, std::int32_t max_attempts = 5) {
  TaskQueueOptions o = f.options();
  o.max_delivery_attempts = max_attempts;
  o.retry = policy;
  auto q = f.open(o);
  must(q->enqueue("t"));
  return q;
}

TEST_SUITE("queue.retry") {

TEST_CASE("exponential backoff doubles each retry's delay up to its cap, and the task waits for it") {
  test::QueueFixture f;
  auto q = open_with_task(f, exponential(1s, 2.0, 5s), 10);
  std::vector<Duration> delays;
  for (int i = 0; i < 5; ++i) {
    delays.push_back(fail_once(f, *q));
    // Not leasable a microsecond early; leasable at its time.
    f.clock->advance(delays.back() - 1us);
    CHECK(q->lease("w", Wait::none()).error().code() == errc::queue_timeout);
    f.clock->advance(1us);
  }
  CHECK(delays == std::vector<Duration>{1s, 2s, 4s, 5s, 5s});
}

TEST_CASE("a fixed policy waits the same delay every time; requeue_delay stays its shorthand") {
  test::QueueFixture f;
  TaskQueueOptions o = f.options();
  o.retry = RetryPolicy{};
  o.retry->delay = 3s;
  auto q = f.open(o);
  must(q->enqueue("t"));
  CHECK(fail_once(f, *q) == 3s);
  f.clock->advance(3s);
  CHECK(fail_once(f, *q) == 3s);

  test::QueueFixture g;
  TaskQueueOptions legacy = g.options();
  legacy.requeue_delay = 7s;
  auto r = g.open(legacy);
  must(r->enqueue("t"));
  CHECK(fail_once(g, *r) == 7s);
}

TEST_CASE("jitter spreads the delays below the computed one; a seed makes the draws repeatable") {
  auto draws = [](std::uint64_t seed) {
    test::QueueFixture f;
    TaskQueueOptions o = f.options();
    o.max_delivery_attempts = 100;
    o.retry = RetryPolicy{};
    o.retry->delay = 10s;
    o.retry->jitter = 0.5;
    o.retry->seed = seed;
    auto q = f.open(o);
    must(q->enqueue("t"));
    std::vector<Duration> delays;
    for (int i = 0; i < 20; ++i) {
      delays.push_back(fail_once(f, *q));
      f.clock->advance(10s);
    }
    return delays;
  };
  const auto a = draws(42);
  CHECK(a == draws(42));
  CHECK(a != draws(43));
  for (const Duration d : a) {
    CHECK(d > 5s);
    CHECK(d <= 10s);
  }
  CHECK(std::set<Duration>(a.begin(), a.end()).size() > 10);  // drawn, not one value
}

TEST_CASE("a reopened queue reads each drawn delay back instead of drawing again") {
  test::QueueFixture f;
  TaskQueueOptions o = f.options();
  o.retry = exponential(1min, 3.0, 1h, 0.9, 7);
  Timestamp due{};
  std::string digest;
  {
    auto q = f.open(o);
    must(q->enqueue("t"));
    const Duration delay = fail_once(f, *q);
    due = f.clock->now() + delay;
    digest = q->snapshot().digest;
  }
  o.retry->seed = 8;  // another generator: a redraw would move the task
  f.reopen_journal();
  auto q = f.open(o);
  CHECK(q->snapshot().digest == digest);
  REQUIRE(q->snapshot().pending.size() == 1);
  CHECK(q->snapshot().pending.front().available_at == due);
  f.clock->set(due - 1us);
  CHECK(q->lease("w", Wait::none()).error().code() == errc::queue_timeout);
  f.clock->set(due);
  CHECK(must(q->lease("w", Wait::none())).attempt == 2);
}

TEST_CASE("an expired lease is retried by the same policy") {
  test::QueueFixture f;
  auto q = open_with_task(f, exponential(2s, 2.0, 1min));
  must(q->lease("w", Wait::none()));
  f.clock->advance(31s);
  CHECK(must(q->sweep_expired()) == 1);
  const Event requeued = f.events().back();
  REQUIRE(requeued.kind == EventKind::Requeued);
  CHECK((requeued.flags & flags::FromExpiration) != 0);
  CHECK(requeued.available_at == std::optional<Timestamp>(f.clock->now() + 2s));
}

TEST_CASE("fail_and_retry_after picks this retry's delay; attempts still run out") {
  test::QueueFixture f;
  auto q = open_with_task(f, exponential(1s, 2.0, 1min), 2);
  const Lease first = must(q->lease("w", Wait::none()));
  CHECK(must(q->fail_and_retry_after(first.token, Error("app.busy", "later"), 90s)) == FailOutcome::Requeued);
  CHECK(f.events().back().available_at == std::optional<Timestamp>(f.clock->now() + 90s));
  f.clock->advance(90s);
  const Lease second = must(q->lease("w", Wait::none()));
  CHECK(must(q->fail_and_retry_after(second.token, Error("app.busy", "later"), 1s)) == FailOutcome::DeadLettered);
  CHECK(q->dead_letter_count() == 1);
}

TEST_CASE("fail_and_retry_after refuses a bad delay and records nothing; zero retries at once") {
  test::QueueFixture f;
  auto q = f.open();
  must(q->enqueue("t"));
  const Lease lease = must(q->lease("w", Wait::none()));
  const std::size_t rows = f.events().size();
  CHECK(q->fail_and_retry_after(lease.token, Error("app.x", "x"), -1us).error().code() == errc::validation);
  CHECK(q->fail_and_retry_after(lease.token, Error("app.x", "x"), Duration::max()).error().code() == errc::validation);
  CHECK(f.events().size() == rows);
  CHECK(q->active_lease_count() == 1);
  CHECK(must(q->fail_and_retry_after(lease.token, Error("app.x", "x"), 0s)) == FailOutcome::Requeued);
  CHECK_FALSE(f.events().back().available_at.has_value());
  CHECK(must(q->lease("w", Wait::none())).attempt == 2);
}

TEST_CASE("a retry policy that cannot work is refused at open with error.validation") {
  test::QueueFixture f;
  const auto refused = [&](auto change) {
    TaskQueueOptions o = f.options();
    o.retry = exponential(1s, 2.0, 1min);
    change(o);
    auto opened = TaskQueue::open(f.journal, o);
    REQUIRE_FALSE(opened.ok());
    CHECK(opened.error().code() == errc::validation);
    const std::string* option = opened.error().find("option");
    REQUIRE(option != nullptr);
    CHECK(*option == "retry");
    return opened.error().message();
  };
  CHECK(refused([](TaskQueueOptions& o) { o.retry->factor = 0.5; }).find("factor") != std::string::npos);
  refused([](TaskQueueOptions& o) { o.retry->factor = std::numeric_limits<double>::quiet_NaN(); });
  refused([](TaskQueueOptions& o) { o.retry->factor = std::numeric_limits<double>::infinity(); });
  CHECK(refused([](TaskQueueOptions& o) { o.retry->jitter = 1.5; }).find("jitter") != std::string::npos);
  refused([](TaskQueueOptions& o) { o.retry->jitter = -0.1; });
  refused([](TaskQueueOptions& o) { o.retry->max_delay = 500ms; });  // below delay
  refused([](TaskQueueOptions& o) { o.retry->delay = -1s; });
  refused([](TaskQueueOptions& o) { o.retry->delay = Duration::max(); });
  CHECK(refused([](TaskQueueOptions& o) { o.requeue_delay = 1s; }).find("requeue_delay") != std::string::npos);
  TaskQueueOptions huge = f.options();
  huge.requeue_delay = Duration::max();
  CHECK(TaskQueue::open(f.journal, huge).error().code() == errc::validation);
}

TEST_CASE("a huge factor saturates at the cap instead of overflowing") {
  test::QueueFixture f;
  auto q = open_with_task(f, exponential(1h, 1e300, std::chrono::days(3650)), 100);
  CHECK(fail_once(f, *q) == 1h);
  f.clock->advance(1h);
  CHECK(fail_once(f, *q) == std::chrono::days(3650));
  f.clock->advance(std::chrono::days(3650));
  CHECK(fail_once(f, *q) == std::chrono::days(3650));
}

}  // TEST_SUITE

}  // namespace queue_retry_test

// Contracts of the queue and the journal it writes: close() from anywhere, a refused group
// leaves no trace, reads cost what they return, fail() needs an error (docs/QUEUE.md).
#include <doctest/doctest.h>

#include <hugo/error_codes.hpp>

#include "journal/queue_state.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/queue_fixture.hpp"
#include "tools/dead_letter_check.hpp"

#include <atomic>
#include <chrono>
#include <future>
#include <latch>
#include <algorithm>
#include <iterator>
#include <thread>

namespace queue_contracts_test {

using namespace hugo;
using namespace std::chrono_literals;
using test::must;

TEST_SUITE("queue.contracts") {

TEST_CASE("close() from a dead-letter handler on the sweeper thread releases the name for a reopen") {
  test::QueueFixture f;
  auto options = f.options();
  options.run_sweeper = true;
  options.sweep_interval = 1ms;
  options.lease_duration = 1s;
  options.max_delivery_attempts = 1;
  TaskQueue* queue = nullptr;
  std::promise<std::string> closed;
  options.dead_letter_handler = [&](const DeadLetter&) -> Status {
    std::string outcome;
    try {
      Status s = queue->close();
      outcome = s.ok() ? "closed" : s.error().to_string();
    } catch (const std::exception& e) {
      outcome = std::string("close threw: ") + e.what();
    }
    closed.set_value(outcome);
    return ok_status();
  };
  auto q = f.open(options);
  queue = q.get();
  must(q->enqueue("1"));
  must(q->lease("w"));
  f.clock->advance(2s);  // the sweeper expires the lease and dead-letters the task
  auto outcome = closed.get_future();
  REQUIRE_MESSAGE(outcome.wait_for(120s) == std::future_status::ready, "the sweeper never ran the handler");
  CHECK(outcome.get() == "closed");
  auto reopened = TaskQueue::open(f.journal, f.options());
  REQUIRE_MESSAGE(reopened.ok(), reopened.error().to_string());
  CHECK((*reopened)->dead_letter_count() == 1);
  q.reset();  // joins the sweeper that closed its own queue
  must((*reopened)->close());
}

TEST_CASE("two threads closing one journal at once both return once it is closed") {
  test::TempDir dir;
  for (int round = 0; round < 20; ++round) {
    CAPTURE(round);
    auto journal = must(Journal::open(dir / "j.journal"));
    Event e;
    e.queue = "orders";
    e.payload = "p";
    (void)journal->append_async(e);
    std::latch start(2);
    Status statuses[2] = {ok_status(), ok_status()};
    auto closer = [&](int i) {
      start.arrive_and_wait();
      statuses[i] = journal->close();
    };
    std::thread a(closer, 0);
    std::thread b(closer, 1);
    a.join();
    b.join();
    CHECK(statuses[0].ok());
    CHECK(statuses[1].ok());
    CHECK(journal->append_async(e).seq == 0);
    // Both returned after the writer lock was released: the file opens again at once.
    auto reopened = Journal::open(dir / "j.journal");
    REQUIRE_MESSAGE(reopened.ok(), reopened.error().to_string());
    CHECK((*reopened)->durable_seq() == round + 1);
  }
}

TEST_CASE("a refused group leaves the caller's events exactly as they were") {
  test::QueueFixture f;
  std::vector<Event> group(3);
  for (Event& e : group) {
    e.queue = "orders";
    e.payload = "p";
  }
  group[1].kind = EventKind::LeaseGranted;
  group[1].task_id = 1;  // the group's first row
  group[1].token = OwnershipToken{1, 1, 0};
  group[1].lease_expiration = f.clock->now();
  group[2].queue.clear();  // invalid: every row names its queue
  const std::vector<Event> before = group;
  AppendTicket ticket = f.journal->append_group_async(group);
  CHECK(ticket.seq == 0);
  CHECK_FALSE(ticket.wait().ok());
  CHECK(group == before);
  CHECK(f.events().empty());
}

TEST_CASE("dead_letters() copies the dead letters and hashes nothing; requeue of 10,000 stays linear") {
  test::QueueFixture f;
  constexpr std::size_t kDead = 10'000;
  auto options = f.options();
  options.capacity = kDead;
  options.max_delivery_attempts = 1;
  auto q = f.open(options);
  must(q->enqueue_batch(std::vector<std::string>(kDead, "payload")));
  CHECK(must(q->lease_batch("w", kDead)).size() == kDead);
  f.clock->advance(options.lease_duration + 1s);
  CHECK(must(q->sweep_expired()) == kDead);
  REQUIRE(q->dead_letter_count() == kDead);

  detail::QueueWork& work = detail::queue_work();
  const std::uint64_t snapshots = work.snapshots.load();
  const std::uint64_t copies = work.dead_letters.load();
  CHECK(q->dead_letters().size() == kDead);
  CHECK(work.snapshots.load() == snapshots);
  CHECK(work.dead_letters.load() - copies == kDead);

  // The requeue verb's path: one check of every task, then one requeue each.
  std::map<std::int64_t, std::string> queue_of;
  for (const DeadLetter& d : q->dead_letters()) queue_of[d.task_id] = "orders";
  std::map<std::string, std::unique_ptr<TaskQueue>> queues;
  queues.emplace("orders", std::move(q));
  const std::uint64_t before_snapshots = work.snapshots.load();
  const std::uint64_t before_copies = work.dead_letters.load();
  CHECK(cli::first_not_dead(queue_of, queues) == std::nullopt);
  for (const auto& [task, name] : queue_of) must(queues.at(name)->requeue_dead_letter(task));
  // Generous, and still far below the n * n copies of one dead_letters() call per task.
  CHECK(work.dead_letters.load() - before_copies <= 4 * kDead);
  CHECK(work.snapshots.load() == before_snapshots);
  CHECK(queues.at("orders")->pending_count() == kDead);
  CHECK(queues.at("orders")->dead_letter_count() == 0);

  // Requeued, they are dead letters no longer: the check names the first of them.
  CHECK(cli::first_not_dead(queue_of, queues) == std::optional<std::int64_t>(queue_of.begin()->first));
}

namespace {

// Waits, in a bounded loop, until `calls` enqueue or lease calls are asleep in a queue.
void await_blocked(std::int64_t calls) {
  const auto give_up = std::chrono::steady_clock::now() + 120s;
  while (detail::queue_work().blocked.load() != calls) {
    REQUIRE_MESSAGE(std::chrono::steady_clock::now() < give_up, "the calls never blocked");
    std::this_thread::yield();
  }
}

}  // namespace

TEST_CASE("an enqueue wakes one blocked lease call per task, not all of them") {
  test::QueueFixture f;
  auto options = f.options();
  options.sweep_interval = 1h;  // the lease callers' periodic re-check must not fire
  auto q = f.open(options);
  detail::QueueWork& work = detail::queue_work();
  const std::uint64_t wakeups = work.wakeups.load();
  constexpr int kLessees = 3;
  std::vector<std::thread> lessees;
  std::vector<Status> outcomes(kLessees);
  for (int i = 0; i < kLessees; ++i) {
    lessees.emplace_back([&, i] {
      auto lease = q->lease("w" + std::to_string(i), Wait::for_duration(120s));
      outcomes[static_cast<std::size_t>(i)] = lease.ok() ? ok_status() : Status(lease.error());
    });
  }
  for (int task = 1; task <= kLessees; ++task) {
    await_blocked(kLessees - task + 1);
    must(q->enqueue("t" + std::to_string(task)));
    const auto give_up = std::chrono::steady_clock::now() + 120s;
    while (q->active_lease_count() != static_cast<std::size_t>(task)) {
      REQUIRE(std::chrono::steady_clock::now() < give_up);
      std::this_thread::yield();
    }
  }
  for (auto& t : lessees) t.join();
  for (const Status& s : outcomes) CHECK_MESSAGE(s.ok(), (s.ok() ? "" : s.error().to_string()));
  // One wake-up per task; waking every lessee per task would be 3 + 2 + 1.
  CHECK(work.wakeups.load() - wakeups == kLessees);
}

TEST_CASE("a lease serves one blocked enqueue call per slot it frees; a waiting batch still gets its room") {
  test::QueueFixture f;
  auto options = f.options();
  options.capacity = 2;
  auto q = f.open(options);
  must(q->enqueue_batch({"a", "b"}));  // full
  detail::QueueWork& work = detail::queue_work();
  const std::uint64_t wakeups = work.wakeups.load();
  constexpr int kProducers = 3;
  std::vector<std::thread> producers;
  std::vector<Status> outcomes(kProducers + 1);
  for (int i = 0; i < kProducers; ++i) {
    producers.emplace_back([&, i] {
      auto id = q->enqueue("p" + std::to_string(i), Wait::for_duration(120s));
      outcomes[static_cast<std::size_t>(i)] = id.ok() ? ok_status() : Status(id.error());
    });
  }
  std::size_t leased = 0;
  for (int slot = 1; slot <= kProducers; ++slot) {
    await_blocked(kProducers - slot + 1);
    must(q->lease("w"));
    ++leased;
    const auto give_up = std::chrono::steady_clock::now() + 120s;
    while (q->pending_count() != 2) {
      REQUIRE(std::chrono::steady_clock::now() < give_up);
      std::this_thread::yield();
    }
  }
  for (auto& t : producers) t.join();
  // One wake-up per freed slot; waking every producer per slot would be 3 + 2 + 1.
  CHECK(work.wakeups.load() - wakeups == kProducers);

  // A batch that needs both slots waits beside a single enqueue: one freed slot serves the single
  // one (the batch, first in line, does not fit and sleeps on), the next frees room for the batch.
  producers.clear();
  producers.emplace_back([&] {
    auto ids = q->enqueue_batch({"x", "y"}, Wait::for_duration(120s));
    outcomes[kProducers] = ids.ok() ? ok_status() : Status(ids.error());
  });
  await_blocked(1);
  producers.emplace_back([&] {
    auto id = q->enqueue("z", Wait::for_duration(120s));
    outcomes[0] = id.ok() ? ok_status() : Status(id.error());
  });
  await_blocked(2);
  must(q->lease("w"));
  await_blocked(1);  // the single enqueue was served; the batch sleeps on
  must(q->lease_batch("w", 2));
  producers[0].join();
  producers[1].join();
  for (const Status& s : outcomes) CHECK_MESSAGE(s.ok(), (s.ok() ? "" : s.error().to_string()));
  CHECK(q->pending_count() == 2);
  CHECK(leased == kProducers);
}

namespace {

// A queue of capacity 1 holding one task ("first"): the next enqueue waits for room.
std::unique_ptr<TaskQueue> open_full(test::QueueFixture& f) {
  auto options = f.options();
  options.capacity = 1;
  auto q = f.open(options);
  must(q->enqueue("first"));
  return q;
}

}  // namespace

// docs/QUEUE.md, "Targeted wake-ups": the lease that frees room appends the waiting calls' rows
// with its own, and the journal wakes each call once its rows are durable.
TEST_CASE("enqueue calls waiting for room are served in arrival order, once each, durable when the lease returns") {
  test::QueueFixture f;
  auto q = open_full(f);
  detail::QueueWork& work = detail::queue_work();
  const std::uint64_t wakeups = work.wakeups.load();
  constexpr int kProducers = 3;
  std::vector<std::thread> producers;
  std::vector<std::int64_t> task_ids(kProducers, 0);
  std::vector<Status> outcomes(kProducers);
  std::atomic<int> returned{0};
  for (int i = 0; i < kProducers; ++i) {
    producers.emplace_back([&, i] {
      auto id = q->enqueue("p" + std::to_string(i), Wait::for_duration(120s));
      outcomes[static_cast<std::size_t>(i)] = id.ok() ? ok_status() : Status(id.error());
      if (id.ok()) task_ids[static_cast<std::size_t>(i)] = *id;
      returned.fetch_add(1);
    });
    await_blocked(i + 1);  // each asleep before the next arrives: the arrival order is 0, 1, 2
  }
  std::vector<std::int64_t> durable_after_lease;
  for (int slot = 1; slot <= kProducers; ++slot) {
    const Lease lease = must(q->lease("w", Wait::none()));
    durable_after_lease.push_back(f.journal->durable_seq());
    CHECK(q->pending_count() == 1);  // the served call's task took the slot inside the lease call
    // Woken by its durable rows, long before its own deadline.
    CHECK(test::eventually([&] { return returned.load() == slot; }));
    must(q->complete(lease.token));
  }
  for (auto& t : producers) t.join();
  for (const Status& s : outcomes) CHECK_MESSAGE(s.ok(), (s.ok() ? "" : s.error().to_string()));
  for (int i = 0; i < kProducers; ++i) {
    const auto k = static_cast<std::size_t>(i);
    if (i > 0) CHECK(task_ids[k] > task_ids[k - 1]);  // arrival order
    CHECK(task_ids[k] <= durable_after_lease[k]);      // its row was durable when the lease returned
  }
  CHECK(work.wakeups.load() - wakeups == kProducers);  // one wake-up each: its rows were durable
  // Each Enqueued row directly follows the LeaseGranted row whose room it took.
  const std::vector<Event> rows = f.events();
  for (std::int64_t id : task_ids) {
    const auto it = std::find_if(rows.begin(), rows.end(), [&](const Event& e) { return e.seq == id; });
    REQUIRE(it != rows.end());
    REQUIRE(it != rows.begin());
    CHECK(it->kind == EventKind::Enqueued);
    CHECK(std::prev(it)->kind == EventKind::LeaseGranted);
  }
}

TEST_CASE("an enqueue call waiting for room leaves the line on its deadline, on cancel and on close") {
  test::QueueFixture f;
  auto q = open_full(f);
  CHECK(q->enqueue("late", Wait::for_duration(5ms)).error().code() == errc::queue_timeout);
  std::stop_source stop;
  std::thread canceled([&] { CHECK(q->enqueue("canceled", Wait::forever(stop.get_token())).error().code() == errc::canceled); });
  await_blocked(1);
  stop.request_stop();
  canceled.join();
  // Neither left a place in line behind: the next freed slot goes to the next caller.
  std::thread waiting([&] { CHECK(q->enqueue("served", Wait::for_duration(120s)).ok()); });
  await_blocked(1);
  must(q->lease("w", Wait::none()));
  waiting.join();
  CHECK(q->pending_count() == 1);
  std::thread closed([&] { CHECK(q->enqueue("closed", Wait::for_duration(120s)).error().code() == errc::disposed); });
  await_blocked(1);
  must(q->close());
  closed.join();
  std::vector<std::string> payloads;
  for (const Event& e : f.events()) {
    if (e.kind == EventKind::Enqueued) payloads.push_back(e.payload.value_or(""));
  }
  CHECK(payloads == std::vector<std::string>{"first", "served"});
}

TEST_CASE("fail() with an empty error is refused with error.validation and records nothing") {
  test::QueueFixture f;
  auto q = f.open();
  must(q->enqueue("1"));
  const Lease lease = must(q->lease("w"));
  const std::size_t rows = f.events().size();
  auto refused = q->fail(lease.token, Error("", ""));
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code() == errc::validation);
  CHECK(*refused.error().find("token") == lease.token.to_string());
  CHECK(f.events().size() == rows);
  CHECK(q->active_lease_count() == 1);
  CHECK(must(q->fail(lease.token, Error("", "a message is enough"))) == FailOutcome::Requeued);
}

}  // TEST_SUITE

}  // namespace queue_contracts_test

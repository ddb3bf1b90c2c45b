// The replication source: ordered, gap-free, hydrated events from any position; wake-ups;
// observers; metrics.
#include <doctest/doctest.h>

#include <hugo/error_codes.hpp>
#include <hugo/replication.hpp>

#include "tests/support/events.hpp"
#include "tests/support/process.hpp"
#include "tests/support/queue_fixture.hpp"

#include <atomic>
#include <map>
#include <set>
#include <thread>

namespace replay_source_test {

using namespace hugo;
using namespace std::chrono_literals;
using test::must;
using K = EventKind;

namespace {

std::vector<Event> drain_source(TaskQueueReplicationSource& source) {
  std::vector<Event> all;
  while (true) {
    auto batch = must(source.next(100));
    if (batch.empty()) return all;
    all.insert(all.end(), batch.begin(), batch.end());
  }
}

}  // namespace

TEST_SUITE("replication.source") {

TEST_CASE("a source started at 0 backfills everything in order, each event carrying its task's payload") {
  test::QueueFixture f;
  auto q = f.open();
  must(q->enqueue("first"));
  must(q->enqueue("second"));
  const Lease l = must(q->lease("worker-a", Wait::none()));
  f.clock->advance(6s);
  (void)must(q->heartbeat(l.token));
  must(q->complete(l.token));
  ReplicationSourceOptions options;
  options.source_peer_id = "node-1";
  options.default_owner_peer_id = "nobody";
  auto source = must(TaskQueueReplicationSource::attach(f.journal, 0, options));
  const auto events = drain_source(*source);
  REQUIRE(events.size() == 5);
  for (std::size_t i = 0; i < events.size(); ++i) {
    CHECK(events[i].seq == static_cast<std::int64_t>(i + 1));
    CHECK(events[i].journal_id == std::optional<std::string>(f.journal->journal_id()));
    CHECK(events[i].source_peer_id == std::optional<std::string>("node-1"));
  }
  CHECK(events[2].kind == K::LeaseGranted);
  CHECK(events[2].payload == std::optional<std::string>("first"));  // not stored on the row: hydrated
  CHECK(events[3].payload == std::optional<std::string>("first"));
  CHECK(events[4].payload == std::optional<std::string>("first"));
  CHECK(events[3].owner_peer_id == std::optional<std::string>("worker-a"));  // from the grant
  CHECK(events[4].owner_peer_id == std::optional<std::string>("worker-a"));
  CHECK(events[1].owner_peer_id == std::optional<std::string>("nobody"));    // the default
  CHECK(source->position() == 5);
}

TEST_CASE("a source can start anywhere and hydrates payloads it never saw") {
  test::QueueFixture f;
  auto q = f.open();
  must(q->enqueue("early"));
  const Lease l = must(q->lease("w", Wait::none()));
  must(q->complete(l.token));
  auto source = must(TaskQueueReplicationSource::attach(f.journal, 2));
  const auto events = drain_source(*source);
  REQUIRE(events.size() == 1);
  CHECK(events[0].kind == K::Completed);
  CHECK(events[0].payload == std::optional<std::string>("early"));
  CHECK(events[0].owner_peer_id == std::optional<std::string>("w"));
}

TEST_CASE("the owner resolver answers for events without an owner") {
  test::QueueFixture f;
  auto q = f.open();
  must(q->enqueue("x"));
  ReplicationSourceOptions options;
  options.default_owner_peer_id = "fallback";
  options.owner_peer_resolver = [](const Event& e) -> std::optional<std::string> {
    if (e.kind == K::Enqueued) return std::string("resolved");
    return std::nullopt;
  };
  auto source = must(TaskQueueReplicationSource::attach(f.journal, 0, options));
  CHECK(must(source->next(10))[0].owner_peer_id == std::optional<std::string>("resolved"));
}

TEST_CASE("next waits for a commit and wakes on it") {
  test::QueueFixture f;
  auto q = f.open();
  auto source = must(TaskQueueReplicationSource::attach(f.journal, 0));
  CHECK(must(source->next(10, 1ms)).empty());
  std::thread producer([&] { must(q->enqueue("late")); });
  auto events = must(source->next(10, 30s));
  producer.join();
  REQUIRE(events.size() == 1);
  CHECK(events[0].payload == std::optional<std::string>("late"));
}

TEST_CASE("8 concurrent mutating threads: every event exactly once, in order, causally consistent") {
  test::QueueFixture f;
  auto options = f.options();
  options.capacity = 100000;
  auto q = f.open(options);
  auto source = must(TaskQueueReplicationSource::attach(f.journal, 0));
  std::atomic<bool> done{false};
  std::vector<Event> seen;
  std::thread consumer([&] {
    while (true) {
      auto batch = source->next(256, 20ms);
      REQUIRE(batch.ok());
      seen.insert(seen.end(), batch->begin(), batch->end());
      if (batch->empty() && done.load()) return;
    }
  });
  std::vector<std::thread> workers;
  for (int t = 0; t < 8; ++t) {
    workers.emplace_back([&, t] {
      for (int i = 0; i < 150; ++i) {
        REQUIRE(q->enqueue(std::to_string(t) + "/" + std::to_string(i)).ok());
        auto lease = q->lease("w" + std::to_string(t), Wait::none());
        if (!lease.ok()) continue;
        if (i % 5 == 0) REQUIRE(q->fail(lease->token, Error("e", "x")).ok());
        else REQUIRE(q->complete(lease->token).ok());
      }
    });
  }
  for (auto& w : workers) w.join();
  done = true;
  consumer.join();
  const auto journal = f.events();
  REQUIRE(seen.size() == journal.size());
  std::set<std::int64_t> enqueued;
  std::map<std::int64_t, std::int32_t> pending_attempt;
  for (std::size_t i = 0; i < seen.size(); ++i) {
    REQUIRE(seen[i].seq == static_cast<std::int64_t>(i + 1));  // exactly once, in order
    const Event& e = seen[i];
    if (e.kind == K::Enqueued) enqueued.insert(e.task_id), pending_attempt[e.task_id] = 1;
    if (e.kind == K::Requeued) pending_attempt[e.task_id] = e.attempt;
    if (e.kind == K::LeaseGranted) {
      REQUIRE(enqueued.count(e.task_id) == 1);  // never before its own Enqueued
      REQUIRE(pending_attempt[e.task_id] == e.attempt);  // never before the Requeued it leases
    }
  }
}

TEST_CASE("an attached source delivers what a source reading the file delivers, in and out of the writer's memory") {
  // A small memory (16 events) and groups of up to 40: the attached source reads some batches
  // from memory and falls back to the file for the others, while the writer keeps appending.
  test::TempDir dir;
  JournalOptions journal_options;
  journal_options.durability = Durability::Process;
  journal_options.recent_events = 16;
  std::shared_ptr<Journal> journal(must(Journal::open(dir / "j.db", journal_options)).release());
  ReplicationSourceOptions options;
  options.source_peer_id = "here";
  auto attached = must(TaskQueueReplicationSource::attach(journal, 0, options));
  constexpr std::int64_t kTasks = 400;
  std::atomic<bool> producer_failed{false};  // doctest's REQUIRE cannot leave another thread
  std::thread producer([&] {
    const auto fail = [&](bool ok) {
      if (!ok) producer_failed = true;
      return !ok;
    };
    std::int64_t task = 0;
    for (std::int64_t i = 0; task < kTasks; ++i) {
      std::vector<Event> group;
      const std::size_t size = 1 + static_cast<std::size_t>(i * 7 % 40);
      for (std::size_t k = 0; k < size && task < kTasks; ++k) {
        group.push_back(test::enqueued(i % 2 == 0 ? "orders" : "billing", "task-" + std::to_string(++task)));
      }
      if (fail(journal->append_group_async(group).wait().ok())) return;
      for (const Event& e : group) {  // lease and complete every task: hydrated payloads and owners
        Event grant = test::lease_granted(e.queue, e.seq, 1, "worker-" + std::to_string(e.seq % 3));
        const auto granted = journal->append(grant);
        if (fail(granted.ok())) return;
        const std::int64_t lease = *granted;
        Event done;
        done.kind = K::Completed;
        done.queue = e.queue;
        done.task_id = e.seq;
        done.occurred_at = e.occurred_at;
        done.token = OwnershipToken{e.seq, 1, lease};
        journal->append_async(done);
      }
    }
    fail(journal->flush().ok());
  });
  std::vector<Event> live;
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  bool source_failed = false;
  while (!source_failed && !producer_failed && static_cast<std::int64_t>(live.size()) < 3 * kTasks &&
         std::chrono::steady_clock::now() < deadline) {
    auto batch = attached->next(7, 50ms);
    source_failed = !batch.ok();
    if (batch.ok()) for (Event& e : *batch) live.push_back(std::move(e));
  }
  producer.join();
  REQUIRE_FALSE(producer_failed.load());
  REQUIRE_FALSE(source_failed);
  auto from_file = must(TaskQueueReplicationSource::open(dir / "j.db", 0, options));
  std::vector<Event> replayed;
  while (true) {
    auto batch = must(from_file->next(100));
    if (batch.empty()) break;
    for (Event& e : batch) replayed.push_back(std::move(e));
  }
  REQUIRE(replayed.size() == 3 * kTasks);
  REQUIRE(live.size() == replayed.size());
  for (std::size_t i = 0; i < live.size(); ++i) {
    CAPTURE(i);
    REQUIRE(live[i] == replayed[i]);
  }
  CHECK(live.back().owner_peer_id.has_value());
  CHECK(live.back().payload.has_value());
}

TEST_CASE("a source in another process sees what the writer commits, with no gap") {
  test::TempDir dir;
  const auto path = dir / "j.db";
  { REQUIRE(Journal::open(path, {}).ok()); }
  test::Child writer({test::child_binary(), "append", path.string(), "300"});
  auto source = must(TaskQueueReplicationSource::open(path, 0));
  std::int64_t expected = 1;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (expected <= 300 && std::chrono::steady_clock::now() < deadline) {
    for (const Event& e : must(source->next(64, 100ms))) {
      REQUIRE(e.seq == expected);
      CHECK(e.payload == std::optional<std::string>("payload-" + std::to_string(expected - 1)));
      ++expected;
    }
  }
  CHECK(writer.wait() == 0);
  CHECK(expected == 301);
}

TEST_CASE("observers run in order, failures are reported not swallowed, and unsubscribing stops them") {
  test::QueueFixture f;
  auto q = f.open();
  std::vector<Error> reported;
  ReplicationSourceOptions options;
  options.on_observer_error = [&](const Error& e) { reported.push_back(e); };
  auto source = must(TaskQueueReplicationSource::attach(f.journal, 0, options));
  std::vector<std::string> calls;
  auto first = source->register_observer([&](const Event& e) {
    calls.push_back("a" + std::to_string(e.seq));
    return ok_status();
  });
  auto failing = source->register_observer([&](const Event& e) -> Status {
    calls.push_back("b" + std::to_string(e.seq));
    if (e.seq == 2) throw std::runtime_error("observer blew up");
    return Error("app.observer", "nope");
  });
  must(q->enqueue("1"));
  must(q->enqueue("2"));
  CHECK(must(source->next(10)).size() == 2);
  CHECK(calls == std::vector<std::string>{"a1", "b1", "a2", "b2"});
  REQUIRE(reported.size() == 2);
  CHECK(reported[0].code() == "app.observer");
  CHECK(*reported[0].find("seq") == "1");
  CHECK(reported[1].code() == errc::exception);
  CHECK(source->observer_failures() == 2);
  failing.reset();
  must(q->enqueue("3"));
  CHECK(must(source->next(10)).size() == 1);
  CHECK(calls.back() == "a3");
}

TEST_CASE("a queue filter delivers one queue while the position moves past the others") {
  test::QueueFixture f;
  auto orders = f.open(f.options("orders"));
  auto mail = f.open(f.options("mail"));
  must(orders->enqueue("o"));
  must(mail->enqueue("m"));
  must(orders->enqueue("o2"));
  ReplicationSourceOptions options;
  options.queue = "mail";
  auto source = must(TaskQueueReplicationSource::attach(f.journal, 0, options));
  const auto events = must(source->next(10));
  REQUIRE(events.size() == 1);
  CHECK(events[0].queue == "mail");
  CHECK(must(source->next(10)).empty());
  CHECK(source->position() == 3);
}

TEST_CASE("pump redelivers a batch whose handler failed") {
  test::QueueFixture f;
  auto q = f.open();
  must(q->enqueue("x"));
  auto source = must(TaskQueueReplicationSource::attach(f.journal, 0));
  std::stop_source stop;
  int calls = 0;
  Status first = source->pump([&](const std::vector<Event>&) -> Status { return Error("app.down", "try later"); },
                              stop.get_token());
  CHECK(first.error().code() == "app.down");
  CHECK(source->position() == 0);
  Status second = source->pump(
      [&](const std::vector<Event>& batch) {
        calls += static_cast<int>(batch.size());
        stop.request_stop();
        return ok_status();
      },
      stop.get_token());
  CHECK(second.ok());
  CHECK(calls == 1);
  CHECK(source->position() == 1);
}

TEST_CASE("the source counts taskqueue.replication.events by queue and kind, and OmniRelay's names on request") {
  test::QueueFixture f;
  auto q = f.open();
  must(q->enqueue("x"));
  must(q->complete(must(q->lease("peer-9", Wait::none())).token));
  MetricsOptions metric_options;
  metric_options.emit_omnirelay_names = true;
  auto metrics = std::make_shared<MetricsRegistry>(metric_options);
  ReplicationSourceOptions options;
  options.metrics = metrics;
  auto source = must(TaskQueueReplicationSource::attach(f.journal, 0, options));
  (void)drain_source(*source);
  CHECK(metrics->value("taskqueue.replication.events", {{"taskqueue.name", "orders"}, {"taskqueue.replication.kind", "Enqueued"}}) == 1);
  CHECK(metrics->value("taskqueue.replication.events", {{"taskqueue.name", "orders"}, {"taskqueue.replication.kind", "Completed"}}) == 1);
  CHECK(metrics->value("omnirelay.resourcelease.replication.events", {{"lease.event_type", "Enqueue"}}) == 1);
  CHECK(metrics->value("omnirelay.resourcelease.replication.events", {{"lease.event_type", "Completed"}, {"rpc.peer", "peer-9"}}) == 1);
  const std::string text = metrics->prometheus_text();
  CHECK(text.find("# TYPE taskqueue_replication_events_total counter") != std::string::npos);
  CHECK(text.find("taskqueue_replication_events_total{taskqueue_name=\"orders\",taskqueue_replication_kind=\"LeaseGranted\"} 1") !=
        std::string::npos);
}

}  // TEST_SUITE

}  // namespace replay_source_test

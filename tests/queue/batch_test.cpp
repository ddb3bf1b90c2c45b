// The batch forms: enqueue_batch, lease_batch, complete_batch. Each journals one atomic group
// and must leave the same rows and state as the single calls would, or nothing at all.
#include <doctest/doctest.h>

#include <hugo/error_codes.hpp>

#include "tests/support/queue_fixture.hpp"

#include <set>
#include <thread>

namespace queue_batch_test {

using namespace hugo;
using namespace std::chrono_literals;
using test::must;
using K = EventKind;

namespace {

std::vector<std::string> payloads_of(const std::vector<Lease>& leases) {
  std::vector<std::string> out;
  for (const Lease& l : leases) out.push_back(l.payload);
  return out;
}

std::vector<OwnershipToken> tokens_of(const std::vector<Lease>& leases) {
  std::vector<OwnershipToken> out;
  for (const Lease& l : leases) out.push_back(l.token);
  return out;
}

}  // namespace

TEST_SUITE("queue.batch") {

TEST_CASE("a batch enqueues, leases and completes in order, with the rows of single calls") {
  test::QueueFixture f;
  auto q = f.open();
  const auto ids = must(q->enqueue_batch({"a", "b", "c"}));
  CHECK(ids == std::vector<std::int64_t>{1, 2, 3});  // task id = its Enqueued seq, in order
  CHECK(q->pending_count() == 3);

  f.clock->advance(1s);
  const auto leases = must(q->lease_batch("w", 2));
  REQUIRE(leases.size() == 2);
  CHECK(payloads_of(leases) == std::vector<std::string>{"a", "b"});  // oldest first
  CHECK(leases[0].token.task_id == 1);
  CHECK(leases[0].token.lease_id == 4);  // lease id = its LeaseGranted seq
  CHECK(leases[1].token.lease_id == 5);
  for (const Lease& l : leases) {
    CHECK(l.owner == "w");
    CHECK(l.queue == "orders");
    CHECK(l.attempt == 1);
    CHECK(l.expires_at == f.clock->now() + 30s);
  }
  CHECK(q->pending_count() == 1);
  CHECK(q->active_lease_count() == 2);

  must(q->complete_batch(tokens_of(leases)));
  CHECK(q->active_lease_count() == 0);
  CHECK(f.kinds() == std::vector<K>{K::Enqueued, K::Enqueued, K::Enqueued, K::LeaseGranted, K::LeaseGranted,
                                    K::Completed, K::Completed});
  const auto rows = f.events();
  CHECK(rows[0].payload == std::optional<std::string>("a"));
  CHECK(rows[2].payload == std::optional<std::string>("c"));
  CHECK(rows[3].owner_peer_id == std::optional<std::string>("w"));
  CHECK(rows[5].token == std::optional<OwnershipToken>(leases[0].token));
  CHECK(rows[6].token == std::optional<OwnershipToken>(leases[1].token));
  // The task left over is still leasable on its own.
  CHECK(must(q->lease("w", Wait::none())).payload == "c");
}

TEST_CASE("lease_batch takes what is leasable now, skips delayed tasks, and waits for the first") {
  test::QueueFixture f;
  auto options = f.options();
  options.requeue_delay = 10s;
  auto q = f.open(options);
  CHECK(q->lease_batch("w", 4, Wait::none()).error().code() == errc::queue_timeout);
  CHECK(q->lease_batch("w", 0).error().code() == errc::validation);

  must(q->enqueue_batch({"x", "y"}));
  must(q->fail(must(q->lease("w", Wait::none())).token, Error("e", "later")));  // x: back in 10 s
  const auto now = must(q->lease_batch("w", 4, Wait::none()));
  CHECK(payloads_of(now) == std::vector<std::string>{"y"});
  CHECK(q->lease_batch("w", 4, Wait::none()).error().code() == errc::queue_timeout);
  f.clock->advance(10s);
  const auto later = must(q->lease_batch("w", 4, Wait::none()));
  REQUIRE(later.size() == 1);
  CHECK(later[0].payload == "x");
  CHECK(later[0].attempt == 2);
  REQUIRE(later[0].last_error.has_value());
  CHECK(later[0].last_error->message() == "later");

  std::thread producer([&] { CHECK(q->enqueue_batch({"p", "q"}).ok()); });
  const auto woken = must(q->lease_batch("w", 4, Wait::for_duration(30s)));
  producer.join();
  // A batch becomes visible whole (its rows are applied under one lock): never "p" alone.
  CHECK(payloads_of(woken) == std::vector<std::string>{"p", "q"});
}

TEST_CASE("enqueue_batch is all or nothing against capacity") {
  test::QueueFixture f;
  auto options = f.options();
  options.capacity = 3;
  auto q = f.open(options);
  const auto never = q->enqueue_batch({"1", "2", "3", "4"}, Wait::none());  // can never fit
  REQUIRE(!never.ok());
  CHECK(never.error().code() == errc::validation);
  CHECK(never.error().metadata().at("count") == "4");
  CHECK(never.error().metadata().at("capacity") == "3");
  must(q->enqueue_batch({"1", "2"}));
  const auto full = q->enqueue_batch({"3", "4"}, Wait::none());
  REQUIRE(!full.ok());
  CHECK(full.error().code() == errc::queue_full);
  CHECK(full.error().metadata().at("count") == "2");
  CHECK(q->enqueue_batch({"3", "4"}, Wait::for_duration(5ms)).error().code() == errc::queue_timeout);
  must(q->enqueue("3"));  // the single call still fits the one free slot, with the message it always had
  const auto single_full = q->enqueue("4", Wait::none());
  REQUIRE(!single_full.ok());
  CHECK(single_full.error().code() == errc::queue_full);
  CHECK(single_full.error().message() == "queue 'orders' holds its capacity of 3 pending tasks");
  must(q->complete(must(q->lease("w", Wait::none())).token));  // back to 2 pending, 1 free
  CHECK(f.kinds() == std::vector<K>{K::Enqueued, K::Enqueued, K::Enqueued, K::LeaseGranted, K::Completed});
  // ^ no part of a refused batch was journaled
  CHECK(q->pending_count() == 2);

  // A waiting batch proceeds only once all of it fits.
  std::thread producer([&] { CHECK(q->enqueue_batch({"3", "4"}, Wait::for_duration(30s)).ok()); });
  const Lease one = must(q->lease("w", Wait::none()));  // 1 pending: room for 2
  producer.join();
  CHECK(q->pending_count() == 3);
  must(q->complete(one.token));
}

TEST_CASE("complete_batch with a stale or repeated token completes nothing") {
  test::QueueFixture f;
  auto q = f.open();
  must(q->enqueue_batch({"a", "b", "c"}));
  const auto leases = must(q->lease_batch("w", 3));
  must(q->complete(leases[1].token));
  const std::size_t rows_before = f.events().size();

  const auto stale = q->complete_batch(tokens_of(leases));
  REQUIRE(!stale.ok());
  CHECK(stale.error().code() == errc::lease_inactive);
  CHECK(stale.error().metadata().at("token") == leases[1].token.to_string());
  const auto twice = q->complete_batch({leases[0].token, leases[2].token, leases[0].token});
  REQUIRE(!twice.ok());
  CHECK(twice.error().code() == errc::validation);
  CHECK(twice.error().metadata().at("token") == leases[0].token.to_string());
  CHECK(f.events().size() == rows_before);
  CHECK(q->active_lease_count() == 2);  // both good leases are still live

  must(q->complete_batch({leases[0].token, leases[2].token}));
  CHECK(q->active_lease_count() == 0);
}

TEST_CASE("empty batches journal nothing; an oversized payload refuses its whole batch") {
  test::QueueFixture f;
  auto q = f.open();
  CHECK(must(q->enqueue_batch({})).empty());
  must(q->complete_batch({}));
  const auto big = q->enqueue_batch({"ok", std::string((8u << 20) + 1, 'x')});
  REQUIRE(!big.ok());
  CHECK(big.error().code() == errc::validation);
  CHECK(big.error().metadata().at("index") == "1");
  CHECK(f.events().empty());
  must(q->close());
  CHECK(q->enqueue_batch({}).error().code() == errc::disposed);
  CHECK(q->lease_batch("w", 1, Wait::none()).error().code() == errc::disposed);
  CHECK(q->complete_batch({}).error().code() == errc::disposed);
}

TEST_CASE("a batch's rows are one commit, and reopening rebuilds what the batches left") {
  test::QueueFixture f;
  {
    auto q = f.open();
    must(q->enqueue_batch({"a", "b", "c", "d"}));
    const auto leases = must(q->lease_batch("w", 3));
    must(q->complete_batch({leases[0].token}));
    must(q->close());
  }
  // Every group landed whole: the seqs are dense and in call order.
  const auto rows = f.events();
  REQUIRE(rows.size() == 8);
  for (std::size_t i = 0; i < rows.size(); ++i) CHECK(rows[i].seq == static_cast<std::int64_t>(i + 1));

  f.reopen_journal();
  auto q = f.open();
  CHECK(q->pending_count() == 1);
  CHECK(q->active_lease_count() == 2);
  const auto snapshot = q->snapshot();
  REQUIRE(snapshot.leased.size() == 2);
  CHECK(snapshot.leased[0].token.lease_id == 6);
  CHECK(snapshot.leased[1].token.lease_id == 7);
  must(q->complete_batch({snapshot.leased[0].token, snapshot.leased[1].token}));  // leases survive the restart
  CHECK(must(q->lease("w", Wait::none())).payload == "d");
}

TEST_CASE("the queue instruments count each task of a batch") {
  test::QueueFixture f;
  auto metrics = std::make_shared<MetricsRegistry>();
  auto options = f.options();
  options.metrics = metrics;
  auto q = f.open(options);
  const MetricTags tags{{"taskqueue.name", "orders"}};
  must(q->enqueue_batch({"a", "b", "c"}));
  const auto leases = must(q->lease_batch("w", 2));
  must(q->complete_batch(tokens_of(leases)));
  CHECK(metrics->value("taskqueue.enqueued", tags) == 3);
  CHECK(metrics->value("taskqueue.leased", tags) == 2);
  CHECK(metrics->value("taskqueue.completed", tags) == 2);
  CHECK(metrics->value("taskqueue.pending", tags) == 1);
  CHECK(metrics->value("taskqueue.active", tags) == 0);
}

TEST_CASE("a batch's rows share one timestamp and the payload format") {
  test::QueueFixture f;
  auto q = f.open();
  must(q->enqueue_batch({"{\"n\":1}", "{\"n\":2}"}, {}, PayloadFormat::Json));
  f.clock->advance(5s);
  const auto leases = must(q->lease_batch("w", 2));
  REQUIRE(leases.size() == 2);
  for (const Lease& l : leases) {
    CHECK(l.payload_format == PayloadFormat::Json);
    CHECK(l.granted_at == f.clock->now());
  }
  const auto rows = f.events();
  REQUIRE(rows.size() == 4);
  CHECK(rows[0].payload_format == PayloadFormat::Json);
  CHECK(rows[1].payload_format == PayloadFormat::Json);
  CHECK(rows[0].occurred_at == rows[1].occurred_at);
  CHECK(rows[2].occurred_at == rows[0].occurred_at + 5s);
  CHECK(rows[3].occurred_at == rows[2].occurred_at);
}

TEST_CASE("concurrent lease_batch callers get disjoint tasks, and together all of them") {
  test::QueueFixture f;
  auto options = f.options();
  options.capacity = 1000;
  auto q = f.open(options);
  std::vector<std::string> payloads;
  for (int i = 0; i < 300; ++i) payloads.push_back("t" + std::to_string(i));
  const auto ids = must(q->enqueue_batch(payloads));
  std::vector<std::vector<Lease>> got(3);
  std::vector<std::thread> workers;
  for (std::size_t w = 0; w < got.size(); ++w) {
    workers.emplace_back([&, w] {
      while (true) {
        auto leases = q->lease_batch("w" + std::to_string(w), 7, Wait::none());
        if (!leases.ok()) {
          CHECK(leases.error().code() == errc::queue_timeout);
          return;
        }
        for (auto& l : *leases) got[w].push_back(std::move(l));
      }
    });
  }
  for (auto& t : workers) t.join();
  std::set<std::int64_t> seen;
  std::size_t total = 0;
  for (const auto& leases : got) {
    total += leases.size();
    for (const Lease& l : leases) seen.insert(l.task_id());
  }
  CHECK(total == 300);
  CHECK(seen == std::set<std::int64_t>(ids.begin(), ids.end()));
  CHECK(q->active_lease_count() == 300);
}

TEST_CASE("a batch that does not fit the disk leaves none of its rows, and the reopened queue agrees") {
  test::TempDir dir;
  const auto path = dir / "full.journal";
  constexpr int kBatch = 5;
  int accepted_batches = 0;
  Error failure("", "");
  {
    JournalOptions small;
    small.max_pages = 48;  // ~192 KiB
    std::shared_ptr<Journal> journal(must(Journal::open(path, small)).release());
    TaskQueueOptions options;
    options.name = "orders";
    options.run_sweeper = false;
    options.capacity = 100000;
    auto q = must(TaskQueue::open(journal, options));
    for (int b = 0; b < 1000; ++b) {
      std::vector<std::string> payloads;
      for (int k = 0; k < kBatch; ++k) payloads.push_back("batch-" + std::to_string(b) + "-" + std::string(1500, 'x'));
      auto ids = q->enqueue_batch(std::move(payloads));
      if (!ids.ok()) {
        failure = ids.error();
        break;
      }
      ++accepted_batches;
    }
    CHECK(q->enqueue("after").error().code() == failure.code());  // the queue is poisoned, not half-written
  }
  CHECK(failure.code() == errc::journal_full);
  REQUIRE(accepted_batches > 0);

  std::shared_ptr<Journal> journal(must(Journal::open(path, {})).release());
  TaskQueueOptions options;
  options.name = "orders";
  options.run_sweeper = false;
  options.capacity = 100000;
  auto q = must(TaskQueue::open(journal, options));
  CHECK(q->pending_count() == static_cast<std::size_t>(accepted_batches * kBatch));
  const auto leases = must(q->lease_batch("w", 100000));
  REQUIRE(leases.size() == static_cast<std::size_t>(accepted_batches * kBatch));
  CHECK(leases.back().payload.rfind("batch-" + std::to_string(accepted_batches - 1) + "-", 0) == 0);

}

TEST_CASE("a complete_batch that does not fit the disk completes nothing") {
  test::TempDir dir;
  const auto path = dir / "full.journal";
  TaskQueueOptions options;
  options.name = "orders";
  options.run_sweeper = false;
  options.capacity = 100000;
  std::vector<OwnershipToken> tokens;
  {
    std::shared_ptr<Journal> journal(must(Journal::open(path, {})).release());
    auto q = must(TaskQueue::open(journal, options));
    must(q->enqueue_batch(std::vector<std::string>(2000, "t")));
    for (const Lease& l : must(q->lease_batch("w", 2000))) tokens.push_back(l.token);
  }
  {
    JournalOptions capped;
    capped.max_pages = 1;  // SQLite keeps the cap at the file's current size: no page can be added
    std::shared_ptr<Journal> journal(must(Journal::open(path, capped)).release());
    auto q = must(TaskQueue::open(journal, options));
    const auto completed = q->complete_batch(tokens);  // 2000 rows need dozens of new pages
    REQUIRE(!completed.ok());
    CHECK(completed.error().code() == errc::journal_full);
  }
  std::shared_ptr<Journal> journal(must(Journal::open(path, {})).release());
  auto q = must(TaskQueue::open(journal, options));
  CHECK(q->active_lease_count() == tokens.size());  // every lease still live: none completed
  must(q->complete_batch(tokens));
  CHECK(q->active_lease_count() == 0);
}

}  // TEST_SUITE

}  // namespace queue_batch_test

// Journal::transaction (docs/QUEUE.md, "Transactions"): an application's rows in the journal's
// database and its queue operations commit together or not at all; the journal's namespace and
// transaction control stay out of reach. Driven by a ManualClock.
#include <doctest/doctest.h>

#include <hugo/error_codes.hpp>
#include <hugo/journal.hpp>
#include <hugo/task_queue.hpp>
#include <hugo/verify.hpp>

#include "tests/support/events.hpp"
#include "tests/support/queue_fixture.hpp"

#include <atomic>
#include <thread>

namespace queue_transaction_test {

using namespace hugo;
using test::must;

constexpr const char* kSchema = "CREATE TABLE IF NOT EXISTS shop_orders (id INTEGER PRIMARY KEY, item TEXT NOT NULL, status TEXT)";

Status create_orders(Tx& tx) { return tx.execute(kSchema); }

// The order rows, read in a transaction of their own.
std::vector<std::int64_t> order_ids(Journal& journal) {
  std::vector<std::int64_t> ids;
  must(journal.transaction([&](Tx& tx) -> Status {
    HUGO_TRY(create_orders(tx));
    HUGO_ASSIGN_OR_RETURN(auto rows, tx.query("SELECT id FROM shop_orders ORDER BY id"));
    for (const SqlRow& row : rows) ids.push_back(std::get<std::int64_t>(row[0]));
    return ok_status();
  }));
  return ids;
}

// Places order `id` and enqueues its notification in one transaction.
Status place(Tx& tx, TaskQueue& q, std::int64_t id) {
  HUGO_TRY(create_orders(tx));
  HUGO_TRY(tx.execute("INSERT INTO shop_orders (id, item) VALUES (?1, ?2)", {id, std::string("book")}));
  return q.enqueue(tx, "notify order " + std::to_string(id));
}

TEST_SUITE("queue.transaction") {

TEST_CASE("an order row and its notification task commit together") {
  test::QueueFixture f;
  auto q = f.open();
  const TxOutcome done = must(f.journal->transaction([&](Tx& tx) { return place(tx, *q, 7); }));
  REQUIRE(done.task_ids.size() == 1);
  CHECK(done.last_seq == done.task_ids[0]);
  CHECK(f.journal->durable_seq() == done.last_seq);
  CHECK(q->pending_count() == 1);
  const Lease lease = must(q->lease("w", Wait::none()));
  CHECK(lease.task_id() == done.task_ids[0]);
  CHECK(lease.payload == "notify order 7");
  CHECK(order_ids(*f.journal) == std::vector<std::int64_t>{7});
  CHECK(must(verify_journal(f.dir / "queue.journal")).ok());  // the application's table is no damage
}

TEST_CASE("a body that fails, throws, or breaks its own schema's rule leaves neither row nor task") {
  test::QueueFixture f;
  auto q = f.open();
  must(f.journal->transaction([&](Tx& tx) { return place(tx, *q, 1); }));
  const std::int64_t rows = f.journal->last_accepted_seq();
  auto failed = f.journal->transaction([&](Tx& tx) -> Status {
    HUGO_TRY(place(tx, *q, 2));
    return Error("app.out_of_stock", "no more books");
  });
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.error().code() == "app.out_of_stock");
  auto threw = f.journal->transaction([&](Tx& tx) -> Status {
    HUGO_TRY(place(tx, *q, 3));
    throw std::runtime_error("boom");
  });
  CHECK(threw.error().code() == errc::exception);
  auto duplicate = f.journal->transaction([&](Tx& tx) { return place(tx, *q, 1); });  // order 1 exists
  REQUIRE_FALSE(duplicate.ok());
  CHECK(duplicate.error().code() == errc::validation);
  CHECK(duplicate.error().message().find("UNIQUE") != std::string::npos);
  CHECK(f.journal->last_accepted_seq() == rows);
  CHECK(q->pending_count() == 1);
  CHECK(order_ids(*f.journal) == std::vector<std::int64_t>{1});
}

TEST_CASE("a queue operation refused at commit rolls the application's writes back") {
  test::QueueFixture f;
  TaskQueueOptions o = f.options();
  o.capacity = 1;
  auto q = f.open(o);
  must(q->enqueue("fills the queue"));
  auto full = f.journal->transaction([&](Tx& tx) { return place(tx, *q, 9); });
  REQUIRE_FALSE(full.ok());
  CHECK(full.error().code() == errc::queue_full);
  CHECK(order_ids(*f.journal).empty());
  CHECK(q->pending_count() == 1);

  const Lease lease = must(q->lease("w", Wait::none()));
  must(f.journal->transaction([&](Tx& tx) -> Status {
    HUGO_TRY(place(tx, *q, 10));
    return q->complete(tx, lease.token);
  }));
  CHECK(q->active_lease_count() == 0);
  CHECK(q->complete(lease.token).error().code() == errc::lease_inactive);
  auto stale = f.journal->transaction([&](Tx& tx) -> Status {
    HUGO_TRY(tx.execute("UPDATE shop_orders SET status = 'shipped' WHERE id = ?1", {std::int64_t{10}}));
    return q->complete(tx, lease.token);
  });
  CHECK(stale.error().code() == errc::lease_inactive);
  std::vector<SqlRow> status;
  must(f.journal->transaction([&](Tx& tx) -> Status {
    HUGO_ASSIGN_OR_RETURN(status, tx.query("SELECT status FROM shop_orders WHERE id = 10"));
    return ok_status();
  }));
  REQUIRE(status.size() == 1);
  CHECK(std::holds_alternative<std::nullptr_t>(status[0][0]));  // the update was rolled back
}

TEST_CASE("the journal's tables and transaction control are out of the application's reach") {
  test::QueueFixture f;
  auto q = f.open();
  must(q->enqueue("a"));
  const std::int64_t rows = f.journal->last_accepted_seq();
  const std::vector<std::string> refused = {
      "DELETE FROM events",
      "SELECT * FROM events",
      "UPDATE meta SET value = 'x'",
      "INSERT INTO names (name) VALUES ('x')",
      "DROP TABLE events",
      "CREATE TABLE hugo_extra (a)",
      "CREATE TABLE Hugo_Extra2 (a)",
      "CREATE INDEX evil ON events (kind)",
      "ALTER TABLE events ADD COLUMN evil",
      "PRAGMA user_version = 9",
      "COMMIT",
      "ROLLBACK",
      "SAVEPOINT s",
      "ATTACH DATABASE ':memory:' AS other",
      "CREATE TRIGGER t AFTER INSERT ON shop_orders BEGIN DELETE FROM events; END",
      "INSERT INTO shop_orders (id, item) VALUES (1, 'a'); INSERT INTO shop_orders (id, item) VALUES (2, 'b')",
      "INSERT INTO shop_orders (id, item) VALUES (?1, ?2)",  // two parameters taken, none given
      "this is not sql",
      "",
  };
  for (const std::string& sql : refused) {
    CAPTURE(sql);
    auto r = f.journal->transaction([&](Tx& tx) -> Status {
      HUGO_TRY(create_orders(tx));
      return tx.execute(sql);
    });
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code() == errc::validation);
  }
  CHECK(f.journal->last_accepted_seq() == rows);
  CHECK(order_ids(*f.journal).empty());
  CHECK(must(verify_journal(f.dir / "queue.journal")).ok());
  auto autoincrement = f.journal->transaction([&](Tx& tx) -> Status {
    HUGO_TRY(tx.execute("CREATE TABLE IF NOT EXISTS shop_log (n INTEGER PRIMARY KEY AUTOINCREMENT, line TEXT)"));
    return tx.execute("INSERT INTO shop_log (line) VALUES (?1)", {std::string("placed")});
  });
  CHECK(autoincrement.ok());  // an application table may use AUTOINCREMENT (sqlite_sequence)
}

TEST_CASE("inside a body other appends are refused; other threads' appends wait and commit with it") {
  test::QueueFixture f;
  auto q = f.open();
  auto other = f.open(f.options("other"));
  std::atomic<bool> other_done{false};
  std::thread writer;
  const TxOutcome done = must(f.journal->transaction([&](Tx& tx) -> Status {
    CHECK(q->enqueue("not in a tx").error().code() == errc::validation);
    CHECK(f.journal->append(test::enqueued("raw", "x")).error().code() == errc::validation);
    CHECK(f.journal->flush().error().code() == errc::validation);
    CHECK(f.journal->transaction([](Tx&) { return ok_status(); }).error().code() == errc::validation);
    writer = std::thread([&] {
      must(other->enqueue("from another thread"));
      other_done = true;
    });
    while (f.journal->last_accepted_seq() == 0) std::this_thread::yield();  // accepted, not durable
    CHECK_FALSE(other_done.load());
    return place(tx, *q, 5);
  }));
  writer.join();
  CHECK(other_done.load());
  CHECK(done.last_seq == 2);  // the other thread's row (1) and the order's task (2), one commit
  CHECK(q->pending_count() == 1);
  CHECK(other->pending_count() == 1);
  CHECK(f.journal->durable_seq() == 2);
}

TEST_CASE("the committed transaction survives a reopen: rows, task and order") {
  test::QueueFixture f;
  {
    auto q = f.open();
    must(f.journal->transaction([&](Tx& tx) -> Status {
      HUGO_TRY(place(tx, *q, 1));
      return place(tx, *q, 2);
    }));
  }
  f.reopen_journal();
  auto q = f.open();
  CHECK(q->pending_count() == 2);
  CHECK(must(q->lease("w", Wait::none())).payload == "notify order 1");
  CHECK(order_ids(*f.journal) == std::vector<std::int64_t>{1, 2});
}

}  // TEST_SUITE

}  // namespace queue_transaction_test

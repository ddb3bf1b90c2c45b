// An order and the task that sends its notification, committed together (docs/QUEUE.md,
// "Transactions"): the application keeps its table `shop_orders` in the journal's own database,
// and each order's row and its Enqueued row are one SQLite transaction.
//
//   orders-example place JOURNAL   places orders 1, 2, 3, ... (continuing after the highest one
//                                  there), one transaction each, printing "placed N" once each
//                                  is durable; runs until killed
//   orders-example check JOURNAL [LOG]
//                                  reopens the journal and checks that every order has exactly
//                                  one notification task and every task its order, and that each
//                                  "placed N" line of LOG is there; prints a summary, exit 1 if not
//
// examples/transactions/run.sh SIGKILLs `place` at random moments, then runs `check`.
#include "examples/support/must.hpp"

#include <hugo/journal.hpp>
#include <hugo/task_queue.hpp>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>

namespace {

using example::must;

constexpr const char* kQueue = "notifications";

hugo::Status create_orders(hugo::Tx& tx) {
  return tx.execute("CREATE TABLE IF NOT EXISTS shop_orders (id INTEGER PRIMARY KEY, item TEXT NOT NULL)");
}

std::set<std::int64_t> order_ids(hugo::Journal& journal) {
  std::set<std::int64_t> ids;
  must(journal.transaction([&](hugo::Tx& tx) -> hugo::Status {
    HUGO_TRY(create_orders(tx));
    HUGO_ASSIGN_OR_RETURN(auto rows, tx.query("SELECT id FROM shop_orders"));
    for (const hugo::SqlRow& row : rows) ids.insert(std::get<std::int64_t>(row[0]));
    return hugo::ok_status();
  }));
  return ids;
}

std::shared_ptr<hugo::Journal> open_journal(const char* path) {
  hugo::JournalOptions options;
  options.durability = hugo::Durability::Fsync;
  return std::shared_ptr<hugo::Journal>(must(hugo::Journal::open(path, options)).release());
}

int place(const char* path) {
  auto journal = open_journal(path);
  hugo::TaskQueueOptions options;
  options.name = kQueue;
  options.capacity = 1'000'000;
  auto queue = must(hugo::TaskQueue::open(journal, options));
  const std::set<std::int64_t> placed = order_ids(*journal);
  for (std::int64_t id = placed.empty() ? 1 : *placed.rbegin() + 1;; ++id) {
    must(journal->transaction([&](hugo::Tx& tx) -> hugo::Status {
      HUGO_TRY(create_orders(tx));
      HUGO_TRY(tx.execute("INSERT INTO shop_orders (id, item) VALUES (?1, ?2)", {id, std::string("book")}));
      return queue->enqueue(tx, "order " + std::to_string(id));
    }));
    std::printf("placed %lld\n", static_cast<long long>(id));
    std::fflush(stdout);
  }
}

int check(const char* path, const char* log) {
  auto journal = open_journal(path);
  const std::set<std::int64_t> orders = order_ids(*journal);
  std::map<std::int64_t, int> tasks;  // order id -> notification tasks
  for (std::int64_t after = 0;;) {
    auto events = must(journal->read(after, 4096));
    if (events.empty()) break;
    after = events.back().seq;
    for (const hugo::Event& e : events) {
      if (e.queue != kQueue || e.kind != hugo::EventKind::Enqueued || !e.payload) continue;
      ++tasks[std::stoll(e.payload->substr(std::strlen("order ")))];
    }
  }
  int problems = 0;
  for (const std::int64_t id : orders) {
    if (tasks[id] != 1) {
      std::printf("order %lld has %d notification tasks\n", static_cast<long long>(id), tasks[id]);
      ++problems;
    }
  }
  for (const auto& [id, count] : tasks) {
    if (count > 0 && !orders.contains(id)) {
      std::printf("task for order %lld has no order row\n", static_cast<long long>(id));
      ++problems;
    }
  }
  std::size_t acknowledged = 0;
  if (log) {
    std::ifstream in(log);
    std::string word;
    long long id = 0;
    while (in >> word >> id) {
      if (word != "placed") continue;
      ++acknowledged;
      if (!orders.contains(id)) {
        std::printf("order %lld was acknowledged but is not in the journal\n", id);
        ++problems;
      }
    }
  }
  std::printf("%s: %zu orders, %zu acknowledged, every order with exactly one task: %s\n", path, orders.size(),
              acknowledged, problems == 0 ? "yes" : "NO");
  must(journal->close());
  return problems == 0 && !orders.empty() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  example::program = "orders-example";
  if (argc >= 3 && std::strcmp(argv[1], "place") == 0) return place(argv[2]);
  if ((argc == 3 || argc == 4) && std::strcmp(argv[1], "check") == 0) return check(argv[2], argc == 4 ? argv[3] : nullptr);
  std::fprintf(stderr, "usage: orders-example place JOURNAL | orders-example check JOURNAL [LOG]\n");
  return 2;
}

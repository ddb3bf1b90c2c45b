// hugo::Tx: the application's own writes and queue operations, committed as one SQLite transaction
// of the journal's database (Journal::transaction; docs/QUEUE.md, "Transactions"). River's
// transactional enqueue without a second database: an order row and the task that sends its
// notification are either both in the file or neither is, whatever crashes when.
//
// Contract:
// - Tx::execute runs one parameterized statement at once, on the journal's write connection,
//   inside the open transaction; its error (a syntax error, a constraint) comes back from the call
//   and leaves the transaction open: the body decides whether to go on or return the error.
// - Values reach SQLite only as bound parameters. The statement may not touch the journal's own
//   tables (events, names, meta, lease_guids, task_sequence_ids) or any table named hugo_*, nor
//   run PRAGMA, ATTACH, DETACH, BEGIN/COMMIT/ROLLBACK/SAVEPOINT or create triggers: such SQL is
//   refused with error.validation before it runs.
// - Queue operations given the Tx (TaskQueue::enqueue(Tx&, ...), TaskQueue::complete(Tx&, ...))
//   are checked when called (their arguments) and carried out when the body returns ok: their
//   rows and the body's writes then commit together, or, if one of them is refused (a full
//   queue, a lease no longer live), nothing does.
// - While the body runs this thread holds the journal's write connection: every other append
//   waits for its durability until the transaction ends, so keep bodies short, and do not call the
//   journal's or a queue's other methods from the body (they are refused with error.validation).
#pragma once

#include <hugo/error.hpp>
#include <hugo/export.hpp>
#include <hugo/sql_value.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace hugo {

// What a committed transaction did.
struct TxOutcome {
  std::vector<std::int64_t> task_ids;  // of the body's enqueue(Tx&, ...) calls, in call order
  std::int64_t last_seq = 0;           // the highest seq the commit made durable (0: no rows)
};

class HUGO_API Tx {
 public:
  // Runs one statement (`sql` holds exactly one) with `params` bound to ?1, ?2, ... in order.
  // error.validation for SQL that is refused (above), holds several statements or does not
  // prepare, or for a wrong number of parameters; the database's error when it fails to run.
  Status execute(std::string_view sql, const std::vector<SqlValue>& params = {});
  // The same for a statement that returns rows (a SELECT): every row, read inside the open
  // transaction, so the body's own writes are seen.
  Result<std::vector<SqlRow>> query(std::string_view sql, const std::vector<SqlValue>& params = {});

  struct Impl;
  explicit Tx(Impl& impl) : impl_(&impl) {}
  Impl& impl() { return *impl_; }

 private:
  Impl* impl_;
};

}  // namespace hugo

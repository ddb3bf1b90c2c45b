// Test support: a TransactionalSink that logs (journal_id, seq) of every applied event into table
// `applied`, which has no unique key, so a duplicate apply would show as a duplicate row.
#pragma once

#include <hugo/sinks.hpp>

namespace hugo::test {

class AppliedLogSink final : public TransactionalSink {
 public:
  using TransactionalSink::TransactionalSink;

 protected:
  Status initialize(SinkDatabase& db) override {
    return db.execute_script("CREATE TABLE IF NOT EXISTS applied (journal_id TEXT NOT NULL, seq INTEGER NOT NULL)");
  }
  Status apply(SinkDatabase& db, const Event& e) override {
    return db.execute("INSERT INTO applied (journal_id, seq) VALUES (?1, ?2)", {*e.journal_id, e.seq});
  }
};

}  // namespace hugo::test

// An application's SQL on a journal's write connection (Journal::transaction, hugo/transaction.hpp):
// the statements a Tx runs are prepared under an authorizer that keeps them out of the journal's
// namespace and out of its transaction control, and take their values as bound parameters only.
#pragma once

#include "schema/sqlite.hpp"

#include <hugo/transaction.hpp>

#include <string_view>
#include <vector>

namespace hugo::sql {

// True for a table an application may not touch: the journal's own (events, names, meta,
// lease_guids, task_sequence_ids) and any name starting with hugo_ (case-insensitive), kept for
// the journal's later tables.
bool is_journal_table(std::string_view name);

// Prepares `sql` (exactly one statement) on `db` under the application authorizer, binds `params`
// to ?1..?n and runs it to completion. error.validation (metadata sql) for refused or unpreparable
// SQL, several statements or a parameter count that differs from the statement's; the run's error
// as SQLite reports it otherwise. The authorizer is removed again before it returns.
// `rows`, when given, receives every row the statement returns (else they are dropped).
Status run_application_statement(Db& db, std::string_view sql, const std::vector<SqlValue>& params,
                                 std::vector<SqlRow>* rows = nullptr);

}  // namespace hugo::sql

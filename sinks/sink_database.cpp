#include <hugo/error_codes.hpp>
#include <hugo/sink_database.hpp>

#include "schema/file_probe.hpp"
#include "schema/sqlite.hpp"
#include "schema/wal_checkpointer.hpp"

#include <map>
#include <system_error>

namespace hugo {

struct SinkDatabase::Impl {
  sql::Db db;
  std::map<std::string, sql::Stmt, std::less<>> statements;
  int depth = 0;
  // After db and statements, so destroyed before them: it hooks db's commits.
  std::unique_ptr<WalCheckpointer> checkpointer;

  Result<sql::Stmt*> statement(std::string_view text) {
    auto it = statements.find(text);
    if (it == statements.end()) {
      HUGO_ASSIGN_OR_RETURN(sql::Stmt stmt, db.prepare(text));
      it = statements.emplace(std::string(text), std::move(stmt)).first;
    }
    return &it->second;
  }

  static void bind(sql::Stmt& stmt, int index, const SqlValue& v) {
    std::visit(
        [&](const auto& value) {
          using T = std::decay_t<decltype(value)>;
          if constexpr (std::is_same_v<T, std::nullptr_t>) stmt.bind_null(index);
          else if constexpr (std::is_same_v<T, std::int64_t>) stmt.bind(index, value);
          else if constexpr (std::is_same_v<T, double>) stmt.bind_double(index, value);
          else if constexpr (std::is_same_v<T, std::string>) stmt.bind(index, std::string_view(value));
          else stmt.bind_blob(index, value.bytes);
        },
        v);
  }

  static SqlValue column(const sql::Stmt& stmt, int c) {
    switch (stmt.column_type(c)) {
      case sql::ColumnType::Integer: return stmt.column_int(c);
      case sql::ColumnType::Float: return stmt.column_double(c);
      case sql::ColumnType::Text: return std::string(stmt.column_text(c));
      case sql::ColumnType::Blob: return SqlBlob{std::string(stmt.column_blob(c))};
      case sql::ColumnType::Null: break;
    }
    return nullptr;
  }

  template <class Params>
  Result<std::vector<SqlRow>> run(std::string_view text, const Params& params) {
    HUGO_ASSIGN_OR_RETURN(sql::Stmt * stmt, statement(text));
    int index = 1;
    for (const SqlValue& v : params) bind(*stmt, index++, v);
    std::vector<SqlRow> rows;
    while (true) {
      auto row = stmt->step();
      if (!row.ok()) {
        stmt->reset();
        return std::move(row).error().with("sql", std::string(text.substr(0, 80)));
      }
      if (!*row) break;
      SqlRow out;
      const int columns = stmt->column_count();
      out.reserve(static_cast<std::size_t>(columns));
      for (int c = 0; c < columns; ++c) out.push_back(column(*stmt, c));
      rows.push_back(std::move(out));
    }
    stmt->reset();
    return rows;
  }
};

SinkDatabase::SinkDatabase(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SinkDatabase::~SinkDatabase() = default;

Result<std::shared_ptr<SinkDatabase>> SinkDatabase::open(const std::filesystem::path& path,
                                                         SinkDatabaseOptions options) {
  if (options.wal_limit_bytes == 0 || options.wal_limit_bytes < options.wal_checkpoint_bytes) {
    return Error::validation("invalid SinkDatabaseOptions: wal_limit_bytes must be > 0 and >= wal_checkpoint_bytes")
        .with("path", path.string());
  }
  auto impl = std::make_unique<Impl>();
  if (options.read_only) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) {
      return Error::journal_not_found("no database at " + path.string() + " (check the path)")
          .with("path", path.string());
    }
    HUGO_ASSIGN_OR_RETURN(impl->db, file_probe::open_read_only(path, options.busy_timeout));
    return std::shared_ptr<SinkDatabase>(new SinkDatabase(std::move(impl)));
  }
  HUGO_ASSIGN_OR_RETURN(impl->db, sql::Db::open(path, sql::OpenMode::ReadWriteCreate, options.busy_timeout));
  HUGO_TRY(impl->db.exec("PRAGMA journal_mode = WAL"));
  HUGO_TRY(impl->db.exec(synchronous_pragma(options.durability)));
  HUGO_ASSIGN_OR_RETURN(const std::int64_t page_size, impl->db.query_int("PRAGMA page_size"));
  WalCheckpointOptions checkpoints;
  checkpoints.durability = options.durability;
  checkpoints.start_bytes = options.wal_checkpoint_bytes;
  checkpoints.limit_bytes = options.wal_limit_bytes;
  checkpoints.busy_timeout = options.busy_timeout;
  impl->checkpointer = std::make_unique<WalCheckpointer>(impl->db, page_size, std::move(checkpoints));
  return std::shared_ptr<SinkDatabase>(new SinkDatabase(std::move(impl)));
}

Status SinkDatabase::execute(std::string_view sql, std::initializer_list<SqlValue> params) {
  HUGO_TRY(impl_->run(sql, params));
  return ok_status();
}

Status SinkDatabase::execute(std::string_view sql, const std::vector<SqlValue>& params) {
  HUGO_TRY(impl_->run(sql, params));
  return ok_status();
}

Result<std::vector<SqlRow>> SinkDatabase::query(std::string_view sql, std::initializer_list<SqlValue> params) {
  return impl_->run(sql, params);
}

Status SinkDatabase::execute_script(std::string_view sql) { return impl_->db.exec(sql); }

Status SinkDatabase::transaction(const std::function<Status()>& body) {
  if (impl_->depth > 0) return body();
  HUGO_ASSIGN_OR_RETURN(sql::Transaction txn, sql::Transaction::begin(impl_->db, true));
  // Reset even if body() throws (a user's apply() may): otherwise every later transaction()
  // would run its body outside any transaction.
  struct Depth {
    int& depth;
    explicit Depth(int& d) : depth(d) { depth = 1; }
    ~Depth() { depth = 0; }
  } in_transaction(impl_->depth);
  Status status = body();
  if (!status.ok()) return status;  // txn's destructor rolls back
  return txn.commit();
}

bool SinkDatabase::in_transaction() const { return impl_->depth > 0; }

const std::filesystem::path& SinkDatabase::path() const { return impl_->db.path(); }

std::int64_t sql_int(const SqlValue& v) {
  if (const auto* i = std::get_if<std::int64_t>(&v)) return *i;
  if (const auto* d = std::get_if<double>(&v)) return static_cast<std::int64_t>(*d);
  return 0;
}

std::string sql_text(const SqlValue& v) {
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  if (const auto* b = std::get_if<SqlBlob>(&v)) return b->bytes;
  if (const auto* i = std::get_if<std::int64_t>(&v)) return std::to_string(*i);
  return {};
}

bool sql_is_null(const SqlValue& v) { return std::holds_alternative<std::nullptr_t>(v); }

}  // namespace hugo

// Benchmark support for bench/peers: PostgreSQL's side of the cycle, the SKIP LOCKED pattern
// (needs libpq).
//
// One cluster for the whole benchmark: initdb in a fresh scratch folder, then the server, both from
// the newest /usr/lib/postgresql/<version>/bin (PATH is not consulted). As root they run as
// "nobody" (postgres refuses root), and the folder is handed to that user. The server is the
// benchmark's own child, started as pg_ctl start would but without detaching, so that the kernel
// stops it (SIGINT, a fast shutdown) if the benchmark dies:
//   postgres -D <folder>/data -p N -k <folder> -c listen_addresses=127.0.0.1
// Each run makes a fresh table, then every thread connects over loopback TCP:
//   CREATE TABLE jobs (id bigserial PRIMARY KEY, payload text NOT NULL, owner text, leased_until timestamptz)
//   enqueue  INSERT INTO jobs (payload) VALUES ($1)      (a batch: ... SELECT unnest($1::text[]))
//   lease    UPDATE jobs SET owner = $1, leased_until = now() + 30 s
//            WHERE id = ANY (ARRAY(SELECT id FROM jobs WHERE owner IS NULL ORDER BY id
//                                  LIMIT $2 FOR UPDATE SKIP LOCKED)) RETURNING id, payload
//   complete DELETE FROM jobs WHERE id = $1               (a batch: id = ANY ($1::bigint[]))
// Every statement is its own transaction. synchronous_commit on (the default: the commit's WAL is
// flushed before the reply) is the Fsync tier; off is the Process tier (docs/BENCHMARKS.md, "Peers",
// on how its guarantee differs). A lease that finds no row sleeps 1 ms before the next poll.
#pragma once

#include "bench/support/journal.hpp"
#include "bench/support/peer_cycle.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <csignal>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace hugo_bench {

// The bin folder of the newest PostgreSQL under /usr/lib/postgresql with initdb and postgres, or "".
inline std::string postgres_bin_dir() {
  std::vector<std::filesystem::path> found;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/usr/lib/postgresql", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.size() > 6 || name.find_first_not_of("0123456789") != std::string::npos) continue;
    const auto bin = entry.path() / "bin";
    if (!first_existing({bin / "initdb"}).empty() && !first_existing({bin / "postgres"}).empty()) found.push_back(bin);
  }
  if (found.empty()) return "";
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) {
    return std::stoi(a.parent_path().filename().string()) < std::stoi(b.parent_path().filename().string());
  });
  return found.back().string();
}

// One libpq connection; every error throws.
class PgConnection {
 public:
  explicit PgConnection(const std::string& conninfo) : conn_(PQconnectdb(conninfo.c_str())) {
    if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) {
      const std::string why = conn_ ? PQerrorMessage(conn_) : "out of memory";
      if (conn_) PQfinish(conn_);
      conn_ = nullptr;
      throw std::runtime_error("postgres: connect: " + why);
    }
  }
  ~PgConnection() {
    if (conn_) PQfinish(conn_);
  }
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  using ResultPtr = std::unique_ptr<PGresult, void (*)(PGresult*)>;

  void exec(const std::string& sql) { check(PQexec(conn_, sql.c_str()), sql.c_str()); }
  // The first column of the first row of `sql`.
  std::string text(const std::string& sql) {
    const ResultPtr r = check(PQexec(conn_, sql.c_str()), sql.c_str());
    return PQntuples(r.get()) > 0 ? PQgetvalue(r.get(), 0, 0) : "";
  }
  void prepare(const char* name, const char* sql) { check(PQprepare(conn_, name, sql, 0, nullptr), sql); }
  ResultPtr run(const char* name, const std::vector<const char*>& params) {
    return check(PQexecPrepared(conn_, name, static_cast<int>(params.size()), params.data(), nullptr, nullptr, 0), name);
  }

 private:
  ResultPtr check(PGresult* raw, const char* what) {
    ResultPtr result(raw, PQclear);
    const ExecStatusType status = result ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      throw std::runtime_error(std::string("postgres: ") + what + ": " + PQerrorMessage(conn_));
    }
    return result;
  }
  PGconn* conn_ = nullptr;
};

class PgSession {
 public:
  PgSession(const std::string& conninfo, std::string owner, std::size_t batch, std::size_t payload_bytes)
      : connection_(conninfo), owner_(std::move(owner)), payload_(alphabet_payload(payload_bytes)) {
    connection_.prepare("enqueue", "INSERT INTO jobs (payload) VALUES ($1)");
    connection_.prepare("enqueue_batch", "INSERT INTO jobs (payload) SELECT unnest($1::text[])");
    connection_.prepare("lease",
                        "UPDATE jobs SET owner = $1, leased_until = now() + interval '30 seconds' "
                        "WHERE id = ANY (ARRAY(SELECT id FROM jobs WHERE owner IS NULL ORDER BY id "
                        "LIMIT $2 FOR UPDATE SKIP LOCKED)) RETURNING id, payload");
    connection_.prepare("complete", "DELETE FROM jobs WHERE id = $1");
    connection_.prepare("complete_batch", "DELETE FROM jobs WHERE id = ANY ($1::bigint[])");
    // A text[] literal of `batch` payloads (letters only: nothing to quote).
    payloads_ = "{";
    for (std::size_t i = 0; i < batch; ++i) payloads_ += (i ? "," : "") + payload_;
    payloads_ += "}";
  }

  bool enqueue(std::size_t n, const std::stop_token&) {
    if (n == 1) {
      connection_.run("enqueue", {payload_.c_str()});
    } else {
      connection_.run("enqueue_batch", {payloads_.c_str()});
    }
    return true;
  }
  std::size_t lease(std::size_t n, const std::stop_token&) {
    ids_.clear();
    const std::string limit = std::to_string(n);
    const auto result = connection_.run("lease", {owner_.c_str(), limit.c_str()});
    const int rows = PQntuples(result.get());
    for (int r = 0; r < rows; ++r) ids_.emplace_back(PQgetvalue(result.get(), r, 0));
    if (rows == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return ids_.size();
  }
  void complete() {
    if (ids_.size() == 1) {
      connection_.run("complete", {ids_.front().c_str()});
      return;
    }
    std::string array = "{";
    for (const std::string& id : ids_) array += (array.size() > 1 ? "," : "") + id;
    array += "}";
    connection_.run("complete_batch", {array.c_str()});
  }

 private:
  PgConnection connection_;
  std::string owner_;
  std::string payload_;
  std::string payloads_;
  std::vector<std::string> ids_;
};

// The benchmark's cluster: made and started by start(), stopped by stop() or by ServerRegistry.
class PostgresCluster {
 public:
  PostgresCluster(std::string_view program, const std::string& bin_dir)
      : program_(program), bin_(bin_dir), dir_(program, "hugo-bench-peers-pg") {}
  ~PostgresCluster() { stop(); }
  PostgresCluster(const PostgresCluster&) = delete;
  PostgresCluster& operator=(const PostgresCluster&) = delete;

  // "" if started, else why this peer is skipped (no unprivileged account to run it as).
  std::string start() {
    const std::optional<RunAs> user = unprivileged_user();
    if (!user) return "running as root and there is no 'nobody' account to run postgres as";
    give_to(program_, dir_.path(), *user);
    const std::filesystem::path log = dir_ / "postgres.log";
    const std::string data = (dir_ / "data").string();
    const int initdb = run_tool(program_, {bin_ + "/initdb", "-D", data, "-A", "trust", "-U", "bench", "-E", "UTF8",
                                           "--locale=C", "--no-sync"},
                                *user, log);
    if (initdb != 0) peer_fail(program_, "initdb exited with " + std::to_string(initdb) + ": " + log_tail(log));
    port_ = free_loopback_port(program_);
    pid_ = spawn_process(program_,
                         {bin_ + "/postgres", "-D", data, "-p", std::to_string(port_), "-k", dir_.path().string(), "-c",
                          "listen_addresses=127.0.0.1", "-c", "max_connections=32"},
                         *user, log, SIGINT, true);
    const std::string ping = conninfo(false);
    wait_until_ready(program_, "postgres", pid_, log, [&] { return PQping(ping.c_str()) == PQPING_OK; });
    return "";
  }
  void stop() {
    if (pid_ > 0) ServerRegistry::instance().stop_server(pid_);
    pid_ = -1;
  }
  pid_t pid() const { return pid_; }
  std::string conninfo(bool fsync) const {
    return "host=127.0.0.1 port=" + std::to_string(port_) + " dbname=postgres user=bench connect_timeout=10" +
           " options='-c client_min_messages=warning" + (fsync ? "" : " -c synchronous_commit=off") + "'";
  }
  // "PostgreSQL 15.x" as the server reports it, or why it could not be read.
  std::string version() const {
    try {
      PgConnection c(conninfo(true));
      return "PostgreSQL " + c.text("SHOW server_version");
    } catch (const std::exception& e) {
      return e.what();
    }
  }

 private:
  std::string program_;
  std::string bin_;
  PeerDir dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

// One run of the cycle on a fresh jobs table, synchronous_commit on (fsync) or off.
inline CycleResult run_postgres(std::string_view program, PostgresCluster& cluster, bool fsync, CycleSetup setup,
                                std::size_t payload_bytes) {
  const std::string what = std::string("postgres synchronous_commit ") + (fsync ? "on" : "off");
  try {
    PgConnection admin(cluster.conninfo(true));
    admin.exec("DROP TABLE IF EXISTS jobs");
    admin.exec("CREATE TABLE jobs (id bigserial PRIMARY KEY, payload text NOT NULL, owner text, leased_until timestamptz)");
    admin.exec("CHECKPOINT");
  } catch (const std::exception& e) {
    peer_fail(program, what + ": " + e.what());
  }
  setup.bounded_by_system = false;
  setup.server = cluster.pid();
  setup.server_children = true;  // a backend per connection, the WAL writer, the checkpointer
  return run_cycle<PgSession>(program, what, setup, [&](bool producer, int index) {
    try {
      return std::make_unique<PgSession>(cluster.conninfo(fsync),
                                         session_name(producer, index), setup.batch,
                                         payload_bytes);
    } catch (const std::exception& e) {
      peer_fail(program, what + ": " + e.what());
    }
  });
}

}  // namespace hugo_bench

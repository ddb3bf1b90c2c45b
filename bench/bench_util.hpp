// Small helpers shared by the benchmarks under bench/: a scratch folder, timing, percentiles, the
// machine-readable RESULT lines, journal and raw SQLite set-up, and child processes.
//
// Output convention for every benchmark: one human-readable line per measurement, then one
// `RESULT name=... value=... unit=...` line per headline figure (optionally with `ceiling=` and
// `ratio=`). The last line a benchmark prints is its main headline. Benchmarks print; they never
// assert timings.
#pragma once

#include <hugo/event.hpp>
#include <hugo/journal.hpp>

#include <sqlite3.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

namespace hugo_bench {

using SteadyClock = std::chrono::steady_clock;

// Seconds elapsed since `start`, as a double.
inline double seconds_since(SteadyClock::time_point start) {
  return std::chrono::duration<double>(SteadyClock::now() - start).count();
}

// Microseconds between two time points, as a double.
inline double micros_between(SteadyClock::time_point from, SteadyClock::time_point to) {
  return std::chrono::duration<double, std::micro>(to - from).count();
}

// A fresh folder made with mkdtemp under $TMPDIR (or /tmp), removed with its contents at scope
// exit. ok() is false if the folder could not be made.
class TempDir {
 public:
  explicit TempDir(std::string_view prefix = "hugo-bench") {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base && *base ? base : "/tmp") + "/" + std::string(prefix) + "-XXXXXX";
    if (char* made = ::mkdtemp(pattern.data())) path_ = made;
  }
  ~TempDir() {
    if (path_.empty()) return;
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  bool ok() const { return !path_.empty(); }
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(std::string_view name) const { return path_ / std::string(name); }

 private:
  std::filesystem::path path_;
};

// Nearest-rank percentile (p in [0, 100]) of `sorted`, which must be sorted ascending.
// Returns 0 for an empty sample.
inline double percentile_sorted(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0.0;
  const double rank = std::ceil(std::clamp(p, 0.0, 100.0) / 100.0 * static_cast<double>(sorted.size()));
  const auto index = static_cast<std::size_t>(std::max(rank, 1.0)) - 1;
  return sorted[std::min(index, sorted.size() - 1)];
}

struct Summary {
  std::size_t count = 0;
  double mean = 0, p50 = 0, p90 = 0, p99 = 0, max = 0;
};

// Sorts `samples` in place and summarizes them.
inline Summary summarize(std::vector<double>& samples) {
  Summary s;
  s.count = samples.size();
  if (samples.empty()) return s;
  std::sort(samples.begin(), samples.end());
  double total = 0;
  for (double v : samples) total += v;
  s.mean = total / static_cast<double>(samples.size());
  s.p50 = percentile_sorted(samples, 50);
  s.p90 = percentile_sorted(samples, 90);
  s.p99 = percentile_sorted(samples, 99);
  s.max = samples.back();
  return s;
}

// "p50=12.3 p90=... p99=... max=..." with the given unit suffix on the key (e.g. "_us").
inline std::string format_summary(const Summary& s, std::string_view key_suffix) {
  char buffer[256];
  const std::string k(key_suffix);
  std::snprintf(buffer, sizeof buffer, "p50%s=%.1f p90%s=%.1f p99%s=%.1f max%s=%.1f", k.c_str(), s.p50,
                k.c_str(), s.p90, k.c_str(), s.p99, k.c_str(), s.max);
  return buffer;
}

// Prints one line and flushes, so progress is visible while a long benchmark runs.
inline void print_line(const std::string& line) {
  std::fputs(line.c_str(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

// `RESULT name=<name> value=<value> unit=<unit>`.
inline void print_result(std::string_view name, double value, std::string_view unit) {
  char buffer[512];
  std::snprintf(buffer, sizeof buffer, "RESULT name=%.*s value=%.1f unit=%.*s", static_cast<int>(name.size()),
                name.data(), value, static_cast<int>(unit.size()), unit.data());
  print_line(buffer);
}

// `RESULT name=<name> value=<value> unit=<unit> ceiling=<ceiling> ratio=<value/ceiling, 3 decimals>`.
inline void print_result(std::string_view name, double value, std::string_view unit, double ceiling) {
  char buffer[512];
  const double ratio = ceiling > 0 ? value / ceiling : 0.0;
  std::snprintf(buffer, sizeof buffer, "RESULT name=%.*s value=%.1f unit=%.*s ceiling=%.1f ratio=%.3f",
                static_cast<int>(name.size()), name.data(), value, static_cast<int>(unit.size()), unit.data(),
                ceiling, ratio);
  print_line(buffer);
}

// `RESULT name=<name> value=<value> unit=<unit> ceiling=<ceiling> ratio=<ratio>` with an explicit
// ratio and `decimals` digits for value and ceiling: for figures where lower is better (a time, a
// latency), the ratio is ceiling/value (or goal/value), so that higher is better everywhere.
inline void print_result_ratio(std::string_view name, double value, std::string_view unit, double ceiling,
                               double ratio, int decimals) {
  char buffer[512];
  std::snprintf(buffer, sizeof buffer, "RESULT name=%.*s value=%.*f unit=%.*s ceiling=%.*f ratio=%.3f",
                static_cast<int>(name.size()), name.data(), decimals, value, static_cast<int>(unit.size()),
                unit.data(), decimals, ceiling, ratio);
  print_line(buffer);
}

// `RESULT name=<name> value=<value> unit=<unit>` with `decimals` digits.
inline void print_result_decimals(std::string_view name, double value, std::string_view unit, int decimals) {
  char buffer[512];
  std::snprintf(buffer, sizeof buffer, "RESULT name=%.*s value=%.*f unit=%.*s", static_cast<int>(name.size()),
                name.data(), decimals, value, static_cast<int>(unit.size()), unit.data());
  print_line(buffer);
}

// Prints "<program>: <message>" to stderr and exits with status 1.
[[noreturn]] inline void fail(std::string_view program, std::string_view message) {
  std::fflush(stdout);
  std::fprintf(stderr, "%.*s: %.*s\n", static_cast<int>(program.size()), program.data(),
               static_cast<int>(message.size()), message.data());
  std::exit(1);
}

// A numeric command-line option `--name V` (or `--name=V`), with an environment variable
// fallback, for parse_options.
struct NumericOption {
  std::string_view flag;  // "--seconds"
  const char* env;        // "HUGO_BENCH_SECONDS", or nullptr
  double* value;          // in: default; out: the parsed value
  double min;
  double max;
};

// Parses argv against `options` (environment first, then the command line, which wins). Exits
// with a usage message on an unknown argument or a value outside [min, max].
inline void parse_options(int argc, char** argv, std::vector<NumericOption> options) {
  const char* program = argc > 0 ? argv[0] : "bench";
  auto usage = [&] {
    std::string text = "usage:";
    for (const auto& o : options) text += " [" + std::string(o.flag) + " N]";
    return text;
  };
  auto parse = [&](const NumericOption& o, const char* text) {
    char* end = nullptr;
    const double v = std::strtod(text, &end);
    if (end == text || *end != '\0' || !(v >= o.min && v <= o.max)) {
      fail(program, "invalid " + std::string(o.flag) + " value '" + text + "' (" + usage() + ")");
    }
    *o.value = v;
  };
  for (const auto& o : options) {
    if (o.env == nullptr) continue;
    if (const char* env = std::getenv(o.env); env && *env) parse(o, env);
  }
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    bool known = false;
    for (const auto& o : options) {
      if (arg == o.flag && i + 1 < argc) {
        parse(o, argv[++i]);
        known = true;
      } else if (arg.size() > o.flag.size() && arg.substr(0, o.flag.size()) == o.flag &&
                 arg[o.flag.size()] == '=') {
        parse(o, argv[i] + o.flag.size() + 1);
        known = true;
      }
      if (known) break;
    }
    if (!known) fail(program, "unknown argument '" + std::string(arg) + "' (" + usage() + ")");
  }
}

// `values` printed with the printf `format` (one double each) and joined by ",": "1.0,2.5".
inline std::string join_values(const std::vector<double>& values, const char* format = "%.1f") {
  std::string text;
  char number[64];
  for (double v : values) {
    std::snprintf(number, sizeof number, format, v);
    if (!text.empty()) text += ",";
    text += number;
  }
  return text;
}

// The median of `values` (0 for none); takes a copy.
inline double median(std::vector<double> values) {
  if (values.empty()) return 0.0;
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2.0;
}

// ---- events and journals -----------------------------------------------------------------------

// Nanoseconds on the steady clock (CLOCK_MONOTONIC: one clock for every process of the machine).
inline std::int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(SteadyClock::now().time_since_epoch()).count();
}

// A payload of `bytes` bytes cycling 'a'..'z'.
inline std::string alphabet_payload(std::size_t bytes) {
  std::string payload(bytes, '\0');
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>('a' + i % 26);
  return payload;
}

// "Fsync" or "Process".
inline const char* durability_name(hugo::Durability d) { return d == hugo::Durability::Fsync ? "Fsync" : "Process"; }

// Row `seq` of a history of task lifecycles whose first Enqueued row is seq `first`, one task per
// three rows: Enqueued (no payload: the caller's), LeaseGranted (owner "worker-<task % owners>", a
// 30 s lease), Completed; on queue queues[task % queues.size()].
inline hugo::Event lifecycle_event(std::int64_t seq, std::int64_t first, hugo::Timestamp at,
                                   std::span<const char* const> queues, int owners) {
  const std::int64_t phase = (seq - first) % 3;
  const std::int64_t task = seq - phase;
  hugo::Event e;
  e.queue = queues[static_cast<std::size_t>(task) % queues.size()];
  e.occurred_at = at;
  if (phase == 0) {
    e.kind = hugo::EventKind::Enqueued;
  } else if (phase == 1) {
    e.kind = hugo::EventKind::LeaseGranted;
    e.task_id = task;
    e.owner_peer_id = "worker-" + std::to_string(task % owners);
    e.token = hugo::OwnershipToken{task, 1, 0};
    e.lease_expiration = at + std::chrono::seconds(30);
  } else {
    e.kind = hugo::EventKind::Completed;
    e.task_id = task;
    e.token = hugo::OwnershipToken{task, 1, task + 1};
  }
  return e;
}

// Journal::open with `durability` and otherwise default options; fails the program on an error.
inline std::unique_ptr<hugo::Journal> open_journal(std::string_view program, const std::filesystem::path& path,
                                                   hugo::Durability durability) {
  hugo::JournalOptions options;
  options.durability = durability;
  auto opened = hugo::Journal::open(path, options);
  if (!opened.ok()) fail(program, "Journal::open: " + opened.error().to_string());
  return std::move(opened).value();
}

// Journal::close; fails the program on an error.
inline void close_journal(std::string_view program, hugo::Journal& journal) {
  if (const hugo::Status closed = journal.close(); !closed.ok()) {
    fail(program, "Journal::close: " + closed.error().to_string());
  }
}

// ---- raw SQLite (the ceilings) -----------------------------------------------------------------

// The journal's tables, copied from schema/schema.cpp (migration 0 -> 1), so that a ceiling writes
// the same rows into the same b-trees.
inline constexpr const char* kJournalSchema = R"sql(
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value ANY NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE names (
  id   INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE
) STRICT;

CREATE TABLE events (
  seq     INTEGER PRIMARY KEY AUTOINCREMENT,
  kind    INTEGER NOT NULL,
  queue   INTEGER NOT NULL,
  task    INTEGER,
  attempt INTEGER NOT NULL,
  at      INTEGER NOT NULL,
  lease   INTEGER,
  peer    INTEGER,
  expires INTEGER,
  flags   INTEGER NOT NULL,
  error   TEXT,
  payload BLOB
) STRICT;
)sql";

// The journal's insert statement (journal/rows.cpp); seq is bound explicitly, as its writer does.
inline constexpr const char* kJournalInsert =
    "INSERT INTO events (seq, kind, queue, task, attempt, at, lease, peer, expires, flags, error, payload) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";

// Every column of every row of the journal's events table, for raw_scan.
inline constexpr const char* kJournalFullScan =
    "SELECT seq, kind, queue, task, attempt, at, lease, peer, expires, flags, error, payload FROM events";

// One raw SQLite connection; every failure ends the program through fail(). Prepared statements
// are finalized with the connection.
class RawDb {
 public:
  RawDb(std::string program, const std::string& path, int flags) : program_(std::move(program)), path_(path) {
    if (sqlite3_open_v2(path.c_str(), &db_, flags | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) die("open");
    sqlite3_busy_timeout(db_, 5000);
  }
  ~RawDb() {
    for (sqlite3_stmt* s : stmts_) sqlite3_finalize(s);
    if (db_) sqlite3_close_v2(db_);
  }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;

  sqlite3* handle() const { return db_; }

  [[noreturn]] void die(const std::string& what) const {
    fail(program_, "raw sqlite (" + path_ + "): " + what + ": " + (db_ ? sqlite3_errmsg(db_) : "no connection"));
  }
  void exec(const std::string& sql) {
    char* message = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
      const std::string detail = message ? message : "";
      sqlite3_free(message);
      die(sql + " (" + detail + ")");
    }
  }
  sqlite3_stmt* prepare(const std::string& sql) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v3(db_, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr) != SQLITE_OK) {
      die("prepare " + sql);
    }
    stmts_.push_back(s);
    return s;
  }
  std::int64_t query_int(const std::string& sql) {
    sqlite3_stmt* s = prepare(sql);
    if (sqlite3_step(s) != SQLITE_ROW) die(sql);
    const std::int64_t v = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    return v;
  }
  void step_done(sqlite3_stmt* s, const char* what) {
    if (sqlite3_step(s) != SQLITE_DONE) die(what);
    sqlite3_reset(s);
  }

  // Creates the journal's empty tables and interns `names_values` (the VALUES list of an INSERT
  // INTO names (id, name)) in one transaction.
  void create_journal_tables(const std::string& names_values) {
    exec("BEGIN IMMEDIATE");
    exec(kJournalSchema);
    exec("INSERT INTO names (id, name) VALUES " + names_values);
    exec("COMMIT");
  }

  // WAL, synchronous FULL or NORMAL, and the journal's checkpoint policy with default
  // JournalOptions (auto-checkpoint off in the journal, which runs a PASSIVE checkpoint once the
  // WAL holds 16 MiB; here SQLite's auto-checkpoint at the same size), journal_size_limit 64 MiB.
  void configure_like_journal(bool full) {
    sqlite3_stmt* mode = prepare("PRAGMA journal_mode = WAL");
    const bool stepped = sqlite3_step(mode) == SQLITE_ROW;
    const auto* text = stepped ? reinterpret_cast<const char*>(sqlite3_column_text(mode, 0)) : nullptr;
    if (text == nullptr || std::string_view(text) != "wal") die("could not switch to WAL mode");
    sqlite3_reset(mode);
    exec(full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
    const std::int64_t page_size = query_int("PRAGMA page_size");
    exec("PRAGMA wal_autocheckpoint = " + std::to_string((std::int64_t{16} << 20) / page_size));
    exec("PRAGMA journal_size_limit = " + std::to_string(std::int64_t{64} << 20));
  }

 private:
  std::string program_;
  std::string path_;
  sqlite3* db_ = nullptr;
  std::vector<sqlite3_stmt*> stmts_;
};

// The result of a raw full scan of a journal's events table.
struct RawScan {
  std::int64_t rows = 0;
  std::int64_t checksum = 0;  // folds every column read, so nothing is optimized away
  double seconds = 0;         // open + prepare + step every row + close
};

// Opens `path` read-only, steps `select` (columns: integers, then optionally text/blob) over every
// row reading each of its columns, and closes. Timed from before the open to after the close.
inline RawScan raw_scan(std::string_view program, const std::string& path, const std::string& select) {
  RawScan scan;
  const auto start = SteadyClock::now();
  {
    RawDb db(std::string(program), path, SQLITE_OPEN_READONLY);
    sqlite3_stmt* s = db.prepare(select);
    const int columns = sqlite3_column_count(s);
    while (true) {
      const int rc = sqlite3_step(s);
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) db.die("step " + select);
      ++scan.rows;
      for (int c = 0; c < columns; ++c) {
        switch (sqlite3_column_type(s, c)) {
          case SQLITE_INTEGER: scan.checksum += sqlite3_column_int64(s, c); break;
          case SQLITE_TEXT:
          case SQLITE_BLOB: {
            const void* bytes = sqlite3_column_blob(s, c);
            const int n = sqlite3_column_bytes(s, c);
            scan.checksum += n + (n > 0 ? static_cast<const unsigned char*>(bytes)[0] : 0);
            break;
          }
          default: break;  // NULL
        }
      }
    }
    sqlite3_reset(s);
  }
  scan.seconds = seconds_since(start);
  return scan;
}

// ---- child processes and memory ----------------------------------------------------------------

// This executable run again (/proc/self/exe) with `args`; its stdout is a pipe the parent reads
// line by line (`out`). Its stderr is inherited.
struct Child {
  pid_t pid = -1;
  FILE* out = nullptr;
};

inline Child spawn_self(std::string_view program, const std::vector<std::string>& args) {
  int fds[2];
  if (::pipe(fds) != 0) fail(program, std::string("pipe: ") + std::strerror(errno));
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = ::fork();
  if (pid < 0) fail(program, std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    ::dup2(fds[1], STDOUT_FILENO);
    ::close(fds[0]);
    ::close(fds[1]);
    std::vector<std::string> owned;
    owned.reserve(args.size() + 1);
    owned.emplace_back(program);
    owned.insert(owned.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& a : owned) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv("/proc/self/exe", argv.data());
    std::fprintf(stderr, "%.*s: execv /proc/self/exe: %s\n", static_cast<int>(program.size()), program.data(),
                 std::strerror(errno));
    ::_exit(127);
  }
  ::close(fds[1]);
  Child child;
  child.pid = pid;
  child.out = ::fdopen(fds[0], "r");
  if (child.out == nullptr) fail(program, std::string("fdopen: ") + std::strerror(errno));
  return child;
}

// The next line the child printed (without the newline), or "" at end of file.
inline std::string read_line(const Child& child) {
  std::string line;
  char buffer[4096];
  while (std::fgets(buffer, sizeof buffer, child.out) != nullptr) {
    line += buffer;
    if (!line.empty() && line.back() == '\n') {
      line.pop_back();
      break;
    }
  }
  return line;
}

// Closes the pipe and reaps the child; returns its exit status (128 + signal if killed).
inline int wait_child(Child& child) {
  if (child.out) std::fclose(child.out);
  child.out = nullptr;
  int status = 0;
  while (::waitpid(child.pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  child.pid = -1;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// A "key=value" field of a line printed as `... key=value ...`; `fallback` if it is missing.
inline double field(std::string_view line, std::string_view key, double fallback = -1) {
  const std::string needle = std::string(key) + "=";
  std::size_t at = 0;
  while ((at = line.find(needle, at)) != std::string_view::npos) {
    if (at == 0 || line[at - 1] == ' ') return std::strtod(std::string(line.substr(at + needle.size())).c_str(), nullptr);
    at += needle.size();
  }
  return fallback;
}

// A `kB` line of /proc/self/status ("VmRSS", "VmHWM"), in kB; -1 if missing.
inline long proc_status_kb(std::string_view key) {
  FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) return -1;
  char line[256];
  long value = -1;
  while (std::fgets(line, sizeof line, f) != nullptr) {
    const std::string_view l(line);
    if (l.size() > key.size() && l.substr(0, key.size()) == key && l[key.size()] == ':') {
      value = std::strtol(line + key.size() + 1, nullptr, 10);
      break;
    }
  }
  std::fclose(f);
  return value;
}

}  // namespace hugo_bench

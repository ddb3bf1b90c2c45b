// bench/recovery: how long reopening a queue on a long journal takes, against a raw full scan of
// the same journal, and how much memory the rebuilt queue holds as the history grows.
//
// Part 1, time. A fresh journal (Durability::Process) gets --tasks tasks (default 335,000, about
// 1M rows) written with Journal::append_group_async, 64 tasks per group (their Enqueued rows, then
// the LeaseGranted rows, then the Completed rows), in seq order, bypassing TaskQueue to keep the
// build short. 1% of the tasks stay live, spread evenly through the history (every 100th task):
// one third leased (Enqueued + LeaseGranted, the lease expiring in an hour) and two thirds pending
// (Enqueued only). The journal is closed (which checkpoints the WAL into the database file). Then,
// per round, in alternating order:
//   - restart: Journal::open + TaskQueue::open("bench", no sweeper), timed separately; the rebuilt
//     queue must hold exactly the expected pending and leased tasks (else exit 1); closed again
//     outside the timing;
//   - the ceiling: a raw SQLite full scan of the same file, read-only connection, stepping every
//     row of `SELECT seq, kind, queue, task, attempt, at, lease, peer, expires, flags FROM events`
//     and reading every column, timed from sqlite3_open to sqlite3_close.
// The page cache is warm for both (the file was just written; caches are never dropped).
//
// Part 2, memory. A second journal gets a fixed live set first (the same count of pending and
// leased tasks as part 1), then completed tasks up to 250k, 500k and 1M. After each step the
// journal is closed and a fresh child process (this program, re-executed with --child-open)
// opens the journal and the queue and reports VmRSS before and after, and VmHWM, from
// /proc/self/status.
//
// Usage: recovery [--tasks N] [--rounds R] [--memory 0|1]   (or $HUGO_BENCH_ROUNDS)
// The last line is `RESULT name=recovery_1m value=<restart s> unit=s ceiling=<scan s>
// ratio=<ceiling/value>` (for a time, ratio = ceiling/value: higher is better).
#include "bench/support/child.hpp"
#include "bench/support/journal.hpp"
#include "bench/support/raw_sqlite.hpp"
#include "bench/support/report.hpp"
#include "bench/support/stats.hpp"

#include <hugo/journal.hpp>
#include <hugo/task_queue.hpp>

#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace {

using hugo_bench::join_values;
using hugo_bench::SteadyClock;

constexpr const char* kProgram = "recovery";
constexpr std::size_t kPayloadBytes = 32;
constexpr int kTasksPerGroup = 64;
constexpr std::size_t kMaxGroupsInFlight = 32;
constexpr const char* kScan = "SELECT seq, kind, queue, task, attempt, at, lease, peer, expires, flags FROM events";

hugo::JournalOptions journal_options() {
  hugo::JournalOptions options;
  options.durability = hugo::Durability::Process;
  return options;
}

hugo::TaskQueueOptions queue_options() {
  hugo::TaskQueueOptions options;
  options.name = "bench";
  options.capacity = 1 << 20;
  options.run_sweeper = false;
  return options;
}

std::unique_ptr<hugo::Journal> open_journal(const std::filesystem::path& path) {
  return hugo_bench::open_journal(kProgram, path, hugo::Durability::Process);
}

void close_journal(hugo::Journal& journal) { hugo_bench::close_journal(kProgram, journal); }

enum class Fate { Completed, Pending, Leased };

// Writes tasks straight into a journal, predicting every seq (this is the journal's only writer,
// and group seqs are consecutive), so that LeaseGranted and Completed rows can name their task
// and lease.
class HistoryWriter {
 public:
  explicit HistoryWriter(hugo::Journal& journal)
      : journal_(journal),
        next_seq_(journal.last_accepted_seq() + 1),
        payload_(hugo_bench::alphabet_payload(kPayloadBytes)) {
    const auto now = hugo::SystemClock().now();
    at_ = now - std::chrono::hours(24);
    lease_expires_ = now + std::chrono::hours(1);
  }

  // Appends one group for `fates` (at most kTasksPerGroup tasks).
  void add_group(const std::vector<Fate>& fates) {
    std::vector<hugo::Event> events;
    events.reserve(fates.size() * 3);
    const std::int64_t first = next_seq_;
    std::vector<std::int64_t> lease_seq(fates.size(), 0);
    for (std::size_t i = 0; i < fates.size(); ++i) {
      hugo::Event e;
      e.kind = hugo::EventKind::Enqueued;
      e.queue = "bench";
      e.occurred_at = tick();
      e.payload = payload_;
      events.push_back(std::move(e));
    }
    for (std::size_t i = 0; i < fates.size(); ++i) {
      if (fates[i] == Fate::Pending) continue;
      const std::int64_t task = first + static_cast<std::int64_t>(i);
      hugo::Event e;
      e.kind = hugo::EventKind::LeaseGranted;
      e.queue = "bench";
      e.task_id = task;
      e.occurred_at = tick();
      e.owner_peer_id = "worker-" + std::to_string(task % 4);
      e.token = hugo::OwnershipToken{task, 1, 0};
      e.lease_expiration = fates[i] == Fate::Leased ? lease_expires_ : e.occurred_at + std::chrono::seconds(30);
      lease_seq[i] = first + static_cast<std::int64_t>(events.size());
      events.push_back(std::move(e));
    }
    for (std::size_t i = 0; i < fates.size(); ++i) {
      if (fates[i] != Fate::Completed) continue;
      const std::int64_t task = first + static_cast<std::int64_t>(i);
      hugo::Event e;
      e.kind = hugo::EventKind::Completed;
      e.queue = "bench";
      e.task_id = task;
      e.occurred_at = tick();
      e.token = hugo::OwnershipToken{task, 1, lease_seq[i]};
      events.push_back(std::move(e));
    }
    hugo::AppendTicket ticket = journal_.append_group_async(events);
    if (ticket.seq != first) {
      const hugo::Result<std::int64_t> why = ticket.wait();
      hugo_bench::fail(kProgram, "append_group_async gave seq " + std::to_string(ticket.seq) + ", expected " +
                                     std::to_string(first) + (why.ok() ? "" : ": " + why.error().to_string()));
    }
    next_seq_ += static_cast<std::int64_t>(events.size());
    rows_ += static_cast<std::int64_t>(events.size());
    for (Fate f : fates) {
      if (f == Fate::Pending) ++pending_;
      else if (f == Fate::Leased) ++leased_;
      else ++completed_;
    }
    in_flight_.push_back(std::move(ticket));
    while (in_flight_.size() > kMaxGroupsInFlight) wait_oldest();
  }

  void finish() {
    while (!in_flight_.empty()) wait_oldest();
  }

  std::int64_t pending() const { return pending_; }
  std::int64_t leased() const { return leased_; }
  std::int64_t completed() const { return completed_; }
  std::int64_t rows() const { return rows_; }

 private:
  hugo::Timestamp tick() { return at_ += std::chrono::microseconds(1); }
  void wait_oldest() {
    auto durable = in_flight_.front().wait();
    if (!durable.ok()) hugo_bench::fail(kProgram, "append failed: " + durable.error().to_string());
    in_flight_.pop_front();
  }

  hugo::Journal& journal_;
  std::int64_t next_seq_;
  std::string payload_;
  hugo::Timestamp at_{};
  hugo::Timestamp lease_expires_{};
  std::deque<hugo::AppendTicket> in_flight_;
  std::int64_t pending_ = 0, leased_ = 0, completed_ = 0, rows_ = 0;
};

// Part 1's history: every 100th task (index % 100 == 50) stays live; of those, every third is
// leased and the others pending.
void write_mixed(HistoryWriter& writer, std::int64_t tasks) {
  std::vector<Fate> fates;
  std::int64_t live = 0;
  for (std::int64_t i = 0; i < tasks; ++i) {
    Fate f = Fate::Completed;
    if (i % 100 == 50) f = (live++ % 3 == 0) ? Fate::Leased : Fate::Pending;
    fates.push_back(f);
    if (static_cast<int>(fates.size()) == kTasksPerGroup || i + 1 == tasks) {
      writer.add_group(fates);
      fates.clear();
    }
  }
  writer.finish();
}

void write_uniform(HistoryWriter& writer, std::int64_t tasks, Fate fate) {
  std::vector<Fate> fates;
  for (std::int64_t i = 0; i < tasks; ++i) {
    fates.push_back(fate);
    if (static_cast<int>(fates.size()) == kTasksPerGroup || i + 1 == tasks) {
      writer.add_group(fates);
      fates.clear();
    }
  }
  writer.finish();
}

// ---- the measured restart ----------------------------------------------------------------------

struct OpenResult {
  double journal_open_s = 0;
  double queue_open_s = 0;
  std::size_t pending = 0;
  std::size_t leased = 0;
  double total() const { return journal_open_s + queue_open_s; }
};

// Journal::open + TaskQueue::open, timed; `while_open` runs before both are closed again.
OpenResult timed_open(const std::filesystem::path& path, const std::function<void()>& while_open = {}) {
  OpenResult r;
  const auto t0 = SteadyClock::now();
  auto opened = hugo::Journal::open(path, journal_options());
  const auto t1 = SteadyClock::now();
  if (!opened.ok()) hugo_bench::fail(kProgram, "Journal::open: " + opened.error().to_string());
  std::shared_ptr<hugo::Journal> journal = std::move(opened).value();
  auto queue = hugo::TaskQueue::open(journal, queue_options());
  const auto t2 = SteadyClock::now();
  if (!queue.ok()) hugo_bench::fail(kProgram, "TaskQueue::open: " + queue.error().to_string());
  r.journal_open_s = hugo_bench::micros_between(t0, t1) / 1e6;
  r.queue_open_s = hugo_bench::micros_between(t1, t2) / 1e6;
  r.pending = (*queue)->pending_count();
  r.leased = (*queue)->active_lease_count();
  if (while_open) while_open();
  if (const hugo::Status closed = (*queue)->close(); !closed.ok()) {
    hugo_bench::fail(kProgram, "TaskQueue::close: " + closed.error().to_string());
  }
  queue->reset();
  close_journal(*journal);
  return r;
}

void check_counts(const OpenResult& r, std::int64_t pending, std::int64_t leased, const std::string& where) {
  if (static_cast<std::int64_t>(r.pending) != pending || static_cast<std::int64_t>(r.leased) != leased) {
    hugo_bench::fail(kProgram, where + ": the rebuilt queue holds " + std::to_string(r.pending) + " pending and " +
                                   std::to_string(r.leased) + " leased tasks; expected " + std::to_string(pending) +
                                   " and " + std::to_string(leased));
  }
}

// `recovery --child-open PATH PENDING LEASED`: one restart in a fresh process, with its memory.
int child_open(const char* path, const char* pending, const char* leased) {
  const long rss_before = hugo_bench::proc_status_kb("VmRSS");
  const long hwm_before = hugo_bench::proc_status_kb("VmHWM");
  long rss_open = 0, hwm_open = 0;
  const OpenResult r = timed_open(path, [&] {
    rss_open = hugo_bench::proc_status_kb("VmRSS");  // the state a running service is in
    hwm_open = hugo_bench::proc_status_kb("VmHWM");
  });
  std::printf("child journal_open_s=%.4f queue_open_s=%.4f pending=%zu leased=%zu rss_before_kb=%ld "
              "hwm_before_kb=%ld rss_open_kb=%ld hwm_kb=%ld\n",
              r.journal_open_s, r.queue_open_s, r.pending, r.leased, rss_before, hwm_before, rss_open, hwm_open);
  std::fflush(stdout);
  check_counts(r, std::strtoll(pending, nullptr, 10), std::strtoll(leased, nullptr, 10), "child");
  return 0;
}

struct MemoryPoint {
  std::int64_t completed = 0;
  double open_s = 0;
  double rss_before_kb = 0, rss_open_kb = 0, hwm_kb = 0;
};

MemoryPoint measure_in_child(const std::filesystem::path& path, std::int64_t completed, std::int64_t pending,
                             std::int64_t leased) {
  hugo_bench::Child child = hugo_bench::spawn_self(
      kProgram, {"--child-open", path.string(), std::to_string(pending), std::to_string(leased)});
  const std::string line = hugo_bench::read_line(child);
  const int status = hugo_bench::wait_child(child);
  if (status != 0 || line.empty()) {
    hugo_bench::fail(kProgram, "the --child-open process exited with status " + std::to_string(status));
  }
  MemoryPoint p;
  p.completed = completed;
  p.open_s = hugo_bench::field(line, "journal_open_s") + hugo_bench::field(line, "queue_open_s");
  p.rss_before_kb = hugo_bench::field(line, "rss_before_kb");
  p.rss_open_kb = hugo_bench::field(line, "rss_open_kb");
  p.hwm_kb = hugo_bench::field(line, "hwm_kb");
  return p;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 5 && std::strcmp(argv[1], "--child-open") == 0) return child_open(argv[2], argv[3], argv[4]);

  double tasks_option = 335'000;
  double rounds_option = 3;
  double memory_option = 1;
  hugo_bench::parse_options(argc, argv,
                            {{"--tasks", nullptr, &tasks_option, 100, 1e8},
                             {"--rounds", "HUGO_BENCH_ROUNDS", &rounds_option, 1, 100},
                             {"--memory", nullptr, &memory_option, 0, 1}});
  const auto tasks = static_cast<std::int64_t>(tasks_option);
  const int rounds = static_cast<int>(rounds_option);
  char line[1024];

  // ---- part 1: restart time against a raw scan
  const hugo_bench::TempDir dir = hugo_bench::scratch_dir(kProgram, "hugo-bench-recovery");
  const std::filesystem::path path = dir / "journal.db";
  std::int64_t pending = 0, leased = 0, rows = 0;
  {
    const auto start = SteadyClock::now();
    std::unique_ptr<hugo::Journal> journal = open_journal(path);
    HistoryWriter writer(*journal);
    write_mixed(writer, tasks);
    close_journal(*journal);
    pending = writer.pending();
    leased = writer.leased();
    rows = writer.rows();
    std::error_code ec;
    const auto bytes = std::filesystem::file_size(path, ec);
    std::snprintf(line, sizeof line,
                  "recovery: sqlite %s; built %lld tasks = %lld rows (%lld completed, %lld pending, %lld leased) in "
                  "%.2f s, file %.1f MiB; %d rounds",
                  sqlite3_libversion(), static_cast<long long>(tasks), static_cast<long long>(rows),
                  static_cast<long long>(writer.completed()), static_cast<long long>(pending),
                  static_cast<long long>(leased), hugo_bench::seconds_since(start),
                  static_cast<double>(bytes) / (1 << 20), rounds);
    hugo_bench::print_line(line);
  }

  std::vector<double> restart_s, journal_open_s, queue_open_s, scan_s;
  for (int round = 1; round <= rounds; ++round) {
    auto run_open = [&] {
      const OpenResult r = timed_open(path);
      check_counts(r, pending, leased, "round " + std::to_string(round));
      restart_s.push_back(r.total());
      journal_open_s.push_back(r.journal_open_s);
      queue_open_s.push_back(r.queue_open_s);
      std::snprintf(line, sizeof line,
                    "round=%d restart total_s=%.4f journal_open_s=%.4f queue_open_s=%.4f pending=%zu leased=%zu",
                    round, r.total(), r.journal_open_s, r.queue_open_s, r.pending, r.leased);
      hugo_bench::print_line(line);
    };
    auto run_scan = [&] {
      const hugo_bench::RawScan s = hugo_bench::raw_scan(kProgram, path.string(), kScan);
      if (s.rows != rows) {
        hugo_bench::fail(kProgram, "raw scan saw " + std::to_string(s.rows) + " rows, expected " + std::to_string(rows));
      }
      scan_s.push_back(s.seconds);
      std::snprintf(line, sizeof line, "round=%d raw_scan rows=%lld secs=%.4f rate=%.0f rows/s checksum=%lld", round,
                    static_cast<long long>(s.rows), s.seconds, static_cast<double>(s.rows) / s.seconds,
                    static_cast<long long>(s.checksum));
      hugo_bench::print_line(line);
    };
    if (round % 2 == 1) {
      run_open();
      run_scan();
    } else {
      run_scan();
      run_open();
    }
  }
  const double restart = hugo_bench::median(restart_s);
  const double scan = hugo_bench::median(scan_s);
  std::snprintf(line, sizeof line,
                "summary restart median=%.4f s [%s] (journal_open median=%.4f, queue_open median=%.4f [%s]) | raw scan "
                "median=%.4f s [%s] = %.0f rows/s",
                restart, join_values(restart_s, "%.4f").c_str(), hugo_bench::median(journal_open_s),
                hugo_bench::median(queue_open_s), join_values(queue_open_s, "%.4f").c_str(), scan,
                join_values(scan_s, "%.4f").c_str(), static_cast<double>(rows) / scan);
  hugo_bench::print_line(line);

  // ---- part 2: memory against history length
  std::vector<MemoryPoint> points;
  if (memory_option != 0) {
    const hugo_bench::TempDir mem_dir = hugo_bench::scratch_dir(kProgram, "hugo-bench-recovery-mem");
    const std::filesystem::path mem_path = mem_dir / "journal.db";
    const std::int64_t live_pending = pending, live_leased = leased;
    std::int64_t written = 0;
    bool live_written = false;
    for (const std::int64_t target : {250'000, 500'000, 1'000'000}) {
      const auto start = SteadyClock::now();
      std::unique_ptr<hugo::Journal> journal = open_journal(mem_path);
      HistoryWriter writer(*journal);
      if (!live_written) {
        write_uniform(writer, live_pending, Fate::Pending);
        write_uniform(writer, live_leased, Fate::Leased);
        live_written = true;
      }
      write_uniform(writer, target - written, Fate::Completed);
      close_journal(*journal);
      written = target;
      const double build_s = hugo_bench::seconds_since(start);
      const MemoryPoint p = measure_in_child(mem_path, target, live_pending, live_leased);
      std::error_code ec;
      const auto bytes = std::filesystem::file_size(mem_path, ec);
      std::snprintf(line, sizeof line,
                    "memory completed=%lld live=%lld+%lld file=%.1f MiB (built in %.2f s) child: restart_s=%.4f "
                    "VmRSS before=%.0f kB after_open=%.0f kB (+%.0f kB) VmHWM=%.0f kB",
                    static_cast<long long>(target), static_cast<long long>(live_pending),
                    static_cast<long long>(live_leased), static_cast<double>(bytes) / (1 << 20), build_s, p.open_s,
                    p.rss_before_kb, p.rss_open_kb, p.rss_open_kb - p.rss_before_kb, p.hwm_kb);
      hugo_bench::print_line(line);
      points.push_back(p);
    }
  }

  hugo_bench::print_result_ratio("recovery_1m_queue_open", hugo_bench::median(queue_open_s), "s", scan,
                                 scan / hugo_bench::median(queue_open_s), 4);
  for (const MemoryPoint& p : points) {
    hugo_bench::print_result_decimals("recovery_rss_" + std::to_string(p.completed / 1000) + "k", p.rss_open_kb, "kB",
                                      0);
  }
  hugo_bench::print_result_ratio("recovery_1m", restart, "s", scan, restart > 0 ? scan / restart : 0, 4);
  return 0;
}

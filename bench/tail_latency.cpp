// bench/tail_latency: how long an appended event takes to be committed by a replication sink, at a
// steady 10k events/s, in the writer's process and in another process; and how fast a sink
// catches up on a journal that is already written, against a raw scan of the same rows.
//
// Latency runs. A fresh journal; one producer thread appends one event every 100 us (a paced loop:
// sleep_until the event's slot with a 1 us timer slack, then Journal::append_async; never waits for
// durability) for --seconds; the events cycle Enqueued (32-byte payload), LeaseGranted, Completed,
// like queue traffic. The sink is a hugo::TransactionalSink subclass whose apply() inserts
// (seq, kind, task) into a table of its own SinkDatabase (WAL, at the journal's durability level:
// synchronous=NORMAL beside a Process journal, FULL beside an Fsync one), driven by hugo::run_sink with the default batch (512). A thin ReplicationSink wrapper
// around it stamps, per seq, the steady-clock time process() received the batch and the time its
// transaction had committed (process() returned).
//   (a) in-process: TaskQueueReplicationSource::attach (woken by the journal's commit
//       notification; new events come from the writer's memory, Journal::read_recent), the sink
//       on a thread of the writer's process;
//   (b) cross-process: a child process (this program re-executed with --child-sink) runs
//       TaskQueueReplicationSource::open (PRAGMA data_version polling, default 1 ms) and the same
//       sink, then writes its per-seq times to a file. steady_clock is CLOCK_MONOTONIC, one clock for
//       every process of the machine, so the parent subtracts its append times from them.
// Latency = sink commit time - the time just before append_async. Every seq must be committed
// exactly once (checked: the sink table holds every seq), else exit 1. Both modes run under
// Durability::Process (the headline) and Durability::Fsync; every round runs each case once,
// in-process and cross-process in alternating order; the headline figures are medians over rounds
// of each round's percentile.
//
// Catch-up run. A journal of --catchup-events rows (default 200k, the same cycle of rows) is
// written with append_group_async and closed. Then, per round, in alternating order: a fresh sink
// processes it from seq 0 (TaskQueueReplicationSource::open, next(512) + process() until the last
// seq; its database at synchronous=FULL); and the ceiling, a raw SQLite read-only scan of every
// column of every row of `events`.
//
// With --sampler 1, a CommitSampler thread in the writer's process also records when each seq
// became durable in the journal, to split the latency (append -> durable -> received by the sink
// -> committed by it). It is off by default: it wakes at every journal commit, and on a 2-vCPU
// machine that extra thread alone moves the p99 it is there to explain.
//
// Usage: tail_latency [--seconds S] [--rounds R] [--catchup-events N] [--fsync 0|1] [--sampler 0|1]
//        (or $HUGO_BENCH_SECONDS, $HUGO_BENCH_ROUNDS)
// The last line is `RESULT name=tail_latency_inprocess_p99 value=<ms> unit=ms ceiling=1
// ratio=<1/value>` (for a latency goal: ceiling = the goal, ratio = goal / value).
#include "bench/support/child.hpp"
#include "bench/support/journal.hpp"
#include "bench/support/paced.hpp"
#include "bench/support/raw_sqlite.hpp"
#include "bench/support/report.hpp"
#include "bench/support/stats.hpp"

#include <hugo/journal.hpp>
#include <hugo/replication.hpp>
#include <hugo/sink_database.hpp>
#include <hugo/sinks.hpp>

#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

namespace {

using hugo_bench::join_values;
using hugo_bench::SteadyClock;

constexpr const char* kProgram = "tail_latency";
constexpr std::size_t kPayloadBytes = 32;
constexpr auto kInterval = std::chrono::microseconds(100);  // 10k events/s
constexpr double kGoalInProcessMs = 1.0;
constexpr double kGoalCrossProcessMs = 5.0;
constexpr const char* kQueue[] = {"bench"};

using hugo_bench::durability_name;
using hugo_bench::steady_ns;

// The row with seq `seq` of a journal written only by this program: seqs cycle Enqueued (with
// `payload`), LeaseGranted, Completed, one task per three rows, all on queue "bench".
hugo::Event cycle_event(std::int64_t seq, const std::string& payload, hugo::Timestamp at) {
  hugo::Event e = hugo_bench::lifecycle_event(seq, 1, at, kQueue, 4);
  if (e.kind == hugo::EventKind::Enqueued) e.payload = payload;
  return e;
}

// ---- the sink ----------------------------------------------------------------------------------

// A tiny TransactionalSink: one row per event in its own table.
class BenchSink final : public hugo::TransactionalSink {
 public:
  using hugo::TransactionalSink::TransactionalSink;

 protected:
  hugo::Status initialize(hugo::SinkDatabase& db) override {
    return db.execute_script(
        "CREATE TABLE IF NOT EXISTS applied (seq INTEGER PRIMARY KEY, kind INTEGER NOT NULL, task INTEGER NOT NULL)");
  }
  hugo::Status apply(hugo::SinkDatabase& db, const hugo::Event& e) override {
    return db.execute("INSERT INTO applied (seq, kind, task) VALUES (?1, ?2, ?3)",
                      {e.seq, static_cast<std::int64_t>(e.kind), e.task_id});
  }
};

// Stamps when each seq reached process() and when its transaction had committed, and requests
// `stop` once `last_seq` is committed.
class TimedSink final : public hugo::ReplicationSink {
 public:
  TimedSink(hugo::ReplicationSink& inner, std::int64_t last_seq, std::stop_source stop)
      : inner_(inner), last_seq_(last_seq), stop_(std::move(stop)),
        received_ns_(static_cast<std::size_t>(last_seq) + 1, 0),
        committed_ns_(static_cast<std::size_t>(last_seq) + 1, 0) {}

  hugo::Status process(const std::vector<hugo::Event>& batch) override {
    const std::int64_t received = steady_ns();
    hugo::Status status = inner_.process(batch);
    if (!status.ok()) return status;
    const std::int64_t committed = steady_ns();
    process_us_.push_back(static_cast<double>(committed - received) / 1e3);
    for (const hugo::Event& e : batch) {
      if (e.seq < 1 || e.seq > last_seq_) continue;
      received_ns_[static_cast<std::size_t>(e.seq)] = received;
      committed_ns_[static_cast<std::size_t>(e.seq)] = committed;
    }
    ++batches_;
    if (!batch.empty() && batch.back().seq >= last_seq_) {
      done_.store(true);
      stop_.request_stop();
    }
    return status;
  }
  hugo::Result<std::int64_t> resume_position(const std::string& journal_id) override {
    return inner_.resume_position(journal_id);
  }
  hugo::Status flush() override { return inner_.flush(); }

  bool done() const { return done_.load(); }
  std::int64_t batches() const { return batches_; }
  // How long each process() call (the sink's transaction, commit included) took, in us.
  hugo_bench::Summary process_summary() const {
    std::vector<double> copy = process_us_;
    return hugo_bench::summarize(copy);
  }
  const std::vector<std::int64_t>& received_ns() const { return received_ns_; }
  const std::vector<std::int64_t>& committed_ns() const { return committed_ns_; }

 private:
  hugo::ReplicationSink& inner_;
  std::int64_t last_seq_;
  std::stop_source stop_;
  std::vector<std::int64_t> received_ns_;
  std::vector<std::int64_t> committed_ns_;
  std::int64_t batches_ = 0;
  std::vector<double> process_us_;
  std::atomic<bool> done_{false};
};

// The sink database keeps the journal's durability level (SinkDatabaseOptions explains why).
std::shared_ptr<hugo::SinkDatabase> open_sink_db(const std::filesystem::path& path, hugo::Durability durability) {
  hugo::SinkDatabaseOptions options;
  options.durability = durability;
  auto db = hugo::SinkDatabase::open(path, options);
  if (!db.ok()) hugo_bench::fail(kProgram, "SinkDatabase::open: " + db.error().to_string());
  return std::move(db).value();
}

hugo::SinkOptions sink_options() {
  hugo::SinkOptions options;
  options.stream_id = "bench";
  return options;
}

std::int64_t applied_rows(hugo::SinkDatabase& db) {
  auto rows = db.query("SELECT count(*), coalesce(min(seq), 0), coalesce(max(seq), 0) FROM applied");
  if (!rows.ok()) hugo_bench::fail(kProgram, "sink query: " + rows.error().to_string());
  const auto& row = rows->at(0);
  const std::int64_t count = hugo::sql_int(row[0]);
  if (count > 0 && (hugo::sql_int(row[1]) != 1 || hugo::sql_int(row[2]) != count)) return -1;
  return count;
}

// Runs run_sink until the TimedSink has committed its last seq, or `timeout` passes (then the
// sink is stopped and the run fails).
void drive_sink(hugo::TaskQueueReplicationSource& source, TimedSink& timed, std::stop_source stop,
                std::chrono::seconds timeout) {
  std::atomic<bool> finished{false};
  hugo::Status status = hugo::ok_status();
  std::thread watchdog([&] {
    const auto deadline = SteadyClock::now() + timeout;
    while (!finished.load() && SteadyClock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    stop.request_stop();
  });
  status = hugo::run_sink(source, timed, stop.get_token());
  finished.store(true);
  watchdog.join();
  if (!status.ok()) hugo_bench::fail(kProgram, "run_sink: " + status.error().to_string());
  if (!timed.done()) hugo_bench::fail(kProgram, "the sink did not reach the last seq within the timeout");
}

// ---- the paced producer ------------------------------------------------------------------------

// Appends `count` cycle events, one per kInterval, into a fresh journal whose next seq is 1, then
// flushes it. Returns the steady time (ns) taken just before each append_async, indexed by seq.
std::vector<std::int64_t> produce(hugo::Journal& journal, std::int64_t count, double* lateness_p99_us) {
  const std::string payload = hugo_bench::alphabet_payload(kPayloadBytes);
  const std::shared_ptr<hugo::Clock> clock = hugo::SystemClock::shared();
  hugo_bench::PacedRun run = hugo_bench::paced_appends(
      kProgram, journal, 1, count, kInterval, [&](std::int64_t seq) { return cycle_event(seq, payload, clock->now()); },
      [](hugo::AppendTicket) {});
  if (const hugo::Status flushed = journal.flush(); !flushed.ok()) {
    hugo_bench::fail(kProgram, "Journal::flush: " + flushed.error().to_string());
  }
  *lateness_p99_us = run.lateness_p99_us;
  return std::move(run.append_ns);
}

// Watches the journal from the writer's process: Journal::wait_for_commit wakes it at every commit,
// and it records (durable_seq, time) at each wake-up. That gives when each seq became durable (an
// upper bound: the sampler's own wake-up latency is included) and how many rows each commit held
// (a jump that spans two commits counts as one, so rows/commit is an upper bound too).
class CommitSampler {
 public:
  CommitSampler(hugo::Journal& journal, bool enabled) : journal_(journal) {
    if (enabled) thread_ = std::thread([this] { run(); });
  }
  ~CommitSampler() { stop(); }
  CommitSampler(const CommitSampler&) = delete;
  CommitSampler& operator=(const CommitSampler&) = delete;

  void stop() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
  }
  bool enabled() const { return !samples_.empty(); }
  std::int64_t wakeups() const { return static_cast<std::int64_t>(samples_.size()); }
  // Per seq (1..last), the first sample time at which it was durable; 0 if never seen.
  std::vector<std::int64_t> durable_ns(std::int64_t last) const {
    std::vector<std::int64_t> out(static_cast<std::size_t>(last) + 1, 0);
    std::int64_t seq = 1;
    for (const auto& [durable, at] : samples_) {
      for (; seq <= std::min(durable, last); ++seq) out[static_cast<std::size_t>(seq)] = at;
    }
    return out;
  }

 private:
  void run() {
    std::int64_t last = journal_.durable_seq();
    samples_.reserve(1 << 16);
    while (!stop_.load(std::memory_order_relaxed)) {
      const std::int64_t now = journal_.wait_for_commit(last, SteadyClock::now() + std::chrono::milliseconds(20));
      if (now <= last) continue;
      samples_.emplace_back(now, steady_ns());
      last = now;
    }
  }

  hugo::Journal& journal_;
  std::atomic<bool> stop_{false};
  std::vector<std::pair<std::int64_t, std::int64_t>> samples_;
  std::thread thread_;
};

struct LatencyResult {
  hugo::Durability durability = hugo::Durability::Process;
  bool cross_process = false;
  std::int64_t events = 0;
  double produce_s = 0;
  double lateness_p99_us = 0;
  std::int64_t sink_batches = 0;
  double process_p50_us = 0, process_p99_us = 0;  // the sink's process() (its transaction)
  hugo_bench::Summary total_us;    // append -> sink commit
  hugo_bench::Summary receive_us;  // append -> batch received by process()
  hugo_bench::Summary durable_us;  // append -> durable in the journal (CommitSampler; count 0 if off)
  std::int64_t journal_commits = 0;
  double rate() const { return produce_s > 0 ? static_cast<double>(events) / produce_s : 0; }
};

// The timed part of a latency run: r.events paced appends (produce()), the sampler, when on,
// watching the commits. Sets r.produce_s and r.lateness_p99_us; returns the append times by seq.
std::vector<std::int64_t> timed_produce(hugo::Journal& journal, CommitSampler& sampler, LatencyResult& r) {
  const auto start = SteadyClock::now();
  std::vector<std::int64_t> append_ns = produce(journal, r.events, &r.lateness_p99_us);
  r.produce_s = hugo_bench::seconds_since(start);
  sampler.stop();  // produce() flushed: every seq is durable
  return append_ns;
}

void summarize_latency(LatencyResult& r, const std::vector<std::int64_t>& append_ns,
                       const std::vector<std::int64_t>& received_ns, const std::vector<std::int64_t>& committed_ns,
                       const CommitSampler& sampler) {
  if (sampler.enabled()) {
    const std::vector<std::int64_t> durable_ns = sampler.durable_ns(r.events);
    std::vector<double> durable;
    durable.reserve(static_cast<std::size_t>(r.events));
    for (std::int64_t seq = 1; seq <= r.events; ++seq) {
      const auto i = static_cast<std::size_t>(seq);
      if (durable_ns[i] != 0) durable.push_back(static_cast<double>(durable_ns[i] - append_ns[i]) / 1e3);
    }
    r.durable_us = hugo_bench::summarize(durable);
    r.journal_commits = sampler.wakeups();
  }
  std::vector<double> total, receive;
  total.reserve(static_cast<std::size_t>(r.events));
  receive.reserve(static_cast<std::size_t>(r.events));
  for (std::int64_t seq = 1; seq <= r.events; ++seq) {
    const auto i = static_cast<std::size_t>(seq);
    if (committed_ns[i] == 0 || received_ns[i] == 0) {
      hugo_bench::fail(kProgram, "seq " + std::to_string(seq) + " was never committed by the sink");
    }
    total.push_back(static_cast<double>(committed_ns[i] - append_ns[i]) / 1e3);
    receive.push_back(static_cast<double>(received_ns[i] - append_ns[i]) / 1e3);
  }
  r.total_us = hugo_bench::summarize(total);
  r.receive_us = hugo_bench::summarize(receive);
}

LatencyResult run_in_process(hugo::Durability durability, std::int64_t events, bool sample) {
  const hugo_bench::TempDir dir = hugo_bench::scratch_dir(kProgram, "hugo-bench-tail");
  std::shared_ptr<hugo::Journal> journal = hugo_bench::open_journal(kProgram, dir / "journal.db", durability);

  auto db = open_sink_db(dir / "sink.db", durability);
  BenchSink sink(db, sink_options());
  if (auto position = sink.resume_position(journal->journal_id()); !position.ok()) {  // creates the tables
    hugo_bench::fail(kProgram, "sink: " + position.error().to_string());
  }
  auto source = hugo::TaskQueueReplicationSource::attach(journal, 0);
  if (!source.ok()) hugo_bench::fail(kProgram, "TaskQueueReplicationSource::attach: " + source.error().to_string());
  std::stop_source stop;
  TimedSink timed(sink, events, stop);
  std::thread consumer([&] { drive_sink(**source, timed, stop, std::chrono::seconds(60)); });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // the sink is waiting in next()

  LatencyResult r;
  r.durability = durability;
  r.events = events;
  CommitSampler sampler(*journal, sample);
  const std::vector<std::int64_t> append_ns = timed_produce(*journal, sampler, r);
  consumer.join();
  r.sink_batches = timed.batches();
  r.process_p50_us = timed.process_summary().p50;
  r.process_p99_us = timed.process_summary().p99;
  summarize_latency(r, append_ns, timed.received_ns(), timed.committed_ns(), sampler);
  if (applied_rows(*db) != events) hugo_bench::fail(kProgram, "the sink table does not hold seqs 1..N exactly");
  source->reset();
  hugo_bench::close_journal(kProgram, *journal);
  return r;
}

// `tail_latency --child-sink JOURNAL SINK_DB LAST_SEQ OUT_FILE fsync|process`: the cross-process
// sink.
int child_sink(const char* journal_path, const char* sink_path, const char* last, const char* out_path,
               const char* durability) {
  const std::int64_t last_seq = std::strtoll(last, nullptr, 10);
  auto db = open_sink_db(sink_path, std::strcmp(durability, "fsync") == 0 ? hugo::Durability::Fsync
                                                                          : hugo::Durability::Process);
  BenchSink sink(db, sink_options());
  auto source = hugo::TaskQueueReplicationSource::open(journal_path, 0);
  if (!source.ok()) hugo_bench::fail(kProgram, "TaskQueueReplicationSource::open: " + source.error().to_string());
  if (auto position = sink.resume_position((*source)->journal_id()); !position.ok()) {
    hugo_bench::fail(kProgram, "sink: " + position.error().to_string());
  }
  std::stop_source stop;
  TimedSink timed(sink, last_seq, stop);
  std::printf("ready\n");
  std::fflush(stdout);
  drive_sink(**source, timed, stop, std::chrono::seconds(60));
  if (applied_rows(*db) != last_seq) hugo_bench::fail(kProgram, "child: the sink table does not hold seqs 1..N exactly");
  std::ofstream out(out_path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(timed.received_ns().data()),
            static_cast<std::streamsize>(timed.received_ns().size() * sizeof(std::int64_t)));
  out.write(reinterpret_cast<const char*>(timed.committed_ns().data()),
            static_cast<std::streamsize>(timed.committed_ns().size() * sizeof(std::int64_t)));
  out.close();
  if (!out) hugo_bench::fail(kProgram, std::string("child: could not write ") + out_path);
  const hugo_bench::Summary process = timed.process_summary();
  std::printf("done batches=%lld process_p50_us=%.1f process_p99_us=%.1f\n", static_cast<long long>(timed.batches()),
              process.p50, process.p99);
  std::fflush(stdout);
  return 0;
}

LatencyResult run_cross_process(hugo::Durability durability, std::int64_t events, bool sample) {
  const hugo_bench::TempDir dir = hugo_bench::scratch_dir(kProgram, "hugo-bench-tail-x");
  const std::filesystem::path journal_path = dir / "journal.db";
  std::unique_ptr<hugo::Journal> journal = hugo_bench::open_journal(kProgram, journal_path, durability);
  const std::filesystem::path out_path = dir / "times.bin";

  hugo_bench::Child child = hugo_bench::spawn_self(
      kProgram, {"--child-sink", journal_path.string(), (dir / "sink.db").string(), std::to_string(events),
                 out_path.string(), durability == hugo::Durability::Fsync ? "fsync" : "process"});
  if (hugo_bench::read_line(child) != "ready") {
    hugo_bench::fail(kProgram, "the sink child did not start (status " + std::to_string(hugo_bench::wait_child(child)) + ")");
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // the child is polling in next()

  LatencyResult r;
  r.durability = durability;
  r.cross_process = true;
  r.events = events;
  CommitSampler sampler(*journal, sample);
  const std::vector<std::int64_t> append_ns = timed_produce(*journal, sampler, r);
  const std::string done = hugo_bench::read_line(child);
  const int status = hugo_bench::wait_child(child);
  if (status != 0 || done.rfind("done", 0) != 0) {
    hugo_bench::fail(kProgram, "the sink child failed (status " + std::to_string(status) + ")");
  }
  r.sink_batches = static_cast<std::int64_t>(hugo_bench::field(done, "batches", 0));
  r.process_p50_us = hugo_bench::field(done, "process_p50_us", 0);
  r.process_p99_us = hugo_bench::field(done, "process_p99_us", 0);
  std::vector<std::int64_t> received(static_cast<std::size_t>(events) + 1), committed(static_cast<std::size_t>(events) + 1);
  std::ifstream in(out_path, std::ios::binary);
  in.read(reinterpret_cast<char*>(received.data()), static_cast<std::streamsize>(received.size() * sizeof(std::int64_t)));
  in.read(reinterpret_cast<char*>(committed.data()), static_cast<std::streamsize>(committed.size() * sizeof(std::int64_t)));
  if (!in) hugo_bench::fail(kProgram, "could not read the child's times");
  summarize_latency(r, append_ns, received, committed, sampler);
  hugo_bench::close_journal(kProgram, *journal);
  return r;
}

// ---- catch-up ----------------------------------------------------------------------------------

void write_history(const std::filesystem::path& path, std::int64_t events) {
  const std::string payload = hugo_bench::alphabet_payload(kPayloadBytes);
  hugo_bench::write_history(kProgram, path, events,
                            [&](std::int64_t seq, hugo::Timestamp at) { return cycle_event(seq, payload, at); });
}

struct CatchUp {
  double seconds = 0;
  std::int64_t batches = 0;
};

CatchUp run_catch_up(const std::filesystem::path& journal_path, const std::filesystem::path& sink_path,
                     std::int64_t events) {
  CatchUp c;
  const auto start = SteadyClock::now();
  auto db = open_sink_db(sink_path, hugo::Durability::Fsync);
  BenchSink sink(db, sink_options());
  auto source = hugo::TaskQueueReplicationSource::open(journal_path, 0);
  if (!source.ok()) hugo_bench::fail(kProgram, "TaskQueueReplicationSource::open: " + source.error().to_string());
  while ((*source)->position() < events) {
    auto batch = (*source)->next(512);
    if (!batch.ok()) hugo_bench::fail(kProgram, "next: " + batch.error().to_string());
    if (batch->empty()) hugo_bench::fail(kProgram, "the source ran dry before the last seq");
    if (const hugo::Status processed = sink.process(*batch); !processed.ok()) {
      hugo_bench::fail(kProgram, "process: " + processed.error().to_string());
    }
    ++c.batches;
  }
  c.seconds = hugo_bench::seconds_since(start);
  if (applied_rows(*db) != events) hugo_bench::fail(kProgram, "catch-up: the sink table does not hold seqs 1..N exactly");
  return c;
}

// ---- context: what one small synchronous=FULL commit costs right now ----------------------------

// The sink's database is synchronous=FULL, so every sink transaction pays one WAL fsync. This probe
// commits one tiny row per transaction into a fresh WAL database for `seconds`, and reports the
// commit latency: the floor under every sink commit in the run next to it.
hugo_bench::Summary fsync_probe(double seconds) {
  const hugo_bench::TempDir dir = hugo_bench::scratch_dir(kProgram, "hugo-bench-probe");
  hugo_bench::RawDb raw(kProgram, (dir / "probe.db").string(), SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  raw.configure_like_journal(true);
  raw.exec("CREATE TABLE t (seq INTEGER PRIMARY KEY, kind INTEGER NOT NULL, task INTEGER NOT NULL)");
  sqlite3_stmt* begin = raw.prepare("BEGIN IMMEDIATE");
  sqlite3_stmt* insert = raw.prepare("INSERT INTO t (kind, task) VALUES (1, 2)");
  sqlite3_stmt* commit = raw.prepare("COMMIT");
  std::vector<double> us;
  const auto start = SteadyClock::now();
  while (hugo_bench::seconds_since(start) < seconds) {
    const auto t0 = SteadyClock::now();
    raw.step_done(begin, "BEGIN");
    raw.step_done(insert, "INSERT");
    raw.step_done(commit, "COMMIT");
    us.push_back(hugo_bench::micros_between(t0, SteadyClock::now()));
  }
  return hugo_bench::summarize(us);
}

// ---- output ------------------------------------------------------------------------------------

std::string latency_line(int round, const LatencyResult& r) {
  char line[1024];
  std::snprintf(line, sizeof line,
                "round=%d %s durability=%-7s events=%lld rate=%.0f events/s (slot lateness p99 %.0f us) sink_batches=%lld "
                "(%.1f events/batch) append->commit_us: %s | append->received_us: p50=%.1f p99=%.1f | sink process()_us: "
                "p50=%.1f p99=%.1f",
                round, r.cross_process ? "cross-process" : "in-process   ", durability_name(r.durability),
                static_cast<long long>(r.events), r.rate(), r.lateness_p99_us, static_cast<long long>(r.sink_batches),
                r.sink_batches > 0 ? static_cast<double>(r.events) / static_cast<double>(r.sink_batches) : 0.0,
                hugo_bench::format_summary(r.total_us, "").c_str(), r.receive_us.p50, r.receive_us.p99, r.process_p50_us,
                r.process_p99_us);
  std::string text = line;
  if (r.journal_commits > 0) {
    std::snprintf(line, sizeof line, " | append->durable_us: p50=%.1f p99=%.1f (journal commits~%lld, %.1f rows/commit)",
                  r.durable_us.p50, r.durable_us.p99, static_cast<long long>(r.journal_commits),
                  static_cast<double>(r.events) / static_cast<double>(r.journal_commits));
    text += line;
  }
  return text;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 7 && std::strcmp(argv[1], "--child-sink") == 0) {
    return child_sink(argv[2], argv[3], argv[4], argv[5], argv[6]);
  }

  double seconds = 2.0;
  double rounds_option = 3;
  double catchup_option = 200'000;
  double fsync_option = 1;
  double sampler_option = 0;
  hugo_bench::parse_options(argc, argv,
                            {{"--seconds", "HUGO_BENCH_SECONDS", &seconds, 0.05, 60},
                             {"--rounds", "HUGO_BENCH_ROUNDS", &rounds_option, 1, 100},
                             {"--catchup-events", nullptr, &catchup_option, 1000, 1e8},
                             {"--fsync", nullptr, &fsync_option, 0, 1},
                             {"--sampler", nullptr, &sampler_option, 0, 1}});
  const bool sample = sampler_option != 0;
  const int rounds = static_cast<int>(rounds_option);
  const auto events = static_cast<std::int64_t>(seconds * 1e6 / static_cast<double>(kInterval.count()));
  const auto catchup_events = static_cast<std::int64_t>(catchup_option);
  char line[1024];
  std::snprintf(line, sizeof line,
                "tail_latency: sqlite %s, one event per %lld us for %.2f s (%lld events) per case, %d rounds, "
                "%zu-byte payloads; catch-up over %lld events",
                sqlite3_libversion(), static_cast<long long>(kInterval.count()), seconds,
                static_cast<long long>(events), rounds, kPayloadBytes, static_cast<long long>(catchup_events));
  hugo_bench::print_line(line);

  // (durability is Fsync, cross-process) -> per-round p50 / p99 in ms
  std::map<std::pair<bool, bool>, std::vector<double>> p50_ms, p99_ms;
  std::vector<hugo::Durability> durabilities{hugo::Durability::Process};
  if (fsync_option != 0) durabilities.push_back(hugo::Durability::Fsync);
  std::vector<double> probe_p50, probe_p99;
  auto run_probe = [&](int round) {
    hugo_bench::Summary probe = fsync_probe(0.3);
    probe_p50.push_back(probe.p50 / 1e3);
    probe_p99.push_back(probe.p99 / 1e3);
    hugo_bench::print_line("round=" + std::to_string(round) + " fsync probe (one-row FULL commits, " +
                           std::to_string(probe.count) + " in 0.3 s) commit_us: " +
                           hugo_bench::format_summary(probe, ""));
  };
  for (int round = 1; round <= rounds; ++round) {
    run_probe(round);
    for (const hugo::Durability durability : durabilities) {
      const bool fsync = durability == hugo::Durability::Fsync;
      for (int k = 0; k < 2; ++k) {
        const bool cross = (k == 0) == (round % 2 == 0);
        const LatencyResult r = cross ? run_cross_process(durability, events, sample)
                                       : run_in_process(durability, events, sample);
        p50_ms[{fsync, cross}].push_back(r.total_us.p50 / 1e3);
        p99_ms[{fsync, cross}].push_back(r.total_us.p99 / 1e3);
        hugo_bench::print_line(latency_line(round, r));
      }
    }
  }

  // Catch-up against a raw scan.
  const hugo_bench::TempDir dir = hugo_bench::scratch_dir(kProgram, "hugo-bench-catchup");
  const std::filesystem::path history = dir / "journal.db";
  write_history(history, catchup_events);
  std::vector<double> sink_rates, scan_rates;
  for (int round = 1; round <= rounds; ++round) {
    auto run_sink_case = [&] {
      const std::filesystem::path sink_path = dir / ("sink-" + std::to_string(round) + ".db");
      const CatchUp c = run_catch_up(history, sink_path, catchup_events);
      sink_rates.push_back(static_cast<double>(catchup_events) / c.seconds);
      std::snprintf(line, sizeof line, "round=%d catch-up sink events=%lld secs=%.3f rate=%.0f events/s batches=%lld",
                    round, static_cast<long long>(catchup_events), c.seconds, sink_rates.back(),
                    static_cast<long long>(c.batches));
      hugo_bench::print_line(line);
    };
    auto run_scan_case = [&] {
      const hugo_bench::RawScan s = hugo_bench::raw_scan(kProgram, history.string(), hugo_bench::kJournalFullScan);
      if (s.rows != catchup_events) hugo_bench::fail(kProgram, "raw scan saw an unexpected row count");
      scan_rates.push_back(static_cast<double>(s.rows) / s.seconds);
      std::snprintf(line, sizeof line, "round=%d catch-up raw_scan rows=%lld secs=%.3f rate=%.0f rows/s", round,
                    static_cast<long long>(s.rows), s.seconds, scan_rates.back());
      hugo_bench::print_line(line);
    };
    if (round % 2 == 1) {
      run_sink_case();
      run_scan_case();
    } else {
      run_scan_case();
      run_sink_case();
    }
  }

  for (const hugo::Durability durability : durabilities) {
    const bool fsync = durability == hugo::Durability::Fsync;
    for (const bool cross : {false, true}) {
      std::snprintf(line, sizeof line, "summary %s durability=%-7s p50_ms median=%.3f [%s] p99_ms median=%.3f [%s]",
                    cross ? "cross-process" : "in-process   ", durability_name(durability),
                    hugo_bench::median(p50_ms[{fsync, cross}]), join_values(p50_ms[{fsync, cross}], "%.3f").c_str(),
                    hugo_bench::median(p99_ms[{fsync, cross}]), join_values(p99_ms[{fsync, cross}], "%.3f").c_str());
      hugo_bench::print_line(line);
    }
  }
  std::snprintf(line, sizeof line, "summary fsync probe commit p50_ms median=%.3f [%s] p99_ms median=%.3f [%s]",
                hugo_bench::median(probe_p50), join_values(probe_p50, "%.3f").c_str(), hugo_bench::median(probe_p99),
                join_values(probe_p99, "%.3f").c_str());
  hugo_bench::print_line(line);
  std::snprintf(line, sizeof line, "summary catch-up sink median=%.0f events/s [%s] | raw scan median=%.0f rows/s [%s]",
                hugo_bench::median(sink_rates), join_values(sink_rates, "%.0f").c_str(), hugo_bench::median(scan_rates),
                join_values(scan_rates, "%.0f").c_str());
  hugo_bench::print_line(line);

  auto latency_result = [&](const std::string& name, bool fsync, bool cross, bool p99) {
    const double value = hugo_bench::median(p99 ? p99_ms[{fsync, cross}] : p50_ms[{fsync, cross}]);
    const double goal = cross ? kGoalCrossProcessMs : kGoalInProcessMs;
    hugo_bench::print_result_ratio(name, value, "ms", goal, value > 0 ? goal / value : 0, 3);
  };
  hugo_bench::print_result("tail_latency_catchup", hugo_bench::median(sink_rates), "events/s",
                           hugo_bench::median(scan_rates));
  if (fsync_option != 0) {
    latency_result("tail_latency_fsync_inprocess_p50", true, false, false);
    latency_result("tail_latency_fsync_inprocess_p99", true, false, true);
    latency_result("tail_latency_fsync_crossprocess_p50", true, true, false);
    latency_result("tail_latency_fsync_crossprocess_p99", true, true, true);
  }
  latency_result("tail_latency_crossprocess_p50", false, true, false);
  latency_result("tail_latency_crossprocess_p99", false, true, true);
  latency_result("tail_latency_inprocess_p50", false, false, false);
  latency_result("tail_latency_inprocess_p99", false, false, true);
  return 0;
}

// bench/follow: a follower over real loopback HTTP (hugo::ReplicationServer -> hugo::HttpFollower):
// how fast it catches up on a written journal, and how far it lags behind a live owner.
//
// Catch-up. A journal of --events rows (default 1,000,000; task lifecycles Enqueued (32-byte JSON
// payload) -> LeaseGranted -> Completed on 4 queues) is written with append_group_async and closed.
// A ReplicationServer serves it on 127.0.0.1 (port 0) from this process. Per round, in alternating
// order:
//   - follower: HttpFollower::open on a fresh replica file + catch_up() (one GET /v1/events from
//     seq 0 to the owner's last seq), timed from open to return. Checked: the returned seq, the
//     replica's row count and its position, and that every round ends on the same rolling hash;
//   - ceiling: a raw SQLite read-only scan of every column of every row of the same journal.
// Figure: events/s against raw scan rows/s (medians over rounds).
// A split (--split 1, the default) times the stages of the pipeline one after the other on one
// thread, batch by batch as the server reads them: JournalReader::read (the server's read),
// encode_event_json + chain_hash (the server's encode), decode_event_json (the follower's parse),
// and a raw SQLite insert of the same rows at the same batch size (the follower's write, without
// its checks), so the catch-up time can be set against the sum of its parts.
//
// Live lag. A fresh owner journal (Durability::Process, default JournalOptions). A producer thread
// appends one event every 100 us (10k events/s: sleep_until each slot, 1 us timer slack, then
// Journal::append_async) for --seconds; an acker thread waits for each ticket in seq order and
// stamps when it resolved (when a blocking append() would have returned). Two cases per round, in
// alternating order:
//   - http: a ReplicationServer with `live` = the owner (subscribers wake on its commits) and an
//     HttpFollower::run() on its own thread; on_applied stamps, per seq, when the replica
//     transaction holding it committed;
//   - direct (the ceiling): the same replication work without HTTP, JSON or the follower's checks:
//     a thread woken by Journal::wait_for_commit reads the new rows with Journal::read and inserts
//     them, with a position row, into a raw SQLite copy of the journal's tables (WAL,
//     synchronous=NORMAL, like a replica), one transaction per wake-up, and stamps its commit.
// One warm-up event is appended and replicated before the paced events, so a case starts with its
// connection open. Lag = replica commit time - ack time, per event; also reported from just before
// append_async. Every seq must be committed exactly once (row counts checked), else exit 1.
//
// Usage: follow [--events N] [--rounds R] [--seconds S] [--split 0|1]
//        (or $HUGO_BENCH_ROUNDS, $HUGO_BENCH_SECONDS)
// The last line is `RESULT name=follow_lag_p99 value=<ms> unit=ms ceiling=<direct p99 ms>
// ratio=<ceiling/value>`. Goals (issue 6): catch-up >= 300k events/s, lag p99 <= 20 ms.
#include "bench/support/journal.hpp"
#include "bench/support/live_lag.hpp"
#include "bench/support/paced.hpp"
#include "bench/support/raw_replica.hpp"
#include "bench/support/raw_sqlite.hpp"
#include "bench/support/report.hpp"
#include "bench/support/stats.hpp"

#include <hugo/event_json.hpp>
#include <hugo/journal.hpp>
#include <hugo/peers.hpp>

#include <sqlite3.h>
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

using hugo_bench::Acker;
using hugo_bench::Applied;
using hugo_bench::join_values;
using hugo_bench::SteadyClock;

constexpr const char* kProgram = "follow";
constexpr auto kInterval = std::chrono::microseconds(100);  // 10k events/s
constexpr double kGoalCatchUp = 300'000;                     // events/s
constexpr double kGoalLagMs = 20.0;
constexpr std::size_t kServerBatch = 2048;  // ReplicationServerOptions::batch's default
constexpr const char* kQueues[] = {"orders", "emails", "billing", "reports"};

using hugo_bench::steady_ns;

// Row `seq` of a history of task lifecycles whose first Enqueued row is `first`: Enqueued with a
// 32-byte JSON payload, LeaseGranted, Completed, one task per three rows.
hugo::Event lifecycle_event(std::int64_t seq, std::int64_t first, hugo::Timestamp at) {
  hugo::Event e = hugo_bench::lifecycle_event(seq, first, at, kQueues, 8);
  if (e.kind == hugo::EventKind::Enqueued) {  // the task is this row's seq
    std::string payload = "{\"order\":" + std::to_string(seq) + ",\"sku\":\"";
    payload.append(30 - payload.size(), 'x');
    e.payload = payload + "\"}";
    e.payload_format = hugo::PayloadFormat::Json;
  }
  return e;
}

std::unique_ptr<hugo::Journal> open_owner(const std::filesystem::path& path) {
  return hugo_bench::open_journal(kProgram, path, hugo::Durability::Process);
}

std::unique_ptr<hugo::ReplicationServer> serve(const std::filesystem::path& journal, const hugo::Journal* live) {
  hugo::ReplicationServerOptions options;
  options.journal = journal;
  options.live = live;
  options.port = 0;
  auto server = hugo::ReplicationServer::start(options);
  if (!server.ok()) hugo_bench::fail(kProgram, "ReplicationServer::start: " + server.error().to_string());
  return std::move(server).value();
}

std::unique_ptr<hugo::HttpFollower> open_follower(const std::string& url, const std::filesystem::path& replica) {
  hugo::FollowerOptions options;
  options.url = url;
  options.replica = replica;
  auto follower = hugo::HttpFollower::open(options);
  if (!follower.ok()) hugo_bench::fail(kProgram, "HttpFollower::open: " + follower.error().to_string());
  return std::move(follower).value();
}

std::int64_t count_rows(const std::filesystem::path& path) {
  hugo_bench::RawDb db(kProgram, path.string(), SQLITE_OPEN_READONLY);
  return db.query_int("SELECT count(*) FROM events");
}

// ---- catch-up ----------------------------------------------------------------------------------

void write_history(const std::filesystem::path& path, std::int64_t events) {
  hugo_bench::write_history(kProgram, path, events,
                            [](std::int64_t seq, hugo::Timestamp at) { return lifecycle_event(seq, 1, at); });
}

// CPU seconds (user + system) of this process or of the calling thread.
double cpu_seconds(int who) {
  rusage usage{};
  ::getrusage(who, &usage);
  auto secs = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return secs(usage.ru_utime) + secs(usage.ru_stime);
}

// Seconds the calling thread waited on a run queue (runnable, but the CPUs were busy with other
// work), from /proc/thread-self/schedstat (ns on CPU, ns waiting on a run queue, time slices);
// 0 if the kernel does not say.
double runqueue_wait_seconds() {
  FILE* f = std::fopen("/proc/thread-self/schedstat", "r");
  if (f == nullptr) return 0;
  unsigned long long on_cpu = 0, waiting = 0;
  const int read = std::fscanf(f, "%llu %llu", &on_cpu, &waiting);
  std::fclose(f);
  return read == 2 ? static_cast<double>(waiting) / 1e9 : 0;
}

struct CatchUp {
  double seconds = 0;
  double follower_queued_s = 0;  // the calling thread, runnable but not running
  double follower_cpu_s = 0;  // the calling thread: HTTP client, parse, checks, replica commits
  double process_cpu_s = 0;   // every thread; minus the follower's, that is the server's
  std::uint64_t hash = 0;
};

CatchUp follow_once(const std::string& url, const std::filesystem::path& replica, std::int64_t events) {
  CatchUp c;
  const double thread_cpu = cpu_seconds(RUSAGE_THREAD);
  const double process_cpu = cpu_seconds(RUSAGE_SELF);
  const double queued = runqueue_wait_seconds();
  const auto start = SteadyClock::now();
  {
    auto follower = open_follower(url, replica);
    auto applied = follower->catch_up();
    if (!applied.ok()) hugo_bench::fail(kProgram, "catch_up: " + applied.error().to_string());
    if (*applied != events || follower->position().seq != events) {
      hugo_bench::fail(kProgram, "catch_up stopped at seq " + std::to_string(*applied));
    }
    c.hash = follower->position().hash;
  }  // closes the replica: part of the work
  c.seconds = hugo_bench::seconds_since(start);
  c.follower_cpu_s = cpu_seconds(RUSAGE_THREAD) - thread_cpu;
  c.process_cpu_s = cpu_seconds(RUSAGE_SELF) - process_cpu;
  c.follower_queued_s = runqueue_wait_seconds() - queued;
  if (count_rows(replica) != events) hugo_bench::fail(kProgram, "the replica does not hold every row");
  return c;
}

// The ceiling: a raw read-only scan of every column of every row. Returns rows/s.
double scan_once(int round, const std::filesystem::path& history, std::int64_t events) {
  const hugo_bench::RawScan s = hugo_bench::raw_scan(kProgram, history.string(), hugo_bench::kJournalFullScan);
  if (s.rows != events) hugo_bench::fail(kProgram, "raw scan saw an unexpected row count");
  const double rate = static_cast<double>(s.rows) / s.seconds;
  char line[256];
  std::snprintf(line, sizeof line, "round=%d catch-up raw_scan rows=%lld secs=%.3f rate=%.0f rows/s", round,
                static_cast<long long>(s.rows), s.seconds, rate);
  hugo_bench::print_line(line);
  return rate;
}

// The pipeline's stages one after the other on this thread, in the server's batches: seconds spent
// in each, summed over the journal.
struct Split {
  double read_s = 0, encode_s = 0, decode_s = 0, insert_s = 0;
  double bytes = 0;  // NDJSON bytes the server would send (event lines + '\n')
};

Split split_stages(const std::filesystem::path& journal, const std::filesystem::path& scratch, std::int64_t events) {
  Split s;
  auto reader = hugo::JournalReader::open(journal);
  if (!reader.ok()) hugo_bench::fail(kProgram, "JournalReader::open: " + reader.error().to_string());
  hugo_bench::RawReplica raw(kProgram, scratch);
  std::int64_t position = 0;
  std::uint64_t hash = hugo::kEmptyHistoryHash;
  std::string text;
  std::vector<std::size_t> ends;
  std::vector<hugo::Event> decoded;
  while (position < events) {
    auto t = SteadyClock::now();
    auto batch = (*reader)->read(position, kServerBatch);
    if (!batch.ok() || batch->empty()) hugo_bench::fail(kProgram, "JournalReader::read failed or ran dry");
    s.read_s += hugo_bench::seconds_since(t);

    t = SteadyClock::now();
    text.clear();
    ends.clear();
    for (const hugo::Event& e : *batch) {
      const std::size_t begin = text.size();
      hugo::encode_event_json(e, text);
      hash = hugo::chain_hash(hash, std::string_view(text).substr(begin));
      text += '\n';
      ends.push_back(text.size());
    }
    s.encode_s += hugo_bench::seconds_since(t);
    s.bytes += static_cast<double>(text.size());

    t = SteadyClock::now();
    decoded.clear();
    std::size_t begin = 0;
    for (const std::size_t end : ends) {
      auto e = hugo::decode_event_json(std::string_view(text).substr(begin, end - 1 - begin));
      if (!e.ok()) hugo_bench::fail(kProgram, "decode_event_json: " + e.error().to_string());
      decoded.push_back(std::move(e).value());
      begin = end;
    }
    s.decode_s += hugo_bench::seconds_since(t);

    t = SteadyClock::now();
    raw.apply(decoded);
    s.insert_s += hugo_bench::seconds_since(t);
    position = batch->back().seq;
  }
  if (raw.rows() != events) hugo_bench::fail(kProgram, "split: the raw copy does not hold every row");
  return s;
}

// ---- live lag ----------------------------------------------------------------------------------

struct LagResult {
  bool http = false;
  std::int64_t events = 0;
  double produce_s = 0;
  double lateness_p99_us = 0;
  std::int64_t commits = 0;        // replica transactions holding paced events
  std::int64_t negative = 0;       // events committed by the replica before the acker woke
  hugo_bench::Summary from_ack_ms;
  hugo_bench::Summary from_append_ms;
  double rate() const { return produce_s > 0 ? static_cast<double>(events) / produce_s : 0; }
};

// The paced producer: seqs 2 .. count + 1 (seq 1 is the warm-up), one per kInterval, each ticket
// handed to the acker. Returns the steady time (ns) just before each append_async, indexed by seq.
std::vector<std::int64_t> produce(hugo::Journal& journal, std::int64_t count, Acker& acker, double* lateness_p99_us) {
  const hugo::SystemClock clock;
  hugo_bench::PacedRun run = hugo_bench::paced_appends(
      kProgram, journal, 2, count, kInterval, [&](std::int64_t seq) { return lifecycle_event(seq, 2, clock.now()); },
      [&](hugo::AppendTicket ticket) { acker.push(std::move(ticket)); });
  *lateness_p99_us = run.lateness_p99_us;
  return std::move(run.append_ns);
}

// The replicating side of one case: started before the warm-up event, stopped after the last seq.
class Replicator {
 public:
  virtual ~Replicator() = default;
  virtual void stop() = 0;  // returns once the replicating thread has ended
  virtual std::int64_t replica_rows() = 0;
};

class HttpReplicator final : public Replicator {
 public:
  HttpReplicator(hugo::Journal& owner, const std::filesystem::path& replica, Applied& applied)
      : replica_(replica), server_(serve(owner.path(), &owner)), follower_(open_follower(server_->url(), replica)) {
    follower_->on_applied([&applied](const hugo::ReplicaPosition& p) { applied.committed(p.seq); });
    thread_ = std::thread([this] { status_ = follower_->run(); });
  }
  void stop() override {
    follower_->stop();
    thread_.join();
    if (!status_.ok()) hugo_bench::fail(kProgram, "HttpFollower::run: " + status_.error().to_string());
    follower_.reset();
    server_->stop();
  }
  std::int64_t replica_rows() override {
    auto position = hugo::read_replica_position(replica_);
    if (!position.ok()) hugo_bench::fail(kProgram, "read_replica_position: " + position.error().to_string());
    const std::int64_t rows = count_rows(replica_);
    return position->seq == rows ? rows : -1;
  }

 private:
  std::filesystem::path replica_;
  std::unique_ptr<hugo::ReplicationServer> server_;
  std::unique_ptr<hugo::HttpFollower> follower_;
  std::thread thread_;
  hugo::Status status_ = hugo::ok_status();
};

class DirectReplicator final : public Replicator {
 public:
  DirectReplicator(hugo::Journal& owner, const std::filesystem::path& replica, Applied& applied)
      : raw_(kProgram, replica), thread_([this, &owner, &applied] { run(owner, applied); }) {}
  void stop() override {
    stopping_.store(true);
    thread_.join();
  }
  std::int64_t replica_rows() override { return raw_.rows(); }

 private:
  void run(hugo::Journal& owner, Applied& applied) {
    std::int64_t position = 0;
    while (!stopping_.load()) {
      if (owner.wait_for_commit(position, SteadyClock::now() + std::chrono::milliseconds(20)) <= position) continue;
      auto events = owner.read(position, 4096);
      if (!events.ok()) hugo_bench::fail(kProgram, "Journal::read: " + events.error().to_string());
      if (events->empty()) continue;
      raw_.apply(*events);
      position = events->back().seq;
      applied.committed(position);
    }
  }

  hugo_bench::RawReplica raw_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

LagResult run_lag(bool http, std::int64_t count) {
  const hugo_bench::TempDir dir = hugo_bench::scratch_dir(kProgram, "hugo-bench-follow-lag");
  std::unique_ptr<hugo::Journal> owner = open_owner(dir / "owner.journal");
  const std::int64_t last = count + 1;
  Applied applied(last);
  std::unique_ptr<Replicator> replicator;
  if (http) {
    replicator = std::make_unique<HttpReplicator>(*owner, dir / "replica.journal", applied);
  } else {
    replicator = std::make_unique<DirectReplicator>(*owner, dir / "direct.db", applied);
  }
  // The warm-up event: replicated before the clock starts, so the stream is open.
  if (auto warm = owner->append(lifecycle_event(1, 1, hugo::SystemClock().now())); !warm.ok() || *warm != 1) {
    hugo_bench::fail(kProgram, "the warm-up append failed");
  }
  if (!applied.wait_for(1, std::chrono::seconds(30))) hugo_bench::fail(kProgram, "the warm-up event was never replicated");
  const std::int64_t commits_before = applied.commits();

  LagResult r;
  r.http = http;
  r.events = count;
  std::vector<std::int64_t> append_ns;
  std::vector<std::int64_t> ack_ns;
  {
    Acker acker(kProgram, static_cast<std::size_t>(last) + 1);
    const auto start = SteadyClock::now();
    append_ns = produce(*owner, count, acker, &r.lateness_p99_us);
    r.produce_s = hugo_bench::seconds_since(start);
    acker.finish();
    ack_ns = acker.ack_ns();
  }
  if (!applied.wait_for(last, std::chrono::seconds(60))) hugo_bench::fail(kProgram, "the replica never reached the last seq");
  replicator->stop();
  r.commits = applied.commits() - commits_before;
  if (replicator->replica_rows() != last) hugo_bench::fail(kProgram, "the replica does not hold seqs 1..N exactly");
  hugo_bench::close_journal(kProgram, *owner);

  const hugo_bench::LagSamples samples =
      hugo_bench::lag_samples(kProgram, 2, last, append_ns, ack_ns, applied.committed_ns());
  r.negative = samples.negative;
  r.from_ack_ms = samples.from_ack_ms;
  r.from_append_ms = samples.from_append_ms;
  return r;
}

std::string lag_line(int round, const LagResult& r) {
  char line[768];
  std::snprintf(line, sizeof line,
                "round=%d lag %-6s events=%lld rate=%.0f/s lateness_p99_us=%.0f replica_commits=%lld "
                "(%.1f events each) | ack->replica ms: %s neg=%lld | append->replica ms: %s",
                round, r.http ? "http" : "direct", static_cast<long long>(r.events), r.rate(), r.lateness_p99_us,
                static_cast<long long>(r.commits),
                r.commits > 0 ? static_cast<double>(r.events) / static_cast<double>(r.commits) : 0.0,
                hugo_bench::format_summary(r.from_ack_ms, "").c_str(), static_cast<long long>(r.negative),
                hugo_bench::format_summary(r.from_append_ms, "").c_str());
  return line;
}

}  // namespace

int main(int argc, char** argv) {
  double events_option = 1'000'000;
  double rounds_option = 3;
  double seconds = 3.0;
  double split_option = 1;
  hugo_bench::parse_options(argc, argv,
                            {{"--events", nullptr, &events_option, 1000, 1e8},
                             {"--rounds", "HUGO_BENCH_ROUNDS", &rounds_option, 1, 100},
                             {"--seconds", "HUGO_BENCH_SECONDS", &seconds, 0.05, 60},
                             {"--split", nullptr, &split_option, 0, 1}});
  const auto events = static_cast<std::int64_t>(events_option);
  const int rounds = static_cast<int>(rounds_option);
  const auto paced = static_cast<std::int64_t>(seconds * 1e6 / static_cast<double>(kInterval.count()));
  char line[1024];
  std::snprintf(line, sizeof line,
                "follow: sqlite %s, catch-up over %lld events, live lag at one event per %lld us for %.2f s "
                "(%lld events) per case, %d rounds",
                sqlite3_libversion(), static_cast<long long>(events), static_cast<long long>(kInterval.count()),
                seconds, static_cast<long long>(paced), rounds);
  hugo_bench::print_line(line);

  // ---- catch-up
  const hugo_bench::TempDir dir = hugo_bench::scratch_dir(kProgram, "hugo-bench-follow");
  const std::filesystem::path history = dir / "owner.journal";
  auto start = SteadyClock::now();
  write_history(history, events);
  const double build_s = hugo_bench::seconds_since(start);
  std::error_code ec;
  const auto bytes = std::filesystem::file_size(history, ec);
  std::snprintf(line, sizeof line, "built %lld events in %.2f s (%.0f events/s), %.1f MB", static_cast<long long>(events),
                build_s, static_cast<double>(events) / build_s, static_cast<double>(bytes) / 1e6);
  hugo_bench::print_line(line);
  hugo_bench::raw_scan(kProgram, history.string(), hugo_bench::kJournalFullScan);  // warms the page cache

  auto server = serve(history, nullptr);
  std::vector<double> follow_rates, scan_rates;
  std::uint64_t first_hash = 0;
  for (int round = 1; round <= rounds; ++round) {
    auto follow_case = [&] {
      const std::filesystem::path replica = dir / ("replica-" + std::to_string(round) + ".journal");
      const CatchUp c = follow_once(server->url(), replica, events);
      if (round == 1) first_hash = c.hash;
      if (c.hash != first_hash) hugo_bench::fail(kProgram, "two catch-ups of one journal ended on different hashes");
      follow_rates.push_back(static_cast<double>(events) / c.seconds);
      const double n = static_cast<double>(events);
      std::snprintf(line, sizeof line,
                    "round=%d catch-up http follower events=%lld secs=%.3f rate=%.0f events/s hash=%s | cpu: "
                    "follower thread %.3f s (%.2f us/event; it also waited %.3f s for a CPU and slept %.3f s), "
                    "server %.3f s (%.2f us/event), busy %.0f%% of the wall time",
                    round, static_cast<long long>(events), c.seconds, follow_rates.back(),
                    hugo::format_hash(c.hash).c_str(), c.follower_cpu_s, c.follower_cpu_s / n * 1e6,
                    c.follower_queued_s, c.seconds - c.follower_cpu_s - c.follower_queued_s,
                    c.process_cpu_s - c.follower_cpu_s, (c.process_cpu_s - c.follower_cpu_s) / n * 1e6,
                    100.0 * c.process_cpu_s / c.seconds);
      hugo_bench::print_line(line);
      std::filesystem::remove(replica, ec);
      std::filesystem::remove(replica.string() + "-wal", ec);
      std::filesystem::remove(replica.string() + "-shm", ec);
    };
    auto scan_case = [&] { scan_rates.push_back(scan_once(round, history, events)); };
    // Odd rounds follow first, even rounds scan first.
    const std::function<void()> cases[2] = {follow_case, scan_case};
    for (int k = 0; k < 2; ++k) cases[(k + round + 1) % 2]();
  }
  server->stop();
  server.reset();

  if (split_option != 0) {
    const Split s = split_stages(history, dir / "split.db", events);
    const double n = static_cast<double>(events);
    std::snprintf(line, sizeof line,
                  "split (one thread, batches of %zu): read %.3f s (%.2f us/event) | encode+hash %.3f s (%.2f us) | "
                  "decode_event_json %.3f s (%.2f us) | raw insert %.3f s (%.2f us) | sum %.3f s | %.0f NDJSON bytes/event",
                  kServerBatch, s.read_s, s.read_s / n * 1e6, s.encode_s, s.encode_s / n * 1e6, s.decode_s,
                  s.decode_s / n * 1e6, s.insert_s, s.insert_s / n * 1e6,
                  s.read_s + s.encode_s + s.decode_s + s.insert_s, s.bytes / n);
    hugo_bench::print_line(line);
  }

  // ---- live lag
  std::vector<double> http_p50, http_p99, direct_p50, direct_p99, http_append_p99;
  for (int round = 1; round <= rounds; ++round) {
    for (int k = 0; k < 2; ++k) {
      const bool http = (k == 0) == (round % 2 == 1);
      const LagResult r = run_lag(http, paced);
      (http ? http_p50 : direct_p50).push_back(r.from_ack_ms.p50);
      (http ? http_p99 : direct_p99).push_back(r.from_ack_ms.p99);
      if (http) http_append_p99.push_back(r.from_append_ms.p99);
      hugo_bench::print_line(lag_line(round, r));
    }
  }

  const double follow_rate = hugo_bench::median(follow_rates);
  const double scan_rate = hugo_bench::median(scan_rates);
  std::snprintf(line, sizeof line,
                "summary catch-up http follower median=%.0f events/s [%s] (goal %.0f: %s) | raw scan median=%.0f "
                "rows/s [%s]",
                follow_rate, join_values(follow_rates, "%.0f").c_str(), kGoalCatchUp,
                follow_rate >= kGoalCatchUp ? "met" : "missed", scan_rate, join_values(scan_rates, "%.0f").c_str());
  hugo_bench::print_line(line);
  const double lag_p99 = hugo_bench::median(http_p99);
  const double direct = hugo_bench::median(direct_p99);
  std::snprintf(line, sizeof line,
                "summary lag ack->replica http p50 median=%.3f ms [%s] p99 median=%.3f ms [%s] (goal %.0f: %s) | "
                "direct p50 median=%.3f ms [%s] p99 median=%.3f ms [%s] | http append->replica p99 median=%.3f ms [%s]",
                hugo_bench::median(http_p50), join_values(http_p50, "%.3f").c_str(), lag_p99,
                join_values(http_p99, "%.3f").c_str(), kGoalLagMs, lag_p99 <= kGoalLagMs ? "met" : "missed",
                hugo_bench::median(direct_p50), join_values(direct_p50, "%.3f").c_str(), direct,
                join_values(direct_p99, "%.3f").c_str(), hugo_bench::median(http_append_p99),
                join_values(http_append_p99, "%.3f").c_str());
  hugo_bench::print_line(line);

  hugo_bench::print_result("follow_catchup", follow_rate, "events/s", scan_rate);
  const double p50 = hugo_bench::median(http_p50);
  const double direct_p50_median = hugo_bench::median(direct_p50);
  hugo_bench::print_result_ratio("follow_lag_p50", p50, "ms", direct_p50_median, p50 > 0 ? direct_p50_median / p50 : 0, 3);
  hugo_bench::print_result_ratio("follow_lag_p99", lag_p99, "ms", direct, lag_p99 > 0 ? direct / lag_p99 : 0, 3);
  return 0;
}

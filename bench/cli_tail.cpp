// bench/cli_tail: how fast the hugo-journal CLI streams and verifies a 1M-event journal.
//
// Builds a journal of N events (default 1,000,000: task lifecycles Enqueued -> LeaseGranted ->
// Completed on 4 queues, 32-byte payloads) through the public API, then, in the same run:
//   - ceiling: a raw SQLite scan of the same rows (every column of `events`, in seq order);
//   - `hugo-journal tail --json JOURNAL > /dev/null` (the replication view: payload and owner
//     filled in on every event), best of 3 runs;
//   - `hugo-journal export JOURNAL > /dev/null` (the stored rows, same encoder), best of 3;
//   - `hugo-journal verify JOURNAL` (integrity_check plus every invariant), best of 3.
// The binary is spawned as a separate process, exactly as a person runs it.
//
//   build/bench/cli_tail [EVENTS] [--cli PATH]
//
// The CLI is found by --cli, else $HUGO_CLI, else ../tools/hugo-journal next to this binary.
// The last line is `RESULT name=cli_tail_json value=<events/s> unit=events/s
// ceiling=<raw scan rows/s> ratio=<value/ceiling>`. Goals: tail >= 1M events/s, verify <= 2 s.
#include "bench/support/stats.hpp"
#include "bench/support/report.hpp"

#include <hugo/journal.hpp>

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

using Clock = hugo_bench::SteadyClock;
using hugo_bench::seconds_since;

std::filesystem::path find_cli(int argc, char** argv) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::string(argv[i]) == "--cli") return argv[i + 1];
  }
  if (const char* env = std::getenv("HUGO_CLI")) return env;
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return self.parent_path().parent_path() / "tools" / "hugo-journal";
}

// Appends `events` events as Enqueued/LeaseGranted/Completed groups (a valid history), keeping
// up to 256 groups in flight so the writer group-commits them.
bool build_journal(const std::filesystem::path& path, std::int64_t events) {
  hugo::JournalOptions options;
  options.durability = hugo::Durability::Process;
  auto opened = hugo::Journal::open(path, options);
  if (!opened.ok()) {
    std::fprintf(stderr, "open: %s\n", opened.error().to_string().c_str());
    return false;
  }
  hugo::Journal& journal = **opened;
  const hugo::Timestamp t0 = hugo::SystemClock().now();
  const char* queues[] = {"orders", "emails", "billing", "reports"};
  std::deque<hugo::AppendTicket> in_flight;
  std::int64_t next = 1;  // the seq the next event gets: this is the only writer
  for (std::int64_t task = 0; next <= events; ++task) {
    const std::int64_t s = next;
    const hugo::Timestamp at = t0 + std::chrono::milliseconds(task);
    std::vector<hugo::Event> group;
    hugo::Event e;
    e.queue = queues[task % 4];
    e.occurred_at = at;
    std::string payload = "{\"order\":" + std::to_string(task) + ",\"sku\":\"";
    payload.append(30 - payload.size(), 'x');  // a 32-byte JSON payload
    e.payload = payload + "\"}";
    e.payload_format = hugo::PayloadFormat::Json;
    group.push_back(e);
    if (events - next >= 2) {
      hugo::Event lease;
      lease.kind = hugo::EventKind::LeaseGranted;
      lease.queue = e.queue;
      lease.task_id = s;
      lease.owner_peer_id = "worker-" + std::to_string(task % 8);
      lease.occurred_at = at;
      lease.lease_expiration = at + std::chrono::seconds(30);
      lease.token = hugo::OwnershipToken{s, 1, 0};
      group.push_back(lease);
      hugo::Event done;
      done.kind = hugo::EventKind::Completed;
      done.queue = e.queue;
      done.task_id = s;
      done.occurred_at = at;
      done.token = hugo::OwnershipToken{s, 1, s + 1};
      group.push_back(done);
    }
    next += static_cast<std::int64_t>(group.size());
    in_flight.push_back(journal.append_group_async(group));
    if (in_flight.front().seq == 0 || in_flight.size() > 256) {
      auto done = in_flight.front().wait();
      in_flight.pop_front();
      if (!done.ok()) {
        std::fprintf(stderr, "append: %s\n", done.error().to_string().c_str());
        return false;
      }
    }
  }
  while (!in_flight.empty()) {
    auto done = in_flight.front().wait();
    in_flight.pop_front();
    if (!done.ok()) return false;
  }
  return journal.close().ok();
}

// The ceiling: every column of every row, in seq order, with the sqlite3 C API.
double raw_scan(const std::filesystem::path& path, std::int64_t& rows) {
  sqlite3* db = nullptr;
  sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(db,
                     "SELECT seq, kind, queue, task, attempt, at, lease, peer, expires, flags, error, payload "
                     "FROM events ORDER BY seq",
                     -1, &stmt, nullptr);
  const auto start = Clock::now();
  std::uint64_t checksum = 0;
  rows = 0;
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    for (int c = 0; c < 10; ++c) checksum += static_cast<std::uint64_t>(sqlite3_column_int64(stmt, c));
    checksum += static_cast<std::uint64_t>(sqlite3_column_bytes(stmt, 10) + sqlite3_column_bytes(stmt, 11));
    ++rows;
  }
  const double seconds = seconds_since(start);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  if (checksum == 42) std::printf(" ");  // keeps the loop honest
  return seconds;
}

// Runs the CLI with stdout to /dev/null; returns wall seconds, or -1 if it failed.
double run_cli(const std::filesystem::path& cli, const std::vector<std::string>& args) {
  const auto start = Clock::now();
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, STDOUT_FILENO);
    std::vector<std::string> all{cli.string()};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> raw;
    for (auto& a : all) raw.push_back(a.data());
    raw.push_back(nullptr);
    ::execv(raw[0], raw.data());
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  const double seconds = seconds_since(start);
  const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  return ok ? seconds : -1;
}

double best_of(int runs, const std::filesystem::path& cli, const std::vector<std::string>& args) {
  double best = -1;
  for (int i = 0; i < runs; ++i) {
    const double s = run_cli(cli, args);
    if (s < 0) return -1;
    best = best < 0 ? s : std::min(best, s);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  std::int64_t events = 1'000'000;
  if (argc > 1 && std::string(argv[1]).rfind("--", 0) != 0) events = std::atoll(argv[1]);
  const std::filesystem::path cli = find_cli(argc, argv);
  if (!std::filesystem::exists(cli)) {
    std::fprintf(stderr, "cli_tail: no hugo-journal at %s (pass --cli PATH or set HUGO_CLI)\n", cli.c_str());
    return 2;
  }
  const hugo_bench::TempDir dir = hugo_bench::scratch_dir("cli_tail", "hugo-bench-cli");  // removed at exit
  const std::filesystem::path journal = dir / "bench.journal";

  auto start = Clock::now();
  if (!build_journal(journal, events)) return 1;
  const double build_s = seconds_since(start);
  std::error_code ec;
  const auto bytes = std::filesystem::file_size(journal, ec);
  std::printf("built %lld events in %.2f s (%.0f events/s), %.1f MB, %.1f bytes/event\n",
              static_cast<long long>(events), build_s, static_cast<double>(events) / build_s,
              static_cast<double>(bytes) / 1e6, static_cast<double>(bytes) / static_cast<double>(events));

  std::int64_t rows = 0;
  raw_scan(journal, rows);  // warm the page cache
  const double scan_s = raw_scan(journal, rows);
  const double ceiling = static_cast<double>(rows) / scan_s;
  std::printf("raw sqlite scan: %lld rows in %.3f s = %.0f rows/s\n", static_cast<long long>(rows), scan_s, ceiling);

  const double tail_s = best_of(3, cli, {"tail", "--json", journal.string()});
  const double export_s = best_of(3, cli, {"export", journal.string()});
  const double verify_s = best_of(3, cli, {"verify", journal.string()});
  if (tail_s < 0 || export_s < 0 || verify_s < 0) {
    std::fprintf(stderr, "cli_tail: a hugo-journal run failed\n");
    return 1;
  }
  const double tail_rate = static_cast<double>(rows) / tail_s;
  const double export_rate = static_cast<double>(rows) / export_s;
  std::printf("hugo-journal tail --json: %.3f s = %.0f events/s (best of 3)\n", tail_s, tail_rate);
  std::printf("hugo-journal export:      %.3f s = %.0f events/s (best of 3)\n", export_s, export_rate);
  std::printf("hugo-journal verify:      %.3f s (best of 3)\n", verify_s);

  std::printf("RESULT name=cli_verify value=%.3f unit=s ceiling=2 ratio=%.3f\n", verify_s, verify_s / 2.0);
  std::printf("RESULT name=cli_export_json value=%.0f unit=events/s ceiling=%.0f ratio=%.3f\n", export_rate, ceiling,
              export_rate / ceiling);
  std::printf("RESULT name=cli_tail_json value=%.0f unit=events/s ceiling=%.0f ratio=%.3f\n", tail_rate, ceiling,
              tail_rate / ceiling);
  return 0;
}

// bench/peers: hugo-journal's task cycle against the systems a user would pick instead, in one run.
//
// The cycle is enqueue -> lease -> complete with 4 producer threads and 4 worker threads, every
// call acknowledged at its durability (bench/support/peer_cycle.hpp), 32-byte payloads, at most
// --capacity tasks enqueued and not yet leased. Two forms: single calls, and batches of 64 tasks
// per call. Two tiers:
//   Fsync    durable on disk when acknowledged: hugo-journal Durability::Fsync, Redis appendfsync
//            always, PostgreSQL synchronous_commit on, SQLite synchronous FULL;
//   Process  survives a crash of the process, not a power loss: Durability::Process, appendfsync
//            no, synchronous_commit off (weaker: see docs/BENCHMARKS.md, "Peers"), SQLite NORMAL.
// The systems (bench/support/peer_*.hpp): hugo-journal's TaskQueue; Redis Streams (a
// redis-server per run); PostgreSQL with SKIP LOCKED (one cluster for the whole benchmark); a
// bare SQLite jobs table. A server's binary or client library that is missing skips that peer,
// with one line saying so.
//
// Every round runs every cell (tier x form), and in each cell every system, back to back in the
// order hugo-journal, Redis, PostgreSQL, SQLite. Figures are medians over rounds: cycles/s and
// CPU µs per cycle (this process's CPU, plus the server's from /proc for a server).
//
// No server outlives the benchmark: see bench/support/peer_server.hpp (atexit clean-up, a thread
// taking SIGINT/SIGTERM/SIGHUP, and PR_SET_PDEATHSIG for SIGKILL).
//
// Usage: peers [--seconds S] [--rounds R] [--capacity N] [--redis 0|1] [--postgres 0|1]
//              [--sqlite 0|1] [--help]   (or $HUGO_BENCH_SECONDS, $HUGO_BENCH_ROUNDS)
// RESULT lines, last: peers_{fsync,process}_{single,batch64}, value = hugo-journal's cycles/s,
// ceiling = the best peer's at the same tier and form.
#include "bench/support/peer_cycle.hpp"
#include "bench/support/peer_hugo.hpp"
#include "bench/support/peer_server.hpp"
#include "bench/support/peer_sqlite.hpp"
#include "bench/support/report.hpp"
#include "bench/support/stats.hpp"
#if HUGO_BENCH_HIREDIS
#include "bench/support/peer_redis.hpp"
#endif
#if HUGO_BENCH_LIBPQ
#include "bench/support/peer_postgres.hpp"
#endif

#include <sqlite3.h>

#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace {

constexpr const char* kProgram = "peers";
constexpr std::size_t kPayloadBytes = 32;
constexpr std::size_t kBatch = 64;

constexpr const char* kUsage =
    "usage: peers [--seconds S] [--rounds R] [--capacity N] [--redis 0|1] [--postgres 0|1] [--sqlite 0|1]\n"
    "  --seconds S    length of each timed run (default 2; $HUGO_BENCH_SECONDS)\n"
    "  --rounds R     rounds; figures are medians over them (default 3; $HUGO_BENCH_ROUNDS)\n"
    "  --capacity N   tasks enqueued and not yet leased, at most (default 512, TaskQueueOptions')\n"
    "  --redis 0|1, --postgres 0|1, --sqlite 0|1   run that peer (default 1)\n"
    "Runs enqueue -> lease -> complete with 4 producers and 4 workers through hugo-journal, Redis\n"
    "Streams, PostgreSQL (SKIP LOCKED) and a bare SQLite table, at the Fsync and Process tiers, as\n"
    "single calls and batches of 64; prints RESULT peers_{fsync,process}_{single,batch64}.\n"
    "A smoke run: peers --seconds 0.2 --rounds 1\n";

// One system: its name, its setting at each tier, and one run of a cell.
struct System {
  std::string name;
  std::string fsync_setting;
  std::string process_setting;
  bool is_peer = true;
  std::function<hugo_bench::CycleResult(bool fsync, const hugo_bench::CycleSetup&)> run;
};

// A cell: (Fsync?, tasks per call).
using Cell = std::pair<bool, std::size_t>;

std::string cell_name(const Cell& c) {
  return std::string(c.first ? "fsync" : "process") + (c.second == 1 ? "_single" : "_batch" + std::to_string(c.second));
}

struct Samples {
  std::vector<double> rates;
  std::vector<double> cpu_us;
};

bool wants_help(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) return true;
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  if (wants_help(argc, argv)) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  double seconds = 2.0;
  double rounds_option = 3;
  double capacity_option = 512;
  double redis_option = 1, postgres_option = 1, sqlite_option = 1;
  hugo_bench::parse_options(argc, argv,
                            {{"--seconds", "HUGO_BENCH_SECONDS", &seconds, 0.05, 600},
                             {"--rounds", "HUGO_BENCH_ROUNDS", &rounds_option, 1, 100},
                             {"--capacity", nullptr, &capacity_option, static_cast<double>(kBatch), 1e9},
                             {"--redis", nullptr, &redis_option, 0, 1},
                             {"--postgres", nullptr, &postgres_option, 0, 1},
                             {"--sqlite", nullptr, &sqlite_option, 0, 1}});
  // Before any other thread: the signal thread and the clean-up at exit.
  hugo_bench::install_signal_thread(kProgram);
  if (const int stale = hugo_bench::remove_stale_peer_dirs("hugo-bench-peers"); stale > 0) {
    hugo_bench::print_line("peers: removed " + std::to_string(stale) +
                           " scratch folder(s) left by an earlier run that was killed");
  }
  const int rounds = static_cast<int>(rounds_option);
  hugo_bench::CycleSetup base;
  base.seconds = seconds;
  base.capacity = static_cast<std::size_t>(capacity_option);

  std::vector<System> systems;
  systems.push_back({"hugo-journal", "Durability::Fsync", "Durability::Process", false,
                     [](bool fsync, const hugo_bench::CycleSetup& s) {
                       return hugo_bench::run_hugo(kProgram, fsync ? hugo::Durability::Fsync : hugo::Durability::Process,
                                                   s, kPayloadBytes);
                     }});
  auto skip = [](const std::string& peer, const std::string& why) {
    hugo_bench::print_line("peer " + peer + ": skipped: " + why);
  };

  if (redis_option == 0) {
    skip("redis", "--redis 0");
  } else {
#if HUGO_BENCH_HIREDIS
    const std::string server = hugo_bench::redis_server_path();
    if (server.empty()) {
      skip("redis", "redis-server not found on PATH or in /usr/bin (Debian package redis-server)");
    } else {
      hugo_bench::print_line("peer redis: " + server + " (a fresh server per run), hiredis " +
                             std::to_string(HIREDIS_MAJOR) + "." + std::to_string(HIREDIS_MINOR));
      systems.push_back({"redis", "appendfsync always", "appendfsync no", true,
                         [server](bool fsync, const hugo_bench::CycleSetup& s) {
                           return hugo_bench::run_redis(kProgram, server, fsync, s, kPayloadBytes);
                         }});
    }
#else
    skip("redis", "built without hiredis (Debian package libhiredis-dev; reconfigure the build after installing it)");
#endif
  }

#if HUGO_BENCH_LIBPQ
  std::unique_ptr<hugo_bench::PostgresCluster> cluster;
#endif
  if (postgres_option == 0) {
    skip("postgres", "--postgres 0");
  } else {
#if HUGO_BENCH_LIBPQ
    const std::string bin = hugo_bench::postgres_bin_dir();
    if (bin.empty()) {
      skip("postgres", "no initdb and postgres under /usr/lib/postgresql/*/bin (Debian package postgresql)");
    } else {
      cluster = std::make_unique<hugo_bench::PostgresCluster>(kProgram, bin);
      if (const std::string why = cluster->start(); !why.empty()) {
        skip("postgres", why);
        cluster.reset();
      } else {
        hugo_bench::print_line("peer postgres: " + cluster->version() + " from " + bin +
                               " (one cluster for the whole run, a fresh table per run)");
        systems.push_back({"postgres", "synchronous_commit on", "synchronous_commit off", true,
                           [&cluster](bool fsync, const hugo_bench::CycleSetup& s) {
                             return hugo_bench::run_postgres(kProgram, *cluster, fsync, s, kPayloadBytes);
                           }});
      }
    }
#else
    skip("postgres", "built without libpq (Debian package libpq-dev; reconfigure the build after installing it)");
#endif
  }

  if (sqlite_option == 0) {
    skip("sqlite", "--sqlite 0");
  } else {
    systems.push_back({"sqlite", "synchronous FULL", "synchronous NORMAL", true,
                       [](bool fsync, const hugo_bench::CycleSetup& s) {
                         return hugo_bench::run_sqlite(kProgram, fsync, s, kPayloadBytes);
                       }});
  }

  char line[1024];
  std::snprintf(line, sizeof line,
                "peers: sqlite %s, %d producers + %d workers, single calls and batches of %zu, %d rounds x %.2f s "
                "per run (medians over rounds), capacity %zu, %zu-byte payloads, %zu systems",
                sqlite3_libversion(), hugo_bench::kPeerProducers, hugo_bench::kPeerWorkers, kBatch, rounds, seconds,
                base.capacity, kPayloadBytes, systems.size());
  hugo_bench::print_line(line);

  const std::vector<Cell> cells = {{true, 1}, {true, kBatch}, {false, 1}, {false, kBatch}};
  std::map<std::pair<Cell, std::string>, Samples> samples;
  for (int round = 1; round <= rounds; ++round) {
    for (const Cell& cell : cells) {
      for (const System& system : systems) {
        hugo_bench::CycleSetup setup = base;
        setup.batch = cell.second;
        const hugo_bench::CycleResult r = system.run(cell.first, setup);
        Samples& s = samples[{cell, system.name}];
        s.rates.push_back(r.rate());
        s.cpu_us.push_back(r.cpu_us_per_cycle());
        const double per_cycle = r.cycles > 0 ? 1e6 / static_cast<double>(r.cycles) : 0;
        std::snprintf(line, sizeof line,
                      "round=%d cell=%-16s system=%-12s setting=\"%s\" cycles=%lld secs=%.3f rate=%.1f cycles/s "
                      "cpu_us/cycle=%.1f (client %.1f + server %.1f)",
                      round, cell_name(cell).c_str(), system.name.c_str(),
                      (cell.first ? system.fsync_setting : system.process_setting).c_str(),
                      static_cast<long long>(r.cycles), r.seconds, r.rate(), r.cpu_us_per_cycle(),
                      r.client_cpu_s * per_cycle, r.server_cpu_s * per_cycle);
        hugo_bench::print_line(line);
      }
    }
  }

  struct Headline {
    std::string name;
    double value = 0;
    double ceiling = 0;
    std::string best;
  };
  std::vector<Headline> headlines;
  for (const Cell& cell : cells) {
    Headline h{"peers_" + cell_name(cell), 0, 0, ""};
    for (const System& system : systems) {
      const Samples& s = samples[{cell, system.name}];
      const double rate = hugo_bench::median(s.rates);
      std::snprintf(line, sizeof line,
                    "summary cell=%-16s system=%-12s setting=\"%s\" median=%.1f cycles/s rounds=[%s] "
                    "cpu_us/cycle median=%.1f rounds=[%s]",
                    cell_name(cell).c_str(), system.name.c_str(),
                    (cell.first ? system.fsync_setting : system.process_setting).c_str(), rate,
                    hugo_bench::join_values(s.rates).c_str(), hugo_bench::median(s.cpu_us),
                    hugo_bench::join_values(s.cpu_us).c_str());
      hugo_bench::print_line(line);
      if (!system.is_peer) {
        h.value = rate;
      } else if (rate > h.ceiling) {
        h.ceiling = rate;
        h.best = system.name + " (" + (cell.first ? system.fsync_setting : system.process_setting) + ")";
      }
    }
    headlines.push_back(h);
  }
  for (const Headline& h : headlines) {
    hugo_bench::print_line("best peer " + h.name + ": " + (h.best.empty() ? "none ran" : h.best));
  }
  for (const Headline& h : headlines) {
    if (h.best.empty()) {
      hugo_bench::print_result(h.name, h.value, "cycles/s");
    } else {
      hugo_bench::print_result(h.name, h.value, "cycles/s", h.ceiling);
    }
  }
#if HUGO_BENCH_LIBPQ
  if (cluster) cluster->stop();
#endif
  return 0;
}

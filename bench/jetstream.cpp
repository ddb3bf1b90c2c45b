// bench/jetstream: the journal published into NATS JetStream and replicas rebuilt from the stream
// (hugo::JetStreamSink, hugo::JetStreamFollower), each against raw libnats doing the same
// transport work in the same run (docs/BENCHMARKS.md, "JetStream").
//
// The benchmark starts its own single-node nats-server (-js, a scratch store folder, a free
// loopback port; bench/support/jetstream_server.hpp) and stops it by pid at the end, on a failure,
// on SIGINT/SIGTERM/SIGHUP, and through PR_SET_PDEATHSIG if it is killed.
//
// A journal of --events task-lifecycle events (Enqueued with a 32-byte JSON payload, LeaseGranted,
// Completed) is written first, and its messages (body, headers, rolling hash) prepared for the raw
// publisher. Then, in --rounds rounds, each case in alternating order:
//   publish   ours: JetStreamSink::open (connect, create a fresh stream, recover) + publish_available()
//             on the written journal, until every ack is in; raw: connect, create another fresh stream,
//             js_PublishMsgAsync of the same bodies with the same headers, Nats-Msg-Id and
//             Nats-Expected-Last-Sequence chain, the same window (--window), until every ack is in
//             (on a subject of the same length: two streams cannot share one).
//             Each stream must then hold exactly the N events. Figure: events/s vs raw msgs/s.
//   catch-up  from the stream our publisher wrote in the last round: ours: JetStreamFollower::open on a fresh
//             replica + catch_up() + close; raw: an ephemeral ordered consumer and a pull consumer
//             (batches of 4096) that only parse each message's stream seq and Hugo-* headers. The
//             ceiling is the faster raw reader. Checked: the replica's position and every round's
//             rolling hash. Figure: events/s vs raw msgs/s.
//   lag       a fresh owner journal (Durability::Process) written by a producer appending one event
//             every 100 us (10k events/s) for --seconds, a JetStreamSink in this process (live = the
//             owner: it wakes on commits) running into a fresh stream, and a JetStreamFollower
//             running into a fresh replica; lag = the replica commit holding the seq (on_applied)
//             minus when its append resolved (the journal commit), per event. The ceiling is the
//             goal, 20 ms. Every seq must reach the stream and the replica exactly once.
//             In turn with it, the raw floor (bench/support/jetstream_raw_lag.hpp): raw libnats
//             publishing the prepared messages at the same pace into a fresh stream while an
//             ordered consumer reads them; lag = read minus publish call. No journal is on its path.
// The CPU of the benchmark process and of the nats-server over each timed case is printed per event.
// The library's side of each case is in bench/support/jetstream_hugo.hpp, the lag case in
// jetstream_lag.hpp, the raw ceilings in jetstream_raw.hpp.
//
// Usage: jetstream [--events N] [--rounds R] [--seconds S] [--window W] [--smoke]
//                  [--only publish|catchup|lag]
//        (or $HUGO_BENCH_ROUNDS, $HUGO_BENCH_SECONDS); --smoke: 2000 events, 1 round, 0.2 s; --only:
//        that case alone, and only its RESULT lines (for profiling; a recorded run runs them all).
// RESULT lines, last the headline:
//   jetstream_catchup   value=<follower events/s> ceiling=<best raw reader msgs/s> ratio=value/ceiling
//   jetstream_lag_raw_p99 value=<raw publish->read p99 ms> ceiling=20 (the goal) ratio=ceiling/value
//   jetstream_lag_p99   value=<ms> ceiling=20 (the goal) ratio=ceiling/value (>= 1: goal met)
//   jetstream_publish   value=<sink events/s> ceiling=<raw publish msgs/s> ratio=value/ceiling
// Goals (issue 20): publish ratio >= 0.8, lag p99 <= 20 ms at 10k events/s, catch-up ratio >= 0.8.
#include "bench/support/jetstream_hugo.hpp"
#include "bench/support/jetstream_lag.hpp"
#include "bench/support/jetstream_raw.hpp"
#include "bench/support/jetstream_raw_lag.hpp"
#include "bench/support/jetstream_server.hpp"
#include "bench/support/journal.hpp"
#include "bench/support/peer_server.hpp"
#include "bench/support/report.hpp"
#include "bench/support/stats.hpp"

#include <hugo/jetstream.hpp>

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

namespace {

using hugo_bench::join_values;
using hugo_bench::SteadyClock;

using hugo_bench::jetstream::check_stream;
using hugo_bench::jetstream::delete_stream;
using hugo_bench::jetstream::event_at;
using hugo_bench::jetstream::fail;
using hugo_bench::jetstream::follower_catch_up;
using hugo_bench::jetstream::kInterval;
using hugo_bench::jetstream::kProgram;
using hugo_bench::jetstream::LagResult;
using hugo_bench::jetstream::remove_journal_files;
using hugo_bench::jetstream::run_lag;
using hugo_bench::jetstream::sink_publish;
constexpr double kGoalLagMs = 20.0;
constexpr double kGoalRatio = 0.8;
constexpr int kPullBatch = 4096;
// CPU seconds of this process (every thread) and of the nats-server, sampled together.
struct CpuSample {
  double self = 0;
  double server = 0;
};

CpuSample cpu_now(pid_t server) {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  auto secs = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return {secs(usage.ru_utime) + secs(usage.ru_stime), hugo_bench::process_cpu_seconds(server, false)};
}

// One timed case: seconds, and CPU µs per event in this process and in the server.
struct Timed {
  double seconds = 0;
  double self_us = 0;
  double server_us = 0;
};

Timed timed(pid_t server, std::int64_t events, const std::function<double()>& run) {
  const CpuSample before = cpu_now(server);
  Timed t;
  t.seconds = run();
  const CpuSample after = cpu_now(server);
  const double n = static_cast<double>(events);
  t.self_us = (after.self - before.self) / n * 1e6;
  t.server_us = (after.server - before.server) / n * 1e6;
  return t;
}

void print_case(int round, const char* what, const char* who, std::int64_t events, const Timed& t) {
  char line[512];
  std::snprintf(line, sizeof line,
                "round=%d %s %-8s events=%lld secs=%.3f rate=%.0f events/s | cpu us/event: benchmark process %.2f, "
                "nats-server %.2f",
                round, what, who, static_cast<long long>(events), t.seconds, static_cast<double>(events) / t.seconds,
                t.self_us, t.server_us);
  hugo_bench::print_line(line);
}

// Which cases run (`--only publish|catchup|lag`; all by default). Catch-up alone still publishes
// its source stream once, untimed.
struct Cases {
  bool publish = true;
  bool catch_up = true;
  bool lag = true;
};

struct Options {
  std::int64_t events = 200'000;
  int rounds = 3;
  double seconds = 3.0;
  std::size_t window = 1024;
  Cases cases;
};

Cases only_case(std::string_view name) {
  if (name == "publish") return {true, false, false};
  if (name == "catchup") return {false, true, false};
  if (name == "lag") return {false, false, true};
  fail("unknown --only case '" + std::string(name) + "' (publish, catchup or lag)");
  return {};
}

Options parse(int argc, char** argv) {
  std::vector<char*> args;
  bool smoke = false;
  Cases cases;
  for (int i = 0; i < argc; ++i) {
    if (i > 0 && std::strcmp(argv[i], "--smoke") == 0) {
      smoke = true;
    } else if (i > 0 && std::strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
      cases = only_case(argv[++i]);
    } else {
      args.push_back(argv[i]);
    }
  }
  double events = smoke ? 2000 : 200'000;
  double rounds = smoke ? 1 : 3;
  double seconds = smoke ? 0.2 : 3.0;
  double window = 1024;
  hugo_bench::parse_options(static_cast<int>(args.size()), args.data(),
                            {{"--events", nullptr, &events, 100, 1e8},
                             {"--rounds", "HUGO_BENCH_ROUNDS", &rounds, 1, 100},
                             {"--seconds", "HUGO_BENCH_SECONDS", &seconds, 0.05, 60},
                             {"--window", nullptr, &window, 1, 65536}});
  return {static_cast<std::int64_t>(events), static_cast<int>(rounds), seconds, static_cast<std::size_t>(window),
          cases};
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  // Before any other thread: the signal thread and the clean-up at exit.
  hugo_bench::install_signal_thread(kProgram);
  if (const int stale = hugo_bench::remove_stale_peer_dirs("hugo-bench-jetstream"); stale > 0) {
    hugo_bench::print_line("jetstream: removed " + std::to_string(stale) +
                           " scratch folder(s) left by an earlier run that was killed");
  }
  const auto paced = static_cast<std::int64_t>(o.seconds * 1e6 / static_cast<double>(kInterval.count()));
  char line[1024];
  std::snprintf(line, sizeof line,
                "jetstream: libnats %s, publish and catch-up over %lld events, window %zu, live lag at one event per "
                "%lld us for %.2f s (%lld events), %d rounds",
                nats_GetVersion(), static_cast<long long>(o.events), o.window,
                static_cast<long long>(kInterval.count()), o.seconds, static_cast<long long>(paced), o.rounds);
  hugo_bench::print_line(line);

  hugo_bench::BenchNatsServer server(kProgram);
  const std::string& url = server.url();
  hugo_bench::print_line("nats-server pid " + std::to_string(server.pid()) + " on " + url);
  const std::filesystem::path history = server.folder() / "history.journal";
  auto start = SteadyClock::now();
  hugo_bench::write_history(kProgram, history, o.events,
                            [](std::int64_t seq, hugo::Timestamp at) { return event_at(seq, 1, at); });
  const hugo_bench::PreparedJournal prepared = hugo_bench::prepare_messages(kProgram, history);
  if (static_cast<std::int64_t>(prepared.messages.size()) != o.events) fail("the written journal lost events");
  std::size_t body_bytes = 0;
  for (const auto& m : prepared.messages) body_bytes += m.body.size();
  std::snprintf(line, sizeof line, "built and prepared %lld events in %.2f s, %.0f body bytes/event",
                static_cast<long long>(o.events), hugo_bench::seconds_since(start),
                static_cast<double>(body_bytes) / static_cast<double>(o.events));
  hugo_bench::print_line(line);
  const std::string subject = hugo::stream_subject(prepared.journal_id);
  // Two streams cannot share a subject: the raw publisher's subject has the same length as ours.
  const std::string raw_subject = "rawp" + subject.substr(4);
  // The catch-up source: what our sink wrote in the last round (earlier rounds' streams are deleted).
  const std::string source = "HUGO_BENCH_PUB_" + std::to_string(o.rounds);

  // ---- publish
  std::vector<double> sink_rates, raw_publish_rates;
  if (!o.cases.publish && o.cases.catch_up) {
    sink_publish(url, history, source, o.events, o.window);
    check_stream(url, source, o.events);
  }
  for (int round = 1; o.cases.publish && round <= o.rounds; ++round) {
    const std::string ours = "HUGO_BENCH_PUB_" + std::to_string(round);
    const std::string raw = "RAW_BENCH_PUB_" + std::to_string(round);
    auto sink_case = [&] {
      const Timed t = timed(server.pid(), o.events, [&] { return sink_publish(url, history, ours, o.events, o.window); });
      check_stream(url, ours, o.events);
      sink_rates.push_back(static_cast<double>(o.events) / t.seconds);
      print_case(round, "publish", "sink", o.events, t);
      if (ours != source) delete_stream(url, ours);
    };
    auto raw_case = [&] {
      const Timed t = timed(server.pid(), o.events, [&] {
        return hugo_bench::raw_publish(kProgram, url, raw, raw_subject, prepared, o.window);
      });
      raw_publish_rates.push_back(static_cast<double>(o.events) / t.seconds);
      print_case(round, "publish", "raw", o.events, t);
      delete_stream(url, raw);
    };
    const std::function<void()> cases[2] = {sink_case, raw_case};
    for (int k = 0; k < 2; ++k) cases[(k + round + 1) % 2]();  // odd rounds: ours first
  }

  // ---- catch-up
  std::vector<double> follower_rates, ordered_rates, pull_rates;
  std::uint64_t first_hash = 0;
  for (int round = 1; o.cases.catch_up && round <= o.rounds; ++round) {
    auto follower_case = [&] {
      const std::filesystem::path replica = server.folder() / ("replica-" + std::to_string(round) + ".journal");
      std::uint64_t hash = 0;
      const Timed t = timed(server.pid(), o.events,
                            [&] { return follower_catch_up(url, source, replica, o.events, &hash); });
      if (round == 1) first_hash = hash;
      if (hash != first_hash) fail("two catch-ups of one stream ended on different hashes");
      follower_rates.push_back(static_cast<double>(o.events) / t.seconds);
      print_case(round, "catch-up", "follower", o.events, t);
      remove_journal_files(replica);
    };
    auto raw_case = [&](hugo_bench::RawConsumer kind, std::vector<double>& rates) {
      const Timed t = timed(server.pid(), o.events, [&] {
        return hugo_bench::raw_read(kProgram, kind, url, source, subject, static_cast<std::uint64_t>(o.events),
                                    kPullBatch);
      });
      rates.push_back(static_cast<double>(o.events) / t.seconds);
      print_case(round, "catch-up", hugo_bench::consumer_name(kind), o.events, t);
    };
    const std::function<void()> cases[3] = {
        follower_case, [&] { raw_case(hugo_bench::RawConsumer::Ordered, ordered_rates); },
        [&] { raw_case(hugo_bench::RawConsumer::Pull, pull_rates); }};
    for (int k = 0; k < 3; ++k) cases[(k + round - 1) % 3]();  // each case first in turn
  }

  // ---- lag (ours and the raw floor, in turn)
  const std::string raw_lag_subject = "rawl" + subject.substr(4);
  const auto raw_lag_count = static_cast<std::size_t>(std::min<std::int64_t>(paced, o.events));
  std::vector<double> lag_p50, lag_p99, append_p99, raw_lag_p50, raw_lag_p99;
  for (int round = 1; o.cases.lag && round <= o.rounds; ++round) {
    auto ours = [&] {
      const LagResult r = run_lag(url, server.folder(), round, paced, o.window);
      lag_p50.push_back(r.from_ack_ms.p50);
      lag_p99.push_back(r.from_ack_ms.p99);
      append_p99.push_back(r.from_append_ms.p99);
      std::snprintf(line, sizeof line,
                    "round=%d lag events=%lld rate=%.0f/s lateness_p99_us=%.0f | commit->replica ms: %s neg=%lld | "
                    "append->replica ms: %s",
                    round, static_cast<long long>(r.events), static_cast<double>(r.events) / r.produce_s,
                    r.lateness_p99_us, hugo_bench::format_summary(r.from_ack_ms, "").c_str(),
                    static_cast<long long>(r.negative), hugo_bench::format_summary(r.from_append_ms, "").c_str());
      hugo_bench::print_line(line);
    };
    auto raw = [&] {
      const std::string stream = "RAW_BENCH_LAG_" + std::to_string(round);
      std::vector<double> lags =
          hugo_bench::raw_lag(kProgram, url, stream, raw_lag_subject, prepared, raw_lag_count, kInterval);
      const hugo_bench::Summary r = hugo_bench::summarize(lags);
      raw_lag_p50.push_back(r.p50);
      raw_lag_p99.push_back(r.p99);
      std::snprintf(line, sizeof line, "round=%d lag raw events=%zu | publish->read ms: %s", round, raw_lag_count,
                    hugo_bench::format_summary(r, "").c_str());
      hugo_bench::print_line(line);
      delete_stream(url, stream);
    };
    if (round % 2 == 1) {
      ours();
      raw();
    } else {
      raw();
      ours();
    }
  }

  auto met = [](bool yes) { return yes ? "met" : "missed"; };
  const double sink_rate = hugo_bench::median(sink_rates);
  const double raw_publish_rate = hugo_bench::median(raw_publish_rates);
  if (o.cases.publish) {
    std::snprintf(line, sizeof line,
                  "summary publish sink median=%.0f events/s [%s] | raw median=%.0f msgs/s [%s] | ratio %.3f (goal %.1f: "
                  "%s)",
                  sink_rate, join_values(sink_rates, "%.0f").c_str(), raw_publish_rate,
                  join_values(raw_publish_rates, "%.0f").c_str(), sink_rate / raw_publish_rate, kGoalRatio,
                  met(sink_rate >= kGoalRatio * raw_publish_rate));
    hugo_bench::print_line(line);
  }
  const double follower_rate = hugo_bench::median(follower_rates);
  const double ordered_rate = hugo_bench::median(ordered_rates);
  const double pull_rate = hugo_bench::median(pull_rates);
  const double read_ceiling = std::max(ordered_rate, pull_rate);
  if (o.cases.catch_up) {
    std::snprintf(line, sizeof line,
                  "summary catch-up follower median=%.0f events/s [%s] | raw ordered median=%.0f msgs/s [%s] | raw "
                  "pull median=%.0f msgs/s [%s] | ratio to the faster %.3f (goal %.1f: %s)",
                  follower_rate, join_values(follower_rates, "%.0f").c_str(), ordered_rate,
                  join_values(ordered_rates, "%.0f").c_str(), pull_rate, join_values(pull_rates, "%.0f").c_str(),
                  follower_rate / read_ceiling, kGoalRatio, met(follower_rate >= kGoalRatio * read_ceiling));
    hugo_bench::print_line(line);
  }
  const double p99 = hugo_bench::median(lag_p99);
  const double raw_p99 = hugo_bench::median(raw_lag_p99);
  if (o.cases.lag) {
    std::snprintf(line, sizeof line,
                  "summary lag commit->replica p50 median=%.3f ms [%s] p99 median=%.3f ms [%s] (goal %.0f: %s) | "
                  "append->replica p99 median=%.3f ms [%s] | raw publish->read (the server's floor) p50 median=%.3f "
                  "ms [%s] p99 median=%.3f ms [%s]",
                  hugo_bench::median(lag_p50), join_values(lag_p50, "%.3f").c_str(), p99,
                  join_values(lag_p99, "%.3f").c_str(), kGoalLagMs, met(p99 <= kGoalLagMs),
                  hugo_bench::median(append_p99), join_values(append_p99, "%.3f").c_str(),
                  hugo_bench::median(raw_lag_p50), join_values(raw_lag_p50, "%.3f").c_str(), raw_p99,
                  join_values(raw_lag_p99, "%.3f").c_str());
    hugo_bench::print_line(line);
  }

  if (o.cases.catch_up) hugo_bench::print_result("jetstream_catchup", follower_rate, "events/s", read_ceiling);
  if (o.cases.lag) {
    hugo_bench::print_result_ratio("jetstream_lag_raw_p99", raw_p99, "ms", kGoalLagMs,
                                   raw_p99 > 0 ? kGoalLagMs / raw_p99 : 0, 3);
    hugo_bench::print_result_ratio("jetstream_lag_p99", p99, "ms", kGoalLagMs, p99 > 0 ? kGoalLagMs / p99 : 0, 3);
  }
  if (o.cases.publish) hugo_bench::print_result("jetstream_publish", sink_rate, "events/s", raw_publish_rate);
  return 0;
}

// Benchmark support for bench/jetstream: the lag case. A fresh owner journal written by a paced
// producer (one event per kInterval), a JetStreamSink in this process (live = the owner) running
// into a fresh stream, a JetStreamFollower running into a fresh replica; the lag of each event is
// the replica commit holding it minus when its append resolved (bench/support/live_lag.hpp).
#pragma once

#include "bench/support/jetstream_hugo.hpp"
#include "bench/support/live_lag.hpp"
#include "bench/support/paced.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace hugo_bench::jetstream {

inline constexpr auto kInterval = std::chrono::microseconds(100);  // 10k events/s

struct LagResult {
  std::int64_t events = 0;
  double produce_s = 0;
  double lateness_p99_us = 0;
  std::int64_t negative = 0;  // seqs the replica committed before the acker woke
  hugo_bench::Summary from_ack_ms;
  hugo_bench::Summary from_append_ms;
};

// A thread running `run` until stop(); the status it returned is checked on join.
class Runner {
 public:
  Runner(const char* what, std::function<hugo::Status()> run, std::function<void()> stop)
      : what_(what), stop_(std::move(stop)), thread_([this, run = std::move(run)] { status_ = run(); }) {}
  ~Runner() { join(); }
  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;
  void join() {
    if (!thread_.joinable()) return;
    stop_();
    thread_.join();
    if (!status_.ok()) fail(std::string(what_) + "::run: " + status_.error().to_string());
  }

 private:
  const char* what_;
  std::function<void()> stop_;
  hugo::Status status_ = hugo::ok_status();
  std::thread thread_;
};

inline LagResult run_lag(const std::string& url, const std::filesystem::path& folder, int round, std::int64_t count,
                  std::size_t window) {
  const std::filesystem::path owner_path = folder / ("lag-owner-" + std::to_string(round) + ".journal");
  const std::filesystem::path replica = folder / ("lag-replica-" + std::to_string(round) + ".journal");
  const std::string stream = "HUGO_BENCH_LAG_" + std::to_string(round);
  std::unique_ptr<hugo::Journal> owner = hugo_bench::open_journal(kProgram, owner_path, hugo::Durability::Process);
  const std::int64_t last = count + 1;
  hugo_bench::Applied applied(last);
  // The warm-up event, before the sink and the follower start: both begin with their connection
  // open and the stream created.
  if (auto warm = owner->append(event_at(1, 1, hugo::SystemClock().now())); !warm.ok() || *warm != 1) {
    fail("the warm-up append failed");
  }
  auto sink = open_sink(url, owner_path, owner.get(), stream, window);
  Runner publishing("JetStreamSink", [&] { return sink->run(); }, [&] { sink->stop(); });
  // The follower opens once the stream exists (the sink created it).
  auto follower = open_follower(url, stream, replica);
  follower->on_applied([&applied](const hugo::ReplicaPosition& p) { applied.committed(p.seq); });
  Runner following("JetStreamFollower", [&] { return follower->run(); }, [&] { follower->stop(); });
  if (!applied.wait_for(1, std::chrono::seconds(30))) fail("the warm-up event never reached the replica");

  LagResult r;
  r.events = count;
  std::vector<std::int64_t> append_ns;
  std::vector<std::int64_t> ack_ns;
  {
    hugo_bench::Acker acker(kProgram, static_cast<std::size_t>(last) + 1);
    const hugo::SystemClock clock;
    const auto start = SteadyClock::now();
    hugo_bench::PacedRun paced = hugo_bench::paced_appends(
        kProgram, *owner, 2, count, kInterval, [&](std::int64_t seq) { return event_at(seq, 1, clock.now()); },
        [&](hugo::AppendTicket ticket) { acker.push(std::move(ticket)); });
    r.produce_s = hugo_bench::seconds_since(start);
    r.lateness_p99_us = paced.lateness_p99_us;
    append_ns = std::move(paced.append_ns);
    acker.finish();
    ack_ns = acker.ack_ns();
  }
  if (!applied.wait_for(last, std::chrono::seconds(60))) fail("the replica never reached the last seq");
  following.join();
  publishing.join();
  follower.reset();
  sink.reset();
  hugo_bench::close_journal(kProgram, *owner);
  check_stream(url, stream, last);
  auto position = hugo::read_replica_position(replica);
  if (!position.ok() || position->seq != last) fail("the replica does not end at the owner's last seq");

  const hugo_bench::LagSamples samples =
      hugo_bench::lag_samples(kProgram, 2, last, append_ns, ack_ns, applied.committed_ns());
  r.negative = samples.negative;
  r.from_ack_ms = samples.from_ack_ms;
  r.from_append_ms = samples.from_append_ms;
  delete_stream(url, stream);
  remove_journal_files(owner_path);
  remove_journal_files(replica);
  return r;
}

}  // namespace hugo_bench::jetstream

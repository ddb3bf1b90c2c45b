// Benchmark support: the stamps of the live-lag benchmarks (follow, jetstream): when each paced
// append resolved (Acker), when the replicating side committed each seq (Applied), and the lags
// computed from both (lag_samples).
#pragma once

#include "bench/support/report.hpp"
#include "bench/support/stats.hpp"

#include <hugo/journal.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace hugo_bench {

// Waits for each ticket in seq order and stamps when it resolved.
class Acker {
 public:
  Acker(std::string_view program, std::size_t slots)
      : program_(program), ack_ns_(slots, 0), thread_([this] { run(); }) {}
  ~Acker() { finish(); }
  Acker(const Acker&) = delete;
  Acker& operator=(const Acker&) = delete;

  void push(hugo::AppendTicket ticket) {
    {
      std::lock_guard lock(mutex_);
      queue_.push_back(std::move(ticket));
    }
    cv_.notify_one();
  }
  // Returns once every pushed ticket is stamped.
  void finish() {
    {
      std::lock_guard lock(mutex_);
      closed_ = true;
    }
    cv_.notify_one();
    if (thread_.joinable()) thread_.join();
  }
  const std::vector<std::int64_t>& ack_ns() const { return ack_ns_; }

 private:
  void run() {
    while (true) {
      hugo::AppendTicket ticket;
      {
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [this] { return closed_ || !queue_.empty(); });
        if (queue_.empty()) return;
        ticket = std::move(queue_.front());
        queue_.pop_front();
      }
      if (auto done = ticket.wait(); !done.ok()) fail(program_, "append: " + done.error().to_string());
      ack_ns_.at(static_cast<std::size_t>(ticket.seq)) = steady_ns();
    }
  }

  std::string program_;
  std::vector<std::int64_t> ack_ns_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<hugo::AppendTicket> queue_;
  bool closed_ = false;
  std::thread thread_;
};

// Per-seq commit stamps of the replicating side, and a signal once the last seq is in.
class Applied {
 public:
  explicit Applied(std::int64_t last) : last_(last), committed_ns_(static_cast<std::size_t>(last) + 1, 0) {}

  // Called on the replicating thread after a commit that holds every seq up to `seq`.
  void committed(std::int64_t seq) {
    const std::int64_t now = steady_ns();
    for (std::int64_t s = seen_ + 1; s <= std::min(seq, last_); ++s) committed_ns_[static_cast<std::size_t>(s)] = now;
    if (seq > seen_) ++commits_;
    {
      std::lock_guard lock(mutex_);
      seen_ = std::max(seen_, seq);
    }
    cv_.notify_all();
  }
  // Waits until `seq` is committed or the timeout passes.
  bool wait_for(std::int64_t seq, std::chrono::seconds timeout) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return seen_ >= seq; });
  }
  const std::vector<std::int64_t>& committed_ns() const { return committed_ns_; }
  std::int64_t commits() const { return commits_; }

 private:
  std::int64_t last_;
  std::vector<std::int64_t> committed_ns_;
  std::int64_t seen_ = 0;
  std::int64_t commits_ = 0;
  std::mutex mutex_;
  std::condition_variable cv_;
};


// The lags of seqs first..last in ms: replica commit - append resolved (from_ack) and replica
// commit - just before append_async (from_append); fails the program if a seq has no stamp.
struct LagSamples {
  Summary from_ack_ms;
  Summary from_append_ms;
  std::int64_t negative = 0;  // seqs the replica committed before the acker woke
};

inline LagSamples lag_samples(std::string_view program, std::int64_t first, std::int64_t last,
                              const std::vector<std::int64_t>& append_ns, const std::vector<std::int64_t>& ack_ns,
                              const std::vector<std::int64_t>& committed_ns) {
  LagSamples r;
  std::vector<double> from_ack, from_append;
  from_ack.reserve(static_cast<std::size_t>(last - first + 1));
  from_append.reserve(static_cast<std::size_t>(last - first + 1));
  for (std::int64_t seq = first; seq <= last; ++seq) {
    const auto i = static_cast<std::size_t>(seq);
    if (committed_ns.at(i) == 0 || ack_ns.at(i) == 0) fail(program, "seq " + std::to_string(seq) + " has no time");
    const double lag = static_cast<double>(committed_ns[i] - ack_ns[i]) / 1e6;
    if (lag < 0) ++r.negative;
    from_ack.push_back(lag);
    from_append.push_back(static_cast<double>(committed_ns[i] - append_ns.at(i)) / 1e6);
  }
  r.from_ack_ms = summarize(from_ack);
  r.from_append_ms = summarize(from_append);
  return r;
}

}  // namespace hugo_bench

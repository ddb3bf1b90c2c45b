// Benchmark support for bench/peers: hugo-journal's side of the cycle, the same calls as
// bench/queue_cycle.cpp makes. A fresh journal in a fresh scratch folder per run, at
// Durability::Fsync or Process, one TaskQueue ("bench", capacity as given, no sweeper); single
// calls are enqueue / lease / complete, batches enqueue_batch / lease_batch / complete_batch, every
// one waiting (Wait::forever until the run stops) and returning once its rows are durable.
#pragma once

#include "bench/support/journal.hpp"
#include "bench/support/peer_cycle.hpp"

#include <hugo/error_codes.hpp>
#include <hugo/journal.hpp>
#include <hugo/task_queue.hpp>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace hugo_bench {

class HugoSession {
 public:
  HugoSession(hugo::TaskQueue& queue, std::string owner, std::size_t batch, std::size_t payload_bytes)
      : queue_(queue), owner_(std::move(owner)), payloads_(batch, alphabet_payload(payload_bytes)) {}

  bool enqueue(std::size_t n, const std::stop_token& stop) {
    if (n == 1) return settled(queue_.enqueue(payloads_.front(), hugo::Wait::forever(stop)), "enqueue");
    return settled(queue_.enqueue_batch(payloads_, hugo::Wait::forever(stop)), "enqueue_batch");
  }
  std::size_t lease(std::size_t n, const std::stop_token& stop) {
    tokens_.clear();
    if (n == 1) {
      auto lease = queue_.lease(owner_, hugo::Wait::forever(stop));
      if (!settled(lease, "lease")) return 0;
      tokens_.push_back(lease->token);
    } else {
      auto leases = queue_.lease_batch(owner_, n, hugo::Wait::forever(stop));
      if (!settled(leases, "lease_batch")) return 0;
      for (const hugo::Lease& lease : *leases) tokens_.push_back(lease.token);
    }
    return tokens_.size();
  }
  void complete() {
    const hugo::Status done = tokens_.size() == 1 ? queue_.complete(tokens_.front()) : queue_.complete_batch(tokens_);
    if (!done.ok()) throw std::runtime_error("complete: " + done.error().to_string());
  }

 private:
  // true: done; false: canceled because the run stops; throws on any other error.
  template <class Result>
  static bool settled(const Result& result, const char* what) {
    if (result.ok()) return true;
    if (result.error().code() == hugo::errc::canceled) return false;
    throw std::runtime_error(std::string(what) + ": " + result.error().to_string());
  }

  hugo::TaskQueue& queue_;
  std::string owner_;
  std::vector<std::string> payloads_;
  std::vector<hugo::OwnershipToken> tokens_;
};

// One run of the cycle through a TaskQueue at `durability`.
inline CycleResult run_hugo(std::string_view program, hugo::Durability durability, CycleSetup setup,
                            std::size_t payload_bytes) {
  PeerDir dir(program, "hugo-bench-peers-hugo");
  std::shared_ptr<hugo::Journal> journal = open_journal(program, dir / "journal.db", durability);
  hugo::TaskQueueOptions options;
  options.name = "bench";
  options.capacity = setup.capacity;
  options.run_sweeper = false;
  auto opened = hugo::TaskQueue::open(journal, options);
  if (!opened.ok()) fail(program, "TaskQueue::open: " + opened.error().to_string());
  std::unique_ptr<hugo::TaskQueue> queue = std::move(opened).value();

  setup.bounded_by_system = true;
  setup.server = -1;
  const CycleResult result = run_cycle<HugoSession>(
      program, std::string("hugo-journal ") + durability_name(durability), setup, [&](bool producer, int index) {
        return std::make_unique<HugoSession>(
            *queue, session_name(producer, index), setup.batch, payload_bytes);
      });
  if (const hugo::Status closed = queue->close(); !closed.ok()) fail(program, "TaskQueue::close: " + closed.error().to_string());
  close_journal(program, *journal);
  return result;
}

}  // namespace hugo_bench

// The owner of the JetStream example (examples/jetstream/run.sh): a process that writes a journal
// through a TaskQueue while `hugo-journal publish` publishes that journal from another process.
//
//   jetstream-owner JOURNAL [--orders N]
//       Opens JOURNAL (created if absent; a promoted replica opens as its new owner), and for each
//       of N orders (default 20) enqueues it on queue 'orders', leases it and completes it, a few
//       milliseconds apart. Prints "owner JOURNAL journal JOURNAL_ID epoch E" first, then
//       "wrote LAST_SEQ" once every order is durable, and keeps the journal open until SIGINT or
//       SIGTERM, then prints "stopped".
//
// stdout is line-buffered; errors go to stderr with exit 1. Uses the public API only.
#include <hugo/hugo.hpp>

#include "examples/support/must.hpp"

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>

namespace {

std::atomic<bool> stopping{false};
void on_signal(int) { stopping = true; }

}  // namespace

using example::die;
using example::must;

int main(int argc, char** argv) {
  example::program = "jetstream-owner";
  if (argc != 2 && !(argc == 4 && std::string(argv[2]) == "--orders")) die("usage: jetstream-owner JOURNAL [--orders N]");
  const int orders = argc == 4 ? std::atoi(argv[3]) : 20;
  if (orders < 1) die("--orders must be at least 1");
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);

  std::shared_ptr<hugo::Journal> journal = must(hugo::Journal::open(argv[1]));
  const auto info = must(journal->info());
  std::printf("owner %s journal %s epoch %lld\n", argv[1], journal->journal_id().c_str(),
              static_cast<long long>(info.epoch));
  hugo::TaskQueueOptions options;
  options.name = "orders";
  options.heartbeat_interval = hugo::Duration::zero();
  auto queue = must(hugo::TaskQueue::open(journal, options));
  for (int i = 0; i < orders && !stopping; ++i) {
    must(queue->enqueue("order " + std::to_string(i) + " of " + argv[1]));
    auto lease = must(queue->lease("jetstream-owner"));
    must(queue->complete(lease.token));
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::printf("wrote %lld\n", static_cast<long long>(journal->durable_seq()));
  while (!stopping) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  must(queue->close());
  must(journal->close());
  std::printf("stopped\n");
  return 0;
}

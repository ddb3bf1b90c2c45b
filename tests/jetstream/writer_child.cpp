// The writer process of the JetStream end-to-end tests: it owns a journal and keeps appending to
// it while publishers, followers and servers are killed around it.
//
//   hugo-jetstream-writer JOURNAL COUNT [PAUSE_MS]
//       Creates or opens JOURNAL (durability Process) and appends up to COUNT more events in groups
//       of 1..8, sleeping PAUSE_MS (default 5) between groups. Payloads vary in length (0..400
//       bytes) and hold bytes that JSON must escape (quotes, backslashes, newlines, non-ASCII).
//       Prints "ready JOURNAL_ID" once the first group is committed, "done LAST_SEQ" at the end;
//       SIGTERM ends it early (after the current group), still with "done LAST_SEQ". SIGUSR1 stops
//       the appends but keeps the journal open (a reader's WAL index stays in place): it prints
//       "paused LAST_SEQ" and waits for SIGTERM.
//
// stdout is flushed per line; errors go to stderr with exit 3. Uses the public API only.
#include <hugo/journal.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

std::atomic<bool> stopping{false};
std::atomic<bool> pausing{false};

void on_term(int) { stopping = true; }
void on_pause(int) { pausing = true; }

std::string payload(std::mt19937& rng, int i) {
  static const std::string pieces[] = {"\"", "\\", "\n", "\t", "\xc3\xa9", "\xe2\x82\xac", "{}", " ", "x"};
  std::string out = "event-" + std::to_string(i) + ":";
  const auto length = rng() % 400;
  while (out.size() < length) out += pieces[rng() % std::size(pieces)];
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: hugo-jetstream-writer JOURNAL COUNT [PAUSE_MS]\n");
    return 2;
  }
  std::signal(SIGTERM, on_term);
  std::signal(SIGUSR1, on_pause);
  const long count = std::atol(argv[2]);
  const int pause_ms = argc > 3 ? std::atoi(argv[3]) : 5;
  hugo::JournalOptions options;
  options.durability = hugo::Durability::Process;
  auto opened = hugo::Journal::open(argv[1], options);
  if (!opened.ok()) {
    std::fprintf(stderr, "hugo-jetstream-writer: %s\n", opened.error().to_string().c_str());
    return 3;
  }
  auto journal = std::move(opened).value();
  std::mt19937 rng(static_cast<unsigned>(std::random_device{}()));
  std::int64_t last = journal->durable_seq();
  long written = 0;
  bool announced = false;
  while (written < count && !stopping && !pausing) {
    const long group = std::min<long>(1 + static_cast<long>(rng() % 8), count - written);
    std::vector<hugo::Event> events;
    for (long i = 0; i < group; ++i) {
      hugo::Event e;
      e.kind = hugo::EventKind::Enqueued;
      e.queue = "jetstream";
      e.payload = payload(rng, static_cast<int>(written + i));
      e.occurred_at = hugo::SystemClock().now();
      events.push_back(std::move(e));
    }
    auto ticket = journal->append_group_async(events);
    if (auto s = ticket.wait(); !s.ok()) {
      std::fprintf(stderr, "hugo-jetstream-writer: %s\n", s.error().to_string().c_str());
      return 3;
    }
    written += group;
    last = events.back().seq;
    if (!announced) {
      std::printf("ready %s\n", journal->journal_id().c_str());
      std::fflush(stdout);
      announced = true;
    }
    if (pause_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms));
  }
  if (pausing && !stopping) {
    std::printf("paused %lld\n", static_cast<long long>(last));
    std::fflush(stdout);
    while (!stopping) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (auto s = journal->close(); !s.ok()) {
    std::fprintf(stderr, "hugo-jetstream-writer: %s\n", s.error().to_string().c_str());
    return 3;
  }
  std::printf("done %lld\n", static_cast<long long>(last));
  std::fflush(stdout);
  return 0;
}

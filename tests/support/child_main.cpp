// The tests' helper process. Each verb exercises the public API from a separate process, so
// the tests can check cross-process behaviour (locking, readers, crashes) for real.
//
//   child hold-writer JOURNAL        open for writing, print "ready", then block until killed
//   child try-writer JOURNAL         open for writing; print "ok" or the error code and pid
//   child append JOURNAL N           append N events (Process durability), print each seq
//   child append-churn JOURNAL       append 2 KB events with tiny WAL thresholds (Process
//                                    durability), so WAL checkpoints run all the time; print
//                                    each acknowledged seq; run until killed
//   child watch JOURNAL COUNT        open a reader, print "ready", wait (polling data_version)
//                                    until COUNT rows are visible, print "seen <count> <last>"
//   child queue-workload JOURNAL ACKS SEED
//                                    random queue workload under Durability::Fsync; after each
//                                    acknowledged operation, append a line to ACKS, fsync it,
//                                    then print "ack" (the parent kills us at random acks)
//   child sink-workload JOURNAL SINKDB SEED
//   child coordinator-workload JOURNAL SINKDB EFFECTSDB RUNLOG SEED
//   child coordinator-replay JOURNAL SINKDB EFFECTSDB RUNLOG
//                                    see child_verbs.hpp
#include "tests/support/child_verbs.hpp"

#include <hugo/error_codes.hpp>
#include <hugo/journal.hpp>
#include <hugo/task_queue.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <random>
#include <vector>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

namespace {

hugo::Event event(int i) {
  hugo::Event e;
  e.kind = hugo::EventKind::Enqueued;
  e.queue = "child";
  e.payload = "payload-" + std::to_string(i);
  e.occurred_at = hugo::SystemClock().now();
  return e;
}

int fail(const hugo::Error& error) {
  std::printf("error %s\n", error.code().c_str());
  std::fflush(stdout);
  return 3;
}

// Appends the lines to the acknowledgement file and makes them durable before returning.
void acknowledge(int fd, const std::vector<std::string>& lines) {
  std::string text;
  for (const std::string& line : lines) text += line + "\n";
  if (::write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size()) || ::fsync(fd) != 0) std::abort();
  std::printf("ack\n");
  std::fflush(stdout);
}

std::string token_text(const hugo::OwnershipToken& t) {
  return std::to_string(t.task_id) + " " + std::to_string(t.attempt) + " " + std::to_string(t.lease_id);
}

int queue_workload(const std::string& path, const std::string& acks, unsigned seed) {
  hugo::JournalOptions journal_options;
  journal_options.durability = hugo::Durability::Fsync;
  auto opened = hugo::Journal::open(path, journal_options);
  if (!opened.ok()) return fail(opened.error());
  std::shared_ptr<hugo::Journal> journal(std::move(opened).value().release());
  hugo::TaskQueueOptions options;
  options.name = "crash";
  options.lease_duration = std::chrono::milliseconds(40);
  options.heartbeat_interval = hugo::Duration::zero();
  options.sweep_interval = std::chrono::milliseconds(10);
  options.max_delivery_attempts = 3;
  options.capacity = 100000;
  auto queue = hugo::TaskQueue::open(journal, options);
  if (!queue.ok()) return fail(queue.error());
  const int fd = ::open(acks.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return 4;
  std::mt19937 rng(seed);
  std::vector<hugo::OwnershipToken> held;
  int counter = 0;
  auto forget = [&](std::size_t i) { held.erase(held.begin() + static_cast<std::ptrdiff_t>(i)); };
  while (true) {
    const unsigned r = rng() % 100;
    const std::size_t pick = held.empty() ? 0 : rng() % held.size();
    auto payload = [&] { return "task-" + std::to_string(seed) + "-" + std::to_string(counter++); };
    if (r < 25) {
      auto id = (*queue)->enqueue(payload());
      if (!id.ok()) return fail(id.error());
      acknowledge(fd, {"E " + std::to_string(*id)});
    } else if (r < 30) {  // a batch: one atomic group, acknowledged together
      std::vector<std::string> payloads;
      for (unsigned n = 1 + rng() % 4; n > 0; --n) payloads.push_back(payload());
      auto ids = (*queue)->enqueue_batch(std::move(payloads));
      if (!ids.ok()) return fail(ids.error());
      std::vector<std::string> lines;
      for (const std::int64_t id : *ids) lines.push_back("E " + std::to_string(id));
      acknowledge(fd, lines);
    } else if (r < 55) {
      // Mostly single leases; sometimes a batch of up to 3.
      hugo::Result<std::vector<hugo::Lease>> leases = std::vector<hugo::Lease>{};
      if (r < 48) {
        auto one = (*queue)->lease("worker", hugo::Wait::none());
        if (one.ok()) leases = std::vector<hugo::Lease>{std::move(one).value()};
        else leases = std::move(one).error();
      } else {
        leases = (*queue)->lease_batch("worker", 1 + rng() % 3, hugo::Wait::none());
      }
      if (leases.ok()) {
        std::vector<std::string> lines;
        for (const hugo::Lease& lease : *leases) {
          held.push_back(lease.token);
          lines.push_back("L " + token_text(lease.token));
        }
        acknowledge(fd, lines);
      } else if (leases.error().code() != hugo::errc::queue_timeout) {
        return fail(leases.error());
      }
    } else if (r < 65 && !held.empty()) {
      auto hb = (*queue)->heartbeat(held[pick]);
      if (hb.ok()) acknowledge(fd, {"H " + token_text(held[pick])});
      else forget(pick);
    } else if (r < 82 && !held.empty()) {
      std::vector<hugo::OwnershipToken> tokens{held[pick]};
      forget(pick);
      if (!held.empty() && rng() % 3 == 0) {  // sometimes two at once, as one atomic group
        const std::size_t second = rng() % held.size();
        tokens.push_back(held[second]);
        forget(second);
      }
      // A stale token (expired meanwhile) fails a batch as a whole: then nothing was completed.
      if ((*queue)->complete_batch(tokens).ok()) {
        std::vector<std::string> lines;
        for (const auto& token : tokens) lines.push_back("C " + token_text(token));
        acknowledge(fd, lines);
      }
    } else if (r < 94 && !held.empty()) {
      const auto token = held[pick];
      forget(pick);
      auto outcome = (*queue)->fail(token, hugo::Error("app.crash_test", "random failure"), rng() % 4 != 0);
      if (outcome.ok()) {
        acknowledge(fd, {"F " + token_text(token) + (*outcome == hugo::FailOutcome::Requeued ? " R" : " D")});
      }
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(2 + rng() % 20));  // let leases expire
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return 2;
  const std::string verb = argv[1];
  const std::string path = argv[2];
  if (verb == "hold-writer" || verb == "try-writer") {
    auto journal = hugo::Journal::open(path, {});
    if (!journal.ok()) {
      const std::string* pid = journal.error().find("pid");
      std::printf("error %s %s\n", journal.error().code().c_str(), pid ? pid->c_str() : "-");
      std::fflush(stdout);
      return 3;
    }
    std::printf(verb == "hold-writer" ? "ready\n" : "ok\n");
    std::fflush(stdout);
    if (verb == "hold-writer") {
      while (true) std::this_thread::sleep_for(std::chrono::seconds(1));
    }
    return 0;
  }
  if (verb == "append" && argc >= 4) {
    hugo::JournalOptions options;
    options.durability = hugo::Durability::Process;
    auto journal = hugo::Journal::open(path, options);
    if (!journal.ok()) return fail(journal.error());
    const int n = std::atoi(argv[3]);
    for (int i = 0; i < n; ++i) {
      auto seq = (*journal)->append(event(i));
      if (!seq.ok()) return fail(seq.error());
      std::printf("%lld\n", static_cast<long long>(*seq));
      std::fflush(stdout);
    }
    return 0;
  }
  if (verb == "append-churn") {
    hugo::JournalOptions options;
    options.durability = hugo::Durability::Process;
    options.wal_checkpoint_bytes = 64 * 1024;
    options.wal_limit_bytes = 1024 * 1024;
    auto journal = hugo::Journal::open(path, options);
    if (!journal.ok()) return fail(journal.error());
    for (int i = 0;; ++i) {
      hugo::Event e = event(i);
      e.payload->append(2000, static_cast<char>('a' + i % 26));
      auto seq = (*journal)->append(std::move(e));
      if (!seq.ok()) return fail(seq.error());
      std::printf("%lld\n", static_cast<long long>(*seq));
      std::fflush(stdout);
    }
  }
  if (verb == "watch" && argc >= 4) {
    auto reader = hugo::JournalReader::open(path);
    if (!reader.ok()) return fail(reader.error());
    const long long want = std::atoll(argv[3]);
    std::printf("ready\n");
    std::fflush(stdout);
    long long seen = 0;
    std::int64_t last = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (seen < want && std::chrono::steady_clock::now() < deadline) {
      auto changed = (*reader)->changed();
      if (!changed.ok()) return fail(changed.error());
      if (!*changed) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        continue;
      }
      while (true) {  // drain everything committed so far
        auto events = (*reader)->read(last, 1000);
        if (!events.ok()) return fail(events.error());
        if (events->empty()) break;
        for (const auto& e : *events) {
          if (e.seq != last + 1) {
            std::printf("gap %lld %lld\n", static_cast<long long>(last), static_cast<long long>(e.seq));
            return 1;
          }
          last = e.seq;
          ++seen;
        }
      }
    }
    std::printf("seen %lld %lld\n", seen, static_cast<long long>(last));
    std::fflush(stdout);
    return seen >= want ? 0 : 1;
  }
  if (verb == "sink-workload" && argc >= 5) {
    return hugo::test::sink_workload(path, argv[3], static_cast<unsigned>(std::strtoul(argv[4], nullptr, 10)));
  }
  if (verb == "coordinator-workload" && argc >= 7) {
    return hugo::test::coordinator_workload(path, argv[3], argv[4], argv[5],
                                            static_cast<unsigned>(std::strtoul(argv[6], nullptr, 10)));
  }
  if (verb == "coordinator-replay" && argc >= 6) {
    return hugo::test::coordinator_replay(path, argv[3], argv[4], argv[5]);
  }
  if (verb == "queue-workload" && argc >= 5) {
    return queue_workload(path, argv[3], static_cast<unsigned>(std::strtoul(argv[4], nullptr, 10)));
  }
  return 2;
}

// Demo part 1: the journal itself. Several threads append task lifecycles concurrently through
// group commit, the journal is closed and reopened read-only, and what it holds is printed.
#include "demo.hpp"

#include <hugo/hugo.hpp>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

namespace demo {
namespace {

constexpr int kThreads = 4;
constexpr int kTasksPerThread = 250;

int fail(const hugo::Error& error) {
  std::fprintf(stderr, "demo: %s\n", error.to_string().c_str());
  return 1;
}

// One task's happy path: Enqueued, LeaseGranted, Completed. Returns the first error.
hugo::Status run_task(hugo::Journal& journal, const hugo::Clock& clock, const std::string& worker, int n) {
  hugo::Event enqueued;
  enqueued.queue = "orders";
  enqueued.payload = R"({"order":)" + std::to_string(n) + "}";
  enqueued.payload_format = hugo::PayloadFormat::Json;
  enqueued.occurred_at = clock.now();
  HUGO_ASSIGN_OR_RETURN(std::int64_t task, journal.append(enqueued));

  hugo::Event granted;
  granted.kind = hugo::EventKind::LeaseGranted;
  granted.queue = "orders";
  granted.task_id = task;
  granted.owner_peer_id = worker;
  granted.occurred_at = clock.now();
  granted.lease_expiration = granted.occurred_at + std::chrono::seconds(30);
  granted.token = hugo::OwnershipToken{task, 1, 0};
  HUGO_ASSIGN_OR_RETURN(std::int64_t lease, journal.append(granted));

  hugo::Event completed;
  completed.kind = hugo::EventKind::Completed;
  completed.queue = "orders";
  completed.task_id = task;
  completed.owner_peer_id = worker;
  completed.occurred_at = clock.now();
  completed.token = hugo::OwnershipToken{task, 1, lease};
  HUGO_TRY(journal.append(completed));
  return hugo::ok_status();
}

}  // namespace

int journal_part(const std::filesystem::path& dir) {
  const std::filesystem::path path = dir / "part1.journal";
  std::printf("== part 1: the journal ==\njournal: %s\n\n", path.c_str());

  {
    hugo::JournalOptions options;
    options.durability = hugo::Durability::Fsync;
    auto opened = hugo::Journal::open(path, options);
    if (!opened.ok()) return fail(opened.error());
    hugo::Journal& journal = **opened;
    std::printf("1. opened a new journal %s (Fsync durability)\n", journal.journal_id().c_str());

    hugo::SystemClock clock;
    std::vector<std::thread> workers;
    std::vector<hugo::Status> results(kThreads);
    for (int t = 0; t < kThreads; ++t) {
      workers.emplace_back([&, t] {
        for (int i = 0; i < kTasksPerThread && results[static_cast<std::size_t>(t)].ok(); ++i) {
          results[static_cast<std::size_t>(t)] =
              run_task(journal, clock, "worker-" + std::to_string(t), t * kTasksPerThread + i);
        }
      });
    }
    for (auto& w : workers) w.join();
    for (const auto& r : results) {
      if (!r.ok()) return fail(r.error());
    }
    std::printf("2. %d threads appended %d task lifecycles concurrently (group commit)\n", kThreads,
                kThreads * kTasksPerThread);
    if (auto closed = journal.close(); !closed.ok()) return fail(closed.error());
    std::printf("3. closed the journal\n");
  }

  auto reader = hugo::JournalReader::open(path);
  if (!reader.ok()) return fail(reader.error());
  auto info = (*reader)->info();
  if (!info.ok()) return fail(info.error());
  std::printf("4. reopened read-only: journal %s, schema v%d, seq %lld..%lld, %lld rows\n\n",
              info->journal_id.c_str(), info->schema_version, static_cast<long long>(info->first_seq),
              static_cast<long long>(info->last_seq), static_cast<long long>(info->row_count));

  std::array<long long, hugo::kEventKindCount> per_kind{};
  std::int64_t after = 0;
  std::int64_t expected = 1;
  std::vector<hugo::Event> first;
  while (true) {
    auto batch = (*reader)->read(after, 512);
    if (!batch.ok()) return fail(batch.error());
    if (batch->empty()) break;
    for (auto& e : *batch) {
      if (e.seq != expected++) {
        std::fprintf(stderr, "demo: gap before seq %lld\n", static_cast<long long>(e.seq));
        return 1;
      }
      ++per_kind[static_cast<std::size_t>(e.kind)];
      if (first.size() < 3) first.push_back(e);
    }
    after = batch->back().seq;
  }
  std::printf("events per kind:\n");
  for (int k = 0; k < hugo::kEventKindCount; ++k) {
    if (per_kind[static_cast<std::size_t>(k)] > 0) {
      std::printf("  %-13s %lld\n", std::string(hugo::to_string(static_cast<hugo::EventKind>(k))).c_str(),
                  per_kind[static_cast<std::size_t>(k)]);
    }
  }
  std::printf("\nthe first events, as Hugo-compatible JSON:\n");
  for (const auto& e : first) std::printf("  %s\n", hugo::encode_event_json(e).c_str());
  std::printf("\nsequence numbers 1..%lld are gap-free and in order.\n\n", static_cast<long long>(expected - 1));
  return 0;
}

}  // namespace demo

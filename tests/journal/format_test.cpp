// The row format: every field survives the journal, the rows stay compact, the WAL stays bounded.
#include <doctest/doctest.h>

#include <hugo/journal.hpp>

#include "schema/sqlite.hpp"
#include "tests/support/events.hpp"
#include "tests/support/temp_dir.hpp"

#include <filesystem>

namespace journal_format_test {

using namespace hugo;
using hugo::test::t0;
using hugo::test::TempDir;

namespace {

std::vector<Event> one_task_lifecycle() {
  // Seqs: 1 Enqueued, 2 LeaseGranted, 3 Heartbeat, 4 Failed, 5 Requeued, 6 LeaseGranted,
  // 7 LeaseExpired, 8 Requeued, 9 Drained, 10 Restored, 11 LeaseGranted, 12 Completed; then a
  // second task with a JSON payload: 13 Enqueued, 14 DeadLettered.
  std::vector<Event> events;
  const Timestamp at = t0() + std::chrono::microseconds(123456);
  auto add = [&](EventKind kind, std::int32_t attempt, std::optional<OwnershipToken> token) {
    Event e;
    e.kind = kind;
    e.queue = "orders";
    e.task_id = 1;
    e.attempt = attempt;
    e.occurred_at = at + std::chrono::seconds(events.size());
    e.token = token;
    events.push_back(e);
    return &events.back();
  };
  Event* e = add(EventKind::Enqueued, 1, std::nullopt);
  e->task_id = 0;
  e->payload = std::string("\x00\x01\xff payload", 11);
  e = add(EventKind::LeaseGranted, 1, OwnershipToken{1, 1, 0});
  e->owner_peer_id = "worker-a";
  e->lease_expiration = e->occurred_at + std::chrono::seconds(30);
  e = add(EventKind::Heartbeat, 1, OwnershipToken{1, 1, 2});
  e->lease_expiration = e->occurred_at + std::chrono::seconds(30);
  e = add(EventKind::Failed, 1, OwnershipToken{1, 1, 2});
  e->error = Error("app.timeout", "upstream timed out").with("upstream", "billing");
  e = add(EventKind::Requeued, 2, OwnershipToken{1, 1, 2});
  e->error = Error("app.timeout", "upstream timed out").with("upstream", "billing");
  e = add(EventKind::LeaseGranted, 2, OwnershipToken{1, 2, 0});
  e->owner_peer_id = "worker-b";
  e->lease_expiration = e->occurred_at + std::chrono::seconds(30);
  e = add(EventKind::LeaseExpired, 2, OwnershipToken{1, 2, 6});
  e->flags = flags::FromExpiration;
  e->error = Error("error.taskqueue.lease_expired", "Lease expired without heartbeat.").with("attempt", "2");
  e = add(EventKind::Requeued, 3, OwnershipToken{1, 2, 6});
  e->flags = flags::FromExpiration;
  e = add(EventKind::Drained, 3, OwnershipToken{1, 2, 6});
  e->flags = flags::FromDrain;
  e = add(EventKind::Restored, 3, OwnershipToken{1, 2, 6});
  e->payload = std::string("\x00\x01\xff payload", 11);
  e = add(EventKind::LeaseGranted, 3, OwnershipToken{1, 3, 0});
  e->owner_peer_id = "worker-a";
  e->lease_expiration = e->occurred_at + std::chrono::seconds(30);
  add(EventKind::Completed, 3, OwnershipToken{1, 3, 11});
  e = add(EventKind::Enqueued, 1, std::nullopt);
  e->task_id = 0;
  e->payload = std::string(R"({"order": 7,  "items": [1, 2]})");
  e->payload_format = PayloadFormat::Json;
  e = add(EventKind::DeadLettered, 1, std::nullopt);
  e->task_id = 13;
  e->flags = flags::DeadLetter;
  e->error = Error("error.taskqueue.deadlettered", "Queue disposed before delivery.");
  return events;
}

// `input` as the journal reads it back after appending it at `seq`.
Event as_journaled(Event input, std::int64_t seq, const Journal& journal) {
  input.seq = seq;
  input.source_event_id = seq;
  input.recorded_at = input.occurred_at;
  input.journal_id = journal.journal_id();
  if (input.task_id == 0) input.task_id = seq;
  if (input.token && input.token->lease_id == 0) input.token->lease_id = seq;
  return input;
}

// Reads the whole journal and checks that it holds exactly `input`, appended from seq 1 on.
std::vector<Event> read_back_as_appended(Journal& journal, const std::vector<Event>& input) {
  auto output = journal.read(0, input.size() + 1);
  REQUIRE(output.ok());
  REQUIRE(output->size() == input.size());
  for (std::size_t i = 0; i < input.size(); ++i) {
    CAPTURE(i);
    CHECK((*output)[i] == as_journaled(input[i], static_cast<std::int64_t>(i + 1), journal));
  }
  return *std::move(output);
}

}  // namespace

TEST_SUITE("journal.format") {

TEST_CASE("every kind and field round-trips through the journal") {
  TempDir dir;
  auto opened = Journal::open(dir / "j.db", {});
  REQUIRE(opened.ok());
  Journal& journal = **opened;
  auto input = one_task_lifecycle();
  for (const Event& e : input) REQUIRE(journal.append(e).ok());
  const std::vector<Event> output = read_back_as_appended(journal, input);
  // The Requeued row's token keeps the previous attempt, while the event carries the next one.
  CHECK(output[4].attempt == 2);
  CHECK(output[4].token->attempt == 1);
}

TEST_CASE("a group large enough for the multi-row INSERTs round-trips every field in order") {
  // One transaction of 3 lifecycles (42 rows) is written as statements of 32, 8, 1 and 1 rows.
  // Each copy has its own queue and peer names, so names are interned in the middle of a
  // multi-row statement, and rows from every kind land at every position of a statement.
  TempDir dir;
  auto opened = Journal::open(dir / "j.db", {});
  REQUIRE(opened.ok());
  Journal& journal = **opened;
  const auto lifecycle = one_task_lifecycle();
  const auto rows_per_copy = static_cast<std::int64_t>(lifecycle.size());
  std::vector<Event> input;
  for (std::int64_t copy = 0; copy < 3; ++copy) {
    for (Event e : lifecycle) {
      const std::int64_t shift = copy * rows_per_copy;
      e.queue += "-" + std::to_string(copy);
      if (e.owner_peer_id) *e.owner_peer_id += "-" + std::to_string(copy);
      if (e.task_id != 0) e.task_id += shift;
      if (e.token) {
        e.token->task_id += shift;
        if (e.token->lease_id != 0) e.token->lease_id += shift;
      }
      input.push_back(e);
    }
  }
  std::vector<Event> group = input;
  REQUIRE(journal.append_group_async(group).wait().ok());
  read_back_as_appended(journal, input);
  // The group's events were filled in place with what the journal assigned.
  for (std::size_t i = 0; i < input.size(); ++i) {
    CAPTURE(i);
    CHECK(group[i] == as_journaled(input[i], static_cast<std::int64_t>(i + 1), journal));
  }
}

TEST_CASE("rows cost at most payload + 32 bytes per event on the canonical lifecycle") {
  TempDir dir;
  const auto path = dir / "j.db";
  constexpr int kTasks = 20000;
  const std::string payload(64, 'p');
  {
    JournalOptions options;
    options.durability = Durability::Process;
    auto opened = Journal::open(path, options);
    REQUIRE(opened.ok());
    Journal& journal = **opened;
    Timestamp at = t0();
    std::vector<AppendTicket> tickets;
    for (int i = 0; i < kTasks; ++i) {
      at += std::chrono::milliseconds(3);
      const std::int64_t task = journal.append_async(test::enqueued("orders", payload, at)).seq;
      const std::int64_t lease = journal.append_async(test::lease_granted("orders", task, 1, "worker-1", at)).seq;
      Event done;
      done.kind = EventKind::Completed;
      done.queue = "orders";
      done.task_id = task;
      done.occurred_at = at;
      done.token = OwnershipToken{task, 1, lease};
      tickets.push_back(journal.append_async(done));
    }
    for (auto& t : tickets) REQUIRE(t.wait().ok());
  }
  auto db = sql::Db::open(path, sql::OpenMode::ReadOnly, std::chrono::milliseconds(1000));
  REQUIRE(db.ok());
  const auto pages = db->query_int("PRAGMA page_count").value_or(0);
  const auto page_size = db->query_int("PRAGMA page_size").value_or(0);
  const double events = 3.0 * kTasks;
  const double overhead = (static_cast<double>(pages * page_size) - kTasks * static_cast<double>(payload.size())) / events;
  MESSAGE("bytes per event beyond the payload: " << overhead);
  CHECK(overhead <= 32.0);
}

TEST_CASE("the WAL stays bounded under sustained appends") {
  TempDir dir;
  const auto path = dir / "j.db";
  JournalOptions options;
  options.durability = Durability::Process;
  options.wal_checkpoint_bytes = 1u << 20;
  options.wal_limit_bytes = 4u << 20;
  auto opened = Journal::open(path, options);
  REQUIRE(opened.ok());
  const std::string payload(512, 'w');
  std::uintmax_t largest = 0;
  for (int round = 0; round < 40; ++round) {
    std::vector<AppendTicket> tickets;
    for (int i = 0; i < 500; ++i) tickets.push_back((*opened)->append_async(test::enqueued("q", payload)));
    for (auto& t : tickets) REQUIRE(t.wait().ok());
    std::error_code ec;
    largest = std::max(largest, std::filesystem::file_size(path.string() + "-wal", ec));
  }
  MESSAGE("largest WAL seen: " << largest);
  CHECK(largest > 0);
  CHECK(largest <= (5u << 20));  // limit plus one commit's worth of frames
}

}  // TEST_SUITE

}  // namespace journal_format_test

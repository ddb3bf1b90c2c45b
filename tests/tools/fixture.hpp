// Test support for the CLI: a deterministic journal holding every event kind on two queues,
// built through the public API under a ManualClock (the journal id stays random; tests
// normalise it, see cli_support.hpp).
//
//   orders: 1 {"order":1} json  enqueued, leased by w-a, heartbeat, completed
//           2 "plain text"      leased by w-b, failed (requeued), leased again by w-e: leased
//           3 bytes 00 01 ff    leased by w-c, failed for good: dead
//           4 {"order":4} json  leased by w-d, expired, requeued: pending
//   emails: 18 "hello\tworld\n", 19 "bye": drained and restored; 18 leased by mailer, 19 pending
#pragma once

#include <hugo/journal.hpp>
#include <hugo/task_queue.hpp>

#include "tests/tools/cli_support.hpp"

#include <chrono>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

namespace hugo::test::cli {

template <class T>
T ok_or_throw(Result<T> r) {
  if (!r.ok()) throw std::runtime_error(r.error().to_string());
  return std::move(r).value();
}
inline void ok_or_throw(Status s) {
  if (!s.ok()) throw std::runtime_error(s.error().to_string());
}

inline TaskQueueOptions fixture_queue(std::string name, std::shared_ptr<ManualClock> clock) {
  TaskQueueOptions o;
  o.name = std::move(name);
  o.clock = std::move(clock);
  o.run_sweeper = false;
  o.max_delivery_attempts = 3;
  return o;
}

inline std::shared_ptr<Journal> open_fixture_journal(const std::filesystem::path& path,
                                                     std::shared_ptr<ManualClock> clock) {
  JournalOptions options;
  options.durability = Durability::Process;
  options.clock = clock;
  return std::shared_ptr<Journal>(ok_or_throw(Journal::open(path, options)).release());
}

// Builds the fixture journal at `path` (which must not exist); returns its journal id.
inline std::string build_fixture(const std::filesystem::path& path) {
  using namespace std::chrono_literals;
  auto clock = std::make_shared<ManualClock>();
  auto journal = open_fixture_journal(path, clock);
  auto orders = ok_or_throw(TaskQueue::open(journal, fixture_queue("orders", clock)));
  auto emails = ok_or_throw(TaskQueue::open(journal, fixture_queue("emails", clock)));

  ok_or_throw(orders->enqueue("{\"order\":1}", {}, PayloadFormat::Json));
  clock->advance(1s);
  ok_or_throw(orders->enqueue("plain text"));
  clock->advance(1s);
  ok_or_throw(orders->enqueue(std::string("\x00\x01\xff", 3)));
  clock->advance(1s);
  ok_or_throw(orders->enqueue("{\"order\":4}", {}, PayloadFormat::Json));
  clock->advance(1s);

  const Lease a = ok_or_throw(orders->lease("w-a", Wait::none()));
  clock->advance(6s);
  (void)ok_or_throw(orders->heartbeat(a.token));
  clock->advance(1s);
  ok_or_throw(orders->complete(a.token));
  clock->advance(1s);
  const Lease b = ok_or_throw(orders->lease("w-b", Wait::none()));
  clock->advance(1s);
  (void)ok_or_throw(orders->fail(b.token, Error("app.declined", "card declined").with("card", "visa")));
  clock->advance(1s);
  const Lease c = ok_or_throw(orders->lease("w-c", Wait::none()));
  clock->advance(1s);
  (void)ok_or_throw(orders->fail(c.token, Error("app.fatal", "bad bytes"), false));
  clock->advance(1s);
  (void)ok_or_throw(orders->lease("w-d", Wait::none()));
  clock->advance(31s);
  (void)ok_or_throw(orders->sweep_expired());
  clock->advance(1s);
  (void)ok_or_throw(orders->lease("w-e", Wait::none()));  // task 2, attempt 2: stays leased
  clock->advance(1min);

  ok_or_throw(emails->enqueue("hello\tworld\n"));
  clock->advance(1s);
  ok_or_throw(emails->enqueue("bye"));
  clock->advance(1s);
  auto drained = ok_or_throw(emails->drain());
  clock->advance(1s);
  ok_or_throw(emails->restore(std::move(drained)));
  clock->advance(1s);
  (void)ok_or_throw(emails->lease("mailer", Wait::none()));

  const std::string id = journal->journal_id();
  ok_or_throw(orders->close());
  ok_or_throw(emails->close());
  ok_or_throw(journal->close());
  return id;
}

// The fixture journal `f.journal` in a fresh folder, and the CLI run in that folder.
struct FixtureJournal {
  TempDir dir;
  std::filesystem::path path = dir / "f.journal";
  std::string id = build_fixture(path);

  Run cli(const std::vector<std::string>& args, const std::optional<std::string>& input = std::nullopt) const {
    return run_cli(args, dir.path(), input);
  }
  // `cli(args)` expecting exit 0 and nothing on stderr; returns stdout with the id normalised.
  std::string ok(const std::vector<std::string>& args) const {
    const Run r = cli(args);
    CAPTURE(r.err);
    REQUIRE(r.code == 0);
    CHECK(r.err.empty());
    return replace_all(r.out, id, "JOURNAL_ID");
  }
};

}  // namespace hugo::test::cli

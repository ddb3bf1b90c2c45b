// Deterministic primitives: effect capture and replay, claims and crashes, version gates, and the
// gate's branch selection, including the fixes of docs/DETERMINISTIC.md, "Differences from Hugo".
#include <doctest/doctest.h>

#include <hugo/effect_capture.hpp>
#include <hugo/effects.hpp>
#include <hugo/error_codes.hpp>
#include <hugo/journal.hpp>
#include <hugo/version_gate.hpp>
#include <hugo/workflow.hpp>

#include "schema/sqlite.hpp"
#include "tests/support/queue_fixture.hpp"

#include <atomic>
#include <csignal>
#include <latch>
#include <stdexcept>
#include <thread>

#include <sys/wait.h>
#include <unistd.h>

namespace replay_deterministic_test {

using namespace hugo;
using namespace std::chrono_literals;
using test::must;

namespace {

struct Receipt {
  std::string order;
  double amount = 0;
  std::vector<int> lines;
  int cached_total = 0;  // not serialized: a first run must not return it either
  template <class Archive>
  void serialize(Archive& ar) {
    ar(order, amount, lines);
  }
  friend bool operator==(const Receipt&, const Receipt&) = default;
};

}  // namespace
}  // namespace replay_deterministic_test

template <>
struct hugo::EffectTypeTag<replay_deterministic_test::Receipt> {
  static constexpr std::string_view value = "test.receipt.v1";
};

namespace replay_deterministic_test {
namespace {

struct Store {
  test::TempDir dir;
  std::filesystem::path db = dir / "sink.db";
  std::shared_ptr<ManualClock> clock = std::make_shared<ManualClock>();
  std::shared_ptr<DeterministicEffectStore> store;

  explicit Store(IndeterminatePolicy policy = IndeterminatePolicy::Rerun) { store = open(policy); }

  std::shared_ptr<DeterministicEffectStore> open(IndeterminatePolicy policy = IndeterminatePolicy::Rerun) const {
    DeterministicOptions options;
    options.clock = clock;
    options.on_indeterminate = policy;
    return must(DeterministicEffectStore::open(db, options));
  }

  // A claim without an outcome, as a process that died inside its effect leaves it.
  void insert_pending(std::string_view id) const {
    auto raw = must(sql::Db::open(db, sql::OpenMode::ReadWrite, 5000ms));
    auto stmt = must(raw.prepare(
        "INSERT INTO hugo_effects (effect_id, kind, version, state, type_tag, claimed_at) "
        "VALUES (?1, 'hugo.effect', 0, 'pending', 'int64', ?2)"));
    must(stmt.bind(1, id).bind(2, clock->now().time_since_epoch().count()).run());
  }

  std::optional<EffectRecord> find(std::string_view id) const { return must(store->find(id)); }
};

std::string meta(const Error& e, std::string_view key) {
  const std::string* v = e.find(key);
  return v ? *v : std::string("<missing>");
}

}  // namespace

TEST_SUITE("deterministic.effects") {

TEST_CASE("the first capture runs and records; a replay returns 7 without calling the new effect") {
  Store s;
  int calls = 0;
  const Timestamp t0 = s.clock->now();
  CHECK(must(s.store->capture<std::int64_t>("effect-1", [&] { ++calls; return std::int64_t{7}; })) == 7);
  s.clock->advance(5s);
  CHECK(must(s.store->capture<std::int64_t>("effect-1", [&] { ++calls; return std::int64_t{8}; })) == 7);
  CHECK(calls == 1);
  const EffectRecord r = s.find("effect-1").value();
  CHECK(r.kind == kEffectKind);
  CHECK(r.state == EffectState::Done);
  CHECK(r.type_tag == std::optional<std::string>("int64"));
  CHECK(r.is_success == std::optional<bool>(true));
  CHECK(r.claimed_at == t0);
  CHECK(r.recorded_at == std::optional<Timestamp>(t0));
}

TEST_CASE("a recorded failure replays exactly: code, message, metadata and cause") {
  Store s;
  Error declined = Error("orders.declined", "card declined", {{"orderId", "42"}, {"stage", "charge"}})
                       .with_cause(ErrorCause{"PaymentError", "insufficient funds", std::nullopt});
  auto first = s.store->capture<std::int64_t>("charge-42", "int64", [&]() -> Result<std::int64_t> { return declined; });
  auto replay = s.store->capture<std::int64_t>("charge-42", "int64", [] { return std::int64_t{1}; });
  REQUIRE_FALSE(first.ok());
  REQUIRE_FALSE(replay.ok());
  CHECK(first.error() == declined);
  CHECK(replay.error() == first.error());
  CHECK(s.find("charge-42")->is_success == std::optional<bool>(false));
}

TEST_CASE("an exception becomes a recorded error.exception that replays identically") {
  Store s;
  int calls = 0;
  auto boom = [&]() -> std::int64_t {
    ++calls;
    throw std::runtime_error("boom");
  };
  auto first = s.store->capture<std::int64_t>("explode", boom);
  auto replay = s.store->capture<std::int64_t>("explode", boom);
  REQUIRE_FALSE(first.ok());
  CHECK(first.error().code() == errc::exception);
  CHECK(first.error().message() == "boom");
  CHECK(meta(first.error(), "exceptionType") == "std::runtime_error");
  CHECK(meta(first.error(), "effectId") == "explode");
  CHECK(replay.error() == first.error());
  CHECK(calls == 1);
}

TEST_CASE("cancellation is never recorded, thrown or returned; the next capture runs the effect") {
  Store s;
  auto thrown = s.store->capture<std::int64_t>("cancel-me", []() -> std::int64_t { throw OperationCanceled(); });
  CHECK(thrown.error().code() == errc::canceled);
  CHECK_FALSE(s.find("cancel-me").has_value());
  auto returned = s.store->capture<std::int64_t>(
      "cancel-me", []() -> Result<std::int64_t> { return Error::canceled("stop requested"); });
  CHECK(returned.error().code() == errc::canceled);
  CHECK(returned.error().message() == "stop requested");
  CHECK_FALSE(s.find("cancel-me").has_value());
  CHECK(must(s.store->capture<std::int64_t>("cancel-me", [] { return std::int64_t{3}; })) == 3);
}

TEST_CASE("replaying under another type tag is error.deterministic.replay naming both tags") {
  Store s;
  must(s.store->capture<std::int64_t>("typed", [] { return std::int64_t{1}; }));
  bool called = false;
  auto r = s.store->capture<std::string>("typed", [&] { called = true; return std::string("x"); });
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code() == errc::deterministic_replay);
  CHECK(meta(r.error(), "storedType") == "int64");
  CHECK(meta(r.error(), "requestedType") == "string");
  CHECK(meta(r.error(), "effectId") == "typed");
  CHECK_FALSE(called);
}

TEST_CASE("an id used by a version marker cannot be captured as an effect, and vice versa") {
  Store s;
  VersionGate gate(s.store);
  must(gate.require("feature", 1, 3));
  bool called = false;
  auto r = s.store->capture<std::int64_t>("feature", [&] { called = true; return std::int64_t{1}; });
  CHECK(r.error().code() == errc::deterministic_replay);
  CHECK(meta(r.error(), "kind") == "hugo.version");
  CHECK_FALSE(called);
  must(s.store->capture<std::int64_t>("an-effect", [] { return std::int64_t{1}; }));
  auto v = gate.require("an-effect", 1, 3);
  CHECK(v.error().code() == errc::deterministic_replay);
  CHECK(meta(v.error(), "kind") == "hugo.effect");
}

TEST_CASE("a pending claim is refused under Fail until discarded, and rerun under Rerun") {
  Store s(IndeterminatePolicy::Fail);
  const Timestamp claimed = s.clock->now();
  s.insert_pending("half-done");
  s.clock->advance(1min);
  int calls = 0;
  auto effect = [&] { ++calls; return std::int64_t{5}; };
  auto refused = s.store->capture<std::int64_t>("half-done", effect);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code() == errc::deterministic_indeterminate);
  CHECK(refused.error().code() == "error.deterministic.indeterminate");
  CHECK(meta(refused.error(), "claimedAt") == format_iso8601(claimed));
  CHECK(meta(refused.error(), "effectId") == "half-done");
  CHECK(calls == 0);
  CHECK(must(s.store->list(true)).size() == 1);
  CHECK(must(s.store->discard_pending("half-done")));
  CHECK(must(s.store->capture<std::int64_t>("half-done", effect)) == 5);
  CHECK(calls == 1);
  CHECK_FALSE(must(s.store->discard_pending("half-done")));  // a done row is never discarded

  s.insert_pending("rerun-me");
  auto rerun = s.open(IndeterminatePolicy::Rerun);
  CHECK(must(rerun->capture<std::int64_t>("rerun-me", effect)) == 5);
  CHECK(calls == 2);
  CHECK(must(rerun->list(true)).empty());
  CHECK(s.find("rerun-me")->claimed_at == s.clock->now());  // the claim was taken over
}

TEST_CASE("a process killed inside its effect leaves a claim that the next capture resolves by policy") {
  Store s(IndeterminatePolicy::Fail);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    auto child = s.open();
    (void)child->capture<std::int64_t>("killed", []() -> std::int64_t {
      ::raise(SIGKILL);
      return 1;
    });
    ::_exit(0);  // not reached
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFSIGNALED(status));
  CHECK(s.find("killed")->state == EffectState::Pending);
  CHECK(s.store->capture<std::int64_t>("killed", [] { return std::int64_t{2}; }).error().code() ==
        errc::deterministic_indeterminate);
  CHECK(must(s.open(IndeterminatePolicy::Rerun)->capture<std::int64_t>("killed", [] { return std::int64_t{2}; })) == 2);
}

TEST_CASE("eight threads capturing one id at once run the effect once and all get its value") {
  Store s;
  auto second_store = s.open();  // a second store on the same file shares the per-id lock
  std::atomic<int> calls{0};
  std::latch start(8);
  std::vector<std::int64_t> seen(8, -1);
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      DeterministicEffectStore& store = (i % 2 == 0) ? *s.store : *second_store;
      auto r = store.capture<std::int64_t>("once", [&, i] {
        calls.fetch_add(1);
        std::this_thread::sleep_for(20ms);  // widens the race window; nothing asserts a timing
        return std::int64_t{100 + i};
      });
      if (r.ok()) seen[static_cast<std::size_t>(i)] = *r;
    });
  }
  for (auto& t : threads) t.join();
  CHECK(calls.load() == 1);
  for (std::int64_t v : seen) CHECK(v == seen[0]);
  CHECK(seen[0] >= 100);
}

TEST_CASE("records survive closing and reopening the store file") {
  Store s;
  must(s.store->capture<std::string>("greeting", [] { return std::string("hello"); }));
  must(s.store->capture<std::vector<std::uint8_t>>("bytes", [] { return std::vector<std::uint8_t>{0, 1, 255}; }));
  s.store.reset();
  s.store = s.open();
  CHECK(must(s.store->capture<std::string>("greeting", [] { return std::string("other"); })) == "hello");
  CHECK(must(s.store->capture<std::vector<std::uint8_t>>("bytes", [] { return std::vector<std::uint8_t>{}; })) ==
        std::vector<std::uint8_t>{0, 1, 255});
  CHECK(must(s.store->list()).size() == 2);
}

TEST_CASE("a first run returns the stored representation, equal to every replay") {
  Store s;
  auto make = [] { return Receipt{"o-1", 12.5, {1, 2, 3}, 99}; };
  const Receipt first = must(s.store->capture<Receipt>("receipt", make));
  const Receipt replay = must(s.store->capture<Receipt>("receipt", make));
  CHECK(first == replay);
  CHECK(first.cached_total == 0);  // what was stored, not what the effect returned
  CHECK(s.find("receipt")->type_tag == std::optional<std::string>("test.receipt.v1"));
  CHECK(must(s.store->capture<Receipt>("receipt-explicit", "orders.receipt.v2", make)).lines.size() == 3);
}

TEST_CASE("blank ids and tags are error.validation and nothing runs") {
  Store s;
  bool called = false;
  auto effect = [&] { called = true; return std::int64_t{1}; };
  CHECK(s.store->capture<std::int64_t>("  ", effect).error().code() == errc::validation);
  CHECK(s.store->capture<std::int64_t>("id", " ", effect).error().code() == errc::validation);
  CHECK(s.store->find("").error().code() == errc::validation);
  CHECK_FALSE(called);
}

TEST_CASE("a capture nested in a capture of the same id fails instead of deadlocking") {
  Store s;
  auto outer = s.store->capture<std::int64_t>("nest", [&]() -> Result<std::int64_t> {
    return s.store->capture<std::int64_t>("nest", [] { return std::int64_t{1}; });
  });
  CHECK(outer.error().code() == errc::validation);  // recorded as the outer effect's outcome
  CHECK(must(s.store->capture<std::int64_t>("nest-outer", [&]() -> Result<std::int64_t> {
          return s.store->capture<std::int64_t>("nest-inner", [] { return std::int64_t{4}; });
        })) == 4);
}

TEST_CASE("the store refuses to put its table in a journal") {
  test::TempDir dir;
  must(Journal::open(dir / "queue.journal", {}));
  auto r = DeterministicEffectStore::open(dir / "queue.journal", {});
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code() == errc::validation);
}

}  // TEST_SUITE

TEST_SUITE("deterministic.versions") {

TEST_CASE("a new change id records max by default and replays it as not new") {
  Store s;
  VersionGate gate(s.store);
  const Timestamp t0 = s.clock->now();
  CHECK(must(gate.require("checkout", 1, 3)) == VersionDecision{3, true, t0});
  s.clock->advance(1h);
  CHECK(must(gate.require("checkout", 1, 5)) == VersionDecision{3, false, t0});
}

TEST_CASE("an initial-version provider picks the first version and sees the change and range") {
  Store s;
  VersionGate gate(s.store);
  VersionContext seen;
  auto d = must(gate.require("search", 1, 4, [&](const VersionContext& ctx) { seen = ctx; return 2; }));
  CHECK(d.version == 2);
  CHECK(d.is_new);
  CHECK(seen.change_id == "search");
  CHECK(seen.min_version == 1);
  CHECK(seen.max_version == 4);
  CHECK(must(gate.require("search", 1, 4, [](const VersionContext&) { return 4; })).version == 2);
  CHECK(must(gate.require("legacy", VersionGate::kDefaultVersion, 1,
                          [](const VersionContext&) { return VersionGate::kDefaultVersion; }))
            .version == -1);
}

TEST_CASE("invalid arguments and out-of-range versions fail with Hugo's codes and messages") {
  Store s;
  VersionGate gate(s.store);
  auto inverted = gate.require("c", 3, 1);
  CHECK(inverted.error().code() == errc::validation);
  CHECK(inverted.error().message() == "Minimum supported version 3 exceeds maximum 1.");
  CHECK(meta(inverted.error(), "changeId") == "c");
  CHECK(meta(inverted.error(), "minVersion") == "3");
  CHECK(meta(inverted.error(), "maxVersion") == "1");
  CHECK(gate.require(" ", 1, 2).error().code() == errc::validation);

  auto initial = gate.require("c", 1, 3, [](const VersionContext&) { return 9; });
  CHECK(initial.error().code() == errc::version_conflict);
  CHECK(initial.error().message() == "Initial version 9 is outside the supported range 1..3.");
  CHECK(meta(initial.error(), "initialVersion") == "9");
  CHECK_FALSE(s.find("c").has_value());

  auto thrown = gate.require("c", 1, 3, [](const VersionContext&) -> int { throw std::logic_error("no config"); });
  CHECK(thrown.error().code() == errc::exception);
  CHECK(meta(thrown.error(), "changeId") == "c");

  must(gate.require("c", 1, 3));
  auto outside = gate.require("c", 4, 5);
  CHECK(outside.error().code() == errc::version_conflict);
  CHECK(outside.error().message() == "Recorded version 3 falls outside supported range 4..5.");
  CHECK(meta(outside.error(), "persistedVersion") == "3");
  CHECK(meta(outside.error(), "minVersion") == "4");
  CHECK(meta(outside.error(), "maxVersion") == "5");
}

TEST_CASE("concurrent first requires agree on one marker and exactly one is new") {
  Store s;
  VersionGate gate(s.store);
  std::latch start(8);
  std::vector<VersionDecision> decisions(8);
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      auto d = gate.require("race", 1, 8, [i](const VersionContext&) { return i + 1; });
      if (d.ok()) decisions[static_cast<std::size_t>(i)] = *d;
    });
  }
  for (auto& t : threads) t.join();
  int fresh = 0;
  for (const auto& d : decisions) {
    CHECK(d.version == s.find("race")->version);
    fresh += d.is_new ? 1 : 0;
  }
  CHECK(fresh == 1);
}

}  // TEST_SUITE

TEST_SUITE("deterministic.gate") {

TEST_CASE("the gate runs upgraded at max, legacy below it, and replays without running either") {
  Store s;
  DeterministicGate gate(s.store);
  int runs = 0;
  auto upgraded = [&] { ++runs; return std::string("new"); };
  auto legacy = [&] { ++runs; return std::string("old"); };
  CHECK(must(gate.execute<std::string>("pricing", 1, 2, upgraded, legacy)) == "new");
  CHECK(s.find("pricing::v2")->state == EffectState::Done);
  CHECK(must(gate.execute<std::string>("tax", 1, 2, upgraded, legacy, [](const VersionContext&) { return 1; })) ==
        "old");
  CHECK(s.find("tax::v1").has_value());
  CHECK(must(gate.execute<std::string>("tax", 1, 2, upgraded, upgraded)) == "old");
  CHECK(runs == 2);
  CHECK(gate.execute<std::string>("bad", 2, 1, upgraded, legacy).error().code() == errc::validation);
  CHECK(runs == 2);
}

TEST_CASE("the general form runs once with the decision") {
  Store s;
  DeterministicGate gate(s.store);
  auto body = [](const VersionDecision& d) -> Result<std::int64_t> { return std::int64_t{d.version * 10}; };
  CHECK(must(gate.execute<std::int64_t>("general", 1, 3, body, [](const VersionContext&) { return 2; })) == 20);
  CHECK(must(gate.execute<std::int64_t>("general", 1, 3, [](const VersionDecision&) { return std::int64_t{0}; })) ==
        20);
}

TEST_CASE("a workflow runs the first matching branch in registration order, else the fallback") {
  Store s;
  DeterministicGate gate(s.store);
  auto at = [](int v) { return [v](const VersionContext&) { return v; }; };
  auto first = gate.workflow<std::int64_t>("wf-order", 1, 5, at(2))
                   .for_range(1, 3, [](WorkflowContext&) { return 13; })
                   .for_version(2, [](WorkflowContext&) { return 2; })
                   .fallback([] { return -1; });
  CHECK(must(first.execute()) == 13);
  auto predicate = gate.workflow<std::int64_t>("wf-when", 1, 5, at(4))
                       .for_version(2, [] { return 2; })
                       .when([](const VersionDecision& d) { return d.version % 2 == 0; }, [] { return 40; });
  CHECK(must(predicate.execute()) == 40);
  auto fallback = gate.workflow<std::int64_t>("wf-fallback", 1, 5, at(5)).for_version(1, [] { return 1; }).fallback(
      [](WorkflowContext& ctx) { return ctx.version() * 100; });
  CHECK(must(fallback.execute()) == 500);
}

TEST_CASE("no matching branch fails without recording, so a build that adds the branch runs it") {
  Store s;
  DeterministicGate gate(s.store);
  auto before = gate.workflow<std::int64_t>("wf-deploy", 1, 3).for_version(1, [] { return 1; }).execute();
  REQUIRE_FALSE(before.ok());
  CHECK(before.error().code() == errc::version_conflict);
  CHECK(before.error().message() == "No workflow branch was registered for version 3.");
  CHECK(meta(before.error(), "version") == "3");
  CHECK(meta(before.error(), "changeId") == "wf-deploy");
  CHECK_FALSE(s.find("wf-deploy::v3").has_value());
  auto after = gate.workflow<std::int64_t>("wf-deploy", 1, 3).for_version(3, [] { return 33; }).execute();
  CHECK(must(std::move(after)) == 33);

  auto canceled = gate.workflow<std::int64_t>("wf-cancel", 1, 1)
                      .fallback([]() -> std::int64_t { throw OperationCanceled(); })
                      .execute();
  CHECK(canceled.error().code() == errc::canceled);
  CHECK_FALSE(s.find("wf-cancel::v1").has_value());
  CHECK(must(gate.workflow<std::int64_t>("wf-cancel", 1, 1).fallback([] { return 7; }).execute()) == 7);
}

TEST_CASE("builder argument errors come back from execute as error.validation and nothing runs") {
  Store s;
  DeterministicGate gate(s.store);
  bool ran = false;
  auto branch = [&] { ran = true; return 1; };
  CHECK(gate.workflow<std::int64_t>("w", 0, 2).fallback(branch).execute().error().code() == errc::validation);
  CHECK(gate.workflow<std::int64_t>("w", 3, 2).fallback(branch).execute().error().code() == errc::validation);
  CHECK(gate.workflow<std::int64_t>(" ", 1, 2).fallback(branch).execute().error().code() == errc::validation);
  auto outside = gate.workflow<std::int64_t>("w", 1, 2).for_version(3, branch).fallback(branch).execute();
  CHECK(outside.error().code() == errc::validation);
  CHECK(outside.error().message() == "Version 3 is outside the workflow's range 1..2.");
  CHECK(gate.workflow<std::int64_t>("w", 1, 4).for_range(3, 2, branch).execute().error().code() ==
        errc::validation);
  CHECK(gate.workflow<std::int64_t>("w", 1, 4).for_range(0, 2, branch).execute().error().code() ==
        errc::validation);
  CHECK_FALSE(ran);
  CHECK_FALSE(s.find("w").has_value());  // no version was pinned either
}

TEST_CASE("a branch's context names nested effects and captures them once") {
  Store s;
  DeterministicGate gate(s.store);
  int charges = 0;
  auto run = [&] {
    return gate.workflow<std::int64_t>("  wf-steps ", 1, 2)
        .for_version(2, [&](WorkflowContext& ctx) -> Result<std::int64_t> {
          CHECK(must(ctx.effect_id(" charge ")) == "wf-steps::v2::charge");
          CHECK(ctx.effect_id("  ").error().code() == errc::validation);
          CHECK(ctx.change_id() == "wf-steps");
          return ctx.capture<std::int64_t>("charge", [&] { ++charges; return std::int64_t{250}; });
        })
        .execute();
  };
  CHECK(must(run()) == 250);
  CHECK(must(run()) == 250);
  CHECK(charges == 1);
  CHECK(s.find("wf-steps::v2::charge")->state == EffectState::Done);
  CHECK(s.find("wf-steps::v2")->state == EffectState::Done);
  CHECK(must(s.store->list()).size() == 3);  // the marker, the branch, the step
}

}  // TEST_SUITE

}  // namespace replay_deterministic_test

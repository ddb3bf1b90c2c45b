// Callbacks may call back into the queue: the backpressure listener, the dead-letter handler,
// on_handler_error and a source's observers each call every read method and mutate the queue,
// from the thread of the operation that caused them (docs/QUEUE.md, "Callbacks").
#include <doctest/doctest.h>

#include <hugo/error_codes.hpp>
#include <hugo/replication.hpp>

#include "tests/support/queue_fixture.hpp"

#include <chrono>
#include <cstdlib>
#include <functional>
#include <future>
#include <iostream>
#include <stdexcept>
#include <thread>

namespace queue_reentrancy_test {

using namespace hugo;
using namespace std::chrono_literals;
using test::must;

namespace {

// Every read method of the queue; returns a line that names what it saw, so that the calls are
// not optimized away and a test can check that they ran.
std::string read_everything(const TaskQueue& q) {
  const QueueSnapshot s = q.snapshot();
  const BackpressureSignal signal = q.backpressure();
  return q.name() + " pending=" + std::to_string(q.pending_count()) + " leased=" +
         std::to_string(q.active_lease_count()) + " dead=" + std::to_string(q.dead_letter_count()) + "/" +
         std::to_string(q.dead_letters().size()) + " snapshot=" + std::to_string(s.pending.size()) +
         " active=" + std::to_string(signal.active);
}

// Runs `operation` on its own thread. A deadlock must fail the test, not hang the suite: after a
// generous bound the process reports it and exits (the stuck thread cannot be joined).
template <class Fn>
auto without_deadlock(const char* what, Fn operation) {
  auto done = std::async(std::launch::async, std::move(operation));
  if (done.wait_for(120s) != std::future_status::ready) {
    std::cerr << "DEADLOCK: " << what << " did not return\n";
    std::_Exit(3);
  }
  return done.get();
}

}  // namespace

TEST_SUITE("queue.reentrancy") {

TEST_CASE("a backpressure listener reads the queue and enqueues from inside the enqueue that triggered it") {
  test::QueueFixture f;
  auto options = f.options();
  TaskQueue* queue = nullptr;
  std::vector<std::string> seen;
  std::vector<BackpressureSignal> signals;
  options.backpressure = BackpressureOptions{};
  options.backpressure->high_watermark = 2;
  options.backpressure->low_watermark = 1;
  options.backpressure->on_change = [&](const BackpressureSignal& signal) {
    signals.push_back(signal);
    seen.push_back(read_everything(*queue));
    if (signal.active) must(queue->enqueue("from the listener", Wait::none()));
  };
  auto q = f.open(options);
  queue = q.get();
  must(q->enqueue("1"));
  must(without_deadlock("enqueue that turns backpressure on", [&] { return q->enqueue("2"); }));
  REQUIRE(signals.size() == 1);
  CHECK(signals[0].active);
  CHECK(q->backpressure().active);
  CHECK(seen == std::vector<std::string>{"orders pending=2 leased=0 dead=0/0 snapshot=2 active=1"});
  CHECK(q->pending_count() == 3);  // the listener's enqueue went through
}

TEST_CASE("a listener's own transition is delivered after it returns, in order, never nested") {
  test::QueueFixture f;
  auto options = f.options();
  TaskQueue* queue = nullptr;
  int depth = 0;
  int deepest = 0;
  std::vector<bool> states;
  options.backpressure = BackpressureOptions{};
  options.backpressure->high_watermark = 2;
  options.backpressure->low_watermark = 1;
  options.backpressure->cooldown = std::chrono::microseconds(1);
  options.backpressure->on_change = [&](const BackpressureSignal& signal) {
    ++depth;
    deepest = std::max(deepest, depth);
    states.push_back(signal.active);
    CHECK(queue->backpressure().active == signal.active);
    if (signal.active) {
      // Drains the queue from inside the listener: a transition back to inactive.
      f.clock->advance(1ms);
      CHECK(must(queue->drain()).size() == 2);
    }
    --depth;
  };
  auto q = f.open(options);
  queue = q.get();
  must(q->enqueue("1"));
  f.clock->advance(1ms);
  must(without_deadlock("enqueue whose listener drains", [&] { return q->enqueue("2"); }));
  CHECK(states == std::vector<bool>{true, false});
  CHECK(deepest == 1);
  CHECK_FALSE(q->backpressure().active);
}

TEST_CASE("on_handler_error for a throwing listener reads the queue and enqueues") {
  test::QueueFixture f;
  auto options = f.options();
  TaskQueue* queue = nullptr;
  std::vector<std::string> errors;
  options.backpressure = BackpressureOptions{};
  options.backpressure->high_watermark = 1;
  options.backpressure->on_change = [](const BackpressureSignal&) { throw std::runtime_error("listener bug"); };
  options.on_handler_error = [&](const Error& e) {
    errors.push_back(e.code() + " | " + read_everything(*queue));
    must(queue->enqueue("from on_handler_error", Wait::none()));
  };
  auto q = f.open(options);
  queue = q.get();
  must(without_deadlock("enqueue whose listener throws", [&] { return q->enqueue("1"); }));
  CHECK(errors == std::vector<std::string>{"error.exception | orders pending=1 leased=0 dead=0/0 snapshot=1 active=1"});
  CHECK(q->pending_count() == 2);
}

TEST_CASE("a dead-letter handler and on_handler_error read the queue, requeue the dead letter and enqueue") {
  test::QueueFixture f;
  auto options = f.options();
  options.max_delivery_attempts = 1;
  TaskQueue* queue = nullptr;
  std::vector<std::string> seen;
  options.dead_letter_handler = [&](const DeadLetter& d) -> Status {
    seen.push_back("handler " + read_everything(*queue));
    must(queue->requeue_dead_letter(d.task_id));
    return Error("app.handler", "the handler reports a problem");
  };
  options.on_handler_error = [&](const Error& e) {
    seen.push_back(e.code() + " " + read_everything(*queue));
    must(queue->enqueue("from on_handler_error", Wait::none()));
  };
  auto q = f.open(options);
  queue = q.get();
  must(q->enqueue("1"));
  const Lease lease = must(q->lease("w"));
  const auto outcome = without_deadlock("fail that dead-letters", [&] {
    return q->fail(lease.token, Error("app.failed", "boom"), false);
  });
  CHECK(must(std::move(outcome)) == FailOutcome::DeadLettered);
  CHECK(seen == std::vector<std::string>{"handler orders pending=0 leased=0 dead=1/1 snapshot=0 active=0",
                                         "app.handler orders pending=1 leased=0 dead=0/0 snapshot=1 active=0"});
  CHECK(q->pending_count() == 2);  // the requeued task and the new one
  CHECK(q->dead_letter_count() == 0);
}

TEST_CASE("a source's observer reads the queue and enqueues while the source delivers") {
  test::QueueFixture f;
  auto q = f.open();
  auto source = must(TaskQueueReplicationSource::attach(f.journal, 0));
  std::vector<std::string> seen;
  auto subscription = source->register_observer([&](const Event& e) -> Status {
    seen.push_back(std::to_string(e.seq) + " " + read_everything(*q));
    if (e.seq == 1) HUGO_TRY(q->enqueue("from the observer", Wait::none()));
    return ok_status();
  });
  must(q->enqueue("1"));
  CHECK(without_deadlock("source next", [&] { return source->next(10); }).value().size() == 1);
  CHECK(seen == std::vector<std::string>{"1 orders pending=1 leased=0 dead=0/0 snapshot=1 active=0"});
  CHECK(q->pending_count() == 2);
  CHECK(source->observer_failures() == 0);
}

TEST_CASE("close() from every callback: the queue is disposed and its name can be opened again") {
  test::QueueFixture f;
  enum class From { Listener, DeadLetterHandler, HandlerError };
  for (const From from : {From::Listener, From::DeadLetterHandler, From::HandlerError}) {
    CAPTURE(static_cast<int>(from));
    auto options = f.options();
    options.max_delivery_attempts = 1;
    TaskQueue* queue = nullptr;
    std::vector<std::string> closes;
    auto close_it = [&] { closes.push_back(queue->close().ok() ? "closed" : "close failed"); };
    options.backpressure = BackpressureOptions{};
    options.backpressure->high_watermark = 1;
    options.backpressure->on_change = [&](const BackpressureSignal&) {
      if (from == From::Listener) close_it();
    };
    options.dead_letter_handler = [&](const DeadLetter&) -> Status {
      if (from == From::DeadLetterHandler) close_it();
      return Error("app.handler", "reported");
    };
    options.on_handler_error = [&](const Error&) {
      if (from == From::HandlerError) close_it();
    };
    auto q = f.open(options);
    queue = q.get();
    if (from == From::Listener) {
      must(q->enqueue("1"));
    } else {
      must(q->enqueue("1"));
      const Lease lease = must(q->lease("w"));
      (void)q->fail(lease.token, Error("app.failed", "boom"), false);
    }
    CHECK(closes == std::vector<std::string>{"closed"});
    CHECK(q->enqueue("after close", Wait::none()).error().code() == errc::disposed);
    auto reopened = TaskQueue::open(f.journal, f.options());
    REQUIRE_MESSAGE(reopened.ok(), reopened.error().to_string());
    must((*reopened)->drain());
    must((*reopened)->close());
  }
}

}  // TEST_SUITE

}  // namespace queue_reentrancy_test

// Observers and metrics see each event once, when it is delivered for good: a batch that pump()
// redelivers after its handler failed, or that a seek() backwards replays, is not shown again
// (docs/REPLICATION.md, "Observers").
#include <doctest/doctest.h>

#include <hugo/replication.hpp>

#include "tests/support/queue_fixture.hpp"

#include <stop_token>

namespace sinks_observe_once_test {

using namespace hugo;
using namespace std::chrono_literals;
using test::must;

namespace {

// A queue with two Enqueued rows (seq 1 and 2) and an attached source from 0 whose observer
// logs "observed <seq>" and whose metrics count taskqueue.replication.events.
struct ObservedSource {
  test::QueueFixture f;
  std::unique_ptr<TaskQueue> q = f.open();
  std::shared_ptr<MetricsRegistry> metrics = std::make_shared<MetricsRegistry>();
  std::unique_ptr<TaskQueueReplicationSource> source;
  std::vector<std::string> log;
  ObserverSubscription subscription;

  ObservedSource() {
    must(q->enqueue("1"));
    must(q->enqueue("2"));
    ReplicationSourceOptions options;
    options.metrics = metrics;
    source = must(TaskQueueReplicationSource::attach(f.journal, 0, options));
    subscription = source->register_observer([this](const Event& e) {
      log.push_back("observed " + std::to_string(e.seq));
      return ok_status();
    });
  }

  double replicated() const {  // every row here is an Enqueued row of "orders"
    return metrics->value("taskqueue.replication.events",
                          {{"taskqueue.name", "orders"}, {"taskqueue.replication.kind", "Enqueued"}});
  }
};

}  // namespace

TEST_SUITE("replication.observe_once") {

TEST_CASE("a batch redelivered after a failed handler is observed and counted once, after it is accepted") {
  ObservedSource s;
  int calls = 0;
  std::stop_source stop;
  auto handler = [&](const std::vector<Event>& batch) -> Status {
    s.log.push_back("handler " + std::to_string(batch.size()));
    if (++calls == 1) return Error("app.sink", "the sink is down");
    stop.request_stop();
    return ok_status();
  };
  CHECK(s.source->pump(handler, stop.get_token(), 10).error().code() == "app.sink");
  CHECK(s.source->position() == 0);
  CHECK(s.replicated() == 0);
  must(s.source->pump(handler, stop.get_token(), 10));
  CHECK(s.log == std::vector<std::string>{"handler 2", "handler 2", "observed 1", "observed 2"});
  CHECK(s.replicated() == 2);
}

TEST_CASE("seek() backwards replays events to the caller but not to observers or metrics") {
  ObservedSource s;
  CHECK(must(s.source->next(10)).size() == 2);
  s.source->seek(0);
  must(s.q->enqueue("3"));
  CHECK(must(s.source->next(10)).size() == 3);
  CHECK(s.log == std::vector<std::string>{"observed 1", "observed 2", "observed 3"});
  CHECK(s.replicated() == 3);
}

}  // TEST_SUITE

}  // namespace sinks_observe_once_test

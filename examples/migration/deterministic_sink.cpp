// Migration sample: OmniRelay's DeterministicResourceLeaseCoordinator + SqliteDeterministicStateStore
// (or FileSystemDeterministicStateStore), and Hugo's TaskQueueDeterministicCoordinator over an
// IDeterministicStateStore, become: a CheckpointingTaskQueueReplicationSink whose apply() runs
// its side effect through TaskQueueDeterministicCoordinator. The effect is keyed on the durable
// journal seq (OmniRelay keyed every event on sequence 0, O1), and replays return the recorded
// outcome without calling the handler.
#include <hugo/coordinator.hpp>
#include <hugo/effects.hpp>
#include <hugo/sinks.hpp>
#include <hugo/task_queue.hpp>

#include "sample_support.hpp"

using sample::must;

class NotifyBillingSink final : public hugo::CheckpointingTaskQueueReplicationSink {
 public:
  NotifyBillingSink(std::shared_ptr<hugo::CheckpointStore> store, hugo::SinkOptions options,
                    std::shared_ptr<hugo::DeterministicEffectStore> effects)
      : CheckpointingTaskQueueReplicationSink(std::move(store), std::move(options)), coordinator_(std::move(effects)) {}
  int calls = 0;

 protected:
  hugo::Status apply(const hugo::Event& e) override {
    if (e.kind != hugo::EventKind::Completed) return hugo::ok_status();
    auto receipt = coordinator_.execute<std::string>(e, [&](const hugo::Event& event) -> hugo::Result<std::string> {
      ++calls;  // the external call (HTTP, gRPC, ...) goes here
      return "billed task " + std::to_string(event.task_id);
    });
    if (!receipt.ok()) return std::move(receipt).error();
    return hugo::ok_status();
  }

 private:
  hugo::TaskQueueDeterministicCoordinator coordinator_;
};

int main() {
  sample::Scratch dir;
  auto journal = std::shared_ptr<hugo::Journal>(must(hugo::Journal::open(dir.path / "j.journal")).release());
  hugo::TaskQueueOptions options;
  options.name = "billing";
  auto queue = must(hugo::TaskQueue::open(journal, options));
  for (int i = 0; i < 3; ++i) {
    must(queue->enqueue("invoice-" + std::to_string(i)));
    must(queue->complete(must(queue->lease("worker", hugo::Wait::none())).token));
  }
  auto effects = std::shared_ptr<hugo::DeterministicEffectStore>(must(hugo::DeterministicEffectStore::open(dir.path / "effects.db")).release());
  auto db = must(hugo::SinkDatabase::open(dir.path / "sink.db"));
  auto checkpoints = must(hugo::SqliteCheckpointStore::open(db));
  hugo::SinkOptions sink_options;
  sink_options.stream_id = "billing-notifier";

  NotifyBillingSink first(checkpoints, sink_options, effects);
  must(first.process(must(must(hugo::TaskQueueReplicationSource::attach(journal, 0))->next(100))));
  must(first.flush());

  must(checkpoints->reset("billing-notifier"));  // a lost checkpoint: everything is replayed ...
  NotifyBillingSink replay(checkpoints, sink_options, effects);
  must(replay.process(must(must(hugo::TaskQueueReplicationSource::attach(journal, 0))->next(100))));

  std::printf("first pass: %d external calls; replay after losing the checkpoint: %d\n", first.calls, replay.calls);
  return first.calls == 3 && replay.calls == 0 ? 0 : 1;  // ... and no handler runs twice
}

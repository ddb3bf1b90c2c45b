// Test support: an at-least-once sink whose every event runs a handler through
// TaskQueueDeterministicCoordinator. The handler appends "run <seq>" to an fsync'd run log before
// it returns, so the log shows every time a handler ran, even in a process that was SIGKILLed.
#pragma once

#include <hugo/coordinator.hpp>
#include <hugo/sinks.hpp>

#include <string>

#include <unistd.h>

namespace hugo::test {

class RunLoggingSink final : public CheckpointingTaskQueueReplicationSink {
 public:
  RunLoggingSink(std::shared_ptr<CheckpointStore> store, SinkOptions options,
                 std::shared_ptr<DeterministicEffectStore> effects, int run_log)
      : CheckpointingTaskQueueReplicationSink(std::move(store), std::move(options)),
        coordinator_(std::move(effects)),
        run_log_(run_log) {}

 protected:
  Status apply(const Event& event) override {
    auto outcome = coordinator_.execute<std::int64_t>(event, [&](const Event& e) -> Result<std::int64_t> {
      const std::string line = "run " + std::to_string(e.seq) + "\n";
      if (::write(run_log_, line.data(), line.size()) != static_cast<ssize_t>(line.size()) || ::fsync(run_log_) != 0) {
        return Error("test.io", "cannot write the run log");
      }
      return e.seq;
    });
    if (!outcome.ok()) return std::move(outcome).error();
    return ok_status();
  }

 private:
  TaskQueueDeterministicCoordinator coordinator_;
  int run_log_;
};

}  // namespace hugo::test

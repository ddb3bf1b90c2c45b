// Verbs of the tests' helper process that live outside child_main.cpp.
#pragma once

#include <string>

namespace hugo::test {

// A queue workload that writes the journal while a transactional sink (table `applied`, no
// unique key, so duplicates would show) follows it in the same process. Prints "tick" after
// each queue operation.
int sink_workload(const std::string& journal, const std::string& sink_db, unsigned seed);

// A queue workload followed by an at-least-once sink whose every event runs a handler through
// TaskQueueDeterministicCoordinator; the handler appends "run <seq>" to `run_log` (fsync'd)
// before it returns. Checkpoints every 7 events. Prints "tick" after each queue operation.
int coordinator_workload(const std::string& journal, const std::string& sink_db, const std::string& effects_db,
                         const std::string& run_log, unsigned seed);

// Deletes the coordinated sink's checkpoint, then reprocesses the whole journal from 0 through
// the same sink and effect store, and exits: with every effect recorded, no handler may run.
int coordinator_replay(const std::string& journal, const std::string& sink_db, const std::string& effects_db,
                       const std::string& run_log);

}  // namespace hugo::test

// The demo's parts. Each prints what it does and returns 0 on success.
#pragma once

#include <filesystem>
#include <string>

namespace demo {

// Part 1: several threads append through group commit; the journal is reopened and printed.
int journal_part(const std::filesystem::path& dir);

// Part 2: a worker process leases and fails/retries tasks and is SIGKILLed mid-lease; the
// restart rebuilds the queue, the interrupted lease expires and is retried. Sets
// `interrupted_task` to the task whose lease the killed worker held.
int queue_part(const std::filesystem::path& dir, const std::string& self, long long& interrupted_task);

// The worker process of part 2 (`hugo-demo --worker JOURNAL`).
int queue_worker(const std::string& journal_path);

// Part 3: a sink process follows the journal into a projection and an external notifier and is
// SIGKILLed; the restart resumes from the checkpoints and no notification is sent twice.
int replication_part(const std::filesystem::path& dir, const std::string& self);

// The sink process of part 3 (`hugo-demo --sink JOURNAL DIR`).
int replication_sink_process(const std::string& journal, const std::string& dir);

}  // namespace demo

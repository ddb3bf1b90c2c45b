// hugo-journal work URL --queue Q -- COMMAND ARGS...: a worker for any command (docs/WORKERS.md).
// Each of --concurrency slots leases a task over the queue API, runs the command with the payload
// on stdin, heartbeats while it runs, completes on exit 0 and fails the task with the exit status
// and the tail of stderr otherwise. SIGINT/SIGTERM stop the leasing; running commands finish and
// are reported, then the worker exits 0.
#include "child_command.hpp"
#include "cli_common.hpp"
#include "signals.hpp"
#include "verbs.hpp"

#include <hugo/error_codes.hpp>
#include <hugo/remote_queue.hpp>

#include <unistd.h>

#include <csignal>
#include <iostream>
#include <mutex>
#include <stop_token>
#include <thread>

namespace hugo::cli {
namespace verb_work {

struct Options {
  std::string url;
  std::string queue;
  std::string token;
  std::string owner;
  std::size_t concurrency = 1;
  std::vector<std::string> command;
};

std::mutex log_mutex;

void log(const std::string& line) {
  std::lock_guard lock(log_mutex);
  std::cerr << "hugo-journal: work: " << line << std::endl;
}

// How often a running task is heartbeated: a third of its lease, at most every 10 s.
std::chrono::milliseconds heartbeat_period(const Lease& lease) {
  const auto lease_length = std::chrono::duration_cast<std::chrono::milliseconds>(lease.expires_at - lease.granted_at);
  return std::clamp(lease_length / 3, std::chrono::milliseconds(50), std::chrono::milliseconds(10000));
}

// Runs one leased task to its end and reports it on stderr. A lease lost on the way (expired,
// canceled) stops the command and reports nothing to the queue: the task is someone else's now.
void run_task(RemoteTaskQueue& queue, const Options& o, const Lease& lease) {
  const std::string task = "task " + std::to_string(lease.task_id()) + " (attempt " + std::to_string(lease.attempt) + ")";
  auto started = ChildCommand::start(o.command, lease.payload);
  if (!started.ok()) {
    log(task + ": " + started.error().message());
    (void)queue.fail(lease.token, started.error());
    return;
  }
  ChildCommand child = std::move(started).value();
  const auto period = heartbeat_period(lease);
  auto next_beat = std::chrono::steady_clock::now() + period;
  while (!child.step(std::chrono::milliseconds(50))) {
    if (std::chrono::steady_clock::now() < next_beat) continue;
    next_beat = std::chrono::steady_clock::now() + period;
    auto beat = queue.heartbeat(lease.token);
    if (!beat.ok() && beat.error().code() == errc::lease_inactive) {
      log(task + ": the lease was lost (" + beat.error().message() + "); stopping the command");
      child.kill(SIGTERM);
      while (!child.step(std::chrono::milliseconds(50))) {
      }
      return;
    }
    if (!beat.ok()) log(task + ": heartbeat failed: " + beat.error().message() + " (will retry)");
  }
  if (child.exit_status() == 0) {
    auto done = queue.complete(lease.token);
    log(task + (done.ok() ? ": completed" : ": finished, but completing failed: " + done.error().message()));
    return;
  }
  Error failure = Error("work.exit_status", o.command.front() + " exited with status " +
                                                std::to_string(child.exit_status()) +
                                                (child.stderr_tail().empty() ? "" : ": " + child.stderr_tail()))
                      .with("exit_status", std::to_string(child.exit_status()));
  auto outcome = queue.fail(lease.token, std::move(failure));
  if (!outcome.ok()) {
    log(task + ": exited with status " + std::to_string(child.exit_status()) + "; failing it failed: " +
        outcome.error().message());
  } else {
    log(task + ": exited with status " + std::to_string(child.exit_status()) +
        (*outcome == FailOutcome::Requeued ? "; requeued" : "; dead-lettered"));
  }
}

// One slot: lease, run, repeat, until stop. Transport failures back off and retry (the server
// may be restarting); other errors end the slot.
void slot(RemoteTaskQueue& queue, const Options& o, const std::string& owner, std::stop_token stop, int& failure) {
  auto backoff = std::chrono::milliseconds(100);
  while (!stop.stop_requested()) {
    auto lease = queue.lease(owner, Wait::forever(stop));
    if (lease.ok()) {
      backoff = std::chrono::milliseconds(100);
      run_task(queue, o, *lease);
      continue;
    }
    const std::string& code = lease.error().code();
    if (code == errc::canceled) return;
    if (code == errc::replication_unavailable || code == errc::queue_timeout || code == errc::disposed ||
        code == errc::journal_busy) {
      log("lease: " + lease.error().message() + "; retrying in " + std::to_string(backoff.count()) + " ms");
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
      continue;
    }
    failure = report("work", lease.error());
    return;
  }
}

int run(const Options& o) {
  if (o.command.empty()) return usage_error("work", "no command to run", "put it after --, e.g. -- ./handle.sh");
  if (o.concurrency == 0 || o.concurrency > 1024) return usage_error("work", "--concurrency must be 1 to 1024", "e.g. --concurrency 4");
  RemoteTaskQueueOptions options;
  options.url = o.url;
  options.queue = o.queue;
  options.token = o.token;
  options.long_poll = std::chrono::milliseconds(2000);  // also how soon SIGTERM stops an idle slot
  auto opened = RemoteTaskQueue::open(options);
  if (!opened.ok()) return report("work", opened.error());
  auto queue = std::move(opened).value();
  std::signal(SIGPIPE, SIG_IGN);  // a command that stops reading its stdin must not kill the worker
  ShutdownSignals signals;
  std::stop_source stop;
  std::vector<int> failures(o.concurrency, kExitOk);
  std::vector<std::thread> slots;
  char host[256] = {};
  (void)::gethostname(host, sizeof host - 1);
  const std::string owner = o.owner.empty() ? std::string(host) + ":" + std::to_string(::getpid()) : o.owner;
  for (std::size_t i = 0; i < o.concurrency; ++i) {
    slots.emplace_back([&, i] {
      slot(*queue, o, o.concurrency == 1 ? owner : owner + "/" + std::to_string(i), stop.get_token(), failures[i]);
    });
  }
  std::thread waiter([&] {
    signals.wait();
    stop.request_stop();
  });
  for (auto& t : slots) t.join();
  if (!stop.stop_requested()) {  // every slot ended on an error: release the signal waiter
    stop.request_stop();
    signals.interrupt();
  }
  waiter.join();
  for (int f : failures) {
    if (f != kExitOk) return f;
  }
  log("stopped");
  return kExitOk;
}

}  // namespace verb_work

void add_work(CLI::App& app, Verbs& verbs) {
  using namespace verb_work;
  auto [cmd, o] = add_verb(app, verbs, run, "work",
                           "Lease tasks from a queue server and run COMMAND for each, payload on stdin: exit 0 "
                           "completes the task, anything else fails it with the status and the end of stderr. "
                           "SIGTERM stops leasing and waits for running commands.");
  cmd->add_option("URL", o->url, "the queue server (hugo-journal serve --queue), http://HOST:PORT")->required();
  cmd->add_option("--queue", o->queue, "the queue to work on")->required();
  cmd->add_option("--token", o->token, "the server's write token (or $HUGO_TOKEN)")->envname("HUGO_TOKEN");
  cmd->add_option("--concurrency", o->concurrency, "commands run at once (default 1)");
  cmd->add_option("--owner", o->owner, "lease owner recorded in the journal (default HOST:PID)");
  cmd->add_option("COMMAND", o->command, "the command and its arguments, after --")->required();
  cmd->footer("Example:\n  hugo-journal work http://127.0.0.1:7070 --queue emails --concurrency 4 -- ./send-email.sh");
}

}  // namespace hugo::cli

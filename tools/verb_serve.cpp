// hugo-journal serve JOURNAL: serves the journal to followers over HTTP until SIGINT/SIGTERM, and
// with --queue the queue API to remote workers (docs/WORKERS.md): the journal is then opened for
// writing, and the queues on it.
#include "signals.hpp"
#include "cli_common.hpp"
#include "verbs.hpp"

#include <hugo/peers.hpp>
#include <hugo/task_queue.hpp>

#include <charconv>
#include <cstdio>
#include <memory>

namespace hugo::cli {
namespace verb_serve {

struct Options {
  std::string journal;
  std::string listen = "127.0.0.1:7070";
  std::string token;
  std::size_t max_subscribers = 32;
  int heartbeat_ms = 1000;
  int header_timeout_ms = 5000;
  std::size_t max_connections = 256;
  std::size_t max_connections_per_address = 64;
  std::vector<std::string> queues;
  std::string write_token;
  std::string durability = "fsync";
  int lease_seconds = 30;
  std::size_t capacity = 10000;
  int max_attempts = 5;
  std::size_t threads = 4;
};

// The writer and the queues that --queue asks for; empty when it was not given.
struct Served {
  std::shared_ptr<Journal> journal;
  std::vector<std::shared_ptr<TaskQueue>> queues;
};

Result<Served> open_queues(const Options& o) {
  Served served;
  if (o.queues.empty()) return served;
  if (o.write_token.empty()) {  // before the journal is opened (or created) for writing
    return Error::replication_token_required("serving queues needs --write-token, even on loopback: anyone who can "
                                             "reach the port could lease or drain");
  }
  if (o.durability != "fsync" && o.durability != "process") {
    return Error::validation("--durability must be fsync or process, not '" + o.durability + "'");
  }
  if (o.lease_seconds <= 0 || o.capacity == 0 || o.max_attempts <= 0) {
    return Error::validation("--lease-seconds, --capacity and --max-attempts must be positive");
  }
  JournalOptions journal_options;
  journal_options.durability = o.durability == "fsync" ? Durability::Fsync : Durability::Process;
  HUGO_ASSIGN_OR_RETURN(auto journal, Journal::open(o.journal, journal_options));
  served.journal = std::shared_ptr<Journal>(journal.release());
  for (const std::string& name : o.queues) {
    TaskQueueOptions queue_options;
    queue_options.name = name;
    queue_options.capacity = o.capacity;
    queue_options.lease_duration = std::chrono::seconds(o.lease_seconds);
    queue_options.heartbeat_interval = std::min<Duration>(queue_options.heartbeat_interval,
                                                          std::chrono::seconds(o.lease_seconds) / 3);
    queue_options.max_delivery_attempts = o.max_attempts;
    HUGO_ASSIGN_OR_RETURN(auto queue, TaskQueue::open(served.journal, std::move(queue_options)));
    served.queues.push_back(std::shared_ptr<TaskQueue>(queue.release()));
  }
  return served;
}

int run(const Options& o) {
  const std::size_t colon = o.listen.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return usage_error("serve", "--listen must be HOST:PORT, not '" + o.listen + "'", "e.g. --listen 127.0.0.1:7070");
  }
  ReplicationServerOptions options;
  options.journal = o.journal;
  options.host = o.listen.substr(0, colon);
  if (options.host.size() > 2 && options.host.front() == '[' && options.host.back() == ']') {
    options.host = options.host.substr(1, options.host.size() - 2);
  }
  const std::string port = o.listen.substr(colon + 1);
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), options.port);
  if (ec != std::errc() || end != port.data() + port.size() || options.port < 0 || options.port > 65535) {
    return usage_error("serve", "--listen must end in a port from 0 to 65535, not '" + o.listen + "'",
                       "e.g. --listen 127.0.0.1:7070 (0 picks a free port)");
  }
  options.token = o.token;
  options.max_subscribers = o.max_subscribers;
  options.heartbeat = std::chrono::milliseconds(o.heartbeat_ms);
  options.header_timeout = std::chrono::milliseconds(o.header_timeout_ms);
  options.max_connections = o.max_connections;
  options.max_connections_per_address = o.max_connections_per_address;
  options.threads = o.threads;
  options.write_token = o.write_token;
  ShutdownSignals signals;  // before any thread starts, so every thread inherits the mask
  auto served = open_queues(o);
  if (!served.ok()) return report("serve", served.error());
  options.live = served->journal.get();
  options.queues = served->queues;
  auto server_result = ReplicationServer::start(options);
  if (!server_result.ok()) return report("serve", server_result.error());
  auto server = std::move(server_result).value();
  // One line on stdout, so scripts can learn the port picked for --listen HOST:0.
  out_line("serving " + o.journal + " on " + server->url());
  (void)out_flush();
  signals.wait();
  server->stop();  // no request runs after this: the queues and the journal close cleanly
  for (auto& queue : served->queues) (void)queue->close();
  if (served->journal) {
    if (auto closed = served->journal->close(); !closed.ok()) return report("serve", closed.error());
  }
  return kExitOk;
}

}  // namespace verb_serve

void add_serve(CLI::App& app, Verbs& verbs) {
  using namespace verb_serve;
  auto [cmd, o] = add_verb(app, verbs, run, "serve",
                           "Serve the journal to followers over HTTP (GET /v1/info, /v1/events, /metrics, /healthz) "
                           "until interrupted. Read-only, the journal's writer may run in another process; with --queue it is the "
                           "writer and also serves the queue API to remote workers (docs/WORKERS.md).");
  add_journal_arg(cmd, o->journal);
  cmd->add_option("--listen", o->listen, "HOST:PORT to listen on (default 127.0.0.1:7070; port 0 picks one)");
  cmd->add_option("--token", o->token, "require 'Authorization: Bearer TOKEN' (mandatory off loopback)");
  cmd->add_option("--max-subscribers", o->max_subscribers, "concurrent event streams (default 32)");
  cmd->add_option("--heartbeat-ms", o->heartbeat_ms, "idle heartbeat period in ms (default 1000)");
  cmd->add_option("--header-timeout-ms", o->header_timeout_ms,
                  "total time a request's headers may take, in ms (default 5000)");
  cmd->add_option("--max-connections", o->max_connections, "open connections in all (default 256)");
  cmd->add_option("--max-connections-per-address", o->max_connections_per_address,
                  "open connections per client address (default 64)");
  cmd->add_option("--queue", o->queues,
                  "serve this queue's API under /v1/queues/NAME (repeatable); opens the journal for writing")
      ->type_name("NAME");
  cmd->add_option("--write-token", o->write_token,
                  "with --queue: the token every write must carry (required, even on loopback); --token then "
                  "only reads");
  cmd->add_option("--durability", o->durability, "with --queue: fsync (default) or process");
  cmd->add_option("--lease-seconds", o->lease_seconds, "with --queue: lease duration (default 30)");
  cmd->add_option("--capacity", o->capacity, "with --queue: pending tasks per queue (default 10000)");
  cmd->add_option("--max-attempts", o->max_attempts, "with --queue: deliveries before a dead letter (default 5)");
  cmd->add_option("--threads", o->threads, "request threads (default 4)");
  cmd->footer("Example:\n  hugo-journal serve orders.journal --listen 127.0.0.1:7070\n"
              "  hugo-journal serve orders.journal --listen 0.0.0.0:7070 --token \"$TOKEN\"\n"
              "  hugo-journal serve jobs.journal --queue emails --write-token \"$WRITE_TOKEN\"");
}

}  // namespace hugo::cli

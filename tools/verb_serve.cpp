// hugo-journal serve JOURNAL: serves the journal to followers over HTTP until SIGINT/SIGTERM.
#include "signals.hpp"
#include "cli_common.hpp"
#include "verbs.hpp"

#include <hugo/peers.hpp>

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
};

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
  ShutdownSignals signals;  // before any thread starts, so every thread inherits the mask
  auto server_result = ReplicationServer::start(options);
  if (!server_result.ok()) return report("serve", server_result.error());
  auto server = std::move(server_result).value();
  // One line on stdout, so scripts can learn the port picked for --listen HOST:0.
  out_line("serving " + o.journal + " on " + server->url());
  (void)out_flush();
  signals.wait();
  server->stop();
  return kExitOk;
}

}  // namespace verb_serve

void add_serve(CLI::App& app, Verbs& verbs) {
  using namespace verb_serve;
  auto [cmd, o] = add_verb(app, verbs, run, "serve",
                           "Serve the journal to followers over HTTP (GET /v1/info, /v1/events, /metrics, /healthz) "
                           "until interrupted. Read-only: the journal's writer may run in another process.");
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
  cmd->footer("Example:\n  hugo-journal serve orders.journal --listen 127.0.0.1:7070\n"
              "  hugo-journal serve orders.journal --listen 0.0.0.0:7070 --token \"$TOKEN\"");
}

}  // namespace hugo::cli

// hugo-journal follow URL --into REPLICA: keeps a replica in step with an owner (http://HOST:PORT)
// or a JetStream stream (nats://HOST:PORT/STREAM) until interrupted.
#include "signals.hpp"
#include "cli_common.hpp"
#include "verbs.hpp"

#include <hugo/jetstream.hpp>
#include <hugo/peers.hpp>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <system_error>
#include <thread>

namespace hugo::cli {
namespace verb_follow {

struct Options {
  std::string url;
  std::string replica;
  std::string token;
  std::string creds;
  bool once = false;
};

// `error` with what it left on disk: a replica this run was creating is never left half-made (the
// follower builds it beside REPLICA and renames it there only once it names its owner).
Error with_outcome(const Error& error, const Options& o, bool existed, std::int64_t seq) {
  std::error_code ec;
  std::string outcome;
  if (!std::filesystem::exists(o.replica, ec)) {
    outcome = "; " + o.replica + " was not created";
  } else {
    outcome = "; " + o.replica + (existed ? " stays" : " was created") + " at seq " + std::to_string(seq);
  }
  return Error(error.code(), error.message() + outcome, error.metadata());
}

// Either follower: catch_up(), run(), stop() and position() are all the verb needs.
// `open` runs once the signals are blocked, so no thread it starts takes SIGINT or SIGTERM.
template <class Open>
int follow(const Options& o, Open open) {
  ShutdownSignals signals;
  std::error_code ec;
  const bool existed = std::filesystem::exists(o.replica, ec);
  auto opened = open();
  if (!opened.ok()) return report("follow", opened.error());
  auto follower = std::move(opened).value();
  auto fail = [&](const Error& error) {
    const std::int64_t at = follower->position().seq;
    follower.reset();  // first: it removes a replica it was still building
    return report("follow", with_outcome(error, o, existed, at));
  };
  if (o.once) {
    auto seq = follower->catch_up();
    if (!seq.ok()) return fail(seq.error());
    std::fprintf(stderr, "hugo-journal: follow: %s is at seq %lld\n", o.replica.c_str(), static_cast<long long>(*seq));
    return kExitOk;
  }
  Status result = ok_status();
  std::thread worker([&] {
    result = follower->run();
    signals.interrupt();  // a fatal error ends the wait below
  });
  signals.wait();
  follower->stop();
  worker.join();
  if (!result.ok()) return fail(result.error());
  return kExitOk;
}

std::string token_of(const Options& o) {
  if (!o.token.empty()) return o.token;
  const char* env = std::getenv("HUGO_TOKEN");
  return env ? env : "";
}

int run(const Options& o) {
  if (!o.token.empty() && !o.creds.empty()) {
    return usage_error("follow", "--token and --creds exclude each other", "give the one the server expects");
  }
  if (o.url.rfind("nats://", 0) == 0) {
    auto source = parse_nats_stream_url(o.url);
    if (!source.ok()) return report("follow", source.error());
    JetStreamFollowerOptions options;
    options.nats.url = source->server;
    options.nats.token = token_of(o);
    options.nats.creds = o.creds;
    options.stream = source->stream;
    options.replica = o.replica;
    return follow(o, [&] { return JetStreamFollower::open(std::move(options)); });
  }
  if (!o.creds.empty()) {
    return usage_error("follow", "--creds is for nats:// sources", "an http:// owner takes --token");
  }
  FollowerOptions options;
  options.url = o.url;
  options.replica = o.replica;
  options.token = token_of(o);
  return follow(o, [&] { return HttpFollower::open(std::move(options)); });
}

}  // namespace verb_follow

void add_follow(CLI::App& app, Verbs& verbs) {
  using namespace verb_follow;
  auto [cmd, o] = add_verb(app, verbs, run, "follow",
                           "Apply an owner's events (http://) or a JetStream stream's (nats://) into a replica journal "
                           "(same journal id and seqs), exactly once, reconnecting with backoff; refuses a diverged "
                           "owner or stream (replication.diverged).");
  cmd->add_option("URL", o->url, "the owner's server, e.g. http://127.0.0.1:7070, or a stream, nats://HOST:PORT/STREAM")
      ->required();
  cmd->add_option("--into", o->replica, "the replica journal (created if missing)")->required();
  cmd->add_option("--token", o->token, "bearer token, or the NATS server's token (default: $HUGO_TOKEN)");
  cmd->add_option("--creds", o->creds, "a NATS .creds file (nats:// only)");
  cmd->add_flag("--once", o->once, "catch up to the owner's (or stream's) last event, then exit");
  cmd->footer("Example:\n  hugo-journal follow http://127.0.0.1:7070 --into replica.journal\n"
              "  hugo-journal follow nats://127.0.0.1:4222/HUGO_<journal_id> --into replica.journal\n"
              "  hugo-journal info replica.journal   # readable while it follows");
}

}  // namespace hugo::cli

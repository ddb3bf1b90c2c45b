// hugo-journal publish JOURNAL --nats URL: publishes a journal's events into its NATS JetStream
// stream exactly once (docs/CLI.md, docs/SCALE-OUT.md), until interrupted or, with --once, until
// everything committed now is acknowledged.
#include "signals.hpp"
#include "cli_common.hpp"
#include "verbs.hpp"

#include <hugo/jetstream.hpp>

#include <cstdio>
#include <memory>
#include <thread>

namespace hugo::cli {
namespace verb_publish {

struct Options {
  std::string journal;
  std::string nats;
  std::string stream;
  int replicas = 1;
  std::string token;
  std::string creds;
  bool once = false;
};

int run(const Options& o) {
  if (!o.token.empty() && !o.creds.empty()) {
    return usage_error("publish", "--token and --creds exclude each other", "give the one the server expects");
  }
  JetStreamSinkOptions options;
  options.nats.url = o.nats;
  options.nats.token = o.token;
  options.nats.creds = o.creds;
  options.journal = o.journal;
  options.stream = o.stream;
  options.replicas = o.replicas;
  ShutdownSignals signals;  // before any thread (libnats's included): only wait() receives them
  auto opened = JetStreamSink::open(options);
  if (!opened.ok()) return report("publish", opened.error());
  std::unique_ptr<JetStreamSink> sink = std::move(opened).value();
  const JetStreamPosition start = sink->position();
  out_line("publishing " + o.journal + " to " + start.stream + " on " + o.nats);
  (void)out_flush();

  Status result = ok_status();
  std::thread worker([&] {
    if (o.once) {
      auto published = sink->publish_available();
      if (!published.ok()) result = std::move(published).error();
    } else {
      result = sink->run();
    }
    signals.interrupt();  // the work ended (done, or a fatal error): end the wait below
  });
  signals.wait();
  sink->stop();
  worker.join();
  if (!result.ok()) return report("publish", result.error());
  const JetStreamPosition at = sink->position();
  std::fprintf(stderr, "hugo-journal: publish: %s holds %s up to seq %lld (stream seq %llu)\n", at.stream.c_str(),
               o.journal.c_str(), static_cast<long long>(at.seq), static_cast<unsigned long long>(at.stream_seq));
  return kExitOk;
}

}  // namespace verb_publish

void add_publish(CLI::App& app, Verbs& verbs) {
  using namespace verb_publish;
  auto [cmd, o] = add_verb(app, verbs, run, "publish",
                           "Publish a journal's events into a NATS JetStream stream exactly once, resuming from the "
                           "stream after any crash; refuses a stream of another history (replication.diverged) and "
                           "stops when another publisher keeps writing into it (replication.fenced).");
  add_journal_arg(cmd, o->journal);
  cmd->add_option("--nats", o->nats, "the NATS server(s), e.g. nats://127.0.0.1:4222 (comma-separated for a cluster)")
      ->required();
  cmd->add_option("--stream", o->stream, "the stream (default: HUGO_<journal id>)");
  cmd->add_option("--replicas", o->replicas, "replicas of a stream this creates (1..5)")->check(CLI::Range(1, 5));
  cmd->add_option("--token", o->token, "the server's authorization token");
  cmd->add_option("--creds", o->creds, "a NATS .creds file (user JWT and nkey seed)");
  cmd->add_flag("--once", o->once, "publish what is committed now, wait for every acknowledgement, then exit");
  cmd->footer("Example:\n  hugo-journal publish orders.journal --nats nats://127.0.0.1:4222\n"
              "  hugo-journal publish orders.journal --nats nats://n1:4222,nats://n2:4222 --replicas 3 --once");
}

}  // namespace hugo::cli

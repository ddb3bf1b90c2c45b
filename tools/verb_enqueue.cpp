// hugo-journal enqueue URL --queue Q [--key K] [PAYLOAD|-]: enqueues one task through a queue
// server's API (docs/WORKERS.md) and prints its task id. With --key the enqueue is idempotent: a
// retry after a lost reply finds the task instead of adding a second one.
#include "cli_common.hpp"
#include "verbs.hpp"

#include <hugo/event_json.hpp>
#include <hugo/remote_queue.hpp>

#include <iostream>

namespace hugo::cli {
namespace verb_enqueue {

struct Options {
  std::string url;
  std::string queue;
  std::string token;
  std::string key;
  std::string payload = "-";
  bool json_payload = false;
  int priority = 0;
  std::int64_t delay_ms = 0;
  bool json = false;
};

Result<std::string> read_payload(const std::string& given) {
  if (given != "-") return given;
  std::string text;
  char buffer[65536];
  while (std::cin.read(buffer, sizeof buffer) || std::cin.gcount() > 0) {
    text.append(buffer, static_cast<std::size_t>(std::cin.gcount()));
    if (text.size() > kMaxPayloadBytes) {
      return Error::validation("the payload on stdin is over " + std::to_string(kMaxPayloadBytes) + " bytes");
    }
  }
  return text;
}

int run(const Options& o) {
  if (o.delay_ms < 0) return usage_error("enqueue", "--delay-ms must not be negative", "e.g. --delay-ms 5000");
  RemoteTaskQueueOptions options;
  options.url = o.url;
  options.queue = o.queue;
  options.token = o.token;
  auto opened = RemoteTaskQueue::open(options);
  if (!opened.ok()) return report("enqueue", opened.error());
  auto payload = read_payload(o.payload);
  if (!payload.ok()) return report("enqueue", payload.error());
  EnqueueOptions enqueue;
  enqueue.format = o.json_payload ? PayloadFormat::Json : PayloadFormat::Bytes;
  enqueue.priority = o.priority;
  enqueue.delay = std::chrono::milliseconds(o.delay_ms);
  KeyedEnqueue result;
  if (o.key.empty()) {
    auto id = (*opened)->enqueue_with(std::move(payload).value(), enqueue, Wait::none());
    if (!id.ok()) return report("enqueue", id.error());
    result.task_id = *id;
  } else {
    auto keyed = (*opened)->enqueue_keyed(o.key, std::move(payload).value(), enqueue, Wait::none());
    if (!keyed.ok()) return report("enqueue", keyed.error());
    result = *keyed;
  }
  if (o.json) {
    out_line("{\"taskId\":" + std::to_string(result.task_id) + ",\"duplicate\":" + (result.duplicate ? "true" : "false") +
             "}");
  } else {
    out_line(std::to_string(result.task_id) + (result.duplicate ? " (duplicate: the key's task)" : ""));
  }
  return out_flush() ? kExitOk : kExitIo;
}

}  // namespace verb_enqueue

void add_enqueue(CLI::App& app, Verbs& verbs) {
  using namespace verb_enqueue;
  auto [cmd, o] = add_verb(app, verbs, run, "enqueue",
                           "Enqueue one task through a queue server (hugo-journal serve --queue) and print its task "
                           "id. PAYLOAD '-' (the default) reads it from stdin.");
  cmd->add_option("URL", o->url, "the queue server, http://HOST:PORT")->required();
  cmd->add_option("PAYLOAD", o->payload, "the payload, or - for stdin");
  cmd->add_option("--queue", o->queue, "the queue")->required();
  cmd->add_option("--token", o->token, "the server's write token (or $HUGO_TOKEN)")->envname("HUGO_TOKEN");
  cmd->add_option("--key", o->key, "idempotency key: a retry returns the key's task instead of a new one");
  cmd->add_flag("--json-payload", o->json_payload, "the payload is JSON (stored with format json)");
  cmd->add_option("--priority", o->priority, "higher is leased first (default 0)");
  cmd->add_option("--delay-ms", o->delay_ms, "not leasable before now + this many ms");
  add_json_flag(cmd, o->json);
  cmd->footer("Example:\n  echo '{\"to\":\"a@example.com\"}' | hugo-journal enqueue http://127.0.0.1:7070 --queue emails "
              "--key signup-42 --json-payload");
}

}  // namespace hugo::cli

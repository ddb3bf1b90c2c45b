// Test support for the stream follower: the messages a publisher writes for a journal (the layout of
// include/hugo/jetstream.hpp), built here from the journal's export independently of the
// publisher, so a test can damage one and see the follower refuse it; and publishing them through
// the libnats adapter.
#pragma once

#include "tests/peers/peers_support.hpp"

#include "sinks/nats_client.hpp"

#include <hugo/event_json.hpp>
#include <hugo/jetstream.hpp>

#include <mutex>
#include <string>
#include <vector>

namespace hugo::test {

inline std::string journal_id_of(const std::filesystem::path& journal) {
  return must(must(JournalReader::open(journal))->info()).journal_id;
}

// Stream message n for event n of `journal` (stream seqs from 1), in `epoch` with `history`.
inline std::vector<nats::StoredMessage> stream_messages(const std::filesystem::path& journal, std::int64_t epoch = 1,
                                                        const std::string& history = "1:0") {
  const std::string id = journal_id_of(journal);
  const std::string text = journal_ndjson(journal);
  std::vector<nats::StoredMessage> out;
  std::uint64_t hash = kEmptyHistoryHash;
  for (std::size_t start = 0; start < text.size();) {
    const std::size_t nl = text.find('\n', start);
    const std::string line = text.substr(start, nl - start);
    start = nl + 1;
    const Event e = must(decode_event_json(line));
    hash = chain_hash(hash, line);
    const std::int64_t prev = out.empty() ? 0 : std::stoll(std::string(*out.back().header("Hugo-Seq")));
    nats::StoredMessage m;
    m.stream_seq = out.size() + 1;
    m.headers = {{"Nats-Msg-Id", id + ":" + std::to_string(e.seq)},
                 {"Hugo-Journal-Id", id},
                 {"Hugo-Seq", std::to_string(e.seq)},
                 {"Hugo-Prev-Seq", std::to_string(prev)},
                 {"Hugo-Kind", std::to_string(static_cast<int>(e.kind))},
                 {"Hugo-Schema-Version", "1"},
                 {"Hugo-Epoch", std::to_string(epoch)},
                 {"Hugo-Epoch-History", history},
                 {"Hugo-Hash", format_hash(hash)}};
    m.body = line;
    out.push_back(std::move(m));
  }
  return out;
}

inline void set_header(nats::StoredMessage& m, const std::string& name, const std::string& value) {
  for (auto& [k, v] : m.headers) {
    if (k == name) v = value;
  }
}

// Gives `messages` the Hugo-Hash headers of a history whose hash before the first of them is
// `base`, as a publisher with another history would write them.
inline void rehash_from(std::vector<nats::StoredMessage>& messages, std::uint64_t base) {
  for (auto& m : messages) {
    base = chain_hash(base, m.body);
    set_header(m, "Hugo-Hash", format_hash(base));
  }
}

inline NatsConnectOptions nats_options(const std::string& url) {
  NatsConnectOptions o;
  o.url = url;
  o.timeout = std::chrono::milliseconds(5000);
  return o;
}

// Publishes `messages` in order into `stream` (created if absent, with `subject`), each expecting
// the previous one's stream seq; fails the test on any refusal.
inline void publish_messages(const std::string& url, const std::string& stream, const std::string& subject,
                             const std::vector<nats::StoredMessage>& messages, std::uint64_t after = 0) {
  auto conn = must(nats::Connection::connect(nats_options(url), "jetstream follower test"));
  must(conn->ensure_stream(nats::StreamSpec{stream, subject, 1}));
  std::mutex mutex;
  std::vector<std::string> failures;
  must(conn->start_publishing(64, [&](const nats::PublishOutcome& outcome) {
    if (outcome.error) {
      std::lock_guard lock(mutex);
      failures.push_back(outcome.error->message());
    }
  }));
  std::uint64_t last = after;
  for (const auto& m : messages) {
    must(conn->publish_async(subject, m.headers, m.body, last, static_cast<std::int64_t>(last + 1)));
    ++last;
  }
  must(conn->wait_published(std::chrono::seconds(20)));
  std::lock_guard lock(mutex);
  REQUIRE_MESSAGE(failures.empty(), (failures.empty() ? std::string() : failures.front()));
}

inline JetStreamFollowerOptions stream_follower_options(const std::string& url, const std::string& stream,
                                                        const std::filesystem::path& replica) {
  JetStreamFollowerOptions o;
  o.nats = nats_options(url);
  o.stream = stream;
  o.replica = replica;
  o.backoff_min = std::chrono::milliseconds(10);
  o.backoff_max = std::chrono::milliseconds(100);
  return o;
}

}  // namespace hugo::test

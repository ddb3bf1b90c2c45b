// Benchmark support for bench/jetstream: the raw libnats ceilings, with no hugo code on the path.
//
//   - prepare_messages: a journal's events as the publisher sends them (docs/SCALE-OUT.md, "The
//     stream layout and headers"): body = encode_event_json of the stored row, the Hugo-* headers,
//     the rolling hash; computed once, before any timing;
//   - raw_publish: async publishing of those bodies and headers into a fresh stream with the same
//     Nats-Msg-Id and Nats-Expected-Last-Sequence chain (message k expects stream seq k - 1) and at
//     most `window` publishes awaiting their ack, then waiting for every ack;
//   - raw_read: an ephemeral consumer reading the stream from seq 1 and doing nothing but parse
//     each message's stream seq and Hugo-* headers (and check that both seqs go up by one), either
//     ordered (push, as the stream follower's adapter reads) or pull (batched fetches).
#pragma once

#include "bench/support/jetstream_server.hpp"
#include "bench/support/report.hpp"
#include "bench/support/stats.hpp"

#include <hugo/event_json.hpp>
#include <hugo/journal.hpp>
#include <hugo/peers.hpp>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace hugo_bench {

struct PreparedMessage {
  std::string body;
  std::string msg_id;  // "<journal_id>:<seq>"
  std::string seq;
  std::string kind;
  std::string hash;
};

struct PreparedJournal {
  std::string journal_id;
  std::string schema_version;
  std::string epoch;
  std::string epoch_history;
  std::vector<PreparedMessage> messages;  // seqs 1..N
};

inline PreparedJournal prepare_messages(std::string_view program, const std::filesystem::path& journal) {
  auto reader = hugo::JournalReader::open(journal);
  if (!reader.ok()) fail(program, "JournalReader::open: " + reader.error().to_string());
  auto info = (*reader)->info();
  if (!info.ok()) fail(program, "JournalReader::info: " + info.error().to_string());
  PreparedJournal p;
  p.journal_id = info->journal_id;
  p.schema_version = std::to_string(info->schema_version);
  p.epoch = std::to_string(info->epoch);
  p.epoch_history = info->epoch_history;
  std::uint64_t hash = hugo::kEmptyHistoryHash;
  for (std::int64_t position = 0;;) {
    auto batch = (*reader)->read(position, 4096);
    if (!batch.ok()) fail(program, "JournalReader::read: " + batch.error().to_string());
    if (batch->empty()) break;
    for (const hugo::Event& e : *batch) {
      PreparedMessage m;
      hugo::encode_event_json(e, m.body);
      hash = hugo::chain_hash(hash, m.body);
      m.seq = std::to_string(e.seq);
      m.msg_id = p.journal_id + ":" + m.seq;
      m.kind = std::to_string(static_cast<int>(e.kind));
      m.hash = hugo::format_hash(hash);
      p.messages.push_back(std::move(m));
    }
    position = batch->back().seq;
  }
  return p;
}

// What every ack handler call reports to the publishing thread.
struct RawAcks {
  std::atomic<std::uint64_t> acked{0};
  std::atomic<std::uint64_t> failed{0};
  std::mutex mutex;
  std::string first_error;
};

inline void raw_on_ack(jsCtx*, natsMsg* msg, jsPubAck* ack, jsPubAckErr* error, void* closure) {
  auto* acks = static_cast<RawAcks*>(closure);
  if (ack != nullptr && error == nullptr) {
    acks->acked.fetch_add(1);
  } else {
    acks->failed.fetch_add(1);
    std::lock_guard lock(acks->mutex);
    if (acks->first_error.empty() && error != nullptr) {
      acks->first_error = std::string(natsStatus_GetText(error->Err)) + " (JetStream error " +
                          std::to_string(static_cast<int>(error->ErrCode)) + ")";
    }
  }
  natsMsg_Destroy(msg);
}

// The Hugo-* headers the publisher puts on message `m` of a contiguous journal (no Hugo-Prev-Seq).
inline natsStatus set_hugo_headers(natsMsg* msg, const PreparedJournal& journal, const PreparedMessage& m) {
  natsStatus s = natsMsgHeader_Set(msg, "Hugo-Journal-Id", journal.journal_id.c_str());
  if (s == NATS_OK) s = natsMsgHeader_Set(msg, "Hugo-Seq", m.seq.c_str());
  if (s == NATS_OK) s = natsMsgHeader_Set(msg, "Hugo-Kind", m.kind.c_str());
  if (s == NATS_OK) s = natsMsgHeader_Set(msg, "Hugo-Schema-Version", journal.schema_version.c_str());
  if (s == NATS_OK) s = natsMsgHeader_Set(msg, "Hugo-Epoch", journal.epoch.c_str());
  if (s == NATS_OK) s = natsMsgHeader_Set(msg, "Hugo-Epoch-History", journal.epoch_history.c_str());
  if (s == NATS_OK) s = natsMsgHeader_Set(msg, "Hugo-Hash", m.hash.c_str());
  return s;
}

// Publishes `m` asynchronously with its headers, Nats-Msg-Id and the stream seq it expects last
// (0, the first message of a fresh stream: none sent); fails the program if it cannot be sent.
inline void publish_prepared(std::string_view program, jsCtx* js, const std::string& subject,
                             const PreparedJournal& journal, const PreparedMessage& m, std::uint64_t expected_last) {
  natsMsg* msg = nullptr;
  natsStatus s = natsMsg_Create(&msg, subject.c_str(), nullptr, m.body.data(), static_cast<int>(m.body.size()));
  if (s == NATS_OK) s = set_hugo_headers(msg, journal, m);
  jsPubOptions publish;
  jsPubOptions_Init(&publish);
  publish.MsgId = m.msg_id.c_str();
  publish.ExpectLastSeq = expected_last;
  if (s == NATS_OK) s = js_PublishMsgAsync(js, &msg, &publish);
  natsMsg_Destroy(msg);  // no-op once the library took it
  if (s != NATS_OK) peer_fail(program, "raw libnats: js_PublishMsgAsync: " + nats_status_text(s));
}

// Connects, creates `stream`, publishes every prepared message and waits for every ack. Returns
// the seconds from connecting to the last ack; fails the program if a publish is refused.
inline double raw_publish(std::string_view program, const std::string& url, const std::string& stream,
                          const std::string& subject, const PreparedJournal& journal, std::size_t window) {
  RawAcks acks;
  jsOptions options;
  jsOptions_Init(&options);
  options.PublishAsync.MaxPending = static_cast<int64_t>(window);
  options.PublishAsync.AckHandler = raw_on_ack;
  options.PublishAsync.AckHandlerClosure = &acks;
  options.PublishAsync.StallWait = 30'000;
  const auto start = SteadyClock::now();
  auto nats = RawNats::connect(program, url, &options);
  nats->add_stream(program, stream, subject);
  std::uint64_t expected_last = 0;
  for (const PreparedMessage& m : journal.messages) publish_prepared(program, nats->js(), subject, journal, m, expected_last++);
  jsPubOptions complete;
  jsPubOptions_Init(&complete);
  complete.MaxWait = 60'000;
  if (const natsStatus s = js_PublishAsyncComplete(nats->js(), &complete); s != NATS_OK) {
    peer_fail(program, "raw libnats: js_PublishAsyncComplete: " + nats_status_text(s));
  }
  const double seconds = seconds_since(start);
  if (acks.failed.load() != 0) peer_fail(program, "raw libnats: a publish was refused: " + acks.first_error);
  const auto [last_seq, messages] = nats->stream_state(program, stream);
  if (acks.acked.load() != journal.messages.size() || last_seq != journal.messages.size() ||
      messages != journal.messages.size()) {
    peer_fail(program, "raw libnats: stream " + stream + " does not hold every message exactly once");
  }
  return seconds;
}

enum class RawConsumer { Ordered, Pull };

inline const char* consumer_name(RawConsumer c) { return c == RawConsumer::Ordered ? "ordered" : "pull"; }

// Parses what a follower needs of one message and checks that it follows `*last_stream_seq` and
// `*last_seq`; returns the body's length (so that the body is touched, as a parse would).
inline std::size_t parse_raw_message(std::string_view program, natsMsg* msg, std::uint64_t* last_stream_seq,
                                     std::int64_t* last_seq) {
  jsMsgMetaData* meta = nullptr;
  if (natsMsg_GetMetaData(&meta, msg) != NATS_OK || meta == nullptr) {
    peer_fail(program, "raw libnats: a message without JetStream metadata");
  }
  const std::uint64_t stream_seq = meta->Sequence.Stream;
  jsMsgMetaData_Destroy(meta);
  const char* value = nullptr;
  std::int64_t seq = 0;
  if (natsMsgHeader_Get(msg, "Hugo-Seq", &value) == NATS_OK) seq = std::strtoll(value, nullptr, 10);
  for (const char* name : {"Hugo-Journal-Id", "Hugo-Hash", "Hugo-Epoch", "Hugo-Kind"}) {
    if (natsMsgHeader_Get(msg, name, &value) != NATS_OK) peer_fail(program, std::string("raw libnats: no ") + name);
  }
  if (stream_seq != *last_stream_seq + 1 || seq != *last_seq + 1) {
    peer_fail(program, "raw libnats: a gap at stream seq " + std::to_string(stream_seq));
  }
  *last_stream_seq = stream_seq;
  *last_seq = seq;
  return static_cast<std::size_t>(natsMsg_GetDataLength(msg));
}

// Connects and reads `stream` (subject `subject`) from seq 1 until `expected` messages came in.
// Returns the seconds from connecting to the last message.
inline double raw_read(std::string_view program, RawConsumer kind, const std::string& url, const std::string& stream,
                       const std::string& subject, std::uint64_t expected, int batch) {
  const auto start = SteadyClock::now();
  auto nats = RawNats::connect(program, url);
  jsSubOptions sub_options;
  jsSubOptions_Init(&sub_options);
  sub_options.Stream = stream.c_str();
  sub_options.Config.DeliverPolicy = js_DeliverAll;
  natsSubscription* sub = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = NATS_OK;
  if (kind == RawConsumer::Ordered) {
    sub_options.Ordered = true;
    s = js_SubscribeSync(&sub, nats->js(), subject.c_str(), nullptr, &sub_options, &code);
    if (s == NATS_OK) s = natsSubscription_SetPendingLimits(sub, -1, -1);
  } else {
    sub_options.Config.AckPolicy = js_AckNone;
    s = js_PullSubscribe(&sub, nats->js(), subject.c_str(), nullptr, nullptr, &sub_options, &code);
  }
  if (s != NATS_OK) {
    peer_fail(program, std::string("raw libnats: ") + consumer_name(kind) + " subscribe: " + nats_status_text(s) +
                           " (JetStream error " + std::to_string(static_cast<int>(code)) + ")");
  }
  std::uint64_t last_stream_seq = 0;
  std::int64_t last_seq = 0;
  std::size_t bytes = 0;
  while (last_stream_seq < expected) {
    if (kind == RawConsumer::Ordered) {
      natsMsg* msg = nullptr;
      s = natsSubscription_NextMsg(&msg, sub, 10'000);
      if (s != NATS_OK) break;
      bytes += parse_raw_message(program, msg, &last_stream_seq, &last_seq);
      natsMsg_Destroy(msg);
    } else {
      natsMsgList list{nullptr, 0};
      s = natsSubscription_Fetch(&list, sub, batch, 10'000, &code);
      if (s != NATS_OK) break;
      for (int i = 0; i < list.Count; ++i) bytes += parse_raw_message(program, list.Msgs[i], &last_stream_seq, &last_seq);
      natsMsgList_Destroy(&list);
    }
  }
  natsSubscription_Unsubscribe(sub);
  natsSubscription_Destroy(sub);
  const double seconds = seconds_since(start);
  if (last_stream_seq != expected || bytes == 0) {
    peer_fail(program, std::string("raw libnats: the ") + consumer_name(kind) + " consumer stopped at stream seq " +
                           std::to_string(last_stream_seq) + " of " + std::to_string(expected) + ": " +
                           nats_status_text(s));
  }
  return seconds;
}

}  // namespace hugo_bench

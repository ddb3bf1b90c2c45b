// Benchmark support for bench/jetstream: the server's own lag floor, with no hugo code on the path.
// raw_lag publishes prepared messages (bench/support/jetstream_raw.hpp: the same bodies, headers,
// Nats-Msg-Id and Nats-Expected-Last-Sequence chain) into a fresh stream, one per `interval` as the
// lag case's producer appends, while an ordered consumer on a second connection reads them; the
// lag of a message is when the reader got it minus when its publish call began. The lag case's
// figure (journal commit -> replica commit) cannot beat this floor: it holds the same trip through
// the server plus the journal, the publisher's read and the replica's commit.
#pragma once

#include "bench/support/jetstream_raw.hpp"
#include "bench/support/jetstream_server.hpp"
#include "bench/support/report.hpp"
#include "bench/support/stats.hpp"

#include <sys/prctl.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace hugo_bench {

// Publishes messages 1..count of `journal` (count <= its size) paced at `interval`; returns the
// publish -> read lag of each, in ms. Fails the program on any refusal, gap or timeout.
inline std::vector<double> raw_lag(std::string_view program, const std::string& url, const std::string& stream,
                                   const std::string& subject, const PreparedJournal& journal, std::size_t count,
                                   std::chrono::microseconds interval) {
  if (count > journal.messages.size()) fail(program, "raw lag: more messages than the journal prepared");
  RawAcks acks;
  jsOptions options;
  jsOptions_Init(&options);
  options.PublishAsync.MaxPending = 1024;
  options.PublishAsync.AckHandler = raw_on_ack;
  options.PublishAsync.AckHandlerClosure = &acks;
  auto publisher = RawNats::connect(program, url, &options);
  publisher->add_stream(program, stream, subject);
  auto reading = RawNats::connect(program, url);
  std::vector<std::int64_t> sent_ns(count + 1, 0), read_ns(count + 1, 0);

  jsSubOptions sub_options;
  jsSubOptions_Init(&sub_options);
  sub_options.Stream = stream.c_str();
  sub_options.Ordered = true;
  natsSubscription* sub = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  if (js_SubscribeSync(&sub, reading->js(), subject.c_str(), nullptr, &sub_options, &code) != NATS_OK) {
    peer_fail(program, "raw lag: cannot subscribe (JetStream error " + std::to_string(static_cast<int>(code)) + ")");
  }
  natsSubscription_SetPendingLimits(sub, -1, -1);
  std::string reader_error;
  std::thread reader([&] {
    for (std::size_t got = 0; got < count;) {
      natsMsg* msg = nullptr;
      if (natsSubscription_NextMsg(&msg, sub, 10'000) != NATS_OK) {
        reader_error = "the reader waited 10 s after " + std::to_string(got) + " messages";
        return;
      }
      const std::int64_t now = steady_ns();
      std::uint64_t stream_seq = got;
      std::int64_t seq = static_cast<std::int64_t>(got);
      (void)parse_raw_message(program, msg, &stream_seq, &seq);  // checks both go up by one
      natsMsg_Destroy(msg);
      read_ns[++got] = now;
    }
  });

  ::prctl(PR_SET_TIMERSLACK, 1000UL, 0UL, 0UL, 0UL);
  const auto start = SteadyClock::now() + std::chrono::milliseconds(1);
  for (std::size_t i = 0; i < count; ++i) {
    std::this_thread::sleep_until(start + static_cast<std::int64_t>(i) * interval);
    sent_ns[i + 1] = steady_ns();
    publish_prepared(program, publisher->js(), subject, journal, journal.messages[i], i);
  }
  reader.join();
  natsSubscription_Unsubscribe(sub);
  natsSubscription_Destroy(sub);
  if (!reader_error.empty()) peer_fail(program, "raw lag: " + reader_error);
  if (acks.failed.load() != 0) peer_fail(program, "raw lag: a publish was refused: " + acks.first_error);
  std::vector<double> lag_ms;
  lag_ms.reserve(count);
  for (std::size_t seq = 1; seq <= count; ++seq) lag_ms.push_back(static_cast<double>(read_ns[seq] - sent_ns[seq]) / 1e6);
  return lag_ms;
}

}  // namespace hugo_bench

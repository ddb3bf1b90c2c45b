// Benchmark support for bench/jetstream: the library's side of each case (JetStreamSink,
// JetStreamFollower) and the checks every case ends with, failing the program on any error.
#pragma once

#include "bench/support/jetstream_server.hpp"
#include "bench/support/journal.hpp"
#include "bench/support/peer_server.hpp"
#include "bench/support/report.hpp"
#include "bench/support/stats.hpp"

#include <hugo/jetstream.hpp>
#include <hugo/journal.hpp>
#include <hugo/peers.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

namespace hugo_bench::jetstream {

inline constexpr const char* kProgram = "jetstream";
inline constexpr const char* kQueues[] = {"orders", "emails", "billing", "reports"};

[[noreturn]] inline void fail(const std::string& message) { peer_fail(kProgram, message); }

// Row `seq` of a history of task lifecycles starting at `first`, the Enqueued rows with a 32-byte
// JSON payload.
inline hugo::Event event_at(std::int64_t seq, std::int64_t first, hugo::Timestamp at) {
  hugo::Event e = hugo_bench::lifecycle_event(seq, first, at, kQueues, 8);
  if (e.kind == hugo::EventKind::Enqueued) {
    std::string payload = "{\"job\":" + std::to_string(seq) + ",\"ref\":\"";
    payload.append(30 - payload.size(), 'y');
    e.payload = payload + "\"}";
    e.payload_format = hugo::PayloadFormat::Json;
  }
  return e;
}

inline hugo::NatsConnectOptions nats_options(const std::string& url) {
  hugo::NatsConnectOptions options;
  options.url = url;
  options.timeout = std::chrono::milliseconds(30'000);
  return options;
}

// Checks that `stream` holds exactly `events` messages.
inline void check_stream(const std::string& url, const std::string& stream, std::int64_t events) {
  auto nats = hugo_bench::RawNats::connect(kProgram, url);
  const auto [last_seq, messages] = nats->stream_state(kProgram, stream);
  if (last_seq != static_cast<std::uint64_t>(events) || messages != static_cast<std::uint64_t>(events)) {
    fail("stream " + stream + " holds " + std::to_string(messages) + " messages up to stream seq " +
         std::to_string(last_seq) + ", expected exactly " + std::to_string(events));
  }
}

inline void delete_stream(const std::string& url, const std::string& stream) {
  auto nats = hugo_bench::RawNats::connect(kProgram, url);
  if (const natsStatus s = js_DeleteStream(nats->js(), stream.c_str(), nullptr, nullptr); s != NATS_OK) {
    fail("raw libnats: js_DeleteStream " + stream + ": " + hugo_bench::nats_status_text(s));
  }
}

inline std::unique_ptr<hugo::JetStreamSink> open_sink(const std::string& url, const std::filesystem::path& journal,
                                               const hugo::Journal* live, const std::string& stream,
                                               std::size_t window) {
  hugo::JetStreamSinkOptions options;
  options.nats = nats_options(url);
  options.journal = journal;
  options.live = live;
  options.stream = stream;
  options.window = window;
  auto sink = hugo::JetStreamSink::open(options);
  if (!sink.ok()) fail("JetStreamSink::open: " + sink.error().to_string());
  return std::move(sink).value();
}

inline double sink_publish(const std::string& url, const std::filesystem::path& journal, const std::string& stream,
                    std::int64_t events, std::size_t window) {
  const auto start = SteadyClock::now();
  auto sink = open_sink(url, journal, nullptr, stream, window);
  auto published = sink->publish_available();
  if (!published.ok()) fail("JetStreamSink::publish_available: " + published.error().to_string());
  if (*published != events) fail("JetStreamSink published up to seq " + std::to_string(*published));
  sink.reset();
  return hugo_bench::seconds_since(start);
}

inline std::unique_ptr<hugo::JetStreamFollower> open_follower(const std::string& url, const std::string& stream,
                                                       const std::filesystem::path& replica) {
  hugo::JetStreamFollowerOptions options;
  options.nats = nats_options(url);
  options.stream = stream;
  options.replica = replica;
  auto follower = hugo::JetStreamFollower::open(options);
  if (!follower.ok()) fail("JetStreamFollower::open: " + follower.error().to_string());
  return std::move(follower).value();
}

inline void remove_journal_files(const std::filesystem::path& path) {
  std::error_code ec;
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path.string() + suffix, ec);
}

// Returns the seconds; `*hash` gets the replica's rolling hash at the end.
inline double follower_catch_up(const std::string& url, const std::string& stream, const std::filesystem::path& replica,
                         std::int64_t events, std::uint64_t* hash) {
  const auto start = SteadyClock::now();
  {
    auto follower = open_follower(url, stream, replica);
    auto applied = follower->catch_up();
    if (!applied.ok()) fail("JetStreamFollower::catch_up: " + applied.error().to_string());
    if (*applied != events || follower->position().seq != events ||
        follower->stream_seq() != static_cast<std::uint64_t>(events)) {
      fail("JetStreamFollower::catch_up stopped at seq " + std::to_string(*applied));
    }
    *hash = follower->position().hash;
  }  // closes the replica: part of the work
  const double seconds = hugo_bench::seconds_since(start);
  auto position = hugo::read_replica_position(replica);
  if (!position.ok() || position->seq != events) fail("the replica's position is not the stream's last event");
  return seconds;
}

}  // namespace hugo_bench::jetstream

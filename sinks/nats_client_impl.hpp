// What the libnats adapter's files (sinks/nats_client*.cpp) share: the connection's state and the
// one mapping from libnats statuses and JetStream API error codes to hugo::Error. Included only by
// those files: it is the one place beside them that names <nats/nats.h>.
#pragma once

#include "sinks/nats_client.hpp"

#include <nats/nats.h>

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace hugo::nats {

struct Connection::Impl {
  NatsConnectOptions options;
  natsConnection* conn = nullptr;
  jsCtx* js = nullptr;      // JetStream API requests
  jsCtx* pub_js = nullptr;  // asynchronous publishing (start_publishing), its own window

  // Publishing: the caller's tag of each message awaiting its ack, and the callback. `active`
  // counts callbacks running now; once `closed`, none starts (the destructor waits for them).
  std::mutex mutex;
  std::condition_variable idle;
  std::unordered_map<const natsMsg*, std::int64_t> tags;
  std::function<void(const PublishOutcome&)> on_outcome;
  int active = 0;
  bool closed = false;
  bool ever_published = false;  // publishing thread only

  ~Impl();
  std::int64_t timeout_ms() const { return options.timeout.count() > 0 ? options.timeout.count() : 1; }
};

// The Error for a failed libnats call: replication.unauthorized for refused credentials,
// error.validation for a stream configuration the server cannot place (replicas over the cluster's
// size), replication.unavailable otherwise. Metadata: url, status (libnats's text), jetstream_error
// when the server answered with one, and whatever `metadata` the caller adds (stream, ...).
Error nats_error(const Connection::Impl& impl, std::string_view what, natsStatus status, int jetstream_error = 0,
                 ErrorMetadata metadata = {});
Error nats_error(const NatsConnectOptions& options, std::string_view what, natsStatus status,
                 int jetstream_error = 0, ErrorMetadata metadata = {});

// A copy of a libnats message: stream seq (as given), headers and body.
StoredMessage stored_message(natsMsg* msg, std::uint64_t stream_seq);

}  // namespace hugo::nats

// The libnats adapter: the only code that includes <nats/nats.h> (sinks/nats_client*.cpp). It maps
// libnats status codes and JetStream API errors to hugo::Error (replication.unavailable for
// transport failures, replication.unauthorized for a refused token or creds) and hides every libnats
// type. Used by the JetStream publisher (sinks/) and the stream follower (peers/);
// docs/SCALE-OUT.md has the stream layout.
#pragma once

#include <hugo/error.hpp>
#include <hugo/jetstream.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

namespace hugo::nats {

using Headers = std::vector<std::pair<std::string, std::string>>;

// A header to publish, borrowed: both strings NUL-terminated and alive for the publishing call.
struct HeaderRef {
  const char* key;
  const char* value;
};

// A stream message as a reader hands it over: its stream sequence, body and headers, borrowed
// from the library's message for the length of one call (nothing is copied; keep what you need).
class MessageView {
 public:
  virtual std::uint64_t sequence() const = 0;
  virtual std::string_view data() const = 0;
  // The value of header `name` (first occurrence), or nullopt.
  virtual std::optional<std::string_view> header(const char* name) const = 0;
  // An owned copy, every header included.
  virtual struct StoredMessage stored() const = 0;

 protected:
  ~MessageView() = default;
};

// A stream message as stored: its stream sequence, headers and body, owned.
struct StoredMessage {
  std::uint64_t stream_seq = 0;
  Headers headers;
  std::string body;
  // The value of header `name` (first occurrence), or nullopt.
  std::optional<std::string_view> header(std::string_view name) const;
};

// A StoredMessage seen through the MessageView interface (for the checks that read both).
class StoredMessageView final : public MessageView {
 public:
  explicit StoredMessageView(const StoredMessage& message) : message_(message) {}
  std::uint64_t sequence() const override { return message_.stream_seq; }
  std::string_view data() const override { return message_.body; }
  std::optional<std::string_view> header(const char* name) const override { return message_.header(name); }
  StoredMessage stored() const override { return message_; }

 private:
  const StoredMessage& message_;
};

struct StreamSpec {
  std::string name;
  std::string subject;
  int replicas = 1;
};

// What the server says of a stream.
struct StreamState {
  std::string name;
  std::vector<std::string> subjects;
  int replicas = 1;
  bool deny_delete = false;
  bool deny_purge = false;
  std::uint64_t first_seq = 0;  // 0 with last_seq 0: empty
  std::uint64_t last_seq = 0;
  std::uint64_t messages = 0;
};

// The outcome of one asynchronous publish, delivered on a libnats thread.
struct PublishOutcome {
  std::uint64_t stream_seq = 0;   // the acknowledged stream seq (0 on failure)
  std::int64_t tag = 0;           // what the caller passed to publish_async (the journal seq)
  int jetstream_error = 0;        // JetStream API error code: 10071 is "wrong last sequence"
  bool duplicate = false;         // the server already held this Nats-Msg-Id (at stream_seq)
  std::optional<Error> error;     // set on failure (replication.unavailable unless decided above)
};

// error.validation unless `name` is a stream name NATS accepts: 1..255 printable ASCII characters,
// none of space . * > / \ (JetStream uses the name in API subjects and as a folder name).
Status check_stream_name(std::string_view name);

class Connection {
 public:
  // Connects to options.url (comma-separated servers), with the token or creds given.
  static Result<std::unique_ptr<Connection>> connect(const NatsConnectOptions& options, std::string name);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  std::int64_t max_payload() const;  // the server's max_payload, in bytes

  // nullopt when the stream does not exist.
  Result<std::optional<StreamState>> stream_info(const std::string& stream);
  // Creates the stream (file storage, spec.replicas, DenyDelete, DenyPurge, no limits) unless it
  // exists; returns its state either way.
  Result<StreamState> ensure_stream(const StreamSpec& spec);
  // The stream's last message on `subject`, nullopt when it holds none.
  Result<std::optional<StoredMessage>> last_message(const std::string& stream, const std::string& subject);
  // Message `stream_seq`, nullopt when the stream does not hold it (never stored, or removed).
  Result<std::optional<StoredMessage>> message(const std::string& stream, std::uint64_t stream_seq);

  // Asynchronous publishing with the chain of expected last sequences. At most `window` publishes
  // await their ack; publish_async blocks (up to the connect timeout) while the window is full.
  // on_outcome runs on a libnats thread once per publish, in no promised order; it must not call
  // back into this Connection. Returns an error only when the message could not be sent at all.
  Status start_publishing(std::size_t window, std::function<void(const PublishOutcome&)> on_outcome);
  Status publish_async(const std::string& subject, std::span<const HeaderRef> headers, std::string_view body,
                       std::uint64_t expected_last_stream_seq, std::int64_t tag);
  Status publish_async(const std::string& subject, const Headers& headers, std::string_view body,
                       std::uint64_t expected_last_stream_seq, std::int64_t tag);
  // Waits until every publish has its outcome, or `timeout` passes (replication.unavailable).
  Status wait_published(std::chrono::milliseconds timeout);

  // Reading a stream in order from a stream seq (an ordered, ephemeral consumer: no state on the
  // server survives the reader). visit() waits up to `wait` for a first message, takes up to `max`
  // messages (after the first, only those that have already arrived), hands them to `each` in one
  // call, in stream order, and returns how many (0: the wait passed, and `each` was not called).
  // The views stay valid until `each` returns (up to `max` messages are held at once). An error
  // from `each` is returned; after a read error, what was taken is dropped unseen. Messages come
  // with their stream seq so the caller can check for gaps. next() is visit() with owned copies.
  class Reader {
   public:
    using Batch = std::span<const MessageView* const>;
    using Visitor = std::function<Status(Batch)>;
    virtual ~Reader() = default;
    virtual Result<std::size_t> visit(std::size_t max, std::chrono::milliseconds wait, const Visitor& each) = 0;
    Result<std::vector<StoredMessage>> next(std::size_t max, std::chrono::milliseconds wait);
  };
  Result<std::unique_ptr<Reader>> read(const std::string& stream, const std::string& subject,
                                       std::uint64_t from_stream_seq);

  struct Impl;

 private:
  explicit Connection(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace hugo::nats

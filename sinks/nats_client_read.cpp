// The libnats adapter's stream reader (sinks/nats_client.hpp, Connection::read): an ordered
// ephemeral push consumer from a stream seq (no acks; libnats recreates it if a message goes
// missing on the way, and the server forgets it when the reader goes away). A message removed from
// the stream is skipped by any consumer: the caller notices the jump in stream seqs.
#include "sinks/nats_client_impl.hpp"

#include <memory>
#include <vector>

namespace hugo::nats {
namespace {

// A library message seen through MessageView: header lookups go to libnats's own index of the
// message's headers, and nothing is copied.
class LibraryMessage final : public MessageView {
 public:
  LibraryMessage(natsMsg* msg, std::uint64_t stream_seq) : msg_(msg), stream_seq_(stream_seq) {}
  std::uint64_t sequence() const override { return stream_seq_; }
  std::string_view data() const override {
    const char* data = natsMsg_GetData(msg_);
    const int length = natsMsg_GetDataLength(msg_);
    return data != nullptr && length > 0 ? std::string_view(data, static_cast<std::size_t>(length)) : std::string_view();
  }
  std::optional<std::string_view> header(const char* name) const override {
    const char* value = nullptr;
    if (natsMsgHeader_Get(msg_, name, &value) != NATS_OK || value == nullptr) return std::nullopt;
    return std::string_view(value);
  }
  StoredMessage stored() const override { return stored_message(msg_, stream_seq_); }

 private:
  natsMsg* msg_;
  std::uint64_t stream_seq_;
};

class OrderedReader final : public Connection::Reader {
 public:
  OrderedReader(Connection::Impl& impl, std::string stream, natsSubscription* sub)
      : impl_(impl), stream_(std::move(stream)), sub_(sub) {}
  ~OrderedReader() override {
    natsSubscription_Unsubscribe(sub_);
    natsSubscription_Destroy(sub_);
  }
  OrderedReader(const OrderedReader&) = delete;
  OrderedReader& operator=(const OrderedReader&) = delete;

  Result<std::size_t> visit(std::size_t max, std::chrono::milliseconds wait, const Visitor& each) override {
    // The messages are freed together when the call returns: libnats hands each freed message to
    // its collector thread and wakes that thread when it sleeps, so freeing one at a time costs a
    // wake-up per message.
    const MessageBatch batch(taken_, views_);
    std::int64_t wait_ms = wait.count() > 0 ? wait.count() : 1;
    while (taken_.size() < max) {
      if (!taken_.empty()) {  // after the first, take only what has already arrived
        int queued = 0;
        int bytes = 0;
        if (natsSubscription_GetPending(sub_, &queued, &bytes) != NATS_OK || queued <= 0) break;
        wait_ms = 1;
      }
      natsMsg* msg = nullptr;
      const natsStatus s = natsSubscription_NextMsg(&msg, sub_, wait_ms);
      if (s == NATS_TIMEOUT) break;
      if (s != NATS_OK) return nats_error(impl_, "cannot read stream " + stream_, s, 0, {{"stream", stream_}});
      taken_.push_back(msg);
      jsMsgMetaData* meta = nullptr;
      const natsStatus m = natsMsg_GetMetaData(&meta, msg);
      if (m != NATS_OK) {
        return nats_error(impl_, "a message of stream " + stream_ + " carries no JetStream metadata", m, 0,
                          {{"stream", stream_}});
      }
      views_.emplace_back(msg, meta->Sequence.Stream);
      jsMsgMetaData_Destroy(meta);
    }
    if (views_.empty()) return std::size_t{0};
    pointers_.clear();
    for (const LibraryMessage& view : views_) pointers_.push_back(&view);
    HUGO_TRY(each(Batch(pointers_)));
    return views_.size();
  }

 private:
  // Frees the messages one visit() took (and drops their views) when it goes out of scope.
  class MessageBatch {
   public:
    MessageBatch(std::vector<natsMsg*>& messages, std::vector<LibraryMessage>& views)
        : messages_(messages), views_(views) {}
    ~MessageBatch() {
      views_.clear();
      for (natsMsg* msg : messages_) natsMsg_Destroy(msg);
      messages_.clear();
    }
    MessageBatch(const MessageBatch&) = delete;
    MessageBatch& operator=(const MessageBatch&) = delete;

   private:
    std::vector<natsMsg*>& messages_;
    std::vector<LibraryMessage>& views_;
  };

  Connection::Impl& impl_;
  std::string stream_;
  natsSubscription* sub_;
  // What the running visit() took, kept between calls only for their capacity.
  std::vector<natsMsg*> taken_;
  std::vector<LibraryMessage> views_;
  std::vector<const MessageView*> pointers_;
};

}  // namespace

Result<std::vector<StoredMessage>> Connection::Reader::next(std::size_t max, std::chrono::milliseconds wait) {
  std::vector<StoredMessage> out;
  HUGO_TRY(visit(max, wait, [&out](Batch batch) {
    for (const MessageView* message : batch) out.push_back(message->stored());
    return ok_status();
  }));
  return out;
}

Result<std::unique_ptr<Connection::Reader>> Connection::read(const std::string& stream, const std::string& subject,
                                                             std::uint64_t from_stream_seq) {
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = stream.c_str();
  so.Ordered = true;
  so.Config.DeliverPolicy = js_DeliverByStartSequence;
  so.Config.OptStartSeq = from_stream_seq > 0 ? from_stream_seq : 1;
  natsSubscription* sub = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  const natsStatus s = js_SubscribeSync(&sub, impl_->js, subject.c_str(), nullptr, &so, &code);
  if (s != NATS_OK) {
    if (code == JSStreamNotFoundErr) {
      return Error::replication_diverged("stream " + stream + " does not exist on " + impl_->options.url,
                                         {{"stream", stream}, {"url", impl_->options.url}});
    }
    return nats_error(*impl_, "cannot read stream " + stream, s, code,
                      {{"stream", stream}, {"from", std::to_string(from_stream_seq)}});
  }
  // The consumer's flow control bounds what waits here; lift libnats's own count limit so a
  // fast stream never turns into a slow-consumer error.
  natsSubscription_SetPendingLimits(sub, -1, 256 * 1024 * 1024);
  return std::unique_ptr<Reader>(new OrderedReader(*impl_, stream, sub));
}

}  // namespace hugo::nats

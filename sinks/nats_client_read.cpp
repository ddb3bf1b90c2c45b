// The libnats adapter's stream reader (sinks/nats_client.hpp, Connection::read): an ordered
// ephemeral push consumer from a stream seq (no acks; libnats recreates it if a message goes
// missing on the way, and the server forgets it when the reader goes away). A message removed from
// the stream is skipped by any consumer: the caller notices the jump in stream seqs.
#include "sinks/nats_client_impl.hpp"

namespace hugo::nats {
namespace {

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

  Result<std::vector<StoredMessage>> next(std::size_t max, std::chrono::milliseconds wait) override {
    std::vector<StoredMessage> out;
    std::int64_t wait_ms = wait.count() > 0 ? wait.count() : 1;
    while (out.size() < max) {
      if (!out.empty()) {  // after the first, take only what has already arrived
        int queued = 0;
        int bytes = 0;
        if (natsSubscription_GetPending(sub_, &queued, &bytes) != NATS_OK || queued <= 0) break;
        wait_ms = 1;
      }
      natsMsg* msg = nullptr;
      const natsStatus s = natsSubscription_NextMsg(&msg, sub_, wait_ms);
      if (s == NATS_TIMEOUT) break;
      if (s != NATS_OK) return nats_error(impl_, "cannot read stream " + stream_, s, 0, {{"stream", stream_}});
      jsMsgMetaData* meta = nullptr;
      const natsStatus m = natsMsg_GetMetaData(&meta, msg);
      if (m != NATS_OK) {
        natsMsg_Destroy(msg);
        return nats_error(impl_, "a message of stream " + stream_ + " carries no JetStream metadata", m, 0,
                          {{"stream", stream_}});
      }
      out.push_back(stored_message(msg, meta->Sequence.Stream));
      jsMsgMetaData_Destroy(meta);
      natsMsg_Destroy(msg);
    }
    return out;
  }

 private:
  Connection::Impl& impl_;
  std::string stream_;
  natsSubscription* sub_;
};

}  // namespace

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

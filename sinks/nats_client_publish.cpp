// The libnats adapter's asynchronous publishing (sinks/nats_client.hpp): a JetStream context of its
// own whose PublishAsync window is the caller's, every message carrying the stream seq it expects
// last, and one outcome per message delivered from libnats's ack handler.
#include "sinks/nats_client_impl.hpp"

#include <charconv>
#include <memory>
#include <vector>

namespace hugo::nats {
namespace {

void on_ack(jsCtx* /*js*/, natsMsg* msg, jsPubAck* ack, jsPubAckErr* failure, void* closure) {
  // The ack handler owns the published message (nats.h, jsPubAckHandler): destroyed on every path.
  const std::unique_ptr<natsMsg, decltype(&natsMsg_Destroy)> owned(msg, &natsMsg_Destroy);
  auto* impl = static_cast<Connection::Impl*>(closure);
  PublishOutcome outcome;
  std::function<void(const PublishOutcome&)> callback;
  {
    std::lock_guard lock(impl->mutex);
    if (impl->closed) return;
    auto it = impl->tags.find(msg);
    if (it != impl->tags.end()) {
      outcome.tag = it->second;
      impl->tags.erase(it);
    }
    callback = impl->on_outcome;
    ++impl->active;
  }
  if (failure != nullptr) {
    outcome.jetstream_error = static_cast<int>(failure->ErrCode);
    ErrorMetadata metadata{{"tag", std::to_string(outcome.tag)}};
    if (failure->ErrText != nullptr) metadata["server_text"] = failure->ErrText;
    outcome.error = nats_error(*impl, "publish refused or unacknowledged", failure->Err, outcome.jetstream_error,
                               std::move(metadata));
  } else if (ack != nullptr) {
    outcome.stream_seq = ack->Sequence;
    outcome.duplicate = ack->Duplicate;
  } else {
    outcome.error = Error::replication_unavailable("publish acknowledged without an answer",
                                                   {{"url", impl->options.url}, {"tag", std::to_string(outcome.tag)}});
  }
  if (callback) callback(outcome);
  {
    std::lock_guard lock(impl->mutex);
    --impl->active;
  }
  impl->idle.notify_all();
}

}  // namespace

Status Connection::start_publishing(std::size_t window, std::function<void(const PublishOutcome&)> on_outcome) {
  if (impl_->pub_js != nullptr) return Error::validation("publishing was already started on this connection");
  if (window == 0) return Error::validation("the publish window must hold at least one message");
  {
    std::lock_guard lock(impl_->mutex);
    impl_->on_outcome = std::move(on_outcome);
  }
  jsOptions jso;
  jsOptions_Init(&jso);
  jso.Wait = impl_->timeout_ms();
  jso.PublishAsync.MaxPending = static_cast<int64_t>(window);
  jso.PublishAsync.AckHandler = &on_ack;
  jso.PublishAsync.AckHandlerClosure = impl_.get();
  jso.PublishAsync.StallWait = impl_->timeout_ms();
  const natsStatus s = natsConnection_JetStream(&impl_->pub_js, impl_->conn, &jso);
  if (s != NATS_OK) return nats_error(*impl_, "cannot start publishing", s);
  return ok_status();
}

Status Connection::publish_async(const std::string& subject, const Headers& headers, std::string_view body,
                                 std::uint64_t expected_last_stream_seq, std::int64_t tag) {
  std::vector<HeaderRef> refs;
  refs.reserve(headers.size());
  for (const auto& [key, value] : headers) refs.push_back({key.c_str(), value.c_str()});
  return publish_async(subject, refs, body, expected_last_stream_seq, tag);
}

Status Connection::publish_async(const std::string& subject, std::span<const HeaderRef> headers, std::string_view body,
                                 std::uint64_t expected_last_stream_seq, std::int64_t tag) {
  if (impl_->pub_js == nullptr) return Error::validation("publish_async before start_publishing");
  natsMsg* msg = nullptr;
  natsStatus s = natsMsg_Create(&msg, subject.c_str(), nullptr, body.data(), static_cast<int>(body.size()));
  for (const HeaderRef& header : headers) {
    if (s == NATS_OK) s = natsMsgHeader_Add(msg, header.key, header.value);
  }
  // Set as a header rather than jsPubOptions.ExpectLastSeq, whose 0 means "no expectation": the
  // first message of a stream expects 0 like every other expects its predecessor.
  char expected[24];
  *std::to_chars(expected, expected + sizeof expected - 1, expected_last_stream_seq).ptr = '\0';
  if (s == NATS_OK) s = natsMsgHeader_Set(msg, "Nats-Expected-Last-Sequence", expected);
  if (s != NATS_OK) {
    natsMsg_Destroy(msg);
    return nats_error(*impl_, "cannot build the message", s, 0, {{"tag", std::to_string(tag)}});
  }
  const natsMsg* key = msg;
  {
    std::lock_guard lock(impl_->mutex);
    impl_->tags[key] = tag;
  }
  // No per-message MaxWait: libnats would track every message in a timer list until its deadline
  // passed, acked or not. An ack that never comes is caught by wait_published's timeout.
  impl_->ever_published = true;
  s = js_PublishMsgAsync(impl_->pub_js, &msg, nullptr);
  if (s != NATS_OK) {
    {
      std::lock_guard lock(impl_->mutex);
      impl_->tags.erase(key);
    }
    natsMsg_Destroy(msg);
    ErrorMetadata metadata{{"tag", std::to_string(tag)}, {"bytes", std::to_string(body.size())}};
    if (s == NATS_TIMEOUT) {
      metadata["url"] = impl_->options.url;
      return Error::replication_unavailable(
          "the publish window stayed full for " + std::to_string(impl_->timeout_ms()) + " ms on " + impl_->options.url,
          std::move(metadata));
    }
    return nats_error(*impl_, "cannot publish", s, 0, std::move(metadata));
  }
  return ok_status();
}

Status Connection::wait_published(std::chrono::milliseconds timeout) {
  if (impl_->pub_js == nullptr) return ok_status();
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MaxWait = timeout.count() > 0 ? timeout.count() : 1;
  const natsStatus s = js_PublishAsyncComplete(impl_->pub_js, &po);
  if (s != NATS_OK) {
    return nats_error(*impl_, "publishes still unacknowledged after " + std::to_string(po.MaxWait) + " ms", s);
  }
  return ok_status();
}

}  // namespace hugo::nats

// The libnats adapter: connecting, the JetStream API's stream and message requests, and the error
// mapping (sinks/nats_client.hpp). Publishing lives in nats_client_publish.cpp, reading a stream in
// nats_client_read.cpp.
#include "sinks/nats_client_impl.hpp"

#include <cstdio>
#include <cstdlib>
#include <vector>

namespace hugo {

bool jetstream_supported() { return true; }

namespace nats {
namespace {

std::string status_text(natsStatus status) {
  std::string text = natsStatus_GetText(status);
  natsStatus last = NATS_OK;
  const char* detail = nats_GetLastError(&last);
  if (last == status && detail != nullptr && *detail != '\0' && text != detail) text += std::string(": ") + detail;
  return text;
}

std::vector<std::string> split_servers(const std::string& urls) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= urls.size()) {
    std::size_t end = urls.find(',', start);
    if (end == std::string::npos) end = urls.size();
    std::string one = urls.substr(start, end - start);
    while (!one.empty() && one.front() == ' ') one.erase(one.begin());
    while (!one.empty() && one.back() == ' ') one.pop_back();
    if (!one.empty()) out.push_back(std::move(one));
    start = end + 1;
  }
  return out;
}

StreamState stream_state(const jsStreamInfo& info) {
  StreamState state;
  if (info.Config != nullptr) {
    const jsStreamConfig& config = *info.Config;
    if (config.Name != nullptr) state.name = config.Name;
    for (int i = 0; i < config.SubjectsLen; ++i) state.subjects.emplace_back(config.Subjects[i]);
    state.replicas = static_cast<int>(config.Replicas);
    state.deny_delete = config.DenyDelete;
    state.deny_purge = config.DenyPurge;
  }
  state.first_seq = info.State.FirstSeq;
  state.last_seq = info.State.LastSeq;
  state.messages = info.State.Msgs;
  return state;
}

}  // namespace

std::optional<std::string_view> StoredMessage::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key == name) return std::string_view(value);
  }
  return std::nullopt;
}

Error nats_error(const NatsConnectOptions& options, std::string_view what, natsStatus status, int jetstream_error,
                 ErrorMetadata metadata) {
  const std::string text = status_text(status);
  metadata["url"] = options.url;
  metadata["status"] = text;
  if (jetstream_error != 0) metadata["jetstream_error"] = std::to_string(jetstream_error);
  std::string message = std::string(what) + " on " + options.url + ": " + text;
  if (jetstream_error != 0) message += " (JetStream error " + std::to_string(jetstream_error) + ")";
  if (status == NATS_CONNECTION_AUTH_FAILED || status == NATS_NOT_PERMITTED) {
    return Error::replication_unauthorized(std::move(message), std::move(metadata));
  }
  if (jetstream_error == JSStreamReplicasNotSupportedErr || jetstream_error == JSClusterNoPeersErr ||
      jetstream_error == JSInsufficientResourcesErr) {
    return Error::validation(std::move(message) + " (ask for fewer replicas, or add servers)", std::move(metadata));
  }
  // Answers that no retry changes: the caller's request or the server's set-up must change.
  if (jetstream_error == JSStreamSubjectOverlapErr) {
    return Error::validation(std::move(message) + " (another stream already takes this subject: name that stream)",
                             std::move(metadata));
  }
  if (jetstream_error == JSStreamInvalidConfig || jetstream_error == JSNotEnabledErr ||
      jetstream_error == JSNotEnabledForAccountErr) {
    return Error::validation(std::move(message) + " (check the server's JetStream set-up)", std::move(metadata));
  }
  return Error::replication_unavailable(std::move(message), std::move(metadata));
}

Error nats_error(const Connection::Impl& impl, std::string_view what, natsStatus status, int jetstream_error,
                 ErrorMetadata metadata) {
  return nats_error(impl.options, what, status, jetstream_error, std::move(metadata));
}

StoredMessage stored_message(natsMsg* msg, std::uint64_t stream_seq) {
  StoredMessage out;
  out.stream_seq = stream_seq;
  const char* data = natsMsg_GetData(msg);
  const int length = natsMsg_GetDataLength(msg);
  if (data != nullptr && length > 0) out.body.assign(data, static_cast<std::size_t>(length));
  const char** keys = nullptr;
  int key_count = 0;
  if (natsMsgHeader_Keys(msg, &keys, &key_count) == NATS_OK) {
    for (int k = 0; k < key_count; ++k) {
      const char** values = nullptr;
      int value_count = 0;
      if (natsMsgHeader_Values(msg, keys[k], &values, &value_count) != NATS_OK) continue;
      for (int v = 0; v < value_count; ++v) out.headers.emplace_back(keys[k], values[v]);
      std::free(static_cast<void*>(values));
    }
    std::free(static_cast<void*>(keys));
  }
  return out;
}

Connection::Impl::~Impl() {
  if (pub_js != nullptr) {
    // Take back every message still awaiting its ack: libnats then drops their acks, so no
    // callback starts for them; wait for the callbacks already running.
    // (libnats 3.4 crashes on a context that never published: ask only after a publish.)
    natsMsgList pending{};
    if (ever_published && js_PublishAsyncGetPendingList(&pending, pub_js) == NATS_OK) natsMsgList_Destroy(&pending);
    std::unique_lock lock(mutex);
    closed = true;
    idle.wait(lock, [&] { return active == 0; });
  }
  if (conn != nullptr) natsConnection_Close(conn);
  if (pub_js != nullptr) jsCtx_Destroy(pub_js);
  if (js != nullptr) jsCtx_Destroy(js);
  if (conn != nullptr) natsConnection_Destroy(conn);
}

Connection::Connection(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Connection::~Connection() = default;

Result<std::unique_ptr<Connection>> Connection::connect(const NatsConnectOptions& options, std::string name) {
  const std::vector<std::string> servers = split_servers(options.url);
  if (servers.empty()) return Error::validation("no NATS server URL given", {{"url", options.url}});
  if (!options.token.empty() && !options.creds.empty()) {
    return Error::validation("give a token or a creds file, not both", {{"url", options.url}});
  }
  if (!options.creds.empty()) {
    // libnats reads the file only while connecting, and then fails like an unreachable server.
    std::FILE* file = std::fopen(options.creds.c_str(), "rb");
    if (file == nullptr) {
      return Error::validation("cannot read the creds file " + options.creds.string() + " (check the path)",
                               {{"path", options.creds.string()}});
    }
    std::fclose(file);
  }
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  natsOptions* opts = nullptr;
  natsStatus s = natsOptions_Create(&opts);
  std::vector<const char*> server_ptrs;
  for (const std::string& one : servers) server_ptrs.push_back(one.c_str());
  if (s == NATS_OK) s = natsOptions_SetServers(opts, server_ptrs.data(), static_cast<int>(server_ptrs.size()));
  if (s == NATS_OK) s = natsOptions_SetTimeout(opts, impl->timeout_ms());
  if (s == NATS_OK) s = natsOptions_SetName(opts, name.c_str());
  // A lost connection fails every pending call at once; the caller reconnects (and re-reads the
  // stream) rather than libnats buffering publishes across a reconnect.
  if (s == NATS_OK) s = natsOptions_SetAllowReconnect(opts, false);
  if (s == NATS_OK && !options.token.empty()) s = natsOptions_SetToken(opts, options.token.c_str());
  if (s == NATS_OK && !options.creds.empty()) {
    s = natsOptions_SetUserCredentialsFromFiles(opts, options.creds.c_str(), nullptr);
    if (s != NATS_OK) {
      natsOptions_Destroy(opts);
      return Error::validation("cannot use the creds file " + options.creds.string() + ": " + status_text(s),
                               {{"path", options.creds.string()}});
    }
  }
  if (s == NATS_OK) s = natsConnection_Connect(&impl->conn, opts);
  if (opts != nullptr) natsOptions_Destroy(opts);
  if (s != NATS_OK) return nats_error(*impl, "cannot connect to NATS", s);
  jsOptions jso;
  jsOptions_Init(&jso);
  jso.Wait = impl->timeout_ms();
  s = natsConnection_JetStream(&impl->js, impl->conn, &jso);
  if (s != NATS_OK) return nats_error(*impl, "cannot use JetStream", s);
  return std::unique_ptr<Connection>(new Connection(std::move(impl)));
}

std::int64_t Connection::max_payload() const { return natsConnection_GetMaxPayload(impl_->conn); }

Result<std::optional<StreamState>> Connection::stream_info(const std::string& stream) {
  jsStreamInfo* info = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  const natsStatus s = js_GetStreamInfo(&info, impl_->js, stream.c_str(), nullptr, &code);
  if (code == JSStreamNotFoundErr || (s == NATS_NOT_FOUND && code == 0)) return std::optional<StreamState>();
  if (s != NATS_OK) return nats_error(*impl_, "cannot read stream " + stream, s, code, {{"stream", stream}});
  StreamState state = stream_state(*info);
  jsStreamInfo_Destroy(info);
  return std::optional<StreamState>(std::move(state));
}

Result<StreamState> Connection::ensure_stream(const StreamSpec& spec) {
  HUGO_ASSIGN_OR_RETURN(std::optional<StreamState> existing, stream_info(spec.name));
  if (existing) return std::move(*existing);
  jsStreamConfig config;
  jsStreamConfig_Init(&config);
  const char* subjects[] = {spec.subject.c_str()};
  config.Name = spec.name.c_str();
  config.Subjects = subjects;
  config.SubjectsLen = 1;
  config.Storage = js_FileStorage;
  config.Replicas = spec.replicas;
  config.DenyDelete = true;
  config.DenyPurge = true;
  config.MaxMsgs = -1;
  config.MaxBytes = -1;
  config.MaxAge = 0;
  config.MaxMsgsPerSubject = -1;
  jsStreamInfo* info = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  const natsStatus s = js_AddStream(&info, impl_->js, &config, nullptr, &code);
  if (s != NATS_OK && code == JSStreamNameExistErr) {  // created meanwhile by someone else
    HUGO_ASSIGN_OR_RETURN(std::optional<StreamState> raced, stream_info(spec.name));
    if (raced) return std::move(*raced);
  }
  if (s != NATS_OK) {
    return nats_error(*impl_, "cannot create stream " + spec.name, s, code,
                      {{"stream", spec.name}, {"replicas", std::to_string(spec.replicas)}});
  }
  StreamState state = stream_state(*info);
  jsStreamInfo_Destroy(info);
  return state;
}

namespace {

// js_GetMsg / js_GetLastMsg's answer: the message, nullopt when the stream holds none there, or
// an error (replication.diverged when the stream itself is gone).
Result<std::optional<StoredMessage>> got_message(const Connection::Impl& impl, const std::string& stream,
                                                 natsStatus s, jsErrCode code, natsMsg* msg,
                                                 std::string_view what) {
  if (s == NATS_OK) {
    StoredMessage out = stored_message(msg, natsMsg_GetSequence(msg));
    natsMsg_Destroy(msg);
    return std::optional<StoredMessage>(std::move(out));
  }
  if (code == JSNoMessageFoundErr || (s == NATS_NOT_FOUND && code == 0)) return std::optional<StoredMessage>();
  if (code == JSStreamNotFoundErr) {
    return Error::replication_diverged("stream " + stream + " does not exist on " + impl.options.url +
                                           " (it was deleted, or the name is wrong)",
                                       {{"stream", stream}, {"url", impl.options.url}});
  }
  return nats_error(impl, what, s, code, {{"stream", stream}});
}

}  // namespace

Result<std::optional<StoredMessage>> Connection::last_message(const std::string& stream, const std::string& subject) {
  natsMsg* msg = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  const natsStatus s = js_GetLastMsg(&msg, impl_->js, stream.c_str(), subject.c_str(), nullptr, &code);
  return got_message(*impl_, stream, s, code, msg, "cannot read the last message of stream " + stream);
}

Result<std::optional<StoredMessage>> Connection::message(const std::string& stream, std::uint64_t stream_seq) {
  natsMsg* msg = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  const natsStatus s = js_GetMsg(&msg, impl_->js, stream.c_str(), stream_seq, nullptr, &code);
  return got_message(*impl_, stream, s, code, msg,
                     "cannot read message " + std::to_string(stream_seq) + " of stream " + stream);
}

}  // namespace nats
}  // namespace hugo

// HttpDaemon's libmicrohttpd callbacks (see http_daemon.hpp for the contract): a request's body
// is gathered under max_body_bytes before the handler runs; a deferred reply parks its suspended
// connection and is asked again once resumed; a stream's body is pulled from its source, parking
// while it has nothing to send. Nothing may unwind into libmicrohttpd's C frames.
#include "peers/http_daemon_impl.hpp"

#include <poll.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace hugo::peers {

namespace http_daemon_parts {

ssize_t read_body(void* cls, std::uint64_t, char* buf, std::size_t max) {
  Body& b = *static_cast<Body*>(cls);
  while (b.offset == b.buffer.size()) {
    if (b.ended) return MHD_CONTENT_READER_END_OF_STREAM;
    b.buffer.clear();
    b.offset = 0;
    StreamSource::Next next = StreamSource::Next::Fail;
    try {
      next = b.source->next(b.buffer);
    } catch (...) {
    }
    switch (next) {
      case StreamSource::Next::Data:
        break;
      case StreamSource::Next::End:
        b.ended = true;
        break;
      case StreamSource::Next::Fail:
        return MHD_CONTENT_READER_END_WITH_ERROR;
      case StreamSource::Next::Wait:
        return b.daemon->park(b.connection, b.source.get()) ? 0 : MHD_CONTENT_READER_END_WITH_ERROR;
    }
  }
  const std::size_t n = std::min(max, b.buffer.size() - b.offset);
  std::memcpy(buf, b.buffer.data() + b.offset, n);
  b.offset += n;
  return static_cast<ssize_t>(n);
}

void free_body(void* cls) { delete static_cast<Body*>(cls); }

void on_connection(void* cls, MHD_Connection* c, void** socket_context, MHD_ConnectionNotificationCode code) {
  auto& d = *static_cast<HttpDaemon::Impl*>(cls);
  if (code == MHD_CONNECTION_NOTIFY_STARTED) {
    const MHD_ConnectionInfo* info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (info != nullptr) *socket_context = d.table->started(info->connect_fd);
  } else if (*socket_context != nullptr) {
    d.table->closed(*socket_context);
    *socket_context = nullptr;
  }
}

void on_completed(void* cls, MHD_Connection* c, void** request_context, MHD_RequestTerminationCode) {
  auto& d = *static_cast<HttpDaemon::Impl*>(cls);
  delete static_cast<RequestState*>(*request_context);
  *request_context = nullptr;
  if (void* conn = d.conn_of(c); conn != nullptr) d.table->request_ended(conn);
}

bool has_body(std::string_view method) { return method != "GET" && method != "HEAD"; }

// True if the client closed its end of the connection (or it failed): checked without blocking.
bool peer_hung_up(MHD_Connection* c) {
  const MHD_ConnectionInfo* info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
  if (info == nullptr) return false;
  pollfd p{info->connect_fd, POLLRDHUP, 0};
  return ::poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

MHD_Result on_request(void* cls, MHD_Connection* c, const char* path, const char* method, const char*,
                      const char* upload_data, std::size_t* upload_size, void** request_context) {
  auto& d = *static_cast<HttpDaemon::Impl*>(cls);
  auto* state = static_cast<RequestState*>(*request_context);
  if (state == nullptr) {  // the headers are in
    try {
      state = new RequestState;
    } catch (...) {
      return MHD_NO;
    }
    *request_context = state;
    if (void* conn = d.conn_of(c); conn != nullptr) d.table->request_began(conn);
    // The body follows in the next calls; the request is answered after it.
    bool read_body = false;
    try {
      read_body = has_body(method) && d.options.wants_body && d.options.wants_body(MhdRequest(c, method, path, {}));
    } catch (...) {  // answered at once, without its body
    }
    if (read_body) {
      const char* length = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
      if (length == nullptr || std::strtoull(length, nullptr, 10) <= d.options.max_body_bytes) return MHD_YES;
      state->too_large = true;  // announced over the cap: refused before any of it is read
    }
  }
  if (*upload_size > 0) {  // a piece of the body
    if (!state->answered && !state->too_large) {
      if (state->body.size() + *upload_size > d.options.max_body_bytes) {
        state->too_large = true;
        std::string().swap(state->body);
      } else {
        try {
          state->body.append(upload_data, *upload_size);
        } catch (...) {
          return MHD_NO;
        }
      }
    }
    *upload_size = 0;
    return MHD_YES;
  }
  if (state->answered) return MHD_YES;
  HttpResponse res;
  try {
    if (state->deferred) {  // resumed from the parked list
      // A client that hung up while parked gets nothing: a lease taken for it would sit out its
      // whole lease before the task came back.
      if (peer_hung_up(c)) return MHD_NO;  // libmicrohttpd closes the connection
      auto reply = state->deferred->take();
      if (!reply) return d.park(c, state->deferred.get()) ? MHD_YES : d.unavailable(c, *state, path);
      res = std::move(*reply);
    } else if (state->too_large) {
      res.status = 413;
      res.body = d.options.error_body("the request body is over " + std::to_string(d.options.max_body_bytes) +
                                      " bytes; send less per request");
    } else {
      res = d.options.handler(MhdRequest(c, method, path, state->body));
      if (res.deferred) {
        state->deferred = std::move(res.deferred);
        return d.park(c, state->deferred.get()) ? MHD_YES : d.unavailable(c, *state, path);
      }
    }
  } catch (...) {  // nothing may unwind into libmicrohttpd's C frames
    res = HttpResponse{};
    res.status = 500;
    try {
      res.body = d.options.error_body("the server failed to answer " + std::string(path) + "; retry later");
    } catch (...) {
      return MHD_NO;  // not even the error body could be built: libmicrohttpd closes the connection
    }
  }
  state->answered = true;
  state->deferred.reset();
  try {
    return d.answer(c, res);
  } catch (...) {
    return MHD_NO;  // libmicrohttpd closes the connection
  }
}

}  // namespace http_daemon_parts
using namespace http_daemon_parts;

MHD_Result HttpDaemon::Impl::answer(MHD_Connection* c, HttpResponse& res) {
  MHD_Response* response = nullptr;
  if (res.stream) {
    auto* body = new Body{this, c, std::move(res.stream), {}, 0, false};
    response = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, &read_body, body, &free_body);
    if (response == nullptr) delete body;
  } else {
    response = MHD_create_response_from_buffer(res.body.size(), res.body.data(), MHD_RESPMEM_MUST_COPY);
  }
  if (response == nullptr) return MHD_NO;
  (void)MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, res.content_type.c_str());
  for (const auto& [name, value] : res.headers) (void)MHD_add_response_header(response, name.c_str(), value.c_str());
  const MHD_Result queued = MHD_queue_response(c, static_cast<unsigned>(res.status), response);
  MHD_destroy_response(response);
  return queued;
}

MHD_Result HttpDaemon::Impl::unavailable(MHD_Connection* c, RequestState& state, const char* path) {
  state.answered = true;
  state.deferred.reset();
  try {
    HttpResponse res;
    res.status = 503;
    res.body = options.error_body("the server is stopping; " + std::string(path) + " was not answered, retry");
    return answer(c, res);
  } catch (...) {
    return MHD_NO;
  }
}

}  // namespace hugo::peers

// Test support: a minimal NATS client over the plain text protocol (CONNECT, SUB, PUB, MSG), used
// to inspect and damage streams through the JetStream API. It shares no code with the library's
// libnats adapter, so what the tests read from a stream does not depend on the code under test.
#pragma once

#include "core/base64.hpp"
#include "core/rapidjson_adapter.hpp"
#include "tests/support/nats_server.hpp"

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace hugo::test {

// A stream message as the JetStream API's STREAM.MSG.GET returns it.
struct RawMessage {
  std::uint64_t seq = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string header(const std::string& name) const {
    for (const auto& [k, v] : headers) {
      if (k == name) return v;
    }
    return {};
  }
};

struct RawStreamInfo {
  std::vector<std::string> subjects;
  std::uint64_t first_seq = 0;
  std::uint64_t last_seq = 0;
  std::uint64_t messages = 0;
};

class RawNats {
 public:
  explicit RawNats(int port, const std::string& token = {}) : fd_(nats_detail::connect_loopback(port)) {
    if (fd_ < 0) throw std::runtime_error("cannot connect to nats-server on port " + std::to_string(port));
    const std::string auth = token.empty() ? "" : ",\"auth_token\":\"" + token + "\"";
    send("CONNECT {\"verbose\":false,\"pedantic\":false" + auth + "}\r\nSUB _INBOX.raw.* 1\r\n");
  }
  ~RawNats() { ::close(fd_); }
  RawNats(const RawNats&) = delete;
  RawNats& operator=(const RawNats&) = delete;

  // Publishes `payload` to `subject` and returns the reply's payload; throws after 5 s of silence.
  std::string request(const std::string& subject, const std::string& payload) {
    const std::string inbox = "_INBOX.raw." + std::to_string(++requests_);
    send("PUB " + subject + " " + inbox + " " + std::to_string(payload.size()) + "\r\n" + payload + "\r\n");
    while (true) {
      for (auto eol = in_.find("\r\n"); eol != std::string::npos; eol = in_.find("\r\n")) {
        const std::string line = in_.substr(0, eol);
        if (line.rfind("MSG ", 0) == 0) {
          const auto last_space = line.rfind(' ');
          const std::size_t size = std::stoul(line.substr(last_space + 1));
          if (in_.size() < eol + 2 + size + 2) break;  // the payload is not all here yet
          std::string body = in_.substr(eol + 2, size);
          in_.erase(0, eol + 2 + size + 2);
          if (line.compare(4, inbox.size() + 1, inbox + " ") == 0) return body;
          continue;  // a late reply to an earlier request
        }
        in_.erase(0, eol + 2);
        if (line == "PING") send("PONG\r\n");
        if (line.rfind("-ERR", 0) == 0) throw std::runtime_error("nats-server refused: " + line);
      }
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 5000) <= 0) throw std::runtime_error("no reply from nats-server to " + subject);
      char chunk[65536];
      const ssize_t n = ::read(fd_, chunk, sizeof(chunk));
      if (n <= 0) throw std::runtime_error("nats-server closed the connection during " + subject);
      in_.append(chunk, static_cast<std::size_t>(n));
    }
  }

  // The JSON reply of a JetStream API call; throws on an API error other than `tolerated`
  // (returning nullopt for that one).
  std::optional<rapid::rj::Document> api(const std::string& subject, const std::string& payload = "",
                                         int tolerated = -1) {
    rapid::rj::Document doc;
    const std::string reply = request("$JS.API." + subject, payload);
    doc.Parse(reply.c_str());
    if (doc.HasParseError() || !doc.IsObject()) throw std::runtime_error("not JSON from " + subject + ": " + reply);
    if (doc.HasMember("error")) {
      const auto& e = doc["error"];
      if (e.HasMember("err_code") && e["err_code"].GetInt() == tolerated) return std::nullopt;
      throw std::runtime_error(subject + " failed: " + reply);
    }
    return doc;
  }

  std::optional<RawStreamInfo> stream_info(const std::string& stream) {
    auto doc = api("STREAM.INFO." + stream, "", 10059);  // 10059: stream not found
    if (!doc) return std::nullopt;
    RawStreamInfo info;
    for (const auto& s : (*doc)["config"]["subjects"].GetArray()) info.subjects.emplace_back(s.GetString());
    const auto& state = (*doc)["state"];
    info.first_seq = state["first_seq"].GetUint64();
    info.last_seq = state["last_seq"].GetUint64();
    info.messages = state["messages"].GetUint64();
    return info;
  }

  // Message `seq` of `stream`, nullopt when the stream does not hold it.
  std::optional<RawMessage> message(const std::string& stream, std::uint64_t seq) {
    auto doc = api("STREAM.MSG.GET." + stream, "{\"seq\":" + std::to_string(seq) + "}", 10037);  // 10037: no message
    if (!doc) return std::nullopt;
    const auto& m = (*doc)["message"];
    RawMessage out;
    out.seq = m["seq"].GetUint64();
    if (m.HasMember("data")) out.body = decoded(m["data"].GetString());
    if (m.HasMember("hdrs")) out.headers = parse_headers(decoded(m["hdrs"].GetString()));
    return out;
  }

  // A stream that allows what the publisher's streams deny (purge, delete), with the given subject.
  void create_open_stream(const std::string& stream, const std::string& subject, int replicas = 1) {
    api("STREAM.CREATE." + stream, "{\"name\":\"" + stream + "\",\"subjects\":[\"" + subject +
                                       "\"],\"storage\":\"file\",\"num_replicas\":" + std::to_string(replicas) + "}");
  }
  void purge(const std::string& stream) { api("STREAM.PURGE." + stream); }
  void delete_stream(const std::string& stream) { api("STREAM.DELETE." + stream); }
  void delete_message(const std::string& stream, std::uint64_t seq) {
    api("STREAM.MSG.DELETE." + stream, "{\"seq\":" + std::to_string(seq) + "}");
  }
  // A plain publish (no headers) into the stream's subject, acknowledged.
  void publish(const std::string& subject, const std::string& body) {
    const std::string ack = request(subject, body);
    if (ack.find("\"seq\"") == std::string::npos) throw std::runtime_error("publish not acknowledged: " + ack);
  }

 private:
  void send(const std::string& text) {
    if (::send(fd_, text.data(), text.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(text.size())) {
      throw std::runtime_error("cannot write to nats-server");
    }
  }
  static std::string decoded(const std::string& text) {
    auto bytes = base64::decode(text);
    if (!bytes) throw std::runtime_error("bad base64 from nats-server: " + text);
    return *bytes;
  }
  // "NATS/1.0\r\nName: value\r\n...\r\n\r\n"
  static std::vector<std::pair<std::string, std::string>> parse_headers(const std::string& block) {
    std::vector<std::pair<std::string, std::string>> out;
    std::size_t at = block.find("\r\n");
    while (at != std::string::npos && at + 2 < block.size()) {
      const auto end = block.find("\r\n", at + 2);
      const std::string line = block.substr(at + 2, end == std::string::npos ? std::string::npos : end - at - 2);
      if (const auto colon = line.find(':'); colon != std::string::npos) {
        const auto value = line.find_first_not_of(' ', colon + 1);
        out.emplace_back(line.substr(0, colon), value == std::string::npos ? "" : line.substr(value));
      }
      at = end;
    }
    return out;
  }

  int fd_;
  std::string in_;
  std::uint64_t requests_ = 0;
};

}  // namespace hugo::test

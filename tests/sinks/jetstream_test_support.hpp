// Test support for the publisher's tests (suite jetstream): connect options for a test server of
// tests/support/nats_server.hpp.
#pragma once

#include "tests/support/nats_server.hpp"

#include <hugo/jetstream.hpp>

namespace hugo::test {

inline NatsConnectOptions connect_options(const NatsServer& server, std::string token = {}) {
  NatsConnectOptions o;
  o.url = server.url();
  o.token = std::move(token);
  o.timeout = std::chrono::milliseconds(5000);
  return o;
}

inline NatsServerOptions with_max_payload(std::int64_t bytes) {
  NatsServerOptions o;
  o.max_payload = bytes;
  return o;
}

}  // namespace hugo::test

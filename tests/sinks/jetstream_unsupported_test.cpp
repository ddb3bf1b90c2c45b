// A build without libnats (meson -Dnats=disabled): every JetStream entry point answers
// error.unsupported, and the pure helpers still work. Compiled into suite sinks only in such a build.
#include <hugo/jetstream.hpp>

#include <doctest/doctest.h>

namespace sinks_jetstream_unsupported_test {

using namespace hugo;

TEST_SUITE("sinks") {
  TEST_CASE("without libnats the JetStream API answers error.unsupported") {
    CHECK_FALSE(jetstream_supported());
    JetStreamSinkOptions sink;
    sink.journal = "any.journal";
    auto publisher = JetStreamSink::open(sink);
    REQUIRE_FALSE(publisher.ok());
    CHECK(publisher.error().code() == errc::unsupported);
    JetStreamFollowerOptions follow;
    follow.stream = "HUGO_STREAM";
    follow.replica = "replica.journal";
    auto follower = JetStreamFollower::open(follow);
    REQUIRE_FALSE(follower.ok());
    CHECK(follower.error().code() == errc::unsupported);
    CHECK(default_stream_name("j") == "HUGO_j");
    CHECK(parse_nats_stream_url("nats://127.0.0.1:4222/S").ok());
  }
}

}  // namespace sinks_jetstream_unsupported_test

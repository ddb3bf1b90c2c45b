// The JetStream API of a build without libnats (meson -Dnats=disabled, or libnats-dev missing):
// every entry point answers error.unsupported, so a program links and says why instead of failing.
#include <hugo/jetstream.hpp>

namespace hugo {
namespace {

Error unsupported() {
  return Error::unsupported("this hugo-journal was built without NATS JetStream (install libnats-dev and rebuild)",
                            {{"feature", "jetstream"}});
}

}  // namespace

bool jetstream_supported() { return false; }

struct JetStreamSink::Impl {};
JetStreamSink::JetStreamSink(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
JetStreamSink::~JetStreamSink() = default;
Result<std::unique_ptr<JetStreamSink>> JetStreamSink::open(JetStreamSinkOptions /*options*/) { return unsupported(); }
Result<std::int64_t> JetStreamSink::publish_available() { return unsupported(); }
Status JetStreamSink::run() { return unsupported(); }
void JetStreamSink::stop() {}
JetStreamPosition JetStreamSink::position() const { return {}; }

struct JetStreamFollower::Impl {};
JetStreamFollower::JetStreamFollower(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
JetStreamFollower::~JetStreamFollower() = default;
Result<std::unique_ptr<JetStreamFollower>> JetStreamFollower::open(JetStreamFollowerOptions /*options*/) {
  return unsupported();
}
Result<std::int64_t> JetStreamFollower::catch_up() { return unsupported(); }
Status JetStreamFollower::run() { return unsupported(); }
void JetStreamFollower::stop() {}
ReplicaPosition JetStreamFollower::position() const { return {}; }
std::uint64_t JetStreamFollower::stream_seq() const { return 0; }
void JetStreamFollower::on_applied(std::function<void(const ReplicaPosition&)> /*callback*/) {}

}  // namespace hugo

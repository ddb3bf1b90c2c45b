// The chaos harness's follower child: follows an owner over HTTP into a replica until the parent
// SIGKILLs it, then is started again on the same replica.
//
//   hugo-chaos-follower URL REPLICA ACKS
//
// After each batch the follower committed, it appends "<seq> <hash>" to ACKS, fsyncs it, and
// prints "ack" (the harness kills at random acks). The parent then checks that the replica holds
// at least every acknowledged batch (tests/chaos/follower_scenario.hpp).
#include <hugo/peers.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <string>

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s URL REPLICA ACKS\n", argv[0]);
    return 2;
  }
  const int acks = ::open(argv[3], O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (acks < 0) return 3;
  hugo::FollowerOptions options;
  options.url = argv[1];
  options.replica = argv[2];
  options.max_batch = 256;  // many small batches: many kill points
  options.backoff_min = std::chrono::milliseconds(5);
  options.backoff_max = std::chrono::milliseconds(50);
  auto follower = hugo::HttpFollower::open(options);
  if (!follower.ok()) {
    std::printf("error %s\n", follower.error().to_string().c_str());
    return 3;
  }
  (*follower)->on_applied([acks](const hugo::ReplicaPosition& p) {
    const std::string line = std::to_string(p.seq) + " " + hugo::format_hash(p.hash) + "\n";
    if (::write(acks, line.data(), line.size()) != static_cast<ssize_t>(line.size()) || ::fsync(acks) != 0) {
      std::_Exit(4);
    }
    std::fputs("ack\n", stdout);
    std::fflush(stdout);
  });
  hugo::Status status = (*follower)->run();
  if (!status.ok()) std::printf("error %s\n", status.error().to_string().c_str());
  std::fflush(stdout);
  return status.ok() ? 0 : 3;
}

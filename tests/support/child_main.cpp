// The tests' helper process. Each verb exercises the public API from a separate process, so
// the tests can check cross-process behaviour (locking, readers, crashes) for real.
//
//   child hold-writer JOURNAL        open for writing, print "ready", then block until killed
//   child try-writer JOURNAL         open for writing; print "ok" or the error code and pid
//   child append JOURNAL N           append N events (Process durability), print each seq
//   child watch JOURNAL COUNT        open a reader, print "ready", wait (polling data_version)
//                                    until COUNT rows are visible, print "seen <count> <last>"
#include <hugo/journal.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

namespace {

hugo::Event event(int i) {
  hugo::Event e;
  e.kind = hugo::EventKind::Enqueued;
  e.queue = "child";
  e.payload = "payload-" + std::to_string(i);
  e.occurred_at = hugo::SystemClock().now();
  return e;
}

int fail(const hugo::Error& error) {
  std::printf("error %s\n", error.code().c_str());
  std::fflush(stdout);
  return 3;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return 2;
  const std::string verb = argv[1];
  const std::string path = argv[2];
  if (verb == "hold-writer" || verb == "try-writer") {
    auto journal = hugo::Journal::open(path, {});
    if (!journal.ok()) {
      const std::string* pid = journal.error().find("pid");
      std::printf("error %s %s\n", journal.error().code().c_str(), pid ? pid->c_str() : "-");
      std::fflush(stdout);
      return 3;
    }
    std::printf(verb == "hold-writer" ? "ready\n" : "ok\n");
    std::fflush(stdout);
    if (verb == "hold-writer") {
      while (true) std::this_thread::sleep_for(std::chrono::seconds(1));
    }
    return 0;
  }
  if (verb == "append" && argc >= 4) {
    hugo::JournalOptions options;
    options.durability = hugo::Durability::Process;
    auto journal = hugo::Journal::open(path, options);
    if (!journal.ok()) return fail(journal.error());
    const int n = std::atoi(argv[3]);
    for (int i = 0; i < n; ++i) {
      auto seq = (*journal)->append(event(i));
      if (!seq.ok()) return fail(seq.error());
      std::printf("%lld\n", static_cast<long long>(*seq));
      std::fflush(stdout);
    }
    return 0;
  }
  if (verb == "watch" && argc >= 4) {
    auto reader = hugo::JournalReader::open(path);
    if (!reader.ok()) return fail(reader.error());
    const long long want = std::atoll(argv[3]);
    std::printf("ready\n");
    std::fflush(stdout);
    long long seen = 0;
    std::int64_t last = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (seen < want && std::chrono::steady_clock::now() < deadline) {
      auto changed = (*reader)->changed();
      if (!changed.ok()) return fail(changed.error());
      if (!*changed) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        continue;
      }
      while (true) {  // drain everything committed so far
        auto events = (*reader)->read(last, 1000);
        if (!events.ok()) return fail(events.error());
        if (events->empty()) break;
        for (const auto& e : *events) {
          if (e.seq != last + 1) {
            std::printf("gap %lld %lld\n", static_cast<long long>(last), static_cast<long long>(e.seq));
            return 1;
          }
          last = e.seq;
          ++seen;
        }
      }
    }
    std::printf("seen %lld %lld\n", seen, static_cast<long long>(last));
    std::fflush(stdout);
    return seen >= want ? 0 : 1;
  }
  return 2;
}

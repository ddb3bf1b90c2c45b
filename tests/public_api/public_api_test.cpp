// Compiled with only include/ on the include path and linked against the shared library: proves
// that the public headers stand alone and that the exported symbols are enough to use the API.
#include <hugo/hugo.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>

#include <unistd.h>

int main() {
  char pattern[] = "/tmp/hugo-public-api-XXXXXX";
  const char* dir = ::mkdtemp(pattern);
  if (!dir) return 1;
  const std::string path = std::string(dir) + "/j.db";
  int rc = 0;
  {
    hugo::JournalOptions options;
    options.clock = std::make_shared<hugo::ManualClock>();
    auto journal = hugo::Journal::open(path, options);
    if (!journal.ok()) {
      std::fprintf(stderr, "%s\n", journal.error().to_string().c_str());
      return 1;
    }
    hugo::Event e;
    e.queue = "public";
    e.payload = "bytes";
    e.occurred_at = options.clock->now();
    auto seq = (*journal)->append(e);
    auto events = (*journal)->read(0, 10);
    if (!seq.ok() || *seq != 1 || !events.ok() || events->size() != 1 ||
        hugo::encode_event_json(events->front()).find("\"queueName\":\"public\"") == std::string::npos) {
      rc = 1;
    }
  }
  std::remove((path + "-lock").c_str());
  std::remove(path.c_str());
  ::rmdir(dir);
  std::puts(rc == 0 ? "public api: ok" : "public api: FAILED");
  return rc;
}

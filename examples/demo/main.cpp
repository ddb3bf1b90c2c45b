// The hugo-journal demo: the project's "main job", grown with every capability.
//   hugo-demo                 run every part in a fresh temporary folder
//   hugo-demo --worker PATH   (internal) the worker process of the queue part
//   hugo-demo --sink PATH DIR (internal) the sink process of the replication part
#include "demo.hpp"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include <unistd.h>

int main(int argc, char** argv) {
  if (argc == 3 && std::string(argv[1]) == "--worker") return demo::queue_worker(argv[2]);
  if (argc == 4 && std::string(argv[1]) == "--sink") return demo::replication_sink_process(argv[2], argv[3]);
  char pattern[] = "/tmp/hugo-demo-XXXXXX";
  const char* dir = ::mkdtemp(pattern);
  if (!dir) {
    std::perror("demo: mkdtemp");
    return 1;
  }
  const std::string self = std::filesystem::canonical("/proc/self/exe").string();
  int rc = demo::journal_part(dir);
  if (rc == 0) rc = demo::queue_part(dir, self);
  if (rc == 0) rc = demo::replication_part(dir, self);
  std::filesystem::remove_all(dir);
  std::printf(rc == 0 ? "demo: ok\n" : "demo: FAILED\n");
  return rc;
}

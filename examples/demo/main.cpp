// The hugo-journal demo: the project's "main job", grown with every capability.
//   hugo-demo                 run every part in the demo folder, then name it and the CLI
//                             commands worth running on what it holds
//   hugo-demo --worker PATH   (internal) the worker process of the queue part
//   hugo-demo --sink PATH DIR (internal) the sink process of the replication part
//
// The demo folder is $HUGO_DEMO_DIR, or hugo-demo/ in the current folder. Each run replaces it,
// but only if an earlier run made it (it holds the marker file .hugo-demo) or it is empty: the
// demo never deletes a folder it did not make.
#include "demo.hpp"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

namespace fs = std::filesystem;

namespace {

constexpr const char* kMarker = ".hugo-demo";

// Empties (or makes) the demo folder. Returns false, having said why, if it may not.
bool prepare_folder(const fs::path& dir) {
  std::error_code ec;
  const bool exists = fs::exists(fs::symlink_status(dir, ec));
  if (exists) {
    if (!fs::is_directory(fs::symlink_status(dir, ec))) {
      std::fprintf(stderr, "demo: %s exists and is not a folder; set HUGO_DEMO_DIR to another path\n", dir.c_str());
      return false;
    }
    if (!fs::exists(dir / kMarker, ec) && !fs::is_empty(dir, ec)) {
      std::fprintf(stderr,
                   "demo: %s holds files the demo did not make (no %s marker); set HUGO_DEMO_DIR to another "
                   "path or remove that folder\n",
                   dir.c_str(), kMarker);
      return false;
    }
    fs::remove_all(dir, ec);
    if (ec) {
      std::fprintf(stderr, "demo: cannot remove the previous run's %s: %s\n", dir.c_str(), ec.message().c_str());
      return false;
    }
  }
  fs::create_directories(dir, ec);
  if (!ec) std::ofstream(dir / kMarker) << "made by hugo-demo; the next run replaces this folder\n";
  if (ec || !fs::exists(dir / kMarker)) {
    std::fprintf(stderr, "demo: cannot make the folder %s: %s\n", dir.c_str(),
                 ec ? ec.message().c_str() : "cannot write in it");
    return false;
  }
  return true;
}

// `path` as the user can type it from the current folder (relative below it, absolute elsewhere),
// quoted for a POSIX shell if needed.
std::string shell_path(const fs::path& path) {
  std::error_code ec;
  fs::path shown = fs::proximate(path, ec);
  if (ec || shown.empty() || *shown.begin() == "..") shown = fs::absolute(path, ec);
  const std::string text = shown.string();
  if (!text.empty() && text.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./-+=:,@%") ==
                           std::string::npos) {
    return text;
  }
  std::string quoted = "'";
  for (char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

// Names the folder and three CLI commands worth running on what the demo left in it.
void print_next_steps(const fs::path& dir, const fs::path& self, long long interrupted_task) {
  const fs::path built_cli = self.parent_path().parent_path() / "tools" / "hugo-journal";
  const std::string cli = fs::exists(built_cli) ? shell_path(built_cli) : "hugo-journal";
  std::printf("\nThe journals and sink databases are kept in %s (the next run replaces that folder).\n"
              "Worth running next:\n",
              fs::absolute(dir).c_str());
  std::printf("  %s history %s %lld\n      the audit trail of task %lld, whose worker was SIGKILLed while it held the lease\n",
              cli.c_str(), shell_path(dir / "part2.journal").c_str(), interrupted_task, interrupted_task);
  std::printf("  %s checkpoints --journal %s %s\n      where each sink of part 3 resumes\n", cli.c_str(),
              shell_path(dir / "part3.journal").c_str(), shell_path(dir / "sinks.db").c_str());
  std::printf("  %s effects %s\n      the notifications of part 3, each recorded once\n", cli.c_str(),
              shell_path(dir / "effects.db").c_str());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::string(argv[1]) == "--worker") return demo::queue_worker(argv[2]);
  if (argc == 4 && std::string(argv[1]) == "--sink") return demo::replication_sink_process(argv[2], argv[3]);
  const char* chosen = std::getenv("HUGO_DEMO_DIR");
  const fs::path dir = chosen && *chosen ? fs::path(chosen) : fs::path("hugo-demo");
  if (!prepare_folder(dir)) return 1;
  const fs::path self = fs::canonical("/proc/self/exe");
  long long interrupted_task = 0;
  int rc = demo::journal_part(dir);
  if (rc == 0) rc = demo::queue_part(dir, self.string(), interrupted_task);
  if (rc == 0) rc = demo::replication_part(dir, self.string());
  std::printf(rc == 0 ? "demo: ok\n" : "demo: FAILED\n");
  if (rc == 0) print_next_steps(dir, self, interrupted_task);
  return rc;
}

// The demo's child processes: this same binary, started with another verb, its stdout piped back.
#pragma once

#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace demo {

class ChildProcess {
 public:
  // Starts `self` with `args`; lines() reads its stdout. pid() is 0 if the spawn failed.
  ChildProcess(const std::string& self, const std::vector<std::string>& args) {
    int out[2];
    if (::pipe(out) != 0) return;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, out[0]);
    std::vector<std::string> owned{self};
    owned.insert(owned.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : owned) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, self.c_str(), &actions, nullptr, argv.data(), environ) != 0) pid_ = 0;
    posix_spawn_file_actions_destroy(&actions);
    ::close(out[1]);
    lines_ = ::fdopen(out[0], "r");
  }
  ~ChildProcess() {
    kill_hard();
    if (lines_) std::fclose(lines_);
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  // Next stdout line (with its newline), or false at end of output.
  bool read_line(char* buffer, int size) { return lines_ && std::fgets(buffer, size, lines_) != nullptr; }
  // SIGKILL and reap. Idempotent.
  void kill_hard() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      pid_ = -pid_;
    }
  }

 private:
  pid_t pid_ = 0;
  FILE* lines_ = nullptr;
};

}  // namespace demo

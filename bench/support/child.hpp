// Benchmark support: the benchmark's own executable run again as a child process (its stdout a
// pipe the parent reads line by line), `key=value` fields of the lines it prints, and this
// process's memory figures.
#pragma once

#include "bench/support/report.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

namespace hugo_bench {

// This executable run again (/proc/self/exe) with `args`; its stdout is a pipe the parent reads
// line by line (`out`). Its stderr is inherited.
struct Child {
  pid_t pid = -1;
  FILE* out = nullptr;
};

inline Child spawn_self(std::string_view program, const std::vector<std::string>& args) {
  int fds[2];
  if (::pipe(fds) != 0) fail(program, std::string("pipe: ") + std::strerror(errno));
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = ::fork();
  if (pid < 0) fail(program, std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    ::dup2(fds[1], STDOUT_FILENO);
    ::close(fds[0]);
    ::close(fds[1]);
    std::vector<std::string> owned;
    owned.reserve(args.size() + 1);
    owned.emplace_back(program);
    owned.insert(owned.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& a : owned) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv("/proc/self/exe", argv.data());
    std::fprintf(stderr, "%.*s: execv /proc/self/exe: %s\n", static_cast<int>(program.size()), program.data(),
                 std::strerror(errno));
    ::_exit(127);
  }
  ::close(fds[1]);
  Child child;
  child.pid = pid;
  child.out = ::fdopen(fds[0], "r");
  if (child.out == nullptr) fail(program, std::string("fdopen: ") + std::strerror(errno));
  return child;
}

// The next line the child printed (without the newline), or "" at end of file.
inline std::string read_line(const Child& child) {
  std::string line;
  char buffer[4096];
  while (std::fgets(buffer, sizeof buffer, child.out) != nullptr) {
    line += buffer;
    if (!line.empty() && line.back() == '\n') {
      line.pop_back();
      break;
    }
  }
  return line;
}

// Closes the pipe and reaps the child; returns its exit status (128 + signal if killed).
inline int wait_child(Child& child) {
  if (child.out) std::fclose(child.out);
  child.out = nullptr;
  int status = 0;
  while (::waitpid(child.pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  child.pid = -1;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// A "key=value" field of a line printed as `... key=value ...`; `fallback` if it is missing.
inline double field(std::string_view line, std::string_view key, double fallback = -1) {
  const std::string needle = std::string(key) + "=";
  std::size_t at = 0;
  while ((at = line.find(needle, at)) != std::string_view::npos) {
    if (at == 0 || line[at - 1] == ' ') return std::strtod(std::string(line.substr(at + needle.size())).c_str(), nullptr);
    at += needle.size();
  }
  return fallback;
}

// A `kB` line of /proc/self/status ("VmRSS", "VmHWM"), in kB; -1 if missing.
inline long proc_status_kb(std::string_view key) {
  FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) return -1;
  char line[256];
  long value = -1;
  while (std::fgets(line, sizeof line, f) != nullptr) {
    const std::string_view l(line);
    if (l.size() > key.size() && l.substr(0, key.size()) == key && l[key.size()] == ':') {
      value = std::strtol(line + key.size() + 1, nullptr, 10);
      break;
    }
  }
  std::fclose(f);
  return value;
}

}  // namespace hugo_bench

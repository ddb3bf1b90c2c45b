// Test support: spawn a real child process (fork + exec), read its stdout line by line, kill it.
// Crash tests use this to SIGKILL real processes; nothing here is simulated.
#pragma once

#include <csignal>
#include <cstdlib>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <grp.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

namespace hugo::test {

// A crash test's seed: $HUGO_CRASH_SEED (to replay a printed one), else a random one.
inline unsigned crash_seed() {
  const char* env = std::getenv("HUGO_CRASH_SEED");
  return env ? static_cast<unsigned>(std::strtoul(env, nullptr, 10)) : std::random_device{}();
}

// The number of SIGKILL rounds a crash test runs: $HUGO_CRASH_KILLS when it is a positive number
// (scripts/test.sh lowers it under the sanitizers' slowdown; docs/TESTING.md), else `fallback`.
inline int crash_kills(int fallback) {
  const char* env = std::getenv("HUGO_CRASH_KILLS");
  const int kills = env ? std::atoi(env) : 0;
  return kills > 0 ? kills : fallback;
}

// Path of the tests' helper executable (tests/support/child_main.cpp), set by meson.
inline std::string child_binary() {
  const char* path = std::getenv("HUGO_TEST_CHILD");
  if (!path) throw std::runtime_error("HUGO_TEST_CHILD is not set; run the tests through meson test");
  return path;
}

// In a forked child: become an unprivileged user (nobody, 65534) when running as root, since root
// ignores permission bits. Returns false if that failed. A non-root process keeps its identity.
inline bool drop_privileges() {
  if (::geteuid() != 0) return true;
  constexpr uid_t kNobody = 65534;
  return ::setgroups(0, nullptr) == 0 && ::setgid(kNobody) == 0 && ::setuid(kNobody) == 0;
}

class Child {
 public:
  // `extra_env` ("NAME=value" entries) is added to this process's environment for the child.
  explicit Child(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env = {}) {
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    std::vector<char*> env;  // extras first: getenv() returns the first match
    for (const auto& e : extra_env) env.push_back(const_cast<char*>(e.c_str()));
    for (char** e = environ; *e != nullptr; ++e) env.push_back(*e);
    env.push_back(nullptr);
    int out[2];
    if (::pipe(out) != 0) throw std::runtime_error("pipe failed");
    const pid_t parent = ::getpid();
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      // A child outlives no test process: if the test runner dies (or is killed on a timeout),
      // the kernel kills the child too, so no orphan keeps the runner's output pipe open.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);  // the parent died before prctl()
      ::dup2(out[1], STDOUT_FILENO);
      ::close(out[0]);
      ::close(out[1]);
      ::execve(args[0], args.data(), env.data());
      ::_exit(127);
    }
    ::close(out[1]);
    out_ = out[0];
  }
  ~Child() {
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (out_ >= 0) ::close(out_);
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }

  // Next line of the child's stdout, or nullopt on EOF or after timeout_ms.
  std::optional<std::string> read_line(int timeout_ms = 20000) {
    while (true) {
      if (auto nl = buffer_.find('\n'); nl != std::string::npos) {
        std::string line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return line;
      }
      pollfd p{out_, POLLIN, 0};
      if (::poll(&p, 1, timeout_ms) <= 0) return std::nullopt;
      char chunk[4096];
      const ssize_t n = ::read(out_, chunk, sizeof(chunk));
      if (n <= 0) return std::nullopt;
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
  }

  void kill_hard() { ::kill(pid_, SIGKILL); }

  // Waits for exit; returns the exit code, or 128 + signal.
  int wait() {
    int status = 0;
    ::waitpid(pid_, &status, 0);
    reaped_ = true;
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return -1;
  }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
  bool reaped_ = false;
  std::string buffer_;
};

}  // namespace hugo::test

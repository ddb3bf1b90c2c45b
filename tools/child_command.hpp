// A command that `hugo-journal work` runs for one task: started with the payload on its stdin,
// its stderr kept (the last kStderrTail bytes) for the failure it may report, its stdout the
// worker's. The worker polls it while heartbeating; no thread per child.
#pragma once

#include <hugo/error.hpp>

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace hugo::cli {

inline constexpr std::size_t kStderrTail = 2048;

class ChildCommand {
 public:
  // Starts argv[0] (looked up in PATH) with `input` to write to its stdin. The child gets the
  // default signal mask, whatever the worker blocks. error.validation if it cannot start.
  static Result<ChildCommand> start(const std::vector<std::string>& argv, std::string input);
  ChildCommand(ChildCommand&& other) noexcept;
  ChildCommand& operator=(ChildCommand&&) = delete;
  ~ChildCommand();  // kills and reaps a child still running

  // Feeds stdin and drains stderr for at most `budget`; true once the child has exited.
  bool step(std::chrono::milliseconds budget);
  void kill(int signal);  // to the child

  // After step() returned true: the exit status (128 + N for a child killed by signal N).
  int exit_status() const { return exit_status_; }
  const std::string& stderr_tail() const { return tail_; }

 private:
  ChildCommand() = default;
  void close_stdin();

  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  int stderr_fd_ = -1;
  std::string input_;
  std::size_t written_ = 0;
  std::string tail_;
  int exit_status_ = -1;
};

}  // namespace hugo::cli

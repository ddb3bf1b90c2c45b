// ChildCommand: posix_spawnp with two pipes, driven by poll() (see child_command.hpp).
#include "child_command.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

extern char** environ;

namespace hugo::cli {

Result<ChildCommand> ChildCommand::start(const std::vector<std::string>& argv, std::string input) {
  if (argv.empty()) return Error::validation("no command to run: put it after --");
  int in[2] = {-1, -1};
  int err[2] = {-1, -1};
  if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) {
    for (int fd : {in[0], in[1], err[0], err[1]}) {
      if (fd >= 0) ::close(fd);
    }
    return Error("journal.io", std::string("cannot make a pipe for the command: ") + std::strerror(errno));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err[1], STDERR_FILENO);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  sigset_t defaults;  // the worker ignores SIGPIPE; the command gets the default back
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, args[0], &actions, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(in[0]);
  ::close(err[1]);
  if (rc != 0) {
    ::close(in[1]);
    ::close(err[0]);
    return Error::validation("cannot run '" + argv[0] + "': " + std::strerror(rc)).with("command", argv[0]);
  }
  ChildCommand child;
  child.pid_ = pid;
  child.stdin_fd_ = in[1];
  child.stderr_fd_ = err[0];
  child.input_ = std::move(input);
  (void)::fcntl(child.stdin_fd_, F_SETFL, O_NONBLOCK);
  (void)::fcntl(child.stderr_fd_, F_SETFL, O_NONBLOCK);
  if (child.input_.empty()) child.close_stdin();
  return child;
}

ChildCommand::ChildCommand(ChildCommand&& other) noexcept
    : pid_(other.pid_), stdin_fd_(other.stdin_fd_), stderr_fd_(other.stderr_fd_), input_(std::move(other.input_)),
      written_(other.written_), tail_(std::move(other.tail_)), exit_status_(other.exit_status_) {
  other.pid_ = -1;
  other.stdin_fd_ = -1;
  other.stderr_fd_ = -1;
}

ChildCommand::~ChildCommand() {
  close_stdin();
  if (stderr_fd_ >= 0) ::close(stderr_fd_);
  if (pid_ > 0 && exit_status_ < 0) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
}

void ChildCommand::close_stdin() {
  if (stdin_fd_ >= 0) ::close(stdin_fd_);
  stdin_fd_ = -1;
}

void ChildCommand::kill(int signal) {
  if (pid_ > 0 && exit_status_ < 0) ::kill(pid_, signal);
}

bool ChildCommand::step(std::chrono::milliseconds budget) {
  if (exit_status_ >= 0) return true;
  pollfd fds[2];
  nfds_t n = 0;
  if (stdin_fd_ >= 0) fds[n++] = {stdin_fd_, POLLOUT, 0};
  if (stderr_fd_ >= 0) fds[n++] = {stderr_fd_, POLLIN, 0};
  if (n > 0) {
    (void)::poll(fds, n, static_cast<int>(budget.count()));
  } else {
    ::usleep(static_cast<useconds_t>(std::min<std::int64_t>(budget.count(), 20) * 1000));
  }
  if (stdin_fd_ >= 0) {
    const ssize_t w = ::write(stdin_fd_, input_.data() + written_, input_.size() - written_);
    if (w > 0) written_ += static_cast<std::size_t>(w);
    if (written_ == input_.size() || (w < 0 && errno != EAGAIN && errno != EINTR)) close_stdin();  // EPIPE: it stopped reading
  }
  if (stderr_fd_ >= 0) {
    char buffer[4096];
    while (true) {
      const ssize_t r = ::read(stderr_fd_, buffer, sizeof buffer);
      if (r > 0) {
        tail_.append(buffer, static_cast<std::size_t>(r));
        if (tail_.size() > kStderrTail) tail_.erase(0, tail_.size() - kStderrTail);
        continue;
      }
      if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
        ::close(stderr_fd_);
        stderr_fd_ = -1;
      }
      break;
    }
  }
  int status = 0;
  const pid_t done = ::waitpid(pid_, &status, WNOHANG);
  if (done != pid_) return false;
  exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  close_stdin();
  if (stderr_fd_ >= 0) {  // what it wrote last, before it exited
    char buffer[4096];
    ssize_t r = 0;
    while ((r = ::read(stderr_fd_, buffer, sizeof buffer)) > 0) {
      tail_.append(buffer, static_cast<std::size_t>(r));
      if (tail_.size() > kStderrTail) tail_.erase(0, tail_.size() - kStderrTail);
    }
  }
  return true;
}

}  // namespace hugo::cli

// Benchmark support for bench/peers: the server processes it starts (redis-server, postgres) and
// the guarantee that none outlives the benchmark.
//
// A server is a child of the benchmark's main thread, started with fork + execv (no shell). In the
// child, before execv: the user switch when asked (root cannot run postgres), then
// PR_SET_PDEATHSIG, so the kernel sends the server its stop signal when the benchmark dies in any
// way, SIGKILL included (the signal fires when the thread that forked exits: always the main
// thread here). Besides that, every server and scratch folder is registered in ServerRegistry:
//   - an ordinary exit (return from main, or fail() calling std::exit) runs the registry's
//     clean-up from an atexit handler: each server gets its stop signal, is reaped (SIGKILL after
//     10 s), and the folders are removed;
//   - SIGINT, SIGTERM and SIGHUP are blocked in every thread and taken by one thread that runs the
//     same clean-up, prints one line on stderr and ends the process with 128 + the signal.
// install_signal_thread() must run in main before any other thread starts (threads inherit the
// mask). docs/BENCHMARKS.md, "Peers", says what happens on each kind of stop.
#pragma once

#include "bench/support/report.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

namespace hugo_bench {

// Every live server and scratch folder of the benchmark, cleaned up once whatever ends it.
class ServerRegistry {
 public:
  static ServerRegistry& instance() {
    static ServerRegistry* registry = new ServerRegistry();  // never destroyed: used from atexit
    return *registry;
  }

  void add_server(pid_t pid, int stop_signal) {
    std::lock_guard lock(mutex_);
    servers_.push_back({pid, stop_signal});
  }
  // Stops `pid` with its stop signal and reaps it (SIGKILL after `grace`); no-op if not registered.
  void stop_server(pid_t pid, std::chrono::seconds grace = std::chrono::seconds(10)) {
    std::lock_guard lock(mutex_);
    for (auto it = servers_.begin(); it != servers_.end(); ++it) {
      if (it->pid != pid) continue;
      stop_and_reap(*it, grace);
      servers_.erase(it);
      return;
    }
  }
  // Drops `pid` (already reaped) from the registry without signalling it.
  void forget_server(pid_t pid) {
    std::lock_guard lock(mutex_);
    std::erase_if(servers_, [pid](const Server& s) { return s.pid == pid; });
  }
  void add_folder(const std::filesystem::path& folder) {
    std::lock_guard lock(mutex_);
    folders_.push_back(folder);
  }
  void remove_folder(const std::filesystem::path& folder) {
    std::lock_guard lock(mutex_);
    std::error_code ec;
    std::filesystem::remove_all(folder, ec);
    std::erase(folders_, folder);
  }
  // Stops every server, then removes every folder. Safe to call more than once and from any thread.
  void clean_up() {
    std::lock_guard lock(mutex_);
    for (const Server& s : servers_) stop_and_reap(s, std::chrono::seconds(10));
    servers_.clear();
    for (const auto& folder : folders_) {
      std::error_code ec;
      std::filesystem::remove_all(folder, ec);
    }
    folders_.clear();
  }
  // Set by the signal thread before it cleans up: a failure that follows (a client whose server it
  // just stopped) must not race it to exit.
  std::atomic<bool> terminating{false};

 private:
  struct Server {
    pid_t pid;
    int stop_signal;
  };
  ServerRegistry() = default;

  static void stop_and_reap(const Server& s, std::chrono::seconds grace) {
    ::kill(s.pid, s.stop_signal);
    const auto deadline = std::chrono::steady_clock::now() + grace;
    while (true) {
      const pid_t done = ::waitpid(s.pid, nullptr, WNOHANG);
      if (done == s.pid || (done < 0 && errno != EINTR)) return;
      if (std::chrono::steady_clock::now() >= deadline) {
        ::kill(s.pid, SIGKILL);
        ::waitpid(s.pid, nullptr, 0);
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }

  std::mutex mutex_;
  std::vector<Server> servers_;
  std::vector<std::filesystem::path> folders_;
};

// Blocks SIGINT, SIGTERM and SIGHUP in this thread (and so in every thread started after it), and
// starts the thread that takes them; registers the atexit clean-up.
inline void install_signal_thread(std::string_view program) {
  std::atexit([] { ServerRegistry::instance().clean_up(); });
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  if (const int rc = ::pthread_sigmask(SIG_BLOCK, &set, nullptr); rc != 0) {
    fail(program, std::string("pthread_sigmask: ") + std::strerror(rc));
  }
  std::thread([set, name = std::string(program)] {
    int signal_number = 0;
    while (::sigwait(&set, &signal_number) != 0) {
    }
    ServerRegistry::instance().terminating.store(true);
    ServerRegistry::instance().clean_up();
    std::fprintf(stderr, "%s: stopped by signal %d; servers stopped and scratch folders removed\n", name.c_str(),
                 signal_number);
    ::_exit(128 + signal_number);
  }).detach();
}

// fail(), unless the signal thread is already ending the process (then this thread waits for it).
[[noreturn]] inline void peer_fail(std::string_view program, std::string_view message) {
  if (ServerRegistry::instance().terminating.load()) {
    while (true) ::pause();
  }
  fail(program, message);
}

// The file in each PeerDir that names the benchmark process that made it.
inline constexpr const char* kOwnerFile = "owner.pid";

// A scratch folder registered for clean-up on every kind of exit; removed at scope exit too. It
// holds owner.pid, so that a later run can remove it if this process is killed (SIGKILL) first.
class PeerDir {
 public:
  PeerDir(std::string_view program, std::string_view prefix) : dir_(scratch_dir(program, prefix)) {
    ServerRegistry::instance().add_folder(dir_.path());
    std::ofstream(dir_ / kOwnerFile) << ::getpid() << "\n";
  }
  ~PeerDir() { ServerRegistry::instance().remove_folder(dir_.path()); }
  PeerDir(const PeerDir&) = delete;
  PeerDir& operator=(const PeerDir&) = delete;
  const std::filesystem::path& path() const { return dir_.path(); }
  std::filesystem::path operator/(const std::string& name) const { return dir_ / name; }

 private:
  TempDir dir_;
};

// Removes the folders `prefix`-* in $TMPDIR (else /tmp) that a PeerDir of a process no longer
// alive left behind (it was killed with SIGKILL: its servers died with it, by PR_SET_PDEATHSIG,
// but its folders stayed). Returns how many it removed.
inline int remove_stale_peer_dirs(std::string_view prefix) {
  const char* base = std::getenv("TMPDIR");
  const std::filesystem::path folder = base && *base ? base : "/tmp";
  int removed = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(folder, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(std::string(prefix) + "-", 0) != 0) continue;
    long owner = 0;
    std::ifstream(entry.path() / kOwnerFile) >> owner;
    if (owner <= 0 || ::kill(static_cast<pid_t>(owner), 0) == 0 || errno != ESRCH) continue;
    std::error_code remove_error;
    std::filesystem::remove_all(entry.path(), remove_error);
    if (!remove_error) ++removed;
  }
  return removed;
}

// The first existing regular file among `candidates`, else "" (a missing peer is skipped).
inline std::string first_existing(const std::vector<std::filesystem::path>& candidates) {
  for (const auto& c : candidates) {
    std::error_code ec;
    if (std::filesystem::is_regular_file(c, ec)) return c.string();
  }
  return "";
}

// `name` in a folder of $PATH, else the first of `fallbacks` that exists, else "".
inline std::string find_program(std::string_view name, const std::vector<std::filesystem::path>& fallbacks) {
  std::vector<std::filesystem::path> candidates;
  const std::string path = std::getenv("PATH") ? std::getenv("PATH") : "";
  for (std::size_t at = 0; at <= path.size();) {
    const std::size_t end = std::min(path.find(':', at), path.size());
    if (end > at) candidates.push_back(std::filesystem::path(path.substr(at, end - at)) / name);
    at = end + 1;
  }
  candidates.insert(candidates.end(), fallbacks.begin(), fallbacks.end());
  return first_existing(candidates);
}

// A loopback TCP port that was free a moment ago (bound to port 0, read back, closed).
inline int free_loopback_port(std::string_view program) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) fail(program, std::string("socket: ") + std::strerror(errno));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    const int error = errno;
    ::close(fd);
    fail(program, std::string("bind a loopback port: ") + std::strerror(error));
  }
  ::close(fd);
  return ntohs(address.sin_port);
}

// Who a server runs as: the current user, or, when that is root, an unprivileged account.
struct RunAs {
  bool switch_user = false;
  uid_t uid = 0;
  gid_t gid = 0;
  std::string name;
};

// The current user when it is not root; else `account` (default "nobody"). nullopt if root and
// the account does not exist.
inline std::optional<RunAs> unprivileged_user(const char* account = "nobody") {
  if (::geteuid() != 0) return RunAs{};
  const passwd* entry = ::getpwnam(account);
  if (entry == nullptr) return std::nullopt;
  return RunAs{true, entry->pw_uid, entry->pw_gid, account};
}

// Makes `path` (and everything in it) belong to `user`, when a switch is asked.
inline void give_to(std::string_view program, const std::filesystem::path& path, const RunAs& user) {
  if (!user.switch_user) return;
  if (::chown(path.c_str(), user.uid, user.gid) != 0) {
    fail(program, "chown " + path.string() + ": " + std::strerror(errno));
  }
}

// Runs argv[0] with `args` as a child of this thread, as `user`, its stdout and stderr to
// `log_path`, receiving `stop_signal` when the benchmark dies; registered with ServerRegistry
// (daemon = true) or not (a short-lived tool the caller waits for). Returns the pid.
inline pid_t spawn_process(std::string_view program, const std::vector<std::string>& args, const RunAs& user,
                           const std::filesystem::path& log_path, int stop_signal, bool daemon) {
  std::vector<std::string> owned = args;
  std::vector<char*> argv;
  for (std::string& a : owned) argv.push_back(a.data());
  argv.push_back(nullptr);
  const std::string log = log_path.string();
  const pid_t parent = ::getpid();
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = ::fork();
  if (pid < 0) fail(program, std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    // Only async-signal-safe calls from here to execv.
    sigset_t none;
    sigemptyset(&none);
    ::pthread_sigmask(SIG_SETMASK, &none, nullptr);  // the server takes its own signals
    ::setpgid(0, 0);  // a terminal's Ctrl-C reaches the benchmark only; it stops the server itself
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) {
      ::dup2(fd, STDOUT_FILENO);
      ::dup2(fd, STDERR_FILENO);
    }
    if (user.switch_user && (::setgroups(0, nullptr) != 0 || ::setgid(user.gid) != 0 || ::setuid(user.uid) != 0)) {
      ::_exit(126);
    }
    // After the user switch, which clears it.
    ::prctl(PR_SET_PDEATHSIG, daemon ? stop_signal : SIGKILL);
    if (::getppid() != parent) ::_exit(125);  // the benchmark died before prctl
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  if (daemon) ServerRegistry::instance().add_server(pid, stop_signal);
  return pid;
}

// Runs a tool to completion (see spawn_process); returns its exit status (128 + signal if killed).
inline int run_tool(std::string_view program, const std::vector<std::string>& args, const RunAs& user,
                    const std::filesystem::path& log_path) {
  const pid_t pid = spawn_process(program, args, user, log_path, SIGKILL, false);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : -1;
}

// The last `lines` lines of a log file, for an error message.
inline std::string log_tail(const std::filesystem::path& log_path, std::size_t lines = 5) {
  std::ifstream in(log_path);
  std::vector<std::string> kept;
  for (std::string line; std::getline(in, line);) {
    kept.push_back(line);
    if (kept.size() > lines) kept.erase(kept.begin());
  }
  std::string text;
  for (const std::string& line : kept) text += (text.empty() ? "" : " | ") + line;
  return text.empty() ? "(empty log)" : text;
}

// Polls `ready()` every 20 ms until it returns true; fails (the server stopped, with the end of
// its log) if the server exits first or 30 s pass.
template <class Ready>
void wait_until_ready(std::string_view program, std::string_view what, pid_t server,
                      const std::filesystem::path& log_path, Ready&& ready) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!ready()) {
    int status = 0;
    const bool exited = ::waitpid(server, &status, WNOHANG) == server;
    if (exited || std::chrono::steady_clock::now() >= deadline) {
      if (exited) {
        ServerRegistry::instance().forget_server(server);
      } else {
        ServerRegistry::instance().stop_server(server, std::chrono::seconds(1));
      }
      peer_fail(program, std::string(what) + (exited ? " exited during start-up: " : " not ready after 30 s: ") +
                             log_tail(log_path));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// utime + stime of process `pid` (all its threads) from /proc/<pid>/stat, in seconds; with
// `children`, plus every live process whose parent is `pid` (postgres: a backend per connection).
inline double process_cpu_seconds(pid_t pid, bool children) {
  const double tick = static_cast<double>(::sysconf(_SC_CLK_TCK));
  auto read_stat = [&](const std::filesystem::path& file, pid_t* parent) -> double {
    FILE* f = std::fopen(file.c_str(), "r");
    if (f == nullptr) return 0;
    char buffer[1024];
    const std::size_t n = std::fread(buffer, 1, sizeof buffer - 1, f);
    std::fclose(f);
    buffer[n] = '\0';
    // Fields after the command name "(...)": state ppid ... utime (14th field) stime (15th).
    const char* after = std::strrchr(buffer, ')');
    if (after == nullptr) return 0;
    char state = 0;
    long ppid = 0;
    unsigned long utime = 0, stime = 0;
    if (std::sscanf(after + 1, " %c %ld %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &state, &ppid, &utime,
                    &stime) != 4) {
      return 0;
    }
    if (parent) *parent = static_cast<pid_t>(ppid);
    return static_cast<double>(utime + stime) / tick;
  };
  double total = read_stat("/proc/" + std::to_string(pid) + "/stat", nullptr);
  if (!children) return total;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    pid_t parent = 0;
    const double cpu = read_stat(entry.path() / "stat", &parent);
    if (parent == pid) total += cpu;
  }
  return total;
}

}  // namespace hugo_bench

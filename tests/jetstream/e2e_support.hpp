// Test support for the JetStream end-to-end tests: real processes (the hugo-journal CLI and the
// writer child) with their output in files, bounded waits, and the end-to-end check that a stream
// holds a journal's events exactly once, in order, read back through RawNats.
#pragma once

#include <doctest/doctest.h>

#include "tests/jetstream/raw_nats.hpp"
#include "tests/support/nats_server.hpp"
#include "tests/support/temp_dir.hpp"

#include <hugo/journal.hpp>
#include <hugo/peers.hpp>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace hugo::test::e2e {

inline std::string env_path(const char* name) {
  const char* path = std::getenv(name);
  if (!path || !*path) throw std::runtime_error(std::string(name) + " is not set; run the tests through meson test");
  return path;
}
inline std::string cli() { return env_path("HUGO_CLI"); }
inline std::string writer() { return env_path("HUGO_JETSTREAM_WRITER"); }

inline std::chrono::milliseconds bound() { return nats_detail::ready_timeout() * 2; }  // 60 s, times the factor

inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Polls `done` every 20 ms until it holds (true) or bound() passes (false).
inline bool eventually(const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + bound();
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

// eventually(done), or a FAIL naming `what`.
inline void wait_until(const std::function<bool()>& done, const std::string& what) {
  if (!eventually(done)) FAIL("gave up waiting: " << what);
}

// A child process with stdout and stderr in files under `dir` (NAME.out, NAME.err, appended).
class Proc {
 public:
  Proc(const std::filesystem::path& dir, const std::string& name, std::vector<std::string> argv)
      : out_(dir / (name + ".out")), err_(dir / (name + ".err")) {
    out_offset_ = std::filesystem::exists(out_) ? std::filesystem::file_size(out_) : 0;
    err_offset_ = std::filesystem::exists(err_) ? std::filesystem::file_size(err_) : 0;
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    const pid_t parent = ::getpid();
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {  // async-signal-safe calls only
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);
      const int out = ::open(out_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      const int err = ::open(err_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      const int in = ::open("/dev/null", O_RDONLY);
      if (out < 0 || err < 0 || in < 0) ::_exit(126);
      ::dup2(in, STDIN_FILENO);
      ::dup2(out, STDOUT_FILENO);
      ::dup2(err, STDERR_FILENO);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
  }
  ~Proc() {
    if (pid_ > 0 && !code_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  Proc(const Proc&) = delete;
  Proc& operator=(const Proc&) = delete;

  pid_t pid() const { return pid_; }
  // What this run wrote (earlier runs under the same name are not part of it).
  std::string out() const { return read_file(out_).substr(out_offset_); }
  std::string err() const { return read_file(err_).substr(err_offset_); }

  // The exit code (128 + signal when killed) once it exited, or nullopt while it runs.
  std::optional<int> poll() {
    if (code_) return code_;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) != pid_) return std::nullopt;
    code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return code_;
  }
  // Waits (bounded) for the exit; a FAIL with its stderr if it does not come.
  int wait() {
    wait_until([&] { return poll().has_value(); }, "process " + std::to_string(pid_) + " to exit; stderr: " + err());
    return *code_;
  }
  void signal(int sig) {
    if (!poll()) ::kill(pid_, sig);
  }
  int kill() {
    if (!poll()) ::kill(pid_, SIGKILL);
    return wait();
  }
  int terminate() {
    if (!poll()) ::kill(pid_, SIGTERM);
    return wait();
  }
  // Waits (bounded) until a line of stdout starts with `prefix`; returns that line.
  std::string wait_line(const std::string& prefix) {
    std::string found;
    wait_until(
        [&] {
          std::istringstream lines(out());
          for (std::string line; std::getline(lines, line);) {
            if (line.rfind(prefix, 0) == 0) {
              found = line;
              return true;
            }
          }
          if (poll()) FAIL("the process exited (" << *code_ << ") before printing '" << prefix << "': " << err());
          return false;
        },
        "a line starting with '" + prefix + "'");
    return found;
  }

 private:
  std::filesystem::path out_, err_;
  std::uintmax_t out_offset_ = 0, err_offset_ = 0;
  pid_t pid_ = -1;
  std::optional<int> code_;
};

struct Ran {
  int code = -1;
  std::string out, err;
};

// Runs `hugo-journal args...` to its end (bounded).
inline Ran run_cli(const std::filesystem::path& dir, const std::vector<std::string>& args) {
  std::vector<std::string> argv{cli()};
  argv.insert(argv.end(), args.begin(), args.end());
  static int runs = 0;
  Proc p(dir, "cli-" + std::to_string(++runs), argv);
  const int code = p.wait();
  return {code, p.out(), p.err()};
}

inline std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// The journal's events as `hugo-journal export` writes them, one line each.
inline std::vector<std::string> export_lines(const std::filesystem::path& dir, const std::filesystem::path& journal) {
  const Ran ran = run_cli(dir, {"export", journal.string()});
  REQUIRE_MESSAGE(ran.code == 0, "export " << journal << ": " << ran.err);
  return lines_of(ran.out);
}

inline std::int64_t last_seq(const std::filesystem::path& journal) {
  auto reader = JournalReader::open(journal);
  if (!reader.ok()) return -1;
  auto seq = (*reader)->last_seq();
  return seq.ok() ? *seq : -1;
}

inline std::string journal_id(const std::filesystem::path& journal) {
  auto reader = JournalReader::open(journal);
  REQUIRE_MESSAGE(reader.ok(), reader.error().to_string());
  return (*reader)->journal_id();
}

inline std::uint64_t stream_last_seq(int port, const std::string& stream) {
  try {
    RawNats nats(port);
    const auto info = nats.stream_info(stream);
    return info ? info->last_seq : 0;
  } catch (const std::exception&) {
    return 0;  // the server (or, in a cluster, the stream's leader) is not answering yet
  }
}

// The stream holds `lines` (a journal's export, seqs 1..N) exactly once and in order: stream seq n
// is journal seq n, its body is line n byte for byte, its headers name the journal, the seq and
// the rolling hash of lines 1..n.
inline void check_stream_holds(RawNats& nats, const std::string& stream, const std::string& id,
                               const std::vector<std::string>& lines) {
  const auto info = nats.stream_info(stream);
  REQUIRE_MESSAGE(info, "no stream " << stream);
  CHECK(info->subjects == std::vector<std::string>{"hugo." + id + ".events"});
  CHECK(info->first_seq == 1);
  REQUIRE(info->last_seq == lines.size());
  REQUIRE(info->messages == lines.size());
  std::uint64_t hash = kEmptyHistoryHash;
  for (std::uint64_t n = 1; n <= lines.size(); ++n) {
    const auto m = nats.message(stream, n);
    REQUIRE_MESSAGE(m, "stream seq " << n << " is missing");
    hash = chain_hash(hash, lines[n - 1]);
    const bool same = m->body == lines[n - 1] && m->header("Hugo-Seq") == std::to_string(n) &&
                      m->header("Nats-Msg-Id") == id + ":" + std::to_string(n) && m->header("Hugo-Journal-Id") == id &&
                      m->header("Hugo-Hash") == format_hash(hash);
    if (!same) {
      FAIL("stream seq " << n << " is not journal seq " << n << ": Hugo-Seq " << m->header("Hugo-Seq")
                         << ", Nats-Msg-Id " << m->header("Nats-Msg-Id") << ", Hugo-Hash " << m->header("Hugo-Hash")
                         << " (expected " << format_hash(hash) << "), body " << m->body << " vs line "
                         << lines[n - 1]);
    }
  }
}

}  // namespace hugo::test::e2e

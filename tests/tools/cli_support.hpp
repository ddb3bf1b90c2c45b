// Test support for the CLI suite: run the built hugo-journal binary (path in HUGO_CLI, set by
// meson) with arguments and stdin, capture its exit code, stdout and stderr; normalise what
// legitimately varies between runs (the random journal id, file sizes); compare with golden files
// under tests/golden/cli/ (HUGO_UPDATE_GOLDEN=1 rewrites them: review the diff by eye).
#pragma once

#include <doctest/doctest.h>

#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <sys/wait.h>
#include <unistd.h>

namespace hugo::test::cli {

// rwxr-xr-x: what a folder or program others must reach needs.
constexpr auto kOpenToAll = std::filesystem::perms::owner_all | std::filesystem::perms::group_read |
                            std::filesystem::perms::group_exec | std::filesystem::perms::others_read |
                            std::filesystem::perms::others_exec;

inline std::string cli_binary() {
  const char* path = std::getenv("HUGO_CLI");
  if (!path) throw std::runtime_error("HUGO_CLI is not set; run the tests through meson test");
  return path;
}

inline std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

inline void write_text(const std::filesystem::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

// The argv of `hugo-journal args...`; built before fork(), so a missing HUGO_CLI throws here.
inline std::vector<std::string> cli_argv(const std::vector<std::string>& args) {
  std::vector<std::string> argv{cli_binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

// A folder everyone may enter, for what a child run as nobody needs from the checkout: the
// checkout may sit in a folder only its owner enters (root's home is 0700 on Debian). Made once,
// removed when the test program exits.
inline const std::filesystem::path& reach_folder() {
  struct Reach : TempDir {
    Reach() : TempDir("hugo-cli") { std::filesystem::permissions(path(), kOpenToAll); }
  };
  static const Reach reach;
  return reach.path();
}

// A copy of `file` at `relative` under reach_folder(), readable and executable by everyone;
// made once per relative path.
inline std::filesystem::path reachable_copy(const std::filesystem::path& file, const std::filesystem::path& relative) {
  namespace fs = std::filesystem;
  static std::mutex copying;
  std::lock_guard lock(copying);
  const fs::path copy = reach_folder() / relative;
  if (fs::exists(copy)) return copy;
  fs::create_directories(copy.parent_path());
  for (fs::path p = copy.parent_path(); p != reach_folder(); p = p.parent_path()) fs::permissions(p, kOpenToAll);
  fs::copy_file(file, copy);  // follows a symbolic link
  fs::permissions(copy, kOpenToAll);
  return copy;
}

// The CLI as another user can run it: a copy of the binary and of the library beside its folder
// (its RUNPATH is $ORIGIN/..) under reach_folder().
inline std::string reachable_cli_binary() {
  static const std::string path = [] {
    namespace fs = std::filesystem;
    const fs::path cli = cli_binary();
    const fs::path library = cli.parent_path().parent_path() / "libhugo-journal.so.0";
    if (fs::exists(library)) reachable_copy(library, library.filename());
    return reachable_copy(cli, fs::path("tools") / cli.filename()).string();
  }();
  return path;
}

// One sanitizer option (`name=value`) as a child run as nobody can use it: a log_path naming a
// file goes into `reports`, a suppressions file is a copy under reach_folder(); anything else,
// and the special values (log_path=stderr or stdout, an empty value), is kept.
inline std::string option_for_nobody(const std::string& option, const std::filesystem::path& reports) {
  const auto equals = option.find('=');
  if (equals == std::string::npos || equals + 1 == option.size()) return option;
  const std::string key = option.substr(0, equals), value = option.substr(equals + 1);
  if (key == "log_path" && value != "stderr" && value != "stdout") {
    return "log_path=" + (reports / std::filesystem::path(value).filename()).string();
  }
  if (key == "suppressions") {
    // Under a folder named for the whole path: two files of one name are two copies.
    const std::filesystem::path file = std::filesystem::absolute(value);
    const std::string folder = std::to_string(std::hash<std::string>{}(file.string()));
    return "suppressions=" + reachable_copy(file, std::filesystem::path("sanitizer") / folder / file.filename()).string();
  }
  return option;
}

// A sanitizer options variable's value, each option rewritten by option_for_nobody. Options are
// split where the runtimes split them (space, tab, newline, ',' or ':') and joined with ':'; a
// value with quotes in it is returned as it is.
inline std::string options_for_nobody(const std::string& options, const std::filesystem::path& reports) {
  if (options.find_first_of("'\"") != std::string::npos) return options;
  std::string rewritten;
  for (std::size_t at = 0; at <= options.size();) {
    const std::size_t end = std::min(options.find_first_of(" \t\n\r,:", at), options.size());
    if (end > at) rewritten += (rewritten.empty() ? "" : ":") + option_for_nobody(options.substr(at, end - at), reports);
    at = end + 1;
  }
  return rewritten;
}

// This process's environment, for a child run as nobody. The sanitizer stages (scripts/test.sh)
// point the runtimes' log_path and suppressions into the checkout, which user nobody may not
// enter, and a TSan runtime that cannot open its log dies at start. Here those variables are
// rewritten (options_for_nobody), with `reports` a folder user nobody may write, which run_cli
// checks for reports afterwards.
inline std::vector<std::string> environment_for_nobody(const std::filesystem::path& reports) {
  std::vector<std::string> env;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string text = *entry;
    const std::string name = text.substr(0, text.find('='));  // all of it if there is no '='
    const bool sanitizer = name == "ASAN_OPTIONS" || name == "UBSAN_OPTIONS" || name == "TSAN_OPTIONS" ||
                           name == "LSAN_OPTIONS";
    env.push_back(sanitizer ? name + "=" + options_for_nobody(text.substr(name.size() + 1), reports) : text);
  }
  return env;
}

// Fails the current test with the text of every sanitizer report in `reports`.
inline void expect_no_sanitizer_reports(const std::filesystem::path& reports) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(reports, ec)) {
    FAIL_CHECK("sanitizer report from the CLI run as nobody (" << entry.path().filename().string() << "):\n"
                                                                << read_text(entry.path()));
  }
}

// The null-terminated pointer array execv wants, into `strings` (which must outlive it); built
// before fork(), so that the child allocates nothing between fork and exec.
inline std::vector<char*> exec_array(std::vector<std::string>& strings) {
  std::vector<char*> raw;
  raw.reserve(strings.size() + 1);
  for (auto& s : strings) raw.push_back(s.data());
  raw.push_back(nullptr);
  return raw;
}

// In a forked child whose stdio is set up: runs `argv` (from exec_array), with `envp` as its
// environment if given, else this process's; never returns (exit 127 if it cannot, with the
// reason on stderr: run as nobody, the binary must sit in folders others may enter, which is why
// run_cli runs reachable_cli_binary() then).
[[noreturn]] inline void exec_argv(char* const* argv, char* const* envp = nullptr) {
  if (envp != nullptr) {
    ::execve(argv[0], argv, envp);
  } else {
    ::execv(argv[0], argv);
  }
  const char* why = ::strerrordesc_np(errno);  // async-signal-safe, unlike strerror
  for (const char* part : {"cannot execute ", static_cast<const char*>(argv[0]), ": ", why ? why : "?",
                           " (as another user, every folder above it must be searchable by others)\n"}) {
    if (::write(STDERR_FILENO, part, std::strlen(part)) < 0) break;
  }
  ::_exit(127);
}

struct Run {
  int code = -1;
  std::string out;
  std::string err;
};

// Runs `hugo-journal args...` in `cwd` (relative paths in args resolve there) with `input` on
// stdin (else /dev/null), and waits for it. `unprivileged`: as nobody when the suite runs as root
// (test::drop_privileges), which permission bits then apply to.
inline Run run_cli(const std::vector<std::string>& args, const std::filesystem::path& cwd,
                   const std::optional<std::string>& input = std::nullopt, bool unprivileged = false) {
  TempDir io;
  const auto in_path = io / "stdin", out_path = io / "stdout", err_path = io / "stderr";
  write_text(in_path, input.value_or(""));
  const auto reports = io / "sanitizer-reports";
  std::vector<std::string> argv = cli_argv(args);
  std::vector<std::string> env;
  if (unprivileged) {
    std::filesystem::create_directory(reports);
    for (const auto& folder : {io.path(), reports}) std::filesystem::permissions(folder, std::filesystem::perms::all);
    argv[0] = reachable_cli_binary();
    env = environment_for_nobody(reports);
  }
  const std::vector<char*> raw_argv = exec_array(argv);
  const std::vector<char*> raw_env = exec_array(env);
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (unprivileged && !drop_privileges()) ::_exit(125);
    const int in = ::open(in_path.c_str(), O_RDONLY);
    const int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (in < 0 || out < 0 || err < 0 || ::chdir(cwd.c_str()) != 0) ::_exit(126);
    ::dup2(in, STDIN_FILENO);
    ::dup2(out, STDOUT_FILENO);
    ::dup2(err, STDERR_FILENO);
    exec_argv(raw_argv.data(), unprivileged ? raw_env.data() : nullptr);
  }
  REQUIRE(pid > 0);
  int status = 0;
  ::waitpid(pid, &status, 0);
  Run run;
  run.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  run.out = read_text(out_path);
  run.err = read_text(err_path);
  if (unprivileged) expect_no_sanitizer_reports(reports);
  return run;
}

// Like run_cli, with stdout and stderr each on its own pseudo-terminal (so isatty() is true), to
// see what a person sees. The terminal turns "\n" into "\r\n"; this undoes that.
inline Run run_cli_on_tty(const std::vector<std::string>& args, const std::filesystem::path& cwd) {
  int out_master = -1, out_slave = -1, err_master = -1, err_slave = -1;
  REQUIRE(::openpty(&out_master, &out_slave, nullptr, nullptr, nullptr) == 0);
  REQUIRE(::openpty(&err_master, &err_slave, nullptr, nullptr, nullptr) == 0);
  std::vector<std::string> argv = cli_argv(args);
  const std::vector<char*> raw_argv = exec_array(argv);
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (::chdir(cwd.c_str()) != 0) ::_exit(126);
    ::dup2(out_slave, STDOUT_FILENO);
    ::dup2(err_slave, STDERR_FILENO);
    exec_argv(raw_argv.data());
  }
  ::close(out_slave);
  ::close(err_slave);
  Run run;
  std::string* sinks[] = {&run.out, &run.err};
  int open = 2;
  pollfd fds[] = {{out_master, POLLIN, 0}, {err_master, POLLIN, 0}};
  while (open > 0 && ::poll(fds, 2, 20000) > 0) {
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char chunk[4096];
      const ssize_t n = ::read(fds[i].fd, chunk, sizeof(chunk));
      if (n > 0) {
        sinks[i]->append(chunk, static_cast<std::size_t>(n));
      } else {  // EIO once the child closed its side
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open;
      }
    }
  }
  for (const auto& fd : fds) {
    if (fd.fd >= 0) ::close(fd.fd);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  run.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  for (std::string* text : sinks) {
    for (std::size_t at = text->find("\r\n"); at != std::string::npos; at = text->find("\r\n", at)) text->erase(at, 1);
  }
  return run;
}

inline std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  if (from.empty()) return text;
  for (std::size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

// Replaces the value of every JSON member `"key":<number>` with 0.
inline std::string zero_json_number(std::string text, const std::string& key) {
  const std::string needle = "\"" + key + "\":";
  for (std::size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
    const std::size_t start = at + needle.size();
    std::size_t end = start;
    while (end < text.size() && (std::isdigit(static_cast<unsigned char>(text[end])) || text[end] == '.' ||
                                 text[end] == '-')) {
      ++end;
    }
    text.replace(start, end - start, "0");
  }
  return text;
}

inline std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::stringstream s(text);
  for (std::string line; std::getline(s, line);) lines.push_back(line);
  return lines;
}

inline std::filesystem::path golden_path(const std::string& name) {
  const char* dir = std::getenv("HUGO_GOLDEN_DIR");
  REQUIRE_MESSAGE(dir != nullptr, "HUGO_GOLDEN_DIR is not set; run through meson test");
  return std::filesystem::path(dir) / "cli" / name;
}

// Compares `actual` with tests/golden/cli/<name>; HUGO_UPDATE_GOLDEN=1 rewrites the file first.
inline void check_golden(const std::string& name, const std::string& actual) {
  if (std::getenv("HUGO_UPDATE_GOLDEN")) write_text(golden_path(name), actual);
  const std::string expected = read_text(golden_path(name));
  CAPTURE(name);
  CHECK(actual == expected);
}

// One line on stderr, in the documented shape.
inline bool is_one_error_line(const std::string& err) {
  return err.rfind("hugo-journal: ", 0) == 0 && err.find('\n') == err.size() - 1 && err.find(" (") != std::string::npos;
}

}  // namespace hugo::test::cli

// Fault injection support: write a known history, break the files underneath it, and check that
// what was committed before the fault is still readable, byte for byte.
//
// Every helper works on real files and real processes. Privilege drops and private mounts happen
// in a forked child (run_forked), never in the test process itself.
#pragma once

#include <doctest/doctest.h>

#include <hugo/error_codes.hpp>
#include <hugo/journal.hpp>

#include "schema/wal_files.hpp"
#include "tests/support/events.hpp"
#include "tests/support/file_bytes.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace hugo::faults {

// A payload that can be found in the file by byte search (see page_holding).
inline std::string marker(std::int64_t i) {
  char text[32];
  std::snprintf(text, sizeof(text), "committed-%06lld|", static_cast<long long>(i));
  return std::string(text) + std::string(180, static_cast<char>('a' + i % 26));
}

// Every committed event of the journal at `path`, through a fresh JournalReader.
inline Result<std::vector<Event>> read_all(const std::filesystem::path& path) {
  HUGO_ASSIGN_OR_RETURN(auto reader, JournalReader::open(path));
  std::vector<Event> all;
  for (std::int64_t after = 0;;) {
    HUGO_ASSIGN_OR_RETURN(auto batch, reader->read(after, 1000));
    if (batch.empty()) return all;
    after = batch.back().seq;
    all.insert(all.end(), batch.begin(), batch.end());
  }
}

// Appends `count` marker events and closes the journal cleanly; returns them as read back.
inline std::vector<Event> write_history(const std::filesystem::path& path, int count, JournalOptions options = {}) {
  {
    auto journal = Journal::open(path, options);
    REQUIRE_MESSAGE(journal.ok(), (journal.ok() ? "" : journal.error().to_string()));
    for (int i = 1; i <= count; ++i) REQUIRE((*journal)->append(test::enqueued("faults", marker(i))).ok());
    REQUIRE((*journal)->close().ok());
  }
  auto all = read_all(path);
  REQUIRE(all.ok());
  REQUIRE(all->size() == static_cast<std::size_t>(count));
  return std::move(all).value();
}

// Same seq, kind, queue, task, payload and journal id: what a consumer relies on.
inline bool same_event(const Event& a, const Event& b) {
  return a.seq == b.seq && a.kind == b.kind && a.queue == b.queue && a.task_id == b.task_id &&
         a.payload == b.payload && a.journal_id == b.journal_id && a.occurred_at == b.occurred_at;
}

// Every event of `committed` is readable from the journal at `path`, unchanged; returns how many
// events the journal holds in total.
inline std::size_t expect_all_readable(const std::filesystem::path& path, const std::vector<Event>& committed) {
  auto all = read_all(path);
  REQUIRE_MESSAGE(all.ok(), (all.ok() ? "" : all.error().to_string()));
  REQUIRE(all->size() >= committed.size());
  for (std::size_t i = 0; i < committed.size(); ++i) {
    INFO("seq " << committed[i].seq);
    CHECK(same_event((*all)[i], committed[i]));
  }
  return all->size();
}

// The error's code, message and metadata in one line, for assertions' context.
template <class T>
std::string describe(const Result<T>& result) {
  return result.ok() ? std::string("ok") : result.error().to_string();
}

// ---- byte surgery ----------------------------------------------------------------------------

using test::read_bytes;
using test::write_bytes_at;

// The 0-based index of the page that stores `needle` (a payload marker).
inline std::size_t page_holding(const std::filesystem::path& path, const std::string& needle, std::size_t page_size) {
  const std::string bytes = read_bytes(path);
  const auto at = bytes.find(needle);
  REQUIRE_MESSAGE(at != std::string::npos, "marker not found in " << path.filename().string());
  return at / page_size;
}

// ---- processes -------------------------------------------------------------------------------

// What a forked child reported: its exit code and everything it wrote to the report pipe.
struct ChildReport {
  int exit_code = -1;
  std::string text;
};

// Runs `body` in a forked child with a pipe to write its report to; the child exits with what
// body returns. Used for privilege drops, resource limits and private mounts, none of which
// may touch the test process.
inline ChildReport run_forked(const std::function<int(FILE* report)>& body) {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(fds[0]);
    FILE* report = ::fdopen(fds[1], "w");
    const int code = report ? body(report) : 120;
    if (report) std::fclose(report);
    ::_exit(code);
  }
  ::close(fds[1]);
  ChildReport out;
  char chunk[4096];
  ssize_t n = 0;
  while ((n = ::read(fds[0], chunk, sizeof(chunk))) > 0) out.text.append(chunk, static_cast<std::size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  out.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return out;
}

using test::drop_privileges;

// Writes "code <code>\n" and the error's line, or "ok\n", to the child's report.
template <class T>
void report_result(FILE* report, const Result<T>& result) {
  if (result.ok()) {
    std::fprintf(report, "ok\n");
  } else {
    std::fprintf(report, "code %s\n%s\n", result.error().code().c_str(), result.error().to_string().c_str());
  }
}

// The first "code X" of a child report, or "ok".
inline std::string reported_code(const std::string& text) {
  const auto at = text.find("code ");
  if (at == std::string::npos) return text.rfind("ok", 0) == 0 ? "ok" : "<none>";
  const auto end = text.find('\n', at);
  return text.substr(at + 5, end - at - 5);
}

// Starts the tests' helper process appending events (Durability::Process, one seq per line),
// waits for `at_least` acknowledged seqs and SIGKILLs it: the WAL is left un-checkpointed and
// its -shm in place, as after a crash. Returns the last acknowledged seq.
inline std::int64_t kill_writer_after(const std::filesystem::path& path, int at_least) {
  test::Child child({test::child_binary(), "append", path.string(), "1000000"});
  std::int64_t last = 0;
  for (int i = 0; i < at_least; ++i) {
    auto line = child.read_line();
    REQUIRE_MESSAGE(line.has_value(), "the appending child stopped early");
    last = std::stoll(*line);
  }
  child.kill_hard();
  REQUIRE(child.wait() == 128 + SIGKILL);
  return last;
}

using wal_files::shm_of;
using wal_files::wal_of;

}  // namespace hugo::faults

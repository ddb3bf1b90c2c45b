// What every hugo-journal verb shares: the exit codes and the one place that maps a hugo::Error
// to them, the one-line error report, the output mode, stdout, the stderr progress bar, and the
// read-only ways in (journals and sink databases).
//
// Conventions (docs/CLI.md): data goes to stdout, as NDJSON with --json, as an aligned table when
// stdout is a terminal, as tab-separated text with a header line otherwise. Diagnostics and the
// progress bar go to stderr. A failure is one stderr line:
//   hugo-journal: <verb>: <code>: <what failed> (<what to do>)
#pragma once

#include <hugo/error.hpp>
#include <hugo/journal.hpp>
#include <hugo/verify.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

namespace hugo::cli {

// PERSISTED for scripts: documented in `hugo-journal --help` and docs/CLI.md; never renumber.
enum ExitCode : int {
  kExitOk = 0,
  kExitVerifyFailed = 1,  // verify found violations
  kExitUsage = 2,         // bad arguments, or arguments that name nothing (error.validation)
  kExitNotJournal = 3,    // missing, not a journal, corrupt, newer schema, undecodable input
  kExitLocked = 4,        // another process writes the journal (journal.locked, journal.busy)
  kExitIo = 5,            // I/O, disk full, read-only, anything else
  kExitPeer = 6,          // a peer refused or failed: diverged, unauthorized, malformed stream, unreachable
};

// The one mapping from error codes to exit codes.
int exit_code_for(const Error& error);

// Prints the one-line report of `error` for `verb` on stderr and returns its exit code.
int report(std::string_view verb, const Error& error);
// Prints "hugo-journal: <verb>: <message> (<hint>)" and returns kExitUsage.
int usage_error(std::string_view verb, std::string_view message, std::string_view hint);

enum class Format { Json, Table, Tsv };
// Json when asked; Table when stdout is a terminal; Tsv otherwise.
Format pick_format(bool json);
bool stdout_is_tty();

// Buffered stdout. out_flush() reports whether everything written so far reached the file.
void out(std::string_view text);
void out_line(std::string_view text);
bool out_flush();

// A progress bar on stderr, drawn only when stderr is a terminal, at most every 100 ms.
class Progress {
 public:
  explicit Progress(std::string label);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void update(std::int64_t done, std::int64_t total);
  void finish();  // erases the bar; idempotent
  ProgressFn callback();  // for the library's ProgressFn parameters

 private:
  std::string label_;
  bool active_ = false;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point last_{};
};

// Opens a journal read-only (never takes the writer lock; safe beside a live writer).
Result<std::unique_ptr<JournalReader>> open_reader(const std::filesystem::path& journal);
// A journal's id and its last committed seq, read through a reader that is closed again.
struct JournalEnd {
  std::string journal_id;
  std::int64_t last_seq = 0;
};
Result<JournalEnd> journal_end(const std::filesystem::path& journal);
// Opens and closes a reader: the library's error (journal.not_found, journal.corrupt, ...) for a
// path that is not a readable journal. Verbs run it before calls that report such paths less
// precisely.
Status check_journal(const std::filesystem::path& journal);
// journal.not_found unless `path` exists (sink databases are created by open(); the CLI must not).
Status require_file(const std::filesystem::path& path, std::string_view what);

// Size of a file, 0 if it does not exist.
std::uint64_t file_bytes(const std::filesystem::path& path);
std::filesystem::path wal_of(const std::filesystem::path& journal);

std::string iso(Timestamp t);
// "code: message", or "" for none.
std::string error_text(const std::optional<Error>& error);

}  // namespace hugo::cli

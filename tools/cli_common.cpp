#include "cli_common.hpp"

#include <hugo/error_codes.hpp>

#include <algorithm>
#include <cstdio>
#include <system_error>

#include <unistd.h>

namespace hugo::cli {
namespace {

// What to do about an error whose message does not already say so. `verify` never advises
// running `verify`.
std::string_view hint_for(std::string_view code, std::string_view verb) {
  struct Hint {
    std::string_view code;
    std::string_view hint;
  };
  static constexpr Hint kHints[] = {
      {errc::journal_locked, "stop that writer, or use a read-only verb"},
      {errc::journal_busy, "retry when the writer is idle"},
      {errc::journal_corrupt, "check the path; run `hugo-journal verify`; restore from a replica"},
      {errc::journal_schema_newer, "upgrade hugo-journal; never downgrade a journal"},
      {errc::journal_not_found, "check the path"},
      {errc::journal_full, "free disk space, then retry"},
      {errc::journal_io, "check the disk, then retry"},
      {errc::journal_read_only, "fix the file's or folder's permissions"},
      {errc::codec_malformed, "fix the input at the line named"},
      {errc::codec_invalid, "fix the input at the line named"},
      {errc::validation, "check the arguments; see `hugo-journal VERB --help`"},
      {errc::journal_replaced, "the file now holds another history; rerun the command on it"},
      {errc::journal_replica, "stop its follower and run `hugo-journal promote` first"},
      {errc::replication_diverged, "point the follower at the right owner, or rebuild the replica"},
      {errc::replication_checkpoint_ahead, "the owner lost commits: restore it from a copy, or follow into a new replica"},
      {errc::replication_unauthorized, "pass the server's --token"},
      {errc::replication_unavailable, "start the server or check the network"},
  };
  if (code == errc::journal_corrupt && verb == "verify") return "check the path; restore from a replica";
  for (const Hint& h : kHints) {
    if (code == h.code) return h.hint;
  }
  return "see docs/ERRORS.md";
}

bool ends_with_advice(std::string_view message) { return !message.empty() && message.back() == ')'; }

}  // namespace

int exit_code_for(const Error& error) {
  const std::string& code = error.code();
  if (code == errc::journal_locked || code == errc::journal_busy) return kExitLocked;
  if (code == errc::journal_corrupt || code == errc::journal_schema_newer || code == errc::journal_not_found ||
      code == errc::journal_replaced || code == errc::journal_wal_truncated || code == errc::journal_shm_missing ||
      code == errc::codec_malformed || code == errc::codec_invalid) {
    return kExitNotJournal;
  }
  if (code == errc::validation || code == errc::queue_unknown) return kExitUsage;
  if (code == errc::journal_replica) return kExitLocked;
  if (code.rfind("replication.", 0) == 0) return kExitPeer;
  return kExitIo;  // journal.io, journal.full, journal.read_only, journal.closed, anything else
}

int report(std::string_view verb, const Error& error) {
  (void)out_flush();  // what was printed before the failure stays before the report
  std::string line = "hugo-journal: ";
  line += verb;
  line += ": ";
  if (!error.code().empty()) {
    line += error.code();
    line += ": ";
  }
  if (const std::string* at = error.find("line")) line += "line " + *at + ": ";
  line += error.message();
  if (!ends_with_advice(error.message())) {
    line += " (";
    line += hint_for(error.code(), verb);
    line += ")";
  }
  line += '\n';
  std::fputs(line.c_str(), stderr);
  return exit_code_for(error);
}

int usage_error(std::string_view verb, std::string_view message, std::string_view hint) {
  (void)out_flush();
  std::string line = "hugo-journal: ";
  line += verb;
  line += ": ";
  line += message;
  line += " (";
  line += hint;
  line += ")\n";
  std::fputs(line.c_str(), stderr);
  return kExitUsage;
}

bool stdout_is_tty() { return ::isatty(STDOUT_FILENO) == 1; }

Format pick_format(bool json) {
  if (json) return Format::Json;
  return stdout_is_tty() ? Format::Table : Format::Tsv;
}

void out(std::string_view text) { std::fwrite(text.data(), 1, text.size(), stdout); }

void out_line(std::string_view text) {
  out(text);
  std::fputc('\n', stdout);
}

bool out_flush() { return std::fflush(stdout) == 0 && !std::ferror(stdout); }

// ---- progress ---------------------------------------------------------------------------------

Progress::Progress(std::string label) : label_(std::move(label)), active_(::isatty(STDERR_FILENO) == 1) {}

Progress::~Progress() { finish(); }

void Progress::update(std::int64_t done, std::int64_t total) {
  if (!active_) return;
  const auto now = std::chrono::steady_clock::now();
  if (drawn_ && now - last_ < std::chrono::milliseconds(100) && done < total) return;
  last_ = now;
  drawn_ = true;
  constexpr int kWidth = 30;
  const double fraction = total > 0 ? std::min(1.0, static_cast<double>(done) / static_cast<double>(total)) : 0.0;
  const int filled = static_cast<int>(fraction * kWidth);
  std::string bar(static_cast<std::size_t>(filled), '#');
  bar.append(static_cast<std::size_t>(kWidth - filled), '.');
  std::fprintf(stderr, "\r\033[K%s [%s] %3d%% %lld/%lld", label_.c_str(), bar.c_str(),
               static_cast<int>(fraction * 100), static_cast<long long>(done), static_cast<long long>(total));
  std::fflush(stderr);
}

void Progress::finish() {
  if (!drawn_) return;
  std::fputs("\r\033[K", stderr);
  std::fflush(stderr);
  drawn_ = false;
}

ProgressFn Progress::callback() {
  if (!active_) return {};
  return [this](std::int64_t done, std::int64_t total) { update(done, total); };
}

// ---- files ------------------------------------------------------------------------------------

Result<std::unique_ptr<JournalReader>> open_reader(const std::filesystem::path& journal) {
  return JournalReader::open(journal);
}

Result<JournalEnd> journal_end(const std::filesystem::path& journal) {
  HUGO_ASSIGN_OR_RETURN(auto reader, open_reader(journal));
  HUGO_ASSIGN_OR_RETURN(std::int64_t last_seq, reader->last_seq());
  return JournalEnd{reader->journal_id(), last_seq};
}

Status check_journal(const std::filesystem::path& journal) {
  auto reader = JournalReader::open(journal);
  if (!reader.ok()) return std::move(reader).error();
  return ok_status();
}

Status require_file(const std::filesystem::path& path, std::string_view what) {
  std::error_code ec;
  if (std::filesystem::is_regular_file(path, ec)) return ok_status();
  const bool exists = std::filesystem::exists(path, ec);
  return Error(std::string(exists ? errc::journal_corrupt : errc::journal_not_found),
               exists ? path.string() + " is not a file, so not a " + std::string(what) +
                            " (point at the " + std::string(what) + " file)"
                      : "no " + std::string(what) + " at " + path.string() + " (check the path)")
      .with("path", path.string());
}

std::uint64_t file_bytes(const std::filesystem::path& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  return ec ? 0 : static_cast<std::uint64_t>(size);
}

std::filesystem::path wal_of(const std::filesystem::path& journal) {
  return std::filesystem::path(journal.string() + "-wal");
}

std::string iso(Timestamp t) { return format_iso8601(t); }

std::string error_text(const std::optional<Error>& error) {
  if (!error) return "";
  if (error->code().empty()) return error->message();
  return error->code() + ": " + error->message();
}

}  // namespace hugo::cli

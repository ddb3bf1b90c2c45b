// Test support: a journal that loses its last commits, as power loss at durability Process can
// make it (docs/REPLICATION.md, "When the journal lost commits"), without a power cut: the file is
// copied aside while closed, more events are committed (and consumed), then the copy is put back.
// Appends after that issue the lost seqs again for other events.
#pragma once

#include <hugo/error_codes.hpp>
#include <hugo/journal.hpp>

#include "tests/support/events.hpp"
#include "tests/support/queue_fixture.hpp"

#include <filesystem>
#include <string>
#include <vector>

namespace hugo::test {

class LostCommits {
 public:
  explicit LostCommits(std::filesystem::path journal) : path_(std::move(journal)) {}

  const std::filesystem::path& path() const { return path_; }

  // Opens the journal, appends one Enqueued event per payload on `queue` (a second apart, after
  // every earlier one), closes it and returns the last seq.
  std::int64_t append(const std::string& queue, const std::vector<std::string>& payloads) {
    JournalOptions options;
    options.durability = Durability::Process;
    auto journal = must(Journal::open(path_, options));
    std::int64_t last = 0;
    for (const std::string& p : payloads) {
      clock_ += std::chrono::seconds(1);
      last = must(journal->append(enqueued(queue, p, clock_)));
    }
    must(journal->close());
    return last;
  }

  // append(kept), save(), append(to_lose): the commits lose_commits() will undo. Returns the last seq.
  std::int64_t commit(const std::vector<std::string>& kept, const std::vector<std::string>& to_lose,
                      const std::string& queue = "q") {
    append(queue, kept);
    save();
    return append(queue, to_lose);
  }

  // Copies the closed journal's files aside.
  void save() { copy_files(path_, aside()); }
  // Puts the copy back: the commits made since save() are gone.
  void lose_commits() {
    for (const char* suffix : kSuffixes) std::filesystem::remove(path_.string() + suffix);
    std::filesystem::remove(path_.string() + "-shm");
    copy_files(aside(), path_);
  }

 private:
  static constexpr const char* kSuffixes[] = {"", "-wal"};
  std::filesystem::path aside() const { return path_.string() + ".aside"; }
  static void copy_files(const std::filesystem::path& from, const std::filesystem::path& to) {
    for (const char* suffix : kSuffixes) {
      const std::filesystem::path source = from.string() + suffix;
      const std::filesystem::path target = to.string() + suffix;
      std::filesystem::remove(target);
      if (std::filesystem::exists(source)) std::filesystem::copy_file(source, target);
    }
  }

  std::filesystem::path path_;
  Timestamp clock_ = t0();
};

// Checks that `status` is replication.checkpoint_ahead for `reason` at `checkpoint_seq`.
inline void check_ahead(const Status& status, std::string_view reason, std::int64_t checkpoint_seq) {
  REQUIRE_FALSE(status.ok());
  CHECK(status.error().code() == errc::replication_checkpoint_ahead);
  const std::string* r = status.error().find("reason");
  REQUIRE(r != nullptr);
  CHECK(*r == reason);
  const std::string* seq = status.error().find("checkpoint_seq");
  REQUIRE(seq != nullptr);
  CHECK(*seq == std::to_string(checkpoint_seq));
}

}  // namespace hugo::test

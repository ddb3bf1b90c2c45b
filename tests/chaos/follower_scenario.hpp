// The follower scenario: an owner in the test process appends without pause and serves its
// journal; the child follows it into a replica (tests/chaos/follower_child.cpp) and is SIGKILLed
// at random. After each kill, with the replica reopened:
//   - the replica's position never moves backwards and covers every acknowledged batch;
//   - its rows are exactly the owner's rows up to its position (no loss, no duplicate, same seqs);
//   - its stored rolling hash is the owner's hash at that position;
//   - its last row is its position (rows and position commit together).
#pragma once

#include "tests/chaos/harness.hpp"

#include <hugo/journal.hpp>
#include <hugo/peers.hpp>

#include <atomic>
#include <memory>
#include <thread>

namespace hugo::chaos {

class FollowerScenario final : public Scenario {
 public:
  explicit FollowerScenario(std::string child) : child_(std::move(child)) {}
  ~FollowerScenario() override;

  std::string name() const override { return "follower"; }
  std::vector<std::string> child_argv(const std::filesystem::path& dir, unsigned child_seed) override;
  void check_after_kill(const std::filesystem::path& dir, Report& report) override;
  std::string summary() const override;

 private:
  void start_owner(const std::filesystem::path& dir);
  // The owner's event lines up to `seq` (cached: the owner's rows never change).
  std::string owner_lines_through(std::int64_t seq);

  std::string child_;
  std::unique_ptr<Journal> owner_;
  std::unique_ptr<ReplicationServer> server_;
  std::thread writer_;
  std::atomic<bool> stop_{false};
  std::unique_ptr<JournalReader> owner_reader_;
  std::string owner_lines_;  // event lines of seqs 1..owner_cached_
  std::vector<std::size_t> line_ends_;  // owner_lines_ offset after seq i + 1
  std::vector<std::uint64_t> hashes_;   // rolling hash after seq i + 1
  std::int64_t previous_seq_ = 0;
  std::int64_t max_acked_ = 0;
  std::int64_t restarts_with_progress_ = 0;
};

}  // namespace hugo::chaos

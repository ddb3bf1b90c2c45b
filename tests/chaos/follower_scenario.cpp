#include "tests/chaos/follower_scenario.hpp"
#include "tests/support/journal_text.hpp"

#include <hugo/event_json.hpp>

#include <fstream>
#include <sstream>

namespace hugo::chaos {

FollowerScenario::~FollowerScenario() {
  stop_ = true;
  if (writer_.joinable()) writer_.join();
  if (server_) server_->stop();
}

void FollowerScenario::start_owner(const std::filesystem::path& dir) {
  JournalOptions options;
  options.durability = Durability::Process;
  auto owner = Journal::open(dir / "owner.journal", options);
  if (!owner.ok()) throw std::runtime_error(owner.error().to_string());
  owner_ = std::move(owner).value();
  ReplicationServerOptions so;
  so.journal = dir / "owner.journal";
  so.port = 0;
  so.live = owner_.get();
  so.heartbeat = std::chrono::milliseconds(20);
  auto server = ReplicationServer::start(so);
  if (!server.ok()) throw std::runtime_error(server.error().to_string());
  server_ = std::move(server).value();
  // About 5,000 events/s, in small groups, over three queues, for as long as the scenario runs.
  writer_ = std::thread([this] {
    for (std::int64_t i = 0; !stop_; ++i) {
      for (int j = 0; j < 10; ++j) {
        Event e;
        e.kind = EventKind::Enqueued;
        e.queue = "q" + std::to_string((i + j) % 3);
        e.payload = "payload-" + std::to_string(i * 10 + j);
        e.occurred_at = SystemClock().now();
        (void)owner_->append_async(std::move(e));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  });
  auto reader = JournalReader::open(dir / "owner.journal");
  if (!reader.ok()) throw std::runtime_error(reader.error().to_string());
  owner_reader_ = std::move(reader).value();
}

std::vector<std::string> FollowerScenario::child_argv(const std::filesystem::path& dir, unsigned) {
  if (!owner_) start_owner(dir);
  return {child_, server_->url(), (dir / "replica.journal").string(), (dir / "acks.log").string()};
}

std::string FollowerScenario::owner_lines_through(std::int64_t seq) {
  while (static_cast<std::int64_t>(line_ends_.size()) < seq) {
    auto events = owner_reader_->read(static_cast<std::int64_t>(line_ends_.size()), 4096);
    if (!events.ok() || events->empty()) break;
    std::string line;
    for (const Event& e : *events) {
      line.clear();
      encode_event_json(e, line);
      const std::uint64_t previous = hashes_.empty() ? kEmptyHistoryHash : hashes_.back();
      hashes_.push_back(chain_hash(previous, line));
      owner_lines_ += line;
      owner_lines_ += '\n';
      line_ends_.push_back(owner_lines_.size());
    }
  }
  const std::size_t n = static_cast<std::size_t>(std::min<std::int64_t>(seq, static_cast<std::int64_t>(line_ends_.size())));
  return owner_lines_.substr(0, n == 0 ? 0 : line_ends_[n - 1]);
}

void FollowerScenario::check_after_kill(const std::filesystem::path& dir, Report& report) {
  // What the child acknowledged: the highest committed position it reported.
  std::ifstream acks(dir / "acks.log");
  std::int64_t seq = 0;
  std::string hash;
  std::map<std::int64_t, std::string> acked_hash;
  while (acks >> seq >> hash) {
    max_acked_ = std::max(max_acked_, seq);
    acked_hash[seq] = hash;
  }
  auto position = read_replica_position(dir / "replica.journal");
  if (!position.ok()) {
    // Killed before the first contact: allowed only while nothing was ever acknowledged.
    report.expect(max_acked_ == 0, "replica unreadable after acks: " + position.error().to_string());
    return;
  }
  const ReplicaPosition& p = *position;
  report.expect(p.seq >= previous_seq_, "replica position went back from " + std::to_string(previous_seq_) +
                                            " to " + std::to_string(p.seq));
  report.expect(p.seq >= max_acked_, "acknowledged batch up to " + std::to_string(max_acked_) +
                                         " lost; replica at " + std::to_string(p.seq));
  if (p.seq > previous_seq_) ++restarts_with_progress_;
  previous_seq_ = std::max(previous_seq_, p.seq);

  // Rows: exactly the owner's up to the position, in order, once each.
  auto replica = test::journal_as_ndjson(dir / "replica.journal");
  report.expect(replica.ok(), "replica not readable as a journal");
  if (!replica.ok()) return;
  const std::string& replica_lines = *replica;
  // The seq of the replica's last row (0 when it has none).
  std::int64_t after = 0;
  if (!replica_lines.empty()) {
    const std::size_t start = replica_lines.rfind('\n', replica_lines.size() - 2);
    auto last = decode_event_json(std::string_view(replica_lines).substr(start == std::string::npos ? 0 : start + 1));
    after = last.ok() ? last->seq : -1;
  }
  report.expect(after == p.seq, "replica rows end at " + std::to_string(after) + ", its position says " +
                                    std::to_string(p.seq));
  const std::string expected = owner_lines_through(p.seq);
  report.expect(replica_lines == expected, "replica rows differ from the owner's rows 1.." + std::to_string(p.seq));
  if (p.seq > 0 && static_cast<std::size_t>(p.seq) <= hashes_.size()) {
    report.expect(p.hash == hashes_[static_cast<std::size_t>(p.seq - 1)],
                  "replica hash at " + std::to_string(p.seq) + " is not the owner's");
  }
  for (const auto& [acked, h] : acked_hash) {
    if (acked == 0 || static_cast<std::size_t>(acked) > hashes_.size()) continue;
    report.expect(h == format_hash(hashes_[static_cast<std::size_t>(acked - 1)]),
                  "acknowledged hash at " + std::to_string(acked) + " is not the owner's");
  }
}

std::string FollowerScenario::summary() const {
  std::ostringstream out;
  out << "follower: replica at seq " << previous_seq_ << ", highest acknowledged " << max_acked_ << ", "
      << restarts_with_progress_ << " kills after progress";
  return out.str();
}

}  // namespace hugo::chaos

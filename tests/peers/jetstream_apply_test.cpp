// The stream follower's checks on hand-made messages, without a server: every mismatch is
// replication.diverged with the stream position in its metadata and writes nothing; the stream
// position commits in the transaction of the rows it covers.
#include "tests/peers/jetstream_support.hpp"

#include "peers/jetstream_follower_check.hpp"
#include "peers/replica.hpp"

#include <hugo/error_codes.hpp>

#include "schema/sqlite.hpp"

using namespace hugo;
using namespace hugo::test;

namespace {

constexpr auto kBusy = std::chrono::milliseconds(200);

struct Fixture {
  TempDir dir;
  std::filesystem::path owner = dir / "owner.journal";
  std::filesystem::path replica = dir / "replica.journal";
  std::vector<nats::StoredMessage> messages;
  Fixture(int events = 30) {
    auto journal = must(Journal::open(owner, fast_options()));
    append_workload(*journal, events);
    journal.reset();
    messages = stream_messages(owner);
  }
};

// Applies `messages` into `replica` in batches of `batch`; returns the first error.
Status apply_all(const std::filesystem::path& replica, const std::vector<nats::StoredMessage>& messages,
                 std::size_t batch = 8) {
  auto store = must(replica::Store::open(replica, kBusy));
  peers::StreamApplier applier(*store, "S", replica.string(), batch, {});
  for (const auto& m : messages) {
    if (Status s = applier.accept(m); !s.ok()) return s;
  }
  return applier.commit();
}

// The first `seq` lines of a journal's export.
std::string journal_ndjson_prefix(const std::filesystem::path& journal, std::int64_t seq) {
  const std::string text = journal_ndjson(journal);
  std::size_t end = 0;
  for (std::int64_t i = 0; i < seq; ++i) end = text.find('\n', end) + 1;
  return text.substr(0, end);
}

struct Stored {
  std::int64_t seq = 0;
  std::uint64_t stream_seq = 0;
  std::string ndjson;
};

Stored stored(const std::filesystem::path& replica) {
  auto point = must(read_stream_replica_position(replica));
  REQUIRE(point.has_value());
  CHECK(point->stream == "S");
  return Stored{point->seq, point->stream_seq, journal_ndjson(replica)};
}

void check_diverged(const Status& status, std::uint64_t stream_seq, const std::string& says) {
  REQUIRE_FALSE(status.ok());
  CHECK(status.error().code() == errc::replication_diverged);
  CHECK_MESSAGE(status.error().message().find(says) != std::string::npos, status.error().message());
  CHECK(status.error().metadata().at("stream") == "S");
  CHECK(status.error().metadata().at("stream_seq") == std::to_string(stream_seq));
  CHECK(status.error().metadata().count("expected") == 1);
}

}  // namespace

TEST_SUITE("jetstream") {

TEST_CASE("applied messages make the owner's journal, with the stream position committed with them") {
  Fixture f;
  REQUIRE(apply_all(f.replica, f.messages).ok());
  const Stored s = stored(f.replica);
  CHECK(s.seq == 30);
  CHECK(s.stream_seq == 30);
  CHECK(s.ndjson == journal_ndjson(f.owner));
  CHECK(must(read_replica_position(f.replica)).hash == journal_hash(f.owner));
  CHECK(must(read_replica_position(f.replica)).journal_id == journal_id_of(f.owner));
}

TEST_CASE("each damaged message is replication.diverged and writes nothing") {
  Fixture f;
  // The replica first holds the stream up to stream seq 10.
  REQUIRE(apply_all(f.replica, {f.messages.begin(), f.messages.begin() + 10}).ok());
  const Stored before = stored(f.replica);
  REQUIRE(before.seq == 10);

  struct Damage {
    const char* name;
    std::function<void(std::vector<nats::StoredMessage>&)> apply;
    std::uint64_t at;  // the stream seq of the refused message
    const char* says;
  };
  // The rolling hash after message `i` (index), from its header: to damage a message without
  // breaking its hash.
  const auto hash_after = [](const nats::StoredMessage& m) {
    return std::stoull(std::string(*m.header("Hugo-Hash")), nullptr, 16);
  };
  const auto rehash = [&](std::vector<nats::StoredMessage>& m, std::size_t i) {
    set_header(m[i], "Hugo-Hash", format_hash(chain_hash(hash_after(m[i - 1]), m[i].body)));
  };
  const std::vector<Damage> damages = {
      {"a stream seq gap (a message removed)", [](auto& m) { m.erase(m.begin() + 14); }, 16, "a gap"},
      {"a repeated stream seq", [](auto& m) { m[15].stream_seq = 15; }, 15, "a repeat"},
      {"a journal seq that jumps",
       [](auto& m) {
         m.erase(m.begin() + 14);
         for (std::size_t i = 14; i < m.size(); ++i) m[i].stream_seq = i + 1;
       },
       15, "Hugo-Seq '16' after seq 14 (a gap)"},
      {"a journal seq repeated",
       [](auto& m) {
         m[14] = m[13];
         m[14].stream_seq = 15;
       },
       15, "(a repeat)"},
      {"another journal id", [](auto& m) { set_header(m[12], "Hugo-Journal-Id", std::string(32, 'a')); }, 13,
       "a message of journal"},
      {"a hash that is not the history's", [](auto& m) { set_header(m[12], "Hugo-Hash", "0123456789abcdef"); }, 13,
       "Hugo-Hash '0123456789abcdef'"},
      {"a body that is another event (its hash matching)",
       [&](auto& m) {
         m[12].body = m[13].body;
         rehash(m, 12);
       },
       13, "the body is event 14"},
      {"a body that is not an event line",
       [&](auto& m) {
         m[12].body = R"({"seq":13})";
         rehash(m, 12);
       },
       13, "not an event line"},
      {"no epoch", [](auto& m) { set_header(m[11], "Hugo-Epoch", "x"); }, 12, "Hugo-Epoch"},
  };
  for (const auto& damage : damages) {
    const std::string name = damage.name;
    CAPTURE(name);
    auto messages = f.messages;
    damage.apply(messages);
    // Messages 11.. (the stream seqs after the replica's) in one batch, like one catch_up().
    std::vector<nats::StoredMessage> rest(messages.begin() + 10, messages.end());
    Status status = apply_all(f.replica, rest, 100);
    check_diverged(status, damage.at, damage.says);
    const Stored after = stored(f.replica);
    CHECK(after.seq == before.seq);
    CHECK(after.stream_seq == before.stream_seq);
    CHECK(after.ndjson == before.ndjson);
  }
  // The undamaged stream still applies.
  REQUIRE(apply_all(f.replica, {f.messages.begin() + 10, f.messages.end()}).ok());
  CHECK(stored(f.replica).ndjson == journal_ndjson(f.owner));
}

TEST_CASE("the stream position commits with its rows: a batch that fails leaves the previous one's") {
  Fixture f;
  auto store = must(replica::Store::open(f.replica, kBusy));
  std::vector<Stored> seen;  // what another connection reads after each commit
  peers::StreamApplier applier(*store, "S", f.replica.string(), 8, [&] { seen.push_back(stored(f.replica)); });
  for (std::size_t i = 0; i < 10; ++i) REQUIRE(applier.accept(f.messages[i]).ok());
  REQUIRE(applier.commit().ok());
  REQUIRE(seen.size() == 2);  // a full batch of 8, then 2
  for (const Stored& s : seen) {
    CHECK(s.stream_seq == static_cast<std::uint64_t>(s.seq));
    CHECK(s.ndjson == journal_ndjson_prefix(f.owner, s.seq));
  }

  {
    // Another connection holds the replica's write lock: the next batch cannot commit.
    auto blocker = must(sql::Db::open(f.replica, sql::OpenMode::ReadWrite, std::chrono::milliseconds(0)));
    must(blocker.exec("BEGIN IMMEDIATE"));
    Status refused = ok_status();
    for (std::size_t i = 10; i < f.messages.size() && refused.ok(); ++i) refused = applier.accept(f.messages[i]);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code() == errc::journal_busy);
    must(blocker.exec("ROLLBACK"));
  }
  const Stored after = stored(f.replica);
  CHECK(after.seq == 10);
  CHECK(after.stream_seq == 10);
  CHECK(after.ndjson == journal_ndjson_prefix(f.owner, 10));
  CHECK(store->position().seq == 10);

  // Reading again from the committed position applies the rest exactly once.
  applier.discard();
  REQUIRE(applier.next_stream_seq() == 11);
  for (std::size_t i = 10; i < f.messages.size(); ++i) REQUIRE(applier.accept(f.messages[i]).ok());
  REQUIRE(applier.commit().ok());
  CHECK(stored(f.replica).ndjson == journal_ndjson(f.owner));
  CHECK(stored(f.replica).stream_seq == 30);
}

TEST_CASE("a newer epoch is adopted where the replica's history leads to it, refused where it does not") {
  Fixture f;
  // A promoted replica went on in epoch 2 after seq 20 and publishes on into the stream.
  auto messages = f.messages;
  for (std::size_t i = 20; i < messages.size(); ++i) {
    set_header(messages[i], "Hugo-Epoch", "2");
    set_header(messages[i], "Hugo-Epoch-History", "1:0,2:20");
  }
  REQUIRE(apply_all(f.replica, {messages.begin(), messages.begin() + 10}).ok());
  REQUIRE(apply_all(f.replica, {messages.begin() + 10, messages.end()}, 4).ok());
  auto position = must(read_replica_position(f.replica));
  CHECK(position.epoch == 2);
  CHECK(position.epoch_history == "1:0,2:20");
  CHECK(stored(f.replica).ndjson == journal_ndjson(f.owner));

  // A replica that holds events past the seq where the new epoch began is another history.
  const auto other = f.dir / "other.journal";
  auto early = f.messages;
  for (std::size_t i = 10; i < early.size(); ++i) {
    set_header(early[i], "Hugo-Epoch", "2");
    set_header(early[i], "Hugo-Epoch-History", "1:0,2:5");
  }
  REQUIRE(apply_all(other, {early.begin(), early.begin() + 10}).ok());
  check_diverged(apply_all(other, {early.begin() + 10, early.end()}), 11, "epoch 2 began after seq 5");
  CHECK(stored(other).seq == 10);

  // After epoch 2, an epoch-1 message (the old owner writing on) is refused.
  auto stale = messages;
  set_header(stale[25], "Hugo-Epoch", "1");
  set_header(stale[25], "Hugo-Epoch-History", "1:0");
  const auto third = f.dir / "third.journal";
  REQUIRE(apply_all(third, {stale.begin(), stale.begin() + 25}).ok());
  check_diverged(apply_all(third, {stale.begin() + 25, stale.end()}), 26, "older than the replica's epoch 2");
  CHECK(stored(third).seq == 25);
}

TEST_CASE("a stream purged past the replica's next message, or ending before it, is diverged") {
  Fixture f;
  REQUIRE(apply_all(f.replica, {f.messages.begin(), f.messages.begin() + 10}).ok());
  auto store = must(replica::Store::open(f.replica, kBusy));
  peers::StreamApplier applier(*store, "S", f.replica.string(), 8, {});
  const auto state = [](std::uint64_t first, std::uint64_t last) {
    nats::StreamState s;
    s.name = "S";
    s.first_seq = first;
    s.last_seq = last;
    s.messages = last >= first ? last - first + 1 : 0;
    return s;
  };
  CHECK(applier.check_state(state(1, 30)).ok());
  CHECK(applier.check_state(state(11, 30)).ok());  // older messages removed: nothing the replica needs
  CHECK(applier.check_state(state(1, 10)).ok());   // nothing new
  CHECK(applier.check_state(state(11, 10)).ok());  // purged, but only of what the replica holds
  check_diverged(applier.check_state(state(12, 30)), 12, "the stream was purged");
  check_diverged(applier.check_state(state(31, 30)), 31, "the stream was purged");
  check_diverged(applier.check_state(state(1, 9)), 9, "the stream ends at stream seq 9");
}

TEST_CASE("a replica followed over HTTP, or of another stream, is refused before anything is read") {
  Fixture f;
  REQUIRE(apply_all(f.replica, {f.messages.begin(), f.messages.begin() + 5}).ok());
  auto store = must(replica::Store::open(f.replica, kBusy));
  Status other = peers::StreamApplier::check_replica(*store, "T", f.replica.string());
  REQUIRE_FALSE(other.ok());
  CHECK(other.error().code() == errc::validation);
  CHECK(other.error().metadata().at("replica_stream") == "S");
  CHECK(peers::StreamApplier::check_replica(*store, "S", f.replica.string()).ok());
  // Events applied without a stream position (as the HTTP follower does) drop the stream position.
  auto rest = must(decode_ndjson(journal_ndjson(f.owner)));
  rest.erase(rest.begin(), rest.begin() + 5);
  rest.resize(3);
  REQUIRE(store->apply(rest, chain_hash(store->position().hash, "x")).ok());
  CHECK_FALSE(must(read_stream_replica_position(f.replica)).has_value());
  Status http = peers::StreamApplier::check_replica(*store, "S", f.replica.string());
  REQUIRE_FALSE(http.ok());
  CHECK(http.error().code() == errc::validation);
  CHECK(http.error().message().find("followed over HTTP") != std::string::npos);
}

}  // TEST_SUITE

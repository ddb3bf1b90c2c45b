// The stream follower's checks on hand-made messages, without a server: every mismatch is
// replication.diverged with the stream position in its metadata and writes nothing; the stream
// position commits in the transaction of the rows it covers.
#include "tests/peers/jetstream_support.hpp"

#include "peers/jetstream_follower_check.hpp"
#include "peers/replica.hpp"

#include <hugo/error_codes.hpp>

#include "schema/sqlite.hpp"

namespace peers_jetstream_apply_test {

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

// Applies `messages` into `replica` through accept_run, `run` messages at a time (as the reader
// hands them over), committing after each run as the follower does; returns the first error.
Status apply_runs(const std::filesystem::path& replica, const std::vector<nats::StoredMessage>& messages,
                  std::size_t run, std::size_t batch = 4096) {
  auto store = must(replica::Store::open(replica, kBusy));
  peers::StreamApplier applier(*store, "S", replica.string(), batch, {});
  for (std::size_t at = 0; at < messages.size(); at += run) {
    std::vector<nats::StoredMessageView> views;
    for (std::size_t i = at; i < std::min(messages.size(), at + run); ++i) views.emplace_back(messages[i]);
    std::vector<const nats::MessageView*> pointers;
    for (const auto& view : views) pointers.push_back(&view);
    if (Status s = applier.accept_run(pointers); !s.ok()) return s;
    if (Status s = applier.commit(); !s.ok()) return s;
  }
  return ok_status();
}

// The rolling hash before message `i` (index), from the previous message's header.
std::uint64_t hash_before(const std::vector<nats::StoredMessage>& m, std::size_t i) {
  return std::stoull(std::string(*m[i - 1].header("Hugo-Hash")), nullptr, 16);
}

// Makes message `i` (index) the event another owner wrote at that seq: its own body, and its hash
// chained over that body; the messages after it keep this history's.
void by_another_owner(std::vector<nats::StoredMessage>& m, std::size_t i) {
  Event e = must(decode_event_json(m[i].body));
  e.owner_peer_id = "another-owner";
  m[i].body = encode_event_json(e);
  set_header(m[i], "Hugo-Hash", format_hash(chain_hash(hash_before(m, i), m[i].body)));
}

// Message `i` (index) with its hash chained over its body (to damage a body without breaking its
// own hash).
void rehash(std::vector<nats::StoredMessage>& m, std::size_t i) {
  set_header(m[i], "Hugo-Hash", format_hash(chain_hash(hash_before(m, i), m[i].body)));
}

using Apply = std::function<Status(const std::filesystem::path&, const std::vector<nats::StoredMessage>&)>;

struct Damage {
  const char* name;
  std::function<void(std::vector<nats::StoredMessage>&)> apply;
  std::uint64_t at;  // the stream seq of the refused message
  const char* says;
};

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

// A message removed from the stream, and an event missing from it.
std::vector<Damage> sequence_damages() {
  return {{"a stream seq gap (a message removed)", [](auto& m) { m.erase(m.begin() + 14); }, 16, "a gap"},
          {"a journal seq that jumps",
           [](auto& m) {
             m.erase(m.begin() + 14);
             for (std::size_t i = 14; i < m.size(); ++i) m[i].stream_seq = i + 1;
           },
           15, "Hugo-Seq '16' after seq 14 (a gap)"}};
}

// A replica at stream seq 10 of `f`'s stream, then each damage applied to a copy of the messages
// and messages 11.. given to `apply` at once: each is refused at its message, and the replica
// stays as it was; the undamaged messages then apply.
void check_damages(const Fixture& f, const std::vector<Damage>& damages, const Apply& apply) {
  REQUIRE(apply_all(f.replica, {f.messages.begin(), f.messages.begin() + 10}).ok());
  const Stored before = stored(f.replica);
  REQUIRE(before.seq == 10);
  for (const auto& damage : damages) {
    const std::string name = damage.name;
    CAPTURE(name);
    auto messages = f.messages;
    damage.apply(messages);
    check_diverged(apply(f.replica, {messages.begin() + 10, messages.end()}), damage.at, damage.says);
    const Stored after = stored(f.replica);
    CHECK(after.seq == before.seq);
    CHECK(after.stream_seq == before.stream_seq);
    CHECK(after.ndjson == before.ndjson);
  }
  REQUIRE(apply(f.replica, {f.messages.begin() + 10, f.messages.end()}).ok());
  CHECK(stored(f.replica).ndjson == journal_ndjson(f.owner));
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
  std::vector<Damage> damages = sequence_damages();
  damages.insert(damages.end(), {
      {"a repeated stream seq", [](auto& m) { m[15].stream_seq = 15; }, 15, "a repeat"},
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
  });
  // Messages 11.. (the stream seqs after the replica's) in one batch, like one catch_up().
  check_damages(f, damages, [](const auto& replica, const auto& m) { return apply_all(replica, m, 100); });
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
  const std::vector<std::pair<std::string, Apply>> modes = {
      {"message by message", [](const auto& replica, const auto& m) { return apply_all(replica, m, 4); }},
      {"in runs of 20", [](const auto& replica, const auto& m) { return apply_runs(replica, m, 20); }}};
  // Messages `from`.. (index) as the owner in epoch 2 with `history` published them.
  const auto in_epoch_2 = [](std::vector<nats::StoredMessage> m, std::size_t from, const std::string& history) {
    for (std::size_t i = from; i < m.size(); ++i) {
      set_header(m[i], "Hugo-Epoch", "2");
      set_header(m[i], "Hugo-Epoch-History", history);
    }
    return m;
  };
  for (const auto& [mode, apply] : modes) {
    CAPTURE(mode);
    Fixture f;
    // A promoted replica went on in epoch 2 after seq 20 and publishes on into the stream (in the
    // middle of a run).
    const auto messages = in_epoch_2(f.messages, 20, "1:0,2:20");
    REQUIRE(apply_all(f.replica, {messages.begin(), messages.begin() + 10}).ok());
    REQUIRE(apply(f.replica, {messages.begin() + 10, messages.end()}).ok());
    auto position = must(read_replica_position(f.replica));
    CHECK(position.epoch == 2);
    CHECK(position.epoch_history == "1:0,2:20");
    CHECK(stored(f.replica).ndjson == journal_ndjson(f.owner));

    // A replica that holds events past the seq where the new epoch began is another history.
    const auto other = f.dir / "other.journal";
    const auto early = in_epoch_2(f.messages, 10, "1:0,2:5");
    REQUIRE(apply_all(other, {early.begin(), early.begin() + 10}).ok());
    check_diverged(apply(other, {early.begin() + 10, early.end()}), 11, "epoch 2 began after seq 5");
    CHECK(stored(other).seq == 10);

    // After epoch 2, an epoch-1 message (the old owner writing on) is refused.
    auto stale = messages;
    by_another_owner(stale, 25);
    set_header(stale[25], "Hugo-Epoch", "1");
    set_header(stale[25], "Hugo-Epoch-History", "1:0");
    const auto third = f.dir / "third.journal";
    REQUIRE(apply_all(third, {stale.begin(), stale.begin() + 25}).ok());
    check_diverged(apply(third, {stale.begin() + 25, stale.end()}), 26, "older than the replica's epoch 2");
    CHECK(stored(third).seq == 25);
  }
}

TEST_CASE("a fresh replica starts where the stream of a compacted journal starts, at its first seq") {
  Fixture f;
  // The stream of a journal compacted up to seq 5: its messages begin at seq 6, their hashes
  // chained over what the journal held (docs/SCALE-OUT.md).
  std::vector<nats::StoredMessage> messages(f.messages.begin() + 5, f.messages.end());
  std::uint64_t hash = kEmptyHistoryHash;
  for (std::size_t i = 0; i < messages.size(); ++i) {
    messages[i].stream_seq = i + 1;
    hash = chain_hash(hash, messages[i].body);
    set_header(messages[i], "Hugo-Hash", format_hash(hash));
  }
  REQUIRE(apply_all(f.replica, messages).ok());
  CHECK(stored(f.replica).seq == 30);
  CHECK(stored(f.replica).stream_seq == 25);
  CHECK(must(must(JournalReader::open(f.replica))->info()).first_seq == 6);
  // Only a fresh replica at the stream's first message may start past seq 1.
  const auto other = f.dir / "other.journal";
  REQUIRE(apply_all(other, {messages.begin(), messages.begin() + 3}).ok());
  auto later = messages[3];
  set_header(later, "Hugo-Seq", "12");
  std::erase_if(later.headers, [](const auto& h) { return h.first == "Hugo-Prev-Seq"; });  // an undeclared skip
  check_diverged(apply_all(other, {later}), 4, "Hugo-Seq '12' after seq 8 (a gap)");
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

TEST_CASE("runs of messages apply as message by message does, whatever their length") {
  Fixture f(40);
  for (const std::size_t run : {1, 3, 8, 40}) {
    CAPTURE(run);
    const auto replica = f.dir / ("run-" + std::to_string(run) + ".journal");
    // A fresh replica's first run goes message by message (it adopts its owner); later ones whole.
    REQUIRE(apply_runs(replica, f.messages, run, 16).ok());
    const Stored s = stored(replica);
    CHECK(s.seq == 40);
    CHECK(s.stream_seq == 40);
    CHECK(s.ndjson == journal_ndjson(f.owner));
    CHECK(format_hash(must(read_replica_position(replica)).hash) == *f.messages.back().header("Hugo-Hash"));
  }
}

TEST_CASE("a run is refused at the message accept() refuses, and writes nothing of itself") {
  Fixture f;
  std::vector<Damage> damages = sequence_damages();
  damages.insert(damages.end(), {
      {"a body that is not an event line",
       [&](auto& m) {
         m[12].body = R"({"seq":13})";
         rehash(m, 12);
       },
       13, "not an event line"},
      {"another journal's body",
       [&](auto& m) {
         Event e = must(decode_event_json(m[12].body));
         e.journal_id = std::string(32, 'b');
         m[12].body = encode_event_json(e);
         rehash(m, 12);
       },
       13, "of journal bbbb"},
      {"another history from the first message of the run", [](auto& m) {
         std::vector<nats::StoredMessage> rest(m.begin() + 10, m.end());
         rehash_from(rest, 0xff);
         std::copy(rest.begin(), rest.end(), m.begin() + 10);
       },
       11, "is not the replica's history plus this event"},
      {"another owner's event in the middle (a stale epoch)",
       [&](auto& m) {
         by_another_owner(m, 15);
         set_header(m[15], "Hugo-Epoch", "0");
       },
       16, "Hugo-Epoch"},
      // The next message, of the history the replica does not have, is the one refused.
      {"another owner's event in the middle (the same epoch)", [&](auto& m) { by_another_owner(m, 15); }, 17,
       "is not the replica's history plus this event"},
      // The last message's headers vouch for the run: each is checked.
      {"the last message of another journal", [](auto& m) { set_header(m.back(), "Hugo-Journal-Id", std::string(32, 'a')); },
       30, "a message of journal"},
      {"the last message's seq header", [](auto& m) { set_header(m.back(), "Hugo-Seq", "31"); }, 30, "its headers say 31"},
      {"the last message's hash", [](auto& m) { set_header(m.back(), "Hugo-Hash", "0123456789abcdef"); }, 30,
       "Hugo-Hash '0123456789abcdef'"},
      {"the last message's epoch", [](auto& m) { set_header(m.back(), "Hugo-Epoch", "x"); }, 30, "Hugo-Epoch"},
      // An invalid event that its publisher chained on: only the event's own checks refuse it.
      {"an invalid event in the history",
       [](auto& m) {
         Event e = must(decode_event_json(m[12].body));
         e.attempt = 0;
         m[12].body = encode_event_json(e);
         std::vector<nats::StoredMessage> after(m.begin() + 12, m.end());
         rehash_from(after, hash_before(m, 12));
         std::copy(after.begin(), after.end(), m.begin() + 12);
       },
       13, "is invalid"},
  });
  check_damages(f, damages, [](const auto& replica, const auto& m) { return apply_runs(replica, m, m.size()); });
}

TEST_CASE("in a plain run only the last message's headers are read") {
  // Pins the documented trade (docs/SCALE-OUT.md, "Following a stream"): a header changed by hand
  // in the middle of a run whose bodies are the history, and whose last message vouches for it,
  // passes in a run; message by message it is refused.
  Fixture f;
  auto messages = f.messages;
  set_header(messages[15], "Hugo-Hash", "0123456789abcdef");
  const std::vector<nats::StoredMessage> first(messages.begin(), messages.begin() + 10);
  const std::vector<nats::StoredMessage> rest(messages.begin() + 10, messages.end());
  REQUIRE(apply_all(f.replica, first).ok());
  REQUIRE(apply_runs(f.replica, rest, rest.size()).ok());
  CHECK(stored(f.replica).ndjson == journal_ndjson(f.owner));
  const auto other = f.dir / "other.journal";
  REQUIRE(apply_all(other, first).ok());
  check_diverged(apply_all(other, rest), 16, "Hugo-Hash '0123456789abcdef'");
}

}  // TEST_SUITE

}  // namespace peers_jetstream_apply_test

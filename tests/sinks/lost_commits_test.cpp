// Sinks against a journal that lost its last commits (docs/REPLICATION.md, "When the journal lost
// commits"): a resume past the journal's end, or onto a seq the journal issued again for another
// event, is replication.checkpoint_ahead, and nothing of the journal's new events is applied.
#include <doctest/doctest.h>

#include <hugo/replication.hpp>
#include <hugo/sinks.hpp>

#include "tests/support/applied_log_sink.hpp"
#include "tests/support/lost_commits.hpp"

#include <stop_token>

namespace sinks_lost_commits_test {

using namespace hugo;
using test::must;

namespace {

SinkOptions options() {
  SinkOptions o;
  o.stream_id = "stream-1";
  o.clock = std::make_shared<ManualClock>();
  return o;
}

// Resumes `sink` on the journal and applies what follows, without waiting for more.
Status resume_and_apply(const std::filesystem::path& journal, ReplicationSink& sink) {
  HUGO_ASSIGN_OR_RETURN(auto source, TaskQueueReplicationSource::open(journal, 0));
  std::stop_source stopped;
  stopped.request_stop();
  HUGO_TRY(run_sink(*source, sink, stopped.get_token()));  // resumes, then stops at once
  while (true) {
    HUGO_ASSIGN_OR_RETURN(auto batch, source->next(64));
    if (batch.empty()) return sink.flush();
    HUGO_TRY(sink.process(batch));
  }
}

std::int64_t count(SinkDatabase& db, std::string_view sql) { return sql_int(must(db.query(sql))[0][0]); }

class RecordingSink final : public CheckpointingTaskQueueReplicationSink {
 public:
  using CheckpointingTaskQueueReplicationSink::CheckpointingTaskQueueReplicationSink;
  std::vector<std::int64_t> applied;

 protected:
  Status apply(const Event& e) override {
    applied.push_back(e.seq);
    return ok_status();
  }
};

}  // namespace

TEST_SUITE("sinks.lost_commits") {

TEST_CASE("a transactional sink ahead of the journal refuses to resume, behind and rewritten") {
  test::TempDir dir;
  test::LostCommits journal(dir / "j.journal");
  CHECK(journal.commit({"a", "b", "c"}, {"d", "e"}) == 5);
  {
    auto db = must(SinkDatabase::open(dir / "sink.db"));
    test::AppliedLogSink sink(db, options());
    must(resume_and_apply(journal.path(), sink));
    CHECK(count(*db, "SELECT count(*) FROM applied") == 5);
  }
  journal.lose_commits();

  auto db = must(SinkDatabase::open(dir / "sink.db"));
  {
    test::AppliedLogSink sink(db, options());
    test::check_ahead(resume_and_apply(journal.path(), sink), "behind", 5);
  }
  CHECK(journal.append("other", {"x", "y", "z"}) == 6);  // seqs 4..6 issued again
  {
    test::AppliedLogSink sink(db, options());
    Status resumed = resume_and_apply(journal.path(), sink);
    test::check_ahead(resumed, "rewritten", 5);
    CHECK(*resumed.error().find("journal_last_seq") == "6");
    CHECK(*resumed.error().find("consumer") == "stream-1");
  }
  CHECK(count(*db, "SELECT count(*) FROM applied") == 5);
  CHECK(count(*db, "SELECT max(seq) FROM applied") == 5);
}

TEST_CASE("a transactional sink resumes silently after a restart that lost nothing") {
  test::TempDir dir;
  test::LostCommits journal(dir / "j.journal");
  journal.append("q", {"a", "b", "c"});
  auto db = must(SinkDatabase::open(dir / "sink.db"));
  {
    test::AppliedLogSink sink(db, options());
    must(resume_and_apply(journal.path(), sink));
  }
  journal.append("q", {"d", "e"});
  test::AppliedLogSink sink(db, options());
  must(resume_and_apply(journal.path(), sink));
  CHECK(count(*db, "SELECT count(*) FROM applied") == 5);
  CHECK(must(sink.checkpoint(must(JournalReader::open(journal.path()))->journal_id())).last_fingerprint().has_value());
}

TEST_CASE("a checkpointing sink and its store detect a journal that went back") {
  test::TempDir dir;
  test::LostCommits journal(dir / "j.journal");
  journal.commit({"a", "b", "c"}, {"d", "e"});
  auto db = must(SinkDatabase::open(dir / "sink.db"));
  auto store = must(SqliteCheckpointStore::open(db));
  {
    RecordingSink sink(store, options());
    must(resume_and_apply(journal.path(), sink));
    CHECK(sink.applied == std::vector<std::int64_t>{1, 2, 3, 4, 5});
  }
  journal.lose_commits();
  {
    RecordingSink sink(store, options());
    test::check_ahead(resume_and_apply(journal.path(), sink), "behind", 5);
    CHECK(sink.applied.empty());
  }
  journal.append("other", {"x", "y"});
  RecordingSink sink(store, options());
  test::check_ahead(resume_and_apply(journal.path(), sink), "rewritten", 5);
  CHECK(sink.applied.empty());
}

TEST_CASE("the NDJSON sink detects a journal that went back") {
  test::TempDir dir;
  test::LostCommits journal(dir / "j.journal");
  journal.commit({"a", "b"}, {"c", "d"});
  auto db = must(SinkDatabase::open(dir / "sink.db"));
  {
    auto sink = must(NdjsonFileSink::open(dir / "out.ndjson", db, options()));
    must(resume_and_apply(journal.path(), *sink));
  }
  const auto size = std::filesystem::file_size(dir / "out.ndjson");
  journal.lose_commits();
  journal.append("other", {"x", "y", "z"});
  auto sink = must(NdjsonFileSink::open(dir / "out.ndjson", db, options()));
  test::check_ahead(resume_and_apply(journal.path(), *sink), "rewritten", 4);
  CHECK(std::filesystem::file_size(dir / "out.ndjson") == size);
}

TEST_CASE("a sink database from before fingerprints is migrated and checked for behind only") {
  test::TempDir dir;
  test::LostCommits journal(dir / "j.journal");
  journal.append("q", {"a", "b", "c"});
  const std::string journal_id = must(JournalReader::open(journal.path()))->journal_id();
  {
    auto db = must(SinkDatabase::open(dir / "sink.db"));
    // The tables as they were before the last_fingerprint column, with a checkpoint at seq 5.
    must(db->execute_script(R"sql(
      CREATE TABLE hugo_checkpoints (stream_id TEXT NOT NULL, journal_id TEXT NOT NULL,
        global_position INTEGER NOT NULL, updated_at INTEGER NOT NULL,
        PRIMARY KEY (stream_id, journal_id)) STRICT, WITHOUT ROWID;
      CREATE TABLE hugo_checkpoint_peers (stream_id TEXT NOT NULL, journal_id TEXT NOT NULL,
        peer TEXT NOT NULL COLLATE NOCASE, position INTEGER NOT NULL,
        PRIMARY KEY (stream_id, journal_id, peer)) STRICT, WITHOUT ROWID;
    )sql"));
    must(db->execute("INSERT INTO hugo_checkpoints VALUES ('stream-1', ?1, 5, 0)", {journal_id}));
    must(db->execute("INSERT INTO hugo_checkpoint_peers VALUES ('stream-1', ?1, 'default', 5)", {journal_id}));
    auto read_only = must(SqliteCheckpointStore::attach_existing(db));
    auto old = must(read_only->read("stream-1", journal_id));
    REQUIRE(old.has_value());
    CHECK(old->global_position() == 5);
    CHECK_FALSE(old->last_fingerprint().has_value());
  }
  auto db = must(SinkDatabase::open(dir / "sink.db"));
  test::AppliedLogSink sink(db, options());
  test::check_ahead(resume_and_apply(journal.path(), sink), "behind", 5);
  CHECK(count(*db, "SELECT count(*) FROM pragma_table_info('hugo_checkpoints') WHERE name = 'last_fingerprint'") == 1);
  journal.append("q", {"d", "e", "f"});
  must(resume_and_apply(journal.path(), sink));  // no fingerprint: seq 5 cannot be compared
  CHECK(count(*db, "SELECT count(*) FROM applied") == 1);  // seq 6 only
  CHECK(must(sink.checkpoint(journal_id)).last_fingerprint().has_value());
}

TEST_CASE("fingerprints: stable across sources, different for another event at the same seq") {
  test::TempDir dir;
  test::LostCommits journal(dir / "j.journal");
  journal.append("q", {"a", "b"});
  auto from_file = must(must(TaskQueueReplicationSource::open(journal.path(), 0))->next(10));
  auto reader = must(JournalReader::open(journal.path()));
  auto raw = must(reader->read(0, 10));
  REQUIRE(from_file.size() == 2);
  REQUIRE(raw.size() == 2);
  for (std::size_t i = 0; i < raw.size(); ++i) CHECK(event_fingerprint(from_file[i]) == event_fingerprint(raw[i]));
  Event other = raw[1];
  other.payload = "c";
  CHECK(event_fingerprint(other) != event_fingerprint(raw[1]));
  other = raw[1];
  other.owner_peer_id = "peer-z";  // filled in by sources, not part of the row's identity
  other.journal_id = "another";
  CHECK(event_fingerprint(other) == event_fingerprint(raw[1]));
}

}  // TEST_SUITE

}  // namespace sinks_lost_commits_test

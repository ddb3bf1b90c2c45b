// Every path that writes a payload or a name applies the same limits (docs/FORMAT.md, "Limits"):
// enqueue, restore, Journal::append and import refuse with error.validation and write nothing;
// a journal that already holds a payload past the depth limit reads, exports and verifies without
// a crash, and importing or following it is refused.
#include <doctest/doctest.h>

#include <hugo/error_codes.hpp>
#include <hugo/event_json.hpp>
#include <hugo/journal_admin.hpp>
#include <hugo/peers.hpp>
#include <hugo/task_queue.hpp>
#include <hugo/verify.hpp>

#include "tests/tools/sqlite_surgery.hpp"
#include "tests/support/events.hpp"
#include "tests/support/queue_fixture.hpp"

#include <string>

namespace core_boundaries_test {

using namespace hugo;
using namespace hugo::test;

namespace {

constexpr int kHostileDepth = 100'000;

std::string nested(int depth) {
  return std::string(static_cast<std::size_t>(depth), '[') + "7" + std::string(static_cast<std::size_t>(depth), ']');
}

Event json_enqueued(std::string payload) {
  Event e = enqueued("orders", std::move(payload));
  e.payload_format = PayloadFormat::Json;
  return e;
}

void check_validation(const Status& status, const std::string& mentions) {
  REQUIRE_FALSE(status.ok());
  CHECK(status.error().code() == errc::validation);
  CHECK_MESSAGE(status.error().message().find(mentions) != std::string::npos, status.error().message());
}

PendingItem pending(std::string payload, PayloadFormat format = PayloadFormat::Bytes) {
  PendingItem item;
  item.payload = std::move(payload);
  item.payload_format = format;
  return item;
}

template <class T>
Status status_of(const Result<T>& r) {
  return r.ok() ? ok_status() : Status(r.error());
}

}  // namespace

TEST_SUITE("codec.boundaries") {

TEST_CASE("a JSON payload nested 100,000 deep is refused by enqueue, restore and append, and nothing is written") {
  QueueFixture f;
  auto queue = f.open();
  const std::string depth = std::to_string(kMaxJsonDepth);
  check_validation(status_of(queue->enqueue(nested(kHostileDepth), Wait::none(), PayloadFormat::Json)), depth);
  check_validation(queue->restore({pending(nested(kHostileDepth), PayloadFormat::Json)}), depth);
  check_validation(status_of(f.journal->append(json_enqueued(nested(kHostileDepth)))), depth);
  check_validation(status_of(f.journal->append(json_enqueued(nested(kMaxJsonDepth + 1)))), depth);
  CHECK(f.events().empty());
  CHECK(queue->pending_count() == 0);
  // At the limit, it is accepted and comes back through export and import.
  const std::int64_t task = must(queue->enqueue(nested(kMaxJsonDepth), Wait::none(), PayloadFormat::Json));
  const auto stored = f.events();
  REQUIRE(stored.size() == 1);
  CHECK(stored[0].task_id == task);
  auto back = decode_event_json(encode_event_json(stored[0]));
  REQUIRE(back.ok());
  CHECK(*back->payload == nested(kMaxJsonDepth));
}

TEST_CASE("one payload cap on every path that writes a payload: enqueue, restore, append, import") {
  QueueFixture f;
  auto queue = f.open();
  const std::string over(kMaxPayloadBytes + 1, 'x');
  auto enqueued_over = queue->enqueue_batch({"small", over}, Wait::none());
  check_validation(status_of(enqueued_over), "MiB");
  CHECK(*enqueued_over.error().find("index") == "1");
  const Status restored_over = queue->restore({pending("small"), pending(over)});
  check_validation(restored_over, "MiB");
  REQUIRE(restored_over.error().find("index") != nullptr);
  CHECK(*restored_over.error().find("index") == "1");
  check_validation(status_of(f.journal->append(enqueued("orders", over))), "MiB");
  CHECK(f.events().empty());
  CHECK(queue->pending_count() == 0);
  auto importer = must(JournalImporter::create(f.dir / "imported.journal"));
  Event imported = enqueued("orders", over);
  imported.seq = 1;
  imported.task_id = 1;
  // An import names the line's event instead (codec.invalid: bad input, exit 3 in the CLI) and
  // keeps the payload's figures.
  const Status import_over = importer->add(imported);
  REQUIRE_FALSE(import_over.ok());
  CHECK(import_over.error().code() == errc::codec_invalid);
  CHECK(import_over.error().message().find("MiB") != std::string::npos);
  CHECK(import_over.error().find("bytes") != nullptr);
  // Exactly the cap is accepted.
  must(queue->restore({pending(std::string(kMaxPayloadBytes, 'y'))}));
  CHECK(queue->pending_count() == 1);
}

TEST_CASE("a NUL byte in a queue name, a peer id or an error metadata key is refused on append") {
  QueueFixture f;
  check_validation(status_of(f.journal->append(enqueued(std::string("ord\0ers", 7), "p"))), "NUL");
  const std::int64_t task = must(f.journal->append(enqueued("orders", "p")));
  check_validation(status_of(f.journal->append(lease_granted("orders", task, 1, std::string("w\0", 2)))), "NUL");
  Event failed = lease_granted("orders", task, 1, "w");
  const std::int64_t lease = must(f.journal->append(failed));
  failed.kind = EventKind::Failed;
  failed.owner_peer_id.reset();
  failed.lease_expiration.reset();
  failed.token = OwnershipToken{task, 1, lease};
  failed.error = Error("app.x", "boom").with(std::string("st\0age", 6), "1");
  check_validation(status_of(f.journal->append(failed)), "NUL");
  CHECK(f.events().size() == 2);
  auto opened = TaskQueue::open(f.journal, f.options(std::string("q\0", 2)));
  REQUIRE_FALSE(opened.ok());
  CHECK(opened.error().code() == errc::validation);
}

TEST_CASE("a journal already holding a 100,000-deep payload reads and verifies; import and a follower refuse it") {
  TempDir dir;
  const auto path = dir / "old.journal";
  {
    auto journal = must(Journal::open(path));
    must(journal->append(json_enqueued("[0]")));
    must(journal->append(enqueued("orders", "after")));
    must(journal->close());
  }
  // What an older build accepted: the payload nested far past the limit.
  const std::string n = std::to_string(kHostileDepth);
  cli::sql_surgery(path, "UPDATE events SET payload = CAST(replace(hex(zeroblob(" + n + ")), '00', '[') || '7' || "
                         "replace(hex(zeroblob(" + n + ")), '00', ']') AS BLOB) WHERE seq = 1");

  auto reader = must(JournalReader::open(path));
  auto rows = must(reader->read(0, 10));
  REQUIRE(rows.size() == 2);
  CHECK(*rows[0].payload == nested(kHostileDepth));
  // Export writes it as it is (no recursion); importing that line is codec.invalid naming the limit.
  const std::string line = encode_event_json(rows[0]);
  CHECK(line.find(nested(kHostileDepth)) != std::string::npos);
  auto imported = decode_event_json(line);
  REQUIRE_FALSE(imported.ok());
  CHECK(imported.error().code() == errc::codec_invalid);
  CHECK(*imported.error().find("max_depth") == std::to_string(kMaxJsonDepth));

  auto report = must(verify_journal(path));
  REQUIRE(report.violations.size() == 1);
  CHECK(report.violations[0].seq == 1);
  CHECK(report.violations[0].check == "payload");
  CHECK(report.violations[0].message.find(std::to_string(kMaxJsonDepth)) != std::string::npos);

  ReplicationServerOptions served;
  served.journal = path;
  served.port = 0;
  auto server = must(ReplicationServer::start(served));
  FollowerOptions o;
  o.url = server->url();
  o.replica = dir / "replica.journal";
  auto follower = must(HttpFollower::open(o));
  auto caught = follower->catch_up();
  REQUIRE_FALSE(caught.ok());
  CHECK(caught.error().code() == errc::replication_stream_malformed);
  CHECK(caught.error().message().find(std::to_string(kMaxJsonDepth)) != std::string::npos);
  CHECK(follower->position().seq == 0);
}

}  // TEST_SUITE

}  // namespace core_boundaries_test

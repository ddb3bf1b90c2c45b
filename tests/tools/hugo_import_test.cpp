// import and export of a Hugo-written stream: Hugo's random GUID lease ids and its own task ids go
// in and come back out (docs/MIGRATION.md, "Hugo lease ids", "Hugo task ids").
#include <doctest/doctest.h>

#include "tests/tools/cli_support.hpp"

#include <filesystem>
#include <string>
#include <vector>

namespace tools_hugo_import_test {

using namespace hugo::test::cli;
using hugo::test::TempDir;

namespace {

// Three events as a Hugo node writes them: an enqueue, a grant with a random lease GUID, and the
// completion under that GUID.
const char* const kHugoStream =
    R"({"sequenceNumber":1,"sourceEventId":1,"queueName":"orders","kind":0,"sourcePeerId":"node-a","ownerPeerId":null,"occurredAt":"2024-01-01T00:00:01+00:00","recordedAt":"2024-01-01T00:00:01+00:00","taskSequenceId":1,"attempt":1,"value":"aGk=","error":null,"ownershipToken":null,"leaseExpiration":null,"flags":0})"
    "\n"
    R"({"sequenceNumber":2,"sourceEventId":2,"queueName":"orders","kind":1,"sourcePeerId":"node-a","ownerPeerId":null,"occurredAt":"2024-01-01T00:00:02+00:00","recordedAt":"2024-01-01T00:00:02+00:00","taskSequenceId":1,"attempt":1,"value":null,"error":null,"ownershipToken":{"sequenceId":1,"attempt":1,"leaseId":"3f2504e0-4f89-41d3-9a0c-0305e82c3301"},"leaseExpiration":"2024-01-01T00:00:32+00:00","flags":0})"
    "\n"
    R"({"sequenceNumber":3,"sourceEventId":3,"queueName":"orders","kind":3,"sourcePeerId":"node-a","ownerPeerId":null,"occurredAt":"2024-01-01T00:00:03+00:00","recordedAt":"2024-01-01T00:00:03+00:00","taskSequenceId":1,"attempt":1,"value":null,"error":null,"ownershipToken":{"sequenceId":1,"attempt":1,"leaseId":"3f2504e0-4f89-41d3-9a0c-0305e82c3301"},"leaseExpiration":null,"flags":0})"
    "\n";

// A Hugo queue whose counter stood at 1000, as a node with no SourcePeerId writes it: 1001 and
// 1002 interleave; 1001 is kept alive, fails, is requeued, leased again and completes; 1002 fails
// for good and is dead-lettered.
const char* const kHugoTaskIds =
    R"({"sequenceNumber":1,"sourceEventId":1,"queueName":"orders","kind":0,"sourcePeerId":null,"ownerPeerId":"node-a","occurredAt":"2024-01-01T00:00:01+00:00","recordedAt":"2024-01-01T00:00:01+00:00","taskSequenceId":1001,"attempt":1,"value":"aGk=","error":null,"ownershipToken":null,"leaseExpiration":null,"flags":0})"
    "\n"
    R"({"sequenceNumber":2,"sourceEventId":2,"queueName":"orders","kind":0,"sourcePeerId":null,"ownerPeerId":"node-a","occurredAt":"2024-01-01T00:00:02+00:00","recordedAt":"2024-01-01T00:00:02+00:00","taskSequenceId":1002,"attempt":1,"value":"eW8=","error":null,"ownershipToken":null,"leaseExpiration":null,"flags":0})"
    "\n"
    R"({"sequenceNumber":3,"sourceEventId":3,"queueName":"orders","kind":1,"sourcePeerId":null,"ownerPeerId":"node-a","occurredAt":"2024-01-01T00:00:03+00:00","recordedAt":"2024-01-01T00:00:03+00:00","taskSequenceId":1001,"attempt":1,"value":null,"error":null,"ownershipToken":{"sequenceId":1001,"attempt":1,"leaseId":"3f2504e0-4f89-41d3-9a0c-0305e82c3301"},"leaseExpiration":"2024-01-01T00:00:33+00:00","flags":0})"
    "\n"
    R"({"sequenceNumber":4,"sourceEventId":4,"queueName":"orders","kind":2,"sourcePeerId":null,"ownerPeerId":"node-a","occurredAt":"2024-01-01T00:00:04+00:00","recordedAt":"2024-01-01T00:00:04+00:00","taskSequenceId":1001,"attempt":1,"value":null,"error":null,"ownershipToken":{"sequenceId":1001,"attempt":1,"leaseId":"3f2504e0-4f89-41d3-9a0c-0305e82c3301"},"leaseExpiration":"2024-01-01T00:00:34+00:00","flags":0})"
    "\n"
    R"({"sequenceNumber":5,"sourceEventId":5,"queueName":"orders","kind":1,"sourcePeerId":null,"ownerPeerId":"node-a","occurredAt":"2024-01-01T00:00:05+00:00","recordedAt":"2024-01-01T00:00:05+00:00","taskSequenceId":1002,"attempt":1,"value":null,"error":null,"ownershipToken":{"sequenceId":1002,"attempt":1,"leaseId":"9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d"},"leaseExpiration":"2024-01-01T00:00:35+00:00","flags":0})"
    "\n"
    R"({"sequenceNumber":6,"sourceEventId":6,"queueName":"orders","kind":4,"sourcePeerId":null,"ownerPeerId":"node-a","occurredAt":"2024-01-01T00:00:06+00:00","recordedAt":"2024-01-01T00:00:06+00:00","taskSequenceId":1001,"attempt":1,"value":null,"error":{"message":"timed out","code":"app.timeout"},"ownershipToken":{"sequenceId":1001,"attempt":1,"leaseId":"3f2504e0-4f89-41d3-9a0c-0305e82c3301"},"leaseExpiration":null,"flags":0})"
    "\n"
    R"({"sequenceNumber":7,"sourceEventId":7,"queueName":"orders","kind":5,"sourcePeerId":null,"ownerPeerId":"node-a","occurredAt":"2024-01-01T00:00:07+00:00","recordedAt":"2024-01-01T00:00:07+00:00","taskSequenceId":1001,"attempt":2,"value":null,"error":{"message":"timed out","code":"app.timeout"},"ownershipToken":{"sequenceId":1001,"attempt":1,"leaseId":"3f2504e0-4f89-41d3-9a0c-0305e82c3301"},"leaseExpiration":null,"flags":0})"
    "\n"
    R"({"sequenceNumber":8,"sourceEventId":8,"queueName":"orders","kind":4,"sourcePeerId":null,"ownerPeerId":"node-a","occurredAt":"2024-01-01T00:00:08+00:00","recordedAt":"2024-01-01T00:00:08+00:00","taskSequenceId":1002,"attempt":1,"value":null,"error":{"message":"poison message","code":"app.poison"},"ownershipToken":{"sequenceId":1002,"attempt":1,"leaseId":"9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d"},"leaseExpiration":null,"flags":0})"
    "\n"
    R"({"sequenceNumber":9,"sourceEventId":9,"queueName":"orders","kind":6,"sourcePeerId":null,"ownerPeerId":"node-a","occurredAt":"2024-01-01T00:00:09+00:00","recordedAt":"2024-01-01T00:00:09+00:00","taskSequenceId":1002,"attempt":1,"value":null,"error":{"message":"poison message","code":"app.poison"},"ownershipToken":{"sequenceId":1002,"attempt":1,"leaseId":"9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d"},"leaseExpiration":null,"flags":4})"
    "\n"
    R"({"sequenceNumber":10,"sourceEventId":10,"queueName":"orders","kind":1,"sourcePeerId":null,"ownerPeerId":"node-a","occurredAt":"2024-01-01T00:00:10+00:00","recordedAt":"2024-01-01T00:00:10+00:00","taskSequenceId":1001,"attempt":2,"value":null,"error":null,"ownershipToken":{"sequenceId":1001,"attempt":2,"leaseId":"c56a4180-65aa-42ec-a945-5fd21dec0538"},"leaseExpiration":"2024-01-01T00:00:40+00:00","flags":0})"
    "\n"
    R"({"sequenceNumber":11,"sourceEventId":11,"queueName":"orders","kind":3,"sourcePeerId":null,"ownerPeerId":"node-a","occurredAt":"2024-01-01T00:00:11+00:00","recordedAt":"2024-01-01T00:00:11+00:00","taskSequenceId":1001,"attempt":2,"value":null,"error":null,"ownershipToken":{"sequenceId":1001,"attempt":2,"leaseId":"c56a4180-65aa-42ec-a945-5fd21dec0538"},"leaseExpiration":null,"flags":0})"
    "\n";

// Imports `stream` into `dir`/hugo.journal and checks that the result verifies.
void import_verified(const TempDir& dir, const char* stream) {
  const Run imported = run_cli({"import", "hugo.journal"}, dir.path(), std::string(stream));
  CAPTURE(imported.err);
  REQUIRE(imported.code == 0);
  CHECK(run_cli({"verify", "hugo.journal"}, dir.path()).code == 0);
}

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

}  // namespace

TEST_SUITE("cli.write") {

TEST_CASE("a Hugo stream with GUID lease ids imports, verifies, and exports with the same GUIDs") {
  TempDir dir;
  import_verified(dir, kHugoStream);

  const Run exported = run_cli({"export", "hugo.journal"}, dir.path());
  REQUIRE(exported.code == 0);
  CHECK(count(exported.out, R"("leaseId":"3f2504e0-4f89-41d3-9a0c-0305e82c3301")") == 2);
  CHECK(count(exported.out, "00000000-0000-0000-0000-") == 0);

  // The export rebuilds the same journal, GUIDs included.
  const Run copy = run_cli({"import", "copy.journal"}, dir.path(), exported.out);
  REQUIRE(copy.code == 0);
  CHECK(run_cli({"export", "copy.journal"}, dir.path()).out == exported.out);
}

TEST_CASE("a Hugo stream with its own task ids imports, and export gives every line back") {
  TempDir dir;
  import_verified(dir, kHugoTaskIds);
  // In the journal, task 1001 is task 1 and 1002 is task 2 (the seqs of their Enqueued rows).
  const Run shown = run_cli({"show", "hugo.journal", "11"}, dir.path());
  REQUIRE(shown.code == 0);
  CHECK(shown.out.find("1001") == std::string::npos);

  const Run exported = run_cli({"export", "hugo.journal"}, dir.path());
  REQUIRE(exported.code == 0);
  const auto in = lines_of(kHugoTaskIds);
  const auto out = lines_of(exported.out);
  REQUIRE(out.size() == in.size());
  const auto id_at = out[0].find(R"(,"journalId":")");
  REQUIRE(id_at != std::string::npos);
  const std::string journal_id = out[0].substr(id_at, out[0].size() - 1 - id_at);
  for (std::size_t i = 0; i < in.size(); ++i) {
    CAPTURE(i);
    CHECK(out[i] == in[i].substr(0, in[i].size() - 1) + journal_id + "}");
  }
  // The export imports again and exports the same bytes.
  REQUIRE(run_cli({"import", "copy.journal"}, dir.path(), exported.out).code == 0);
  CHECK(run_cli({"export", "copy.journal"}, dir.path()).out == exported.out);
}

TEST_CASE("an event naming a Hugo task id the stream never enqueued is refused with its line") {
  TempDir dir;
  std::string stream = kHugoTaskIds;
  const std::string stray = lines_of(stream)[10];
  std::string bad = stray;
  bad.replace(bad.find(R"("taskSequenceId":1001)"), 21, R"("taskSequenceId":1005)");
  stream.replace(stream.find(stray), stray.size(), bad);
  const Run refused = run_cli({"import", "hugo.journal"}, dir.path(), stream);
  CHECK(refused.code == 3);
  CHECK(refused.err.find("codec.invalid: line 11: ") != std::string::npos);
  CHECK(refused.err.find("Hugo task id 1005 of queue 'orders' was never enqueued") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dir / "hugo.journal"));

  const Run skipped = run_cli({"import", "--skip-invalid", "hugo.journal"}, dir.path(), stream);
  CAPTURE(skipped.err);
  REQUIRE(skipped.code == 0);
  CHECK(skipped.err.find("skipped event 11 (Completed of task 1005)") != std::string::npos);
}

}  // TEST_SUITE

}  // namespace tools_hugo_import_test

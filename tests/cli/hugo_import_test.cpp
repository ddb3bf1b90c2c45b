// import and export of a Hugo-written stream: Hugo's random GUID lease ids go in and come back out
// (docs/MIGRATION.md, "Hugo lease ids").
#include <doctest/doctest.h>

#include "tests/cli/cli_support.hpp"

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

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

}  // namespace

TEST_SUITE("cli.write") {

TEST_CASE("a Hugo stream with GUID lease ids imports, verifies, and exports with the same GUIDs") {
  TempDir dir;
  const Run imported = run_cli({"import", "hugo.journal"}, dir.path(), std::string(kHugoStream));
  CAPTURE(imported.err);
  REQUIRE(imported.code == 0);
  CHECK(run_cli({"verify", "hugo.journal"}, dir.path()).code == 0);

  const Run exported = run_cli({"export", "hugo.journal"}, dir.path());
  REQUIRE(exported.code == 0);
  CHECK(count(exported.out, R"("leaseId":"3f2504e0-4f89-41d3-9a0c-0305e82c3301")") == 2);
  CHECK(count(exported.out, "00000000-0000-0000-0000-") == 0);

  // The export rebuilds the same journal, GUIDs included.
  const Run copy = run_cli({"import", "copy.journal"}, dir.path(), exported.out);
  REQUIRE(copy.code == 0);
  CHECK(run_cli({"export", "copy.journal"}, dir.path()).out == exported.out);
}

}  // TEST_SUITE

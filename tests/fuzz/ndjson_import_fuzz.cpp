// Fuzz target: NDJSON import, the path of `hugo-journal import NEWJOURNAL < NDJSON`.
//
// The input is NDJSON. It goes through decode_ndjson, and line by line (as the CLI reads stdin)
// through decode_event_json into a JournalImporter that writes a real journal file in a private
// temporary folder; the folder is emptied after every execution. Properties:
//  - every failure is a hugo::Error with a stable code, never a crash;
//  - decode_ndjson and the line-by-line decoder agree on the events;
//  - a finished import reads back, through JournalReader, exactly the events it was given
//    (with the importer's documented normalisation: sourceEventId = seq, recordedAt =
//    occurredAt, payloads only on the rows that start a task, a LeaseGranted row's own token).
// To keep executions cheap, the journal file is created only once a line has decoded.
#include <hugo/error_codes.hpp>
#include <hugo/event_json.hpp>
#include <hugo/journal.hpp>
#include <hugo/journal_admin.hpp>

#include "fuzz_check.hpp"
#include "tests/support/temp_dir.hpp"

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace {

// The events the CLI would hand to the importer: each non-blank line decoded, up to the first
// line that does not decode.
std::vector<hugo::Event> decode_lines(std::string_view text, bool& all_decoded) {
  std::vector<hugo::Event> events;
  all_decoded = true;
  while (!text.empty()) {
    const std::size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
    auto event = hugo::decode_event_json(line);
    if (!event.ok()) {
      all_decoded = false;
      break;
    }
    events.push_back(std::move(event).value());
  }
  return events;
}

// What the importer stores for `e` (see JournalImporter::add).
hugo::Event as_stored(hugo::Event e, const std::string& journal_id) {
  if (e.kind != hugo::EventKind::Enqueued && e.kind != hugo::EventKind::Restored) {
    e.payload.reset();
    e.payload_format = hugo::PayloadFormat::Bytes;
  }
  // A LeaseGranted row is the grant itself: without a token it reads back with its own.
  if (e.kind == hugo::EventKind::LeaseGranted && !e.token) e.token = hugo::OwnershipToken{e.task_id, e.attempt, e.seq};
  e.source_event_id = e.seq;
  e.recorded_at = e.occurred_at;
  e.source_peer_id.reset();
  e.journal_id = journal_id;
  return e;
}

void check_read_back(const std::filesystem::path& path, const std::vector<hugo::Event>& imported) {
  auto reader = hugo::JournalReader::open(path);
  FUZZ_CHECK(reader.ok(), "imported journal does not open: %s", reader.ok() ? "" : reader.error().to_string().c_str());
  auto rows = (*reader)->read(0, imported.size() + 1);
  FUZZ_CHECK(rows.ok(), "imported journal does not read: %s", rows.ok() ? "" : rows.error().to_string().c_str());
  FUZZ_CHECK(rows->size() == imported.size(), "imported %zu events, read back %zu", imported.size(), rows->size());
  // A foreign GUID lease id maps to the seq of the first row naming it (docs/MIGRATION.md).
  std::map<std::string, std::int64_t> guids;
  // A Hugo task id (an Enqueued's taskSequenceId other than its seq) maps, per queue, to the seq of
  // that Enqueued row (docs/MIGRATION.md, "Hugo task ids").
  std::map<std::pair<std::string, std::int64_t>, std::int64_t> tasks;
  for (std::size_t i = 0; i < imported.size(); ++i) {
    hugo::Event expected = as_stored(imported[i], (*reader)->journal_id());
    if (expected.kind == hugo::EventKind::Enqueued) {
      if (expected.task_id != expected.seq) tasks.emplace(std::pair(expected.queue, expected.task_id), expected.seq);
      if (expected.token) expected.token->task_id = expected.seq;
      expected.task_id = expected.seq;
    } else if (!expected.original_task_id) {
      if (auto it = tasks.find({expected.queue, expected.task_id}); it != tasks.end()) {
        if (expected.token && expected.token->task_id == expected.task_id) expected.token->task_id = it->second;
        expected.task_id = it->second;
      }
    }
    if (expected.lease_guid) {
      expected.token->lease_id = guids.emplace(*expected.lease_guid, expected.seq).first->second;
      expected.lease_guid.reset();
    }
    hugo::Event actual = (*rows)[i];
    actual.journal_id = (*reader)->journal_id();
    FUZZ_CHECK(actual == expected, "row %zu differs:\n  imported %s\n  read     %s", i,
               hugo::encode_event_json(expected).c_str(), hugo::encode_event_json(actual).c_str());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const hugo::test::TempDir dir;
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  bool all_decoded = false;
  const std::vector<hugo::Event> events = decode_lines(text, all_decoded);
  auto whole = hugo::decode_ndjson(text);
  FUZZ_CHECK(whole.ok() == all_decoded, "decode_ndjson says %s, the line decoder says %s",
             whole.ok() ? "ok" : whole.error().to_string().c_str(), all_decoded ? "ok" : "bad line");
  if (whole.ok()) FUZZ_CHECK(*whole == events, "decode_ndjson and the line decoder disagree on the events");
  if (events.empty()) return 0;

  const std::filesystem::path path = dir / "import.journal";
  bool finished_ok = false;
  {
    auto importer = hugo::JournalImporter::create(path);
    FUZZ_CHECK(importer.ok(), "cannot create the importer: %s", importer.ok() ? "" : importer.error().to_string().c_str());
    bool added_all = true;
    for (const hugo::Event& e : events) {
      hugo::Status added = (*importer)->add(e);
      if (!added.ok()) {
        FUZZ_CHECK(added.error().code() == hugo::errc::codec_invalid, "add failed with %s",
                   added.error().to_string().c_str());
        added_all = false;
        break;
      }
    }
    if (added_all && all_decoded) {
      auto finished = (*importer)->finish();
      FUZZ_CHECK(finished.ok(), "finish failed: %s", finished.ok() ? "" : finished.error().to_string().c_str());
      FUZZ_CHECK(*finished == static_cast<std::int64_t>(events.size()), "finish counted %lld of %zu events",
                 static_cast<long long>(*finished), events.size());
      finished_ok = true;
    }
  }
  if (finished_ok) check_read_back(path, events);
  std::error_code ec;
  for (const char* suffix : {"", "-wal", "-shm", "-lock", "-journal"}) {
    std::filesystem::remove(path.string() + suffix, ec);
  }
  return 0;
}

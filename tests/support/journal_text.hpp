// Test support: a journal's events as the NDJSON a ReplicationServer sends (one
// encode_event_json line per row, in seq order), for comparing journals and replicas.
#pragma once

#include <hugo/event_json.hpp>
#include <hugo/journal.hpp>

#include <filesystem>
#include <string>

namespace hugo::test {

inline Result<std::string> journal_as_ndjson(const std::filesystem::path& path) {
  HUGO_ASSIGN_OR_RETURN(auto reader, JournalReader::open(path));
  std::string out;
  std::int64_t after = 0;
  while (true) {
    HUGO_ASSIGN_OR_RETURN(auto events, reader->read(after, 8192));
    if (events.empty()) return out;
    out += encode_ndjson(events);
    after = events.back().seq;
  }
}

}  // namespace hugo::test

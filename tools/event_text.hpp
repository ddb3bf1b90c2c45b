// How events look in text output (tail, history, show): one row per event in a Table, and the
// payload as text.
#pragma once

#include "output.hpp"

#include <hugo/event.hpp>

#include <optional>
#include <string>
#include <vector>

namespace hugo::cli {

// Columns of an event row: seq, at, queue, kind, task, attempt, owner, lease, flags, error, payload.
std::vector<std::string> event_header();
std::vector<std::size_t> event_widths();  // for streaming tables
std::vector<std::string> event_cells(const Event& e);

// A payload as text: JSON payloads as their JSON; byte payloads as themselves when they are
// printable UTF-8, else "base64:" + their base64.
std::string payload_text(const std::optional<std::string>& payload, PayloadFormat format);
std::string base64_encode(std::string_view bytes);

// Writes `e` as one NDJSON line (hugo::encode_event_json) into `buffer`.
void append_event_json(const Event& e, std::string& buffer);

// Adds `e` to `output`: its NDJSON line, or its event_cells() row.
void event_row(Output& output, const Event& e);

}  // namespace hugo::cli

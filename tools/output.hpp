// The one way a verb prints its rows (docs/CLI.md, "Output"): with --json one JSON object per line
// (NDJSON), otherwise a Table (aligned on a terminal, tab-separated with a header line otherwise).
// Each row says what it is in both forms; only the form in use is computed.
#pragma once

#include "cli_json.hpp"
#include "cli_table.hpp"

#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace hugo::cli {

// Appends one JSON object, written key by key by `fields(JsonObject&)`, and a newline to `buffer`.
template <typename Fields>
void append_json_line(std::string& buffer, Fields&& fields) {
  JsonObject object(buffer);
  fields(object);
  object.close();
  buffer += '\n';
}

// Prints one JSON object (see append_json_line) as one line of stdout.
template <typename Fields>
void print_json_line(Fields&& fields) {
  std::string line;
  append_json_line(line, std::forward<Fields>(fields));
  out(line);
}

class Output {
 public:
  // NDJSON when `json`, else a buffered table with `header`, aligned to its widest cells.
  Output(bool json, std::vector<std::string> header);
  // As above, but a terminal gets a streaming table whose rows print at once, cut to
  // `terminal_widths` (a stream too long to align); tab-separated output is unchanged.
  Output(bool json, std::vector<std::string> header, std::vector<std::size_t> terminal_widths);
  Output(const Output&) = delete;
  Output& operator=(const Output&) = delete;

  bool json() const { return !table_; }

  // One row: `cells()` gives its table cells, `fields(JsonObject&)` writes its JSON object.
  template <typename Cells, typename Fields>
  void row(Cells&& cells, Fields&& fields) {
    if (table_) table_->row(cells());
    else append_json_line(buffer_, std::forward<Fields>(fields));
  }
  // A table row (table mode only: a verb whose two forms differ in shape checks json()).
  void cells(std::vector<std::string> cells) { table_->row(std::move(cells)); }
  // A JSON object of its own line (JSON mode only).
  template <typename Fields>
  void object(Fields&& fields) {
    append_json_line(buffer_, std::forward<Fields>(fields));
  }
  // One complete NDJSON line that `append(std::string&)` writes itself (JSON mode only).
  template <typename Append>
  void line(Append&& append) {
    append(buffer_);
  }

  void begin();   // prints the table's header now (a stream that may wait long for its first row)
  void flush();   // hands the JSON lines so far to stdout (table rows print as the table decides)
  void finish();  // prints the table (and its header if it has no rows), or the JSON lines

 private:
  std::unique_ptr<Table> table_;  // null for NDJSON; its destructor finishes it on early returns
  std::string buffer_;
};

}  // namespace hugo::cli

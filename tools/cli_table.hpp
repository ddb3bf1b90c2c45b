// Text output of rows: an aligned table for people (stdout is a terminal) or tab-separated values
// with one header line for scripts. Cells never contain a raw tab or newline: both formats escape
// them (\t, \n, \r, \\), so every row is exactly one line.
#pragma once

#include "cli_common.hpp"

#include <cstddef>
#include <string>
#include <vector>

namespace hugo::cli {

class Table {
 public:
  // `format` is Table or Tsv. A buffered table is printed by finish(), aligned to its widest
  // cells; a streaming table (for `tail`) prints each row at once, padded or cut to `widths`.
  Table(Format format, std::vector<std::string> header);
  Table(Format format, std::vector<std::string> header, std::vector<std::size_t> streaming_widths);
  ~Table();
  Table(const Table&) = delete;
  Table& operator=(const Table&) = delete;

  void begin();  // prints the header now (a stream that may wait long for its first row)
  void row(std::vector<std::string> cells);
  void finish();  // prints what is buffered (and the header if nothing was); idempotent

 private:
  void print_header_if_needed();
  void print_padded(const std::vector<std::string>& cells, const std::vector<std::size_t>& widths);

  Format format_;
  std::vector<std::string> header_;
  std::vector<std::size_t> widths_;
  bool streaming_ = false;
  bool header_printed_ = false;
  bool finished_ = false;
  std::vector<std::vector<std::string>> rows_;
};

// Escapes tabs, newlines, carriage returns and backslashes.
std::string escape_cell(std::string_view text);
// Display width of UTF-8 text (code points; every one counted as one column).
std::size_t display_width(std::string_view text);

}  // namespace hugo::cli

#include "cli_table.hpp"

#include <algorithm>

namespace hugo::cli {
namespace {

// Longest cell a terminal table shows before cutting it with "..."; the last column is never cut.
constexpr std::size_t kMaxTtyCell = 48;

std::string cut(const std::string& cell, std::size_t max) {
  if (display_width(cell) <= max) return cell;
  std::string out;
  std::size_t width = 0;
  for (const char ch : cell) {
    const bool starts_code_point = (static_cast<unsigned char>(ch) & 0xC0) != 0x80;
    if (starts_code_point && ++width > max - 3) break;
    out += ch;
  }
  return out + "...";
}

}  // namespace

std::string escape_cell(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '\t': out += "\\t"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\\': out += "\\\\"; break;
      default: out += c;
    }
  }
  return out;
}

std::size_t display_width(std::string_view text) {
  std::size_t width = 0;
  for (const char c : text) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++width;
  }
  return width;
}

Table::Table(Format format, std::vector<std::string> header) : format_(format), header_(std::move(header)) {}

Table::Table(Format format, std::vector<std::string> header, std::vector<std::size_t> streaming_widths)
    : format_(format), header_(std::move(header)), widths_(std::move(streaming_widths)), streaming_(true) {
  widths_.resize(header_.size(), 0);
  for (std::size_t i = 0; i < header_.size(); ++i) widths_[i] = std::max(widths_[i], display_width(header_[i]));
}

Table::~Table() { finish(); }

void Table::print_padded(const std::vector<std::string>& cells, const std::vector<std::size_t>& widths) {
  std::string line;
  for (std::size_t i = 0; i < cells.size(); ++i) {
    const bool last = i + 1 == cells.size();
    // A buffered table's widths fit its cells (up to kMaxTtyCell); a streaming one's are fixed.
    std::string cell = last ? cells[i] : cut(cells[i], streaming_ ? std::max<std::size_t>(widths[i], 4) : kMaxTtyCell);
    line += cell;
    if (!last) line.append(widths[i] > display_width(cell) ? widths[i] - display_width(cell) + 2 : 2, ' ');
  }
  while (!line.empty() && line.back() == ' ') line.pop_back();
  out_line(line);
}

void Table::print_header_if_needed() {
  if (header_printed_) return;
  header_printed_ = true;
  if (format_ == Format::Tsv) {
    std::string line;
    for (std::size_t i = 0; i < header_.size(); ++i) line += (i ? "\t" : "") + header_[i];
    out_line(line);
  } else if (streaming_) {
    print_padded(header_, widths_);
  }
}

void Table::begin() {
  if (format_ == Format::Tsv || streaming_) print_header_if_needed();
}

void Table::row(std::vector<std::string> cells) {
  cells.resize(header_.size());
  for (auto& cell : cells) cell = escape_cell(cell);
  if (format_ == Format::Tsv) {
    print_header_if_needed();
    std::string line;
    for (std::size_t i = 0; i < cells.size(); ++i) line += (i ? "\t" : "") + cells[i];
    out_line(line);
  } else if (streaming_) {
    print_header_if_needed();
    print_padded(cells, widths_);
  } else {
    rows_.push_back(std::move(cells));
  }
}

void Table::finish() {
  if (finished_) return;
  finished_ = true;
  if (format_ == Format::Tsv || streaming_) {
    print_header_if_needed();
    return;
  }
  std::vector<std::size_t> widths(header_.size(), 0);
  for (std::size_t i = 0; i < header_.size(); ++i) widths[i] = display_width(header_[i]);
  for (const auto& r : rows_) {
    for (std::size_t i = 0; i + 1 < r.size(); ++i) widths[i] = std::max(widths[i], std::min(display_width(r[i]), kMaxTtyCell));
  }
  print_padded(header_, widths);
  for (const auto& r : rows_) print_padded(r, widths);
  rows_.clear();
}

}  // namespace hugo::cli

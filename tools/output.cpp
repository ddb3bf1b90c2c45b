#include "output.hpp"

namespace hugo::cli {

Output::Output(bool json, std::vector<std::string> header) {
  if (!json) table_ = std::make_unique<Table>(pick_format(false), std::move(header));
}

Output::Output(bool json, std::vector<std::string> header, std::vector<std::size_t> terminal_widths) {
  if (json) return;
  const Format format = pick_format(false);
  table_ = format == Format::Table ? std::make_unique<Table>(format, std::move(header), std::move(terminal_widths))
                                   : std::make_unique<Table>(format, std::move(header));
}

void Output::begin() {
  if (table_) table_->begin();
}

void Output::flush() {
  out(buffer_);
  buffer_.clear();
}

void Output::finish() {
  if (table_) table_->finish();
  flush();
}

}  // namespace hugo::cli

#include <hugo/error.hpp>

#include <algorithm>
#include <cctype>

namespace hugo {

bool CaseInsensitiveLess::operator()(std::string_view a, std::string_view b) const noexcept {
  return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) < std::tolower(static_cast<unsigned char>(y));
  });
}

Error::Error(std::string code, std::string message, ErrorMetadata metadata)
    : code_(std::move(code)), message_(std::move(message)), metadata_(std::move(metadata)) {}

const std::string* Error::find(std::string_view key) const {
  auto it = metadata_.find(key);
  return it == metadata_.end() ? nullptr : &it->second;
}

Error& Error::with(std::string key, std::string value) & {
  metadata_.insert_or_assign(std::move(key), std::move(value));
  return *this;
}

Error&& Error::with(std::string key, std::string value) && {
  metadata_.insert_or_assign(std::move(key), std::move(value));
  return std::move(*this);
}

Error& Error::with_cause(ErrorCause cause) & {
  cause_ = std::move(cause);
  return *this;
}

Error&& Error::with_cause(ErrorCause cause) && {
  cause_ = std::move(cause);
  return std::move(*this);
}

std::string Error::to_string() const {
  std::string out = code_.empty() ? std::string("error") : code_;
  out += ": ";
  out += message_;
  if (!metadata_.empty()) {
    out += " [";
    bool first = true;
    for (const auto& [key, value] : metadata_) {
      if (!first) out += ", ";
      first = false;
      out += key;
      out += '=';
      out += value;
    }
    out += ']';
  }
  return out;
}

}  // namespace hugo

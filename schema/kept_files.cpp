#include "schema/kept_files.hpp"

#include <cerrno>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace hugo::kept_files {
namespace {

using FileKey = std::pair<dev_t, ino_t>;

struct Registry {
  std::mutex mutex;
  std::map<FileKey, int> by_file;
};

Registry& registry() {
  static Registry* instance = new Registry();  // never destroyed: descriptors outlive static teardown
  return *instance;
}

}  // namespace

int open_for_read(const std::filesystem::path& path) {
  struct stat named {};
  if (::stat(path.c_str(), &named) != 0) return -1;
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  if (auto it = r.by_file.find({named.st_dev, named.st_ino}); it != r.by_file.end()) return it->second;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  struct stat opened {};
  if (::fstat(fd, &opened) != 0) opened = named;
  // The path may name another file by now; a second descriptor of a file already kept stays open
  // too (closing it would drop the locks), it is just not the one handed out.
  return r.by_file.emplace(FileKey{opened.st_dev, opened.st_ino}, fd).first->second;
}

}  // namespace hugo::kept_files

// NdjsonFileSink: exactly-once NDJSON export of the event stream.
//
// Protocol per batch: append the lines, fsync the file, then commit (checkpoint, file size) in
// one transaction of the sink database. On open, the file is truncated to the committed size, so
// lines written by a batch whose commit never happened are dropped and delivered again.
#include <hugo/error_codes.hpp>
#include <hugo/event_json.hpp>
#include <hugo/sinks.hpp>

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace hugo {
namespace {

Error file_error(const std::filesystem::path& file, const char* what) {
  const int err = errno;
  return Error(std::string(err == ENOSPC ? errc::journal_full : errc::journal_io),
               std::string(what) + " " + file.string() + ": " + std::strerror(err))
      .with("path", file.string());
}

}  // namespace

Result<std::unique_ptr<NdjsonFileSink>> NdjsonFileSink::open(const std::filesystem::path& file,
                                                             std::shared_ptr<SinkDatabase> db, SinkOptions options) {
  if (!db) return Error::validation("the sink database is null");
  if (options.stream_id.empty()) options.stream_id = "ndjson:" + file.filename().string();
  if (!options.clock) options.clock = SystemClock::shared();
  std::unique_ptr<NdjsonFileSink> sink(new NdjsonFileSink());
  sink->file_ = file;
  sink->db_ = db;
  sink->options_ = options;
  HUGO_ASSIGN_OR_RETURN(sink->store_, SqliteCheckpointStore::open(db));
  HUGO_TRY(db->execute_script(
      "CREATE TABLE IF NOT EXISTS hugo_ndjson_files (stream_id TEXT PRIMARY KEY, size INTEGER NOT NULL) STRICT;"));
  HUGO_ASSIGN_OR_RETURN(auto rows, db->query("SELECT size FROM hugo_ndjson_files WHERE stream_id = ?1", {options.stream_id}));
  const std::int64_t committed = rows.empty() ? 0 : sql_int(rows[0][0]);
  sink->fd_ = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (sink->fd_ < 0) return file_error(file, "cannot open");
  struct stat st {};
  if (::fstat(sink->fd_, &st) != 0) return file_error(file, "cannot stat");
  if (st.st_size < committed) {
    return Error::journal_corrupt("NDJSON sink file " + file.string() + " is shorter than its checkpoint says (" +
                     std::to_string(st.st_size) + " < " + std::to_string(committed) +
                     " bytes); it was truncated or replaced: reset the sink's checkpoint to rebuild it")
        .with("path", file.string());
  }
  if (st.st_size > committed && ::ftruncate(sink->fd_, committed) != 0) return file_error(file, "cannot truncate");
  if (::lseek(sink->fd_, committed, SEEK_SET) < 0) return file_error(file, "cannot seek");
  return sink;
}

NdjsonFileSink::~NdjsonFileSink() {
  if (fd_ >= 0) ::close(fd_);
}

Result<std::int64_t> NdjsonFileSink::resume_position(const std::string& journal_id) {
  HUGO_ASSIGN_OR_RETURN(auto stored, store_->read(options_.stream_id, journal_id));
  return stored ? stored->global_position() : 0;
}

Result<ReplicationAnchor> NdjsonFileSink::resume_anchor(const std::string& journal_id) {
  HUGO_ASSIGN_OR_RETURN(auto stored, store_->read(options_.stream_id, journal_id));
  return stored ? stored->anchor() : ReplicationAnchor{options_.stream_id, 0, std::nullopt};
}

Status NdjsonFileSink::process(const std::vector<Event>& batch) {
  std::map<std::string, TaskQueueReplicationCheckpoint> touched;
  std::string lines;
  for (const Event& e : batch) {
    const std::string journal_id = e.journal_id.value_or(std::string());
    auto it = touched.find(journal_id);
    if (it == touched.end()) {
      HUGO_ASSIGN_OR_RETURN(auto stored, store_->read(options_.stream_id, journal_id));
      it = touched.emplace(journal_id, stored ? *stored : TaskQueueReplicationCheckpoint::empty(options_.stream_id, journal_id))
               .first;
    }
    if (!it->second.should_process(std::string(kDefaultPeerKey), e.seq)) continue;
    encode_event_json(e, lines);
    lines += '\n';
    it->second = it->second.advance(std::string(kDefaultPeerKey), e, options_.clock->now());
  }
  if (lines.empty()) return ok_status();
  const off_t start = ::lseek(fd_, 0, SEEK_CUR);
  if (start < 0) return file_error(file_, "cannot seek in");
  Status appended = append(lines, touched, start);
  if (!appended.ok()) {
    // Cut the batch's lines back off, as a reopen would: the checkpoint did not move, so the
    // batch comes again and must not find its first attempt in the file.
    if (::ftruncate(fd_, start) != 0 || ::lseek(fd_, start, SEEK_SET) < 0) {
      return file_error(file_, "cannot undo a failed append to");
    }
  }
  return appended;
}

Status NdjsonFileSink::append(const std::string& lines,
                              const std::map<std::string, TaskQueueReplicationCheckpoint>& touched,
                              std::int64_t start) {
  for (std::size_t written = 0; written < lines.size();) {
    const ssize_t n = ::write(fd_, lines.data() + written, lines.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      return file_error(file_, "cannot append to");
    }
    written += static_cast<std::size_t>(n);
  }
  if (::fsync(fd_) != 0) return file_error(file_, "cannot fsync");
  const std::int64_t size = start + static_cast<std::int64_t>(lines.size());
  return db_->transaction([&]() -> Status {
    for (const auto& [journal_id, cp] : touched) HUGO_TRY(store_->persist(cp));
    return db_->execute(
        "INSERT INTO hugo_ndjson_files (stream_id, size) VALUES (?1, ?2) "
        "ON CONFLICT (stream_id) DO UPDATE SET size = excluded.size",
        {options_.stream_id, static_cast<std::int64_t>(size)});
  });
}

}  // namespace hugo

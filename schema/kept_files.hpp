// Read-only descriptors of a journal's files (the database and its -shm) that the process keeps
// open instead of closing them after a probe.
//
// Why: POSIX drops every fcntl lock a process holds on a file when the process closes ANY
// descriptor of that file. SQLite's locks are fcntl locks: a WAL connection holds a shared lock on
// its -shm for as long as it is open, which tells other processes that the index is in use. A
// probe that opened and closed the journal or its -shm in a process whose connections hold such
// locks (a writer with a reader beside it, a server in the writer's process, a second reader)
// silently released them: another process could then take the -shm for unused and reset it under
// the writer's mapping (SIGBUS in the writer), or the writer's close could delete it under a
// reader (journal.shm_missing). SQLite's own VFS avoids this by deferring the close of its
// descriptors while locks are held; these descriptors are simply never closed.
//
// Cost: one descriptor per distinct file (device and inode) probed in the process's life; a
// -shm is a new file each time the last connection of a journal closes.
#pragma once

#include <filesystem>

namespace hugo::kept_files {

// A descriptor open for reading on the file `path` names now, shared by every caller in the
// process and never closed: read it with pread(), never close it. -1 with errno set if the file
// cannot be opened. Thread-safe.
int open_for_read(const std::filesystem::path& path);

}  // namespace hugo::kept_files

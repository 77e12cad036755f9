// Whole-file reads and crash-safe whole-file writes, for run-folder artifacts (results.json, report.html,
// checkpoint metadata). A reader of `path` sees either the old contents or the new ones, never a prefix.
#pragma once
#include <string>
#include <string_view>

namespace xfmr::io {

// Writes `data` to `path` atomically: the bytes go to a fresh temporary file in the same directory (so the
// final rename stays within one filesystem), which is fsync'ed, closed and renamed over `path`; the directory
// is then fsync'ed so the rename itself survives a power cut. The new file's mode is 0666 minus the umask. On
// any failure the temporary file is removed, `path` is left as it was, and an xfmr::Error naming `path` and
// the reason is thrown.
void write_file_atomic(const std::string& path, std::string_view data);

// Returns the whole contents of `path`. Throws xfmr::Error naming `path` and the reason (missing, a
// directory, unreadable) on failure.
std::string read_file(const std::string& path);

}  // namespace xfmr::io

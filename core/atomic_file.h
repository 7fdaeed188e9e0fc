// Atomic file writes: the bytes go to a temporary file in the same directory, are flushed to disk,
// then renamed over the destination. A killed process leaves either the old file or the new one,
// never half of one. Reads are bounded: a file is never read past a size limit (by default the
// memory available), whatever its header or its name says.
//
//   fsr::write_file_atomic("out/result.json", json.dump(2) + "\n");
//   std::string bytes = fsr::read_file("out/result.json");
//   fsr::ensure_output_directory("runs/a", "--out");   // exit 2 for /dev/null, a dangling link
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace fsr {

// Creates missing parent directories. Throws std::runtime_error naming the path on I/O failure.
void write_file_atomic(const std::filesystem::path& path, std::string_view bytes);

// Removes what killed writers left in `dir`: files ".<name>.tmp.<pid>.<n>" (write_file_atomic's
// temporaries) and, with `stem`, directories "<stem>.tmp-<pid>-<n>" (a target built beside its
// final place). Only entries whose writer is no longer running on this machine are removed, so a
// concurrent writer keeps its temporary. Missing dir: nothing to do.
void remove_stale_temporaries(const std::filesystem::path& dir, std::string_view stem = {});

// Whole file as bytes, at most `max_bytes` (0: the memory available, core/memory_budget.h).
// Throws fsr::InputError naming the path when it cannot be read, is a directory or is larger.
std::string read_file(const std::filesystem::path& path, std::uintmax_t max_bytes = 0);

// A directory given for output (`field` names the flag): refused with InputError when it is a
// dangling symbolic link, exists and is not a directory, or is not writable. check_ writes
// nothing; ensure_ also creates it (and its parents) and refuses when that fails.
void check_output_directory(const std::filesystem::path& dir, std::string_view field);
void ensure_output_directory(const std::filesystem::path& dir, std::string_view field);

}  // namespace fsr

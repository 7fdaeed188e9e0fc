// Atomic file writes: the bytes go to a temporary file in the same directory, are flushed to disk,
// then renamed over the destination. A killed process leaves either the old file or the new one,
// never half of one.
//
//   fsr::write_file_atomic("out/result.json", json.dump(2) + "\n");
//   std::string bytes = fsr::read_file("out/result.json");
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace fsr {

// Creates missing parent directories. Throws std::runtime_error naming the path on I/O failure.
void write_file_atomic(const std::filesystem::path& path, std::string_view bytes);

// Removes the temporaries that killed writers left in `dir` (".<name>.tmp.<pid>.<n>", the names
// write_file_atomic uses); for resuming runs. Missing dir: nothing to do.
void remove_stale_temporaries(const std::filesystem::path& dir);

// Whole file as bytes. Throws fsr::InputError naming the path when it cannot be read.
std::string read_file(const std::filesystem::path& path);

}  // namespace fsr

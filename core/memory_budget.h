// Sizes checked against the memory the machine has free before anything is allocated, so that an
// absurd size from the input (data.train_samples = 1e9, an .npy header declaring 2^32 x 2^32) is
// one line naming the field, not std::bad_alloc after minutes of swapping.
//
//   fsr::require_memory("data.train_samples", n, 8.0 * n * dims, "the training set");
//   // "data.train_samples = 1000000000: the training set would take 98 GB; 19 GB are available"
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace fsr {

// Bytes this process may still allocate: MemAvailable of /proc/meminfo, lowered to the cgroup's
// memory.max - memory.current when that is set. FSR_MEMORY_LIMIT (bytes) overrides it, for tests
// and for machines shared with other jobs.
std::uint64_t available_memory_bytes();

// InputError "<field> = <value>: <what> would take X GB; Y GB are available" when `bytes` exceeds
// available_memory_bytes(). `bytes` is a double so that an overflowing product still compares.
void require_memory(std::string_view field, std::string_view value, double bytes,
                    std::string_view what);

// a * b, or false when it leaves [0, 2^63) (a, b >= 0).
bool checked_multiply(std::int64_t a, std::int64_t b, std::int64_t& product);

}  // namespace fsr

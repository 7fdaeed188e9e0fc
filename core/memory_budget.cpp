#include "core/memory_budget.h"

#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "core/validate.h"

namespace fsr {
namespace {

// First unsigned number in a small text file, or false ("max" in memory.max is no number).
bool read_number(const char* path, std::uint64_t& value) {
  std::ifstream in(path);
  std::string text;
  if (!(in >> text)) return false;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc() && end == text.data() + text.size();
}

std::uint64_t meminfo_available() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  std::uint64_t kib = 0;
  std::string unit;
  while (in >> key >> kib >> unit) {
    if (key == "MemAvailable:") return kib * 1024;
  }
  const long pages = ::sysconf(_SC_AVPHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? std::uint64_t(pages) * std::uint64_t(page) : UINT64_MAX;
}

std::string gigabytes(double bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g GB", bytes / 1e9);
  return buf;
}

}  // namespace

std::uint64_t available_memory_bytes() {
  if (const char* env = std::getenv("FSR_MEMORY_LIMIT"); env && *env) {
    std::uint64_t v = 0;
    const auto [end, ec] = std::from_chars(env, env + std::char_traits<char>::length(env), v);
    if (ec != std::errc() || *end != '\0') {
      fail_field("FSR_MEMORY_LIMIT", env, "must be a number of bytes");
    }
    return v;
  }
  std::uint64_t available = meminfo_available();
  std::uint64_t max = 0, current = 0;
  if (read_number("/sys/fs/cgroup/memory.max", max) &&
      read_number("/sys/fs/cgroup/memory.current", current)) {
    available = std::min(available, max > current ? max - current : 0);
  }
  return available;
}

void require_memory(std::string_view field, std::string_view value, double bytes,
                    std::string_view what) {
  const auto available = static_cast<double>(available_memory_bytes());
  if (!(bytes <= available)) {
    fail_field(field, value,
               std::string(what) + " would take " + gigabytes(bytes) + "; " + gigabytes(available) +
                   " of memory are available");
  }
}

bool checked_multiply(std::int64_t a, std::int64_t b, std::int64_t& product) {
  return !__builtin_mul_overflow(a, b, &product) && product >= 0;
}

}  // namespace fsr

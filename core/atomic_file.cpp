#include "core/atomic_file.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <stdexcept>

#include "core/memory_budget.h"
#include "core/validate.h"

namespace fsr {
namespace fs = std::filesystem;

namespace {

[[noreturn]] void io_failure(const std::string& what, const fs::path& path) {
  throw std::runtime_error(what + " " + path.string() + ": " + std::strerror(errno));
}

// Whether `digits` names a process that no longer runs here (ESRCH); a live or unknown one is
// kept.
bool writer_is_gone(std::string_view digits) {
  int pid = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), pid);
  if (ec != std::errc() || end != digits.data() + digits.size() || pid <= 0) return false;
  return ::kill(pid, 0) != 0 && errno == ESRCH;
}

// "<pid><sep><n>" -> the pid's digits, or empty.
std::string_view pid_of(std::string_view rest, char sep) {
  const auto cut = rest.find(sep);
  if (cut == std::string_view::npos || cut == 0 || cut + 1 == rest.size()) return {};
  for (char c : rest.substr(cut + 1))
    if (c < '0' || c > '9') return {};
  return rest.substr(0, cut);
}

}  // namespace

void write_file_atomic(const fs::path& path, std::string_view bytes) {
  static std::atomic<unsigned> counter{0};
  const auto parent = path.has_parent_path() ? path.parent_path() : fs::path(".");
  fs::create_directories(parent);
  // Unique per process and call, so concurrent writers never share a temporary.
  const auto tmp = parent / ("." + path.filename().string() + ".tmp." + std::to_string(getpid()) +
                             "." + std::to_string(counter++));
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) io_failure("cannot create", tmp);
  std::size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      ::close(fd);
      ::unlink(tmp.c_str());
      io_failure("cannot write", tmp);
    }
    written += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    ::unlink(tmp.c_str());
    io_failure("cannot flush", tmp);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    io_failure("cannot rename onto", path);
  }
}

void remove_stale_temporaries(const fs::path& dir, std::string_view stem) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    const std::string_view n(name);
    std::string_view pid;
    if (n.size() > 1 && n[0] == '.') {  // .<name>.tmp.<pid>.<n>
      const auto at = n.rfind(".tmp.");
      if (at != std::string_view::npos && at > 0) pid = pid_of(n.substr(at + 5), '.');
    } else if (!stem.empty() && n.size() > stem.size() + 5 && n.substr(0, stem.size()) == stem &&
               n.substr(stem.size(), 5) == ".tmp-") {  // <stem>.tmp-<pid>-<n>
      pid = pid_of(n.substr(stem.size() + 5), '-');
    }
    if (!pid.empty() && writer_is_gone(pid)) fs::remove_all(e.path(), ec);
  }
}

std::string read_file(const fs::path& path, std::uintmax_t max_bytes) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    fail_field("file", path.string(),
               std::string("cannot be opened for reading: ") + std::strerror(errno));
  }
  struct ::stat st {};
  if (::fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
    ::close(fd);
    fail_field("file", path.string(), "is a directory, not a file");
  }
  const std::uintmax_t limit = max_bytes > 0 ? max_bytes : available_memory_bytes();
  const auto too_large = [&](std::uintmax_t size) {
    ::close(fd);
    fail_field("file", path.string(),
               "holds " + std::to_string(size) + " bytes or more: the limit for it is " +
                   std::to_string(limit) + " bytes");
  };
  std::string out;
  if (S_ISREG(st.st_mode)) {
    if (static_cast<std::uintmax_t>(st.st_size) > limit) too_large(st.st_size);
    out.reserve(static_cast<std::size_t>(st.st_size));
  }
  // Read to the end whatever the size said (a pipe has none; a file may grow), never past limit.
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      const std::string why = std::strerror(errno);
      ::close(fd);
      fail_field("file", path.string(), "cannot be read: " + why);
    }
    if (out.size() + static_cast<std::size_t>(n) > limit) too_large(out.size() + n);
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

void check_output_directory(const fs::path& dir, std::string_view field) {
  std::error_code ec;
  if (dir.empty()) fail_field(field, "(empty)", "must name a directory");
  if (fs::is_symlink(fs::symlink_status(dir, ec)) && !fs::exists(dir, ec)) {
    fail_field(field, dir.string(), "is a dangling symbolic link");
  }
  if (fs::exists(dir, ec)) {
    if (!fs::is_directory(dir, ec))
      fail_field(field, dir.string(), "exists and is not a directory");
    if (::access(dir.c_str(), W_OK | X_OK) != 0) fail_field(field, dir.string(), "is not writable");
    return;
  }
  // The nearest existing ancestor must be a directory we may create entries in.
  fs::path up = fs::absolute(dir, ec).parent_path();
  while (!up.empty() && !fs::exists(up, ec) && up != up.root_path()) up = up.parent_path();
  if (!fs::is_directory(up, ec)) {
    fail_field(field, dir.string(), "cannot be created: " + up.string() + " is not a directory");
  }
  if (::access(up.c_str(), W_OK | X_OK) != 0) {
    fail_field(field, dir.string(), "cannot be created: " + up.string() + " is not writable");
  }
}

void ensure_output_directory(const fs::path& dir, std::string_view field) {
  check_output_directory(dir, field);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) fail_field(field, dir.string(), "cannot be created: " + ec.message());
}

}  // namespace fsr

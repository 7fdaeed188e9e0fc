// `fsr report DIR --out FIGDIR`: figures and the recovery table of a result directory, drawn from
// its JSON documents alone by the Python scripts in reports/ (docs/reports.md). This file only
// finds the scripts and an interpreter, runs `python3 reports/report.py DIR --out FIGDIR`, and
// turns the script's "bad input" exit status (2) into fsr::InputError.
//
// Where reports/ is found, first hit wins:
//   1. $FSR_REPORTS_DIR (a folder holding report.py);
//   2. from the running executable (/proc/self/exe, symlinks resolved): <exe dir>/../../reports
//      (build/apps/fsr in a build folder under the source tree), then the reports/ folder of
//      every ancestor of the executable's folder, then <exe dir>/../share/fsrlab/reports;
//   3. ./reports under the current directory.
// The interpreter is $FSR_PYTHON or /usr/bin/python3 (Debian's, where python3-numpy and
// python3-matplotlib live; not the first python3 on PATH, which may be a virtualenv without them).
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "apps/cli.h"
#include "core/atomic_file.h"
#include "core/validate.h"

namespace fsr::cli {
namespace {
namespace fs = std::filesystem;

constexpr const char* kDefaultPython = "/usr/bin/python3";

bool has_script(const fs::path& dir) {
  std::error_code ec;
  return fs::is_regular_file(dir / "report.py", ec);
}

fs::path find_reports_dir() {
  std::vector<fs::path> tried;
  if (const char* env = std::getenv("FSR_REPORTS_DIR"); env && *env) {
    if (has_script(env)) return fs::path(env);
    throw InputError(field_message("FSR_REPORTS_DIR", env, "holds no report.py"));
  }
  std::error_code ec;
  const fs::path exe = fs::canonical("/proc/self/exe", ec);
  if (!ec) {
    const fs::path dir = exe.parent_path();
    tried.push_back(dir / ".." / ".." / "reports");
    for (fs::path a = dir; !a.empty(); a = a.parent_path()) {
      tried.push_back(a / "reports");
      if (a == a.root_path()) break;
    }
    tried.push_back(dir / ".." / "share" / "fsrlab" / "reports");
  }
  tried.push_back(fs::current_path(ec) / "reports");
  for (const fs::path& p : tried) {
    if (has_script(p)) return fs::weakly_canonical(p, ec);
  }
  throw InputError(
      "reports/report.py not found next to the fsr executable or in ./reports; set "
      "FSR_REPORTS_DIR to the source tree's reports/ folder");
}

std::string python_interpreter() {
  const char* env = std::getenv("FSR_PYTHON");
  const std::string py = env && *env ? env : kDefaultPython;
  if (::access(py.c_str(), X_OK) != 0) {
    throw InputError(field_message(env && *env ? "FSR_PYTHON" : "python", py,
                                   "not found or not executable: install python3 with "
                                   "python3-numpy and python3-matplotlib (scripts/setup.sh)"));
  }
  return py;
}

// Runs argv with stderr captured in a file and stdout inherited (or sent to /dev/null, so that
// `fsr report --json` prints nothing but its one document); returns the exit status (128 + signal
// when killed) and the captured stderr.
int run_capturing_stderr(const std::vector<std::string>& argv, std::string& err,
                         bool discard_stdout = false) {
  char tmpl[] = "/tmp/fsr-report-XXXXXX";
  const int fd = ::mkstemp(tmpl);
  if (fd < 0) throw std::runtime_error(std::string("mkstemp: ") + std::strerror(errno));
  ::unlink(tmpl);  // the descriptor keeps it alive; nothing is left behind
  std::cout.flush();
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fd);
    throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    ::dup2(fd, STDERR_FILENO);
    if (discard_stdout) {
      const int null = ::open("/dev/null", O_WRONLY);
      if (null >= 0) ::dup2(null, STDOUT_FILENO);
    }
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    const std::string msg =
        std::string("report: cannot run ") + argv[0] + ": " + std::strerror(errno) + "\n";
    [[maybe_unused]] auto n = ::write(STDERR_FILENO, msg.data(), msg.size());
    ::_exit(2);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  ::lseek(fd, 0, SEEK_SET);
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) err.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

std::string last_line(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  const auto pos = s.rfind('\n');
  std::string line = pos == std::string::npos ? s : s.substr(pos + 1);
  if (line.rfind("report: ", 0) == 0) line = line.substr(8);
  return line;
}

// Runs reports/report.py; returns the path of the FIGDIR/report.json it wrote.
fs::path run_report(const std::string& dir, const std::string& out, bool quiet, bool json) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) fail_field("DIR", dir, "not a directory");
  ensure_output_directory(out, "--out");  // a read-only place is exit 2, not a traceback
  const fs::path reports = find_reports_dir();
  const std::string py = python_interpreter();
  // Checked before the script runs so that the message names the missing package.
  std::string err;
  if (run_capturing_stderr({py, "-c", "import numpy, matplotlib"}, err) != 0) {
    throw InputError(field_message("python", py,
                                   "cannot import numpy and matplotlib (" + last_line(err) +
                                       "): apt-get install python3-numpy python3-matplotlib"));
  }
  err.clear();
  std::vector<std::string> argv = {py, (reports / "report.py").string(), dir, "--out", out};
  if (quiet || json) argv.push_back("--quiet");
  const int code = run_capturing_stderr(argv, err, json);
  if (code == 2) throw InputError(last_line(err));
  std::cerr << err;  // progress lines and per-figure problems
  if (code != 0) {
    throw std::runtime_error("reports/report.py exited with status " + std::to_string(code) +
                             (err.empty() ? "" : ": " + last_line(err)));
  }
  return fs::path(out) / "report.json";
}

}  // namespace

void register_report_commands(CLI::App& app) {
  struct Args {
    std::string dir, out;
    bool quiet = false, json = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "report", "figures (PDF + PNG), report.md and a LaTeX recovery table from result JSON");
  cmd->add_option("dir", args->dir,
                  "result directory, walked recursively (analyze, suite-summary, "
                  "sample-complexity documents, metrics.jsonl)")
      ->required();
  cmd->add_option("--out", args->out, "folder for the figures, report.md, report_table.tex")
      ->required();
  cmd->add_flag("--quiet", args->quiet, "no progress lines");
  cmd->add_flag("--json", args->json,
                "print one JSON object: the figures and tables written, fitted slopes, problems");
  cmd->callback([args] {
    const fs::path index = run_report(args->dir, args->out, args->quiet, args->json);
    if (!args->json) return;
    // report.py's own index (FIGDIR/report.json), wrapped like every command's document.
    Json payload = read_json(index);
    payload.erase("schema_version");
    payload.erase("kind");
    payload["out"] = fs::absolute(args->out).string();
    const Json config{{"dir", args->dir}, {"out", args->out}};
    print_result("report", payload, true, config, [](std::ostream&) {});
  });
}

}  // namespace fsr::cli

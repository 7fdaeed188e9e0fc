// The store of finished jobs that the suite runner and the sample-complexity search share: one
// directory per job under ROOT/jobs/, its result document written atomically and last, so it
// exists only for a finished attempt and a killed run leaves either the old file or none.
//
//   fsr::JobStore store("runs/flr");
//   if (!fsr::JobStore::ok(store.read(spec.id))) store.run(spec, /*threads=*/1);
//
// Layout (docs/suites.md): ROOT/jobs/<id>/result.json, kind "suite-job":
// {job (the JobSpec), status (ok | failed | crashed), error (when not ok), seconds, result (what
// the kind returned)}, with a run manifest. ROOT/jobs/<id>/ is the job's JobContext.dir: whatever
// an interrupted attempt left there (checkpoints) is kept, and the next attempt gets resuming =
// true.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "core/json_io.h"
#include "experiments/jobs.h"

namespace fsr {

inline constexpr const char* kStatusOk = "ok";            // finished: reused, never re-run
inline constexpr const char* kStatusFailed = "failed";    // the kind threw: re-run retries
inline constexpr const char* kStatusCrashed = "crashed";  // the worker died: re-run retries
inline constexpr const char* kStatusMissing = "missing";  // no result file

class JobStore {
 public:
  explicit JobStore(std::filesystem::path root) : root_(std::move(root)) {}

  const std::filesystem::path& root() const { return root_; }
  std::filesystem::path dir(const std::string& id) const { return root_ / "jobs" / id; }

  // The result document of a finished attempt, or nullopt. A file that does not parse cannot come
  // from the atomic write; it is treated as missing (and overwritten by the next attempt).
  std::optional<Json> read(const std::string& id) const;
  static bool ok(const std::optional<Json>& doc);

  // Clears what an unfinished attempt left that would be mistaken for this one's outcome (a
  // failed attempt's result, temporaries of a killed write) and creates the directory. Returns
  // whether it held anything (the job is resuming).
  bool prepare(const std::string& id) const;
  // Writes the result document of `spec` (atomically) and returns it.
  Json write(const JobSpec& spec, const std::string& status, const std::string& error,
             double seconds, const Json& payload, int threads) const;
  // prepare, run the kind in this process (a throw is recorded as "failed"), write.
  Json run(const JobSpec& spec, int threads) const;

 private:
  std::filesystem::path root_;
};

}  // namespace fsr

#include "experiments/job_store.h"

#include <system_error>

#include "core/atomic_file.h"

namespace fsr {
namespace fs = std::filesystem;

namespace {
constexpr const char* kResultFile = "result.json";
}  // namespace

std::optional<Json> JobStore::read(const std::string& id) const {
  const fs::path p = dir(id) / kResultFile;
  std::error_code ec;
  if (!fs::exists(p, ec)) return std::nullopt;
  try {
    Json doc = read_json(p);
    // The fields the runner and the sample-complexity search read, with their types (a
    // hand-edited file may have any): another shape is a missing result, not a crash.
    const auto has = [&](const char* k, bool (Json::*is)() const noexcept) {
      return doc.contains(k) && (doc[k].*is)();
    };
    if (doc.is_object() && has("status", &Json::is_string) && doc.contains("job") &&
        doc.contains("result") && (!doc.contains("error") || has("error", &Json::is_string)) &&
        (!doc.contains("seconds") || has("seconds", &Json::is_number))) {
      return doc;
    }
  } catch (const std::exception&) {
  }
  return std::nullopt;
}

bool JobStore::ok(const std::optional<Json>& doc) {
  return doc && doc->value("status", "") == kStatusOk;
}

bool JobStore::prepare(const std::string& id) const {
  const fs::path d = dir(id);
  remove_stale_temporaries(d);
  std::error_code ec;
  fs::remove(d / kResultFile, ec);  // a failed or crashed attempt's record
  const bool resuming = fs::is_directory(d) && !fs::is_empty(d);
  fs::create_directories(d);
  return resuming;
}

Json JobStore::write(const JobSpec& spec, const std::string& status, const std::string& error,
                     double seconds, const Json& payload, int threads) const {
  Json body{{"job", to_json(spec)}, {"status", status}, {"seconds", seconds}, {"result", payload}};
  if (!error.empty()) body["error"] = error;
  RunInfo run{.seed = spec.seed, .threads = threads, .config = to_json(spec)};
  run.wall_seconds = seconds;
  Json doc = make_document("suite-job", body, run);
  write_json_atomic(dir(spec.id) / kResultFile, doc);
  return doc;
}

Json JobStore::run(const JobSpec& spec, int threads) const {
  const bool resuming = prepare(spec.id);
  const Stopwatch clock;
  std::string status = kStatusOk, error;
  Json payload = nullptr;
  try {
    const JobKind& kind = find_job_kind(spec.kind, "job " + spec.id + " kind");
    payload = kind.run(spec, JobContext{.dir = dir(spec.id), .threads = threads, .resuming = resuming});
  } catch (const std::exception& e) {
    status = kStatusFailed;
    error = e.what();
  }
  return write(spec, status, error, clock.seconds(), payload, threads);
}

}  // namespace fsr

// JSON documents that fsrlab writes: every file carries "schema_version" and a run manifest
// (tool version, git commit, compiler, LibTorch version, device, threads, seed, the full config,
// wall time), so a number in a figure can always be traced to the run that made it.
//
//   fsr::RunInfo run{.seed = 1, .config = config};
//   auto doc = fsr::make_document("fit-first-layer", payload, run);
//   fsr::write_json_atomic(out / "result.json", doc);
#pragma once

#include <Eigen/Core>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace fsr {

using Json = nlohmann::json;

// Bumped whenever a field of a written document changes meaning or is removed.
inline constexpr int kSchemaVersion = 1;

struct RunInfo {
  std::uint64_t seed = 0;
  int threads = 1;
  std::string device = "cpu";
  Json config = Json::object();
  double wall_seconds = 0.0;  // filled by the caller when the work is done
};

// Facts about this build, fixed at configure time.
struct BuildInfo {
  std::string version, git_commit, compiler, libtorch;
};
const BuildInfo& build_info();

Json make_manifest(const RunInfo& run);
// {"schema_version": N, "kind": kind, "manifest": {...}, ...payload}
Json make_document(std::string_view kind, const Json& payload, const RunInfo& run);

void write_json_atomic(const std::filesystem::path& path, const Json& document);
// Parses a JSON file; a missing file or a syntax error is an InputError naming the file.
Json read_json(const std::filesystem::path& path);

Json to_json(const Eigen::VectorXd& v);
Json to_json(const Eigen::MatrixXd& m);  // list of rows

// Measures wall time for manifests.
class Stopwatch {
 public:
  Stopwatch() : start_(std::chrono::steady_clock::now()) {}
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  std::chrono::steady_clock::time_point start_;
};

}  // namespace fsr

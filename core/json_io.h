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

// One-line or indented text of a document; bytes that are not UTF-8 (a path or a message from the
// input) are written as U+FFFD instead of making the dump throw.
std::string dump_json(const Json& document, int indent = -1);
// Limits every JSON document read by fsrlab is held to (configs, suites, results, checkpoints).
// Deeper nesting than any fsrlab document has is refused before anything recurses over it (a
// 100 000-deep "[[[...]]]" overflowed the stack when an error message printed it); a key given
// twice in one object is refused (the last one silently won); a number beyond double range
// (1e999) is refused naming where it is.
inline constexpr int kMaxJsonDepth = 64;
inline constexpr std::uintmax_t kMaxJsonBytes = std::uintmax_t{256} << 20;

// Parses JSON text under those limits. Every error is an InputError that opens with `name` (the
// file) and names the place in the document: "L.json: sgda.lr_g = 1e999: number beyond double
// range", "L.json: data = source: duplicate key (each key once per object)".
Json parse_json(std::string_view text, std::string_view name);

// Reads and parses a JSON file (at most kMaxJsonBytes); a missing file, a syntax error or a broken
// limit is an InputError naming the file.
Json read_json(const std::filesystem::path& path);

// Checked reads of one value of a parsed document, for files fsrlab reads back (results, plans,
// checkpoint state): a wrong type or an out-of-range value is an InputError naming `field`, never
// a JSON library exception or an undefined conversion.
std::int64_t json_integer(const Json& value, std::string_view field, std::int64_t lo,
                          std::int64_t hi);
std::uint64_t json_uint64(const Json& value, std::string_view field);
double json_number(const Json& value, std::string_view field);  // finite
std::string json_string(const Json& value, std::string_view field);
const Json& json_member(const Json& object, std::string_view key, std::string_view field);

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

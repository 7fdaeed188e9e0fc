#include "core/json_io.h"

#include <ctime>

#include "core/atomic_file.h"
#include "core/validate.h"

#ifndef FSR_VERSION
#define FSR_VERSION "unknown"
#endif
#ifndef FSR_GIT_COMMIT
#define FSR_GIT_COMMIT "unknown"
#endif
#ifndef FSR_TORCH_VERSION
#define FSR_TORCH_VERSION "none"
#endif

namespace fsr {

const BuildInfo& build_info() {
  static const BuildInfo info {
    FSR_VERSION, FSR_GIT_COMMIT,
#if defined(__clang__)
        std::string("clang ") + __clang_version__,
#elif defined(__GNUC__)
        std::string("g++ ") + __VERSION__,
#else
        "unknown",
#endif
        FSR_TORCH_VERSION
  };
  return info;
}

Json make_manifest(const RunInfo& run) {
  const BuildInfo& b = build_info();
  char stamp[32];
  const std::time_t now = std::time(nullptr);
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return Json{{"tool", "fsrlab"},
              {"tool_version", b.version},
              {"git_commit", b.git_commit},
              {"compiler", b.compiler},
              {"libtorch_version", b.libtorch},
              {"device", run.device},
              {"threads", run.threads},
              {"seed", run.seed},
              {"config", run.config},
              {"wall_time_s", run.wall_seconds},
              {"written_at", stamp}};
}

Json make_document(std::string_view kind, const Json& payload, const RunInfo& run) {
  Json doc{{"schema_version", kSchemaVersion}, {"kind", kind}, {"manifest", make_manifest(run)}};
  for (auto it = payload.begin(); it != payload.end(); ++it) doc[it.key()] = it.value();
  return doc;
}

void write_json_atomic(const std::filesystem::path& path, const Json& document) {
  write_file_atomic(path, document.dump(2) + "\n");
}

Json read_json(const std::filesystem::path& path) {
  const std::string text = read_file(path);
  try {
    return Json::parse(text);
  } catch (const Json::parse_error& e) {
    fail_field("json file", path.string(), std::string("is not valid JSON: ") + e.what());
  }
}

Json to_json(const Eigen::VectorXd& v) {
  return Json(std::vector<double>(v.data(), v.data() + v.size()));
}

Json to_json(const Eigen::MatrixXd& m) {
  Json rows = Json::array();
  for (Eigen::Index i = 0; i < m.rows(); ++i) {
    const Eigen::VectorXd row = m.row(i).transpose();
    rows.push_back(to_json(row));
  }
  return rows;
}

}  // namespace fsr

#include "core/json_io.h"

#include <cmath>
#include <ctime>
#include <vector>

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

std::string dump_json(const Json& document, int indent) {
  return document.dump(indent, ' ', false, Json::error_handler_t::replace);
}

void write_json_atomic(const std::filesystem::path& path, const Json& document) {
  write_file_atomic(path, dump_json(document, 2) + "\n");
}

namespace {

// Builds the document from nlohmann's SAX events (its parser is iterative, so depth costs no
// stack) and enforces the limits as values arrive; `path` tracks where the parser is, for
// messages.
class LimitedJsonBuilder : public Json::json_sax_t {
 public:
  LimitedJsonBuilder(Json& root, std::string_view name) : root_(root), name_(name) {}

  bool null() override { return put(Json(nullptr)); }
  bool boolean(bool v) override { return put(Json(v)); }
  bool number_integer(number_integer_t v) override { return put(Json(v)); }
  bool number_unsigned(number_unsigned_t v) override { return put(Json(v)); }
  bool number_float(number_float_t v, const string_t&) override { return put(Json(v)); }
  bool string(string_t& v) override { return put(Json(std::move(v))); }
  bool binary(binary_t&) override { fail(here(), "(binary)", "is not JSON text"); }
  bool start_object(std::size_t) override { return open(Json::object()); }
  bool start_array(std::size_t) override { return open(Json::array()); }
  bool end_object() override { return close(); }
  bool end_array() override { return close(); }
  bool key(string_t& k) override {
    Frame& f = stack_.back();
    f.key = k;
    if (f.value->contains(k)) {
      fail(here(), "(given twice)", "duplicate keys are refused: each key may appear once");
    }
    return true;
  }
  bool parse_error(std::size_t, const std::string& token, const Json::exception& e) override {
    if (e.id == 406) fail(here(), token, "number beyond double range (|x| <= 1.8e308)");
    fail_field("json file", std::string(name_), std::string("is not valid JSON: ") + e.what());
  }

 private:
  struct Frame {
    Json* value;
    std::string key;  // the key being read (objects)
  };

  [[noreturn]] void fail(const std::string& place, const std::string& value,
                         std::string_view rule) const {
    fail_field(place.empty() ? std::string(name_) : std::string(name_) + ": " + place, value, rule);
  }
  // Path of the value being read next ("jobs[2].config.seed"): an open container's child is
  // its last element, the next value of the innermost one comes after its last element.
  std::string here() const {
    std::string p;
    for (std::size_t i = 0; i < stack_.size(); ++i) {
      const Frame& f = stack_[i];
      if (f.value->is_object()) {
        p += (p.empty() ? "" : ".") + f.key;
      } else {
        const std::size_t open_child = i + 1 < stack_.size() ? 1 : 0;
        p += "[" + std::to_string(f.value->size() - open_child) + "]";
      }
    }
    return shorten(p, 200);
  }
  Json* insert(Json&& v) {
    if (stack_.empty()) {
      root_ = std::move(v);
      return &root_;
    }
    Json& top = *stack_.back().value;
    if (top.is_array()) {
      top.push_back(std::move(v));
      return &top.back();
    }
    Json& slot = top[stack_.back().key];
    slot = std::move(v);
    return &slot;
  }
  bool put(Json&& v) {
    insert(std::move(v));
    return true;
  }
  bool open(Json container) {
    if (static_cast<int>(stack_.size()) >= kMaxJsonDepth) {
      fail(here(), container.is_object() ? "{" : "[",
           "nesting deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    }
    // The slot is the last element of its parent, which gets no new element while it is open,
    // so the pointer stays valid.
    Json* slot = insert(std::move(container));
    stack_.push_back({slot, {}});
    return true;
  }
  bool close() {
    stack_.pop_back();
    return true;
  }

  Json& root_;
  std::string_view name_;
  std::vector<Frame> stack_;
};

}  // namespace

Json parse_json(std::string_view text, std::string_view name) {
  Json root;
  LimitedJsonBuilder builder(root, name);
  Json::sax_parse(text, &builder);
  return root;
}

Json read_json(const std::filesystem::path& path) {
  return parse_json(read_file(path, kMaxJsonBytes), path.string());
}

std::int64_t json_integer(const Json& value, std::string_view field, std::int64_t lo,
                          std::int64_t hi) {
  if (value.is_number_unsigned()) {
    const auto u = value.get<std::uint64_t>();
    if (hi < 0 || u > static_cast<std::uint64_t>(hi)) {
      fail_field(field, u,
                 "must be an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    }
    const auto v = static_cast<std::int64_t>(u);
    require_int_in_range(field, v, lo, hi);
    return v;
  }
  if (value.is_number_integer()) {
    const auto v = value.get<std::int64_t>();
    require_int_in_range(field, v, lo, hi);
    return v;
  }
  if (value.is_number_float()) return require_integer(field, value.get<double>(), lo, hi);
  fail_field(field, dump_json(value).substr(0, 60), "must be an integer");
}

std::uint64_t json_uint64(const Json& value, std::string_view field) {
  if (value.is_number_unsigned()) return value.get<std::uint64_t>();
  if (value.is_number_integer() && value.get<std::int64_t>() >= 0) {
    return static_cast<std::uint64_t>(value.get<std::int64_t>());
  }
  fail_field(field, dump_json(value).substr(0, 60), "must be an integer in [0, 2^64)");
}

double json_number(const Json& value, std::string_view field) {
  if (!value.is_number()) fail_field(field, dump_json(value).substr(0, 60), "must be a number");
  const double v = value.get<double>();
  require_finite(field, v);
  return v;
}

std::string json_string(const Json& value, std::string_view field) {
  if (!value.is_string()) fail_field(field, dump_json(value).substr(0, 60), "must be a string");
  return value.get<std::string>();
}

const Json& json_member(const Json& object, std::string_view key, std::string_view field) {
  if (!object.is_object()) {
    fail_field(field, dump_json(object).substr(0, 60), "must be an object");
  }
  const auto it = object.find(key);
  if (it == object.end()) {
    fail_field(std::string(field) + "." + std::string(key), "(missing)", "is required");
  }
  return *it;
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

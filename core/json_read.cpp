#include "core/json_read.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "core/json_io.h"
#include "core/validate.h"

namespace fsr {
namespace {

void flatten(const Json& j, const std::string& path, std::map<std::string, Json>& out) {
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it)
      flatten(it.value(), join_path(path, it.key()), out);
  } else {
    out[path] = j;
  }
}

}  // namespace

std::string compact_json(const Json& value) {
  std::string s = value.dump();
  if (s.size() > 60) s = s.substr(0, 57) + "...";
  return s;
}

std::string join_path(std::string_view parent, std::string_view key) {
  return parent.empty() ? std::string(key) : std::string(parent) + "." + std::string(key);
}

std::string join_names(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

Json finite_or_null(double value) { return std::isfinite(value) ? Json(value) : Json(nullptr); }

Json finite_or_null(const Eigen::VectorXd& values) {
  Json a = Json::array();
  for (Eigen::Index i = 0; i < values.size(); ++i) a.push_back(finite_or_null(values(i)));
  return a;
}

Json::json_pointer dotted_pointer(const std::string& dotted) {
  std::string p = "/";
  for (char c : dotted) p += c == '.' ? '/' : c;
  return Json::json_pointer(p);
}

Json json_at_path(const Json& value, const std::string& dotted) {
  const Json* cur = &value;
  std::size_t start = 0;
  while (start <= dotted.size()) {
    const std::size_t dot = dotted.find('.', start);
    const std::string part =
        dotted.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (cur->is_object()) {
      const auto it = cur->find(part);
      if (it == cur->end()) return nullptr;
      cur = &*it;
    } else if (cur->is_array()) {
      if (part.empty() || !std::all_of(part.begin(), part.end(), ::isdigit)) return nullptr;
      const std::size_t i = std::stoul(part);
      if (i >= cur->size()) return nullptr;
      cur = &(*cur)[i];
    } else {
      return nullptr;
    }
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return *cur;
}

std::vector<std::string> json_differences(const Json& before, const Json& after) {
  std::map<std::string, Json> a, b;
  flatten(before, "", a);
  flatten(after, "", b);
  std::set<std::string> keys;
  for (const auto& [k, v] : a) keys.insert(k);
  for (const auto& [k, v] : b) keys.insert(k);
  std::vector<std::string> out;
  for (const auto& k : keys) {
    const bool in_a = a.count(k) > 0, in_b = b.count(k) > 0;
    if (in_a && in_b && a[k] == b[k]) continue;
    out.push_back(k + ": " + (in_a ? compact_json(a[k]) : "(absent)") + " -> " +
                  (in_b ? compact_json(b[k]) : "(absent)"));
  }
  return out;
}

void require_object(const Json& value, const std::string& field) {
  if (!value.is_object())
    fail_field(field.empty() ? "config" : field, compact_json(value), "must be an object");
}

void require_known_keys(const Json& object, const std::string& field,
                        const std::vector<std::string>& known, UnknownKey form) {
  require_object(object, field);
  for (auto it = object.begin(); it != object.end(); ++it)
    if (std::find(known.begin(), known.end(), it.key()) == known.end())
      fail_unknown_key(field, it.key(), it.value(), known, form);
}

void fail_unknown_key(const std::string& field, const std::string& key, const Json& value,
                      const std::vector<std::string>& known, UnknownKey form) {
  if (form == UnknownKey::kList)
    throw InputError(field + "." + key + ": unknown key; known keys: " + join_names(known));
  fail_field(join_path(field, key), compact_json(value),
             "unknown key (allowed: " + join_names(known) + ")");
}

// The checked conversions of core/json_io.h (range compared before any conversion).
std::int64_t as_int(const Json& value, const std::string& field, std::int64_t lo, std::int64_t hi) {
  return json_integer(value, field, lo, hi);
}

std::uint64_t as_uint(const Json& value, const std::string& field) {
  if (value.is_number_unsigned()) return value.get<std::uint64_t>();
  const double d = value.is_number() ? value.get<double>() : -1.0;
  if (!(d >= 0) || d != std::floor(d) || d > 9.007e15)
    fail_field(field, compact_json(value), "must be an integer >= 0");
  return static_cast<std::uint64_t>(d);
}

double as_number(const Json& value, const std::string& field) {
  return json_number(value, field);
}

std::string as_choice(const Json& value, const std::string& field,
                      const std::vector<std::string>& choices) {
  if (!value.is_string()) fail_field(field, compact_json(value), "must be a string");
  const std::string s = value.get<std::string>();
  if (std::find(choices.begin(), choices.end(), s) == choices.end())
    fail_field(field, s, "must be one of " + join_names(choices));
  return s;
}

std::int64_t read_int(const Json& object, const std::string& key, const std::string& field,
                      std::int64_t fallback, std::int64_t lo, std::int64_t hi) {
  if (!object.contains(key)) return fallback;
  const Json& v = object[key];
  if (!v.is_number_integer()) fail_field(field + "." + key, compact_json(v), "must be an integer");
  const std::int64_t x = v.get<std::int64_t>();
  require_int_in_range(field + "." + key, x, lo, hi);
  return x;
}

double read_number(const Json& object, const std::string& key, const std::string& field,
                   double fallback) {
  if (!object.contains(key)) return fallback;
  const Json& v = object[key];
  if (!v.is_number()) fail_field(field + "." + key, compact_json(v), "must be a number");
  return v.get<double>();
}

bool read_bool(const Json& object, const std::string& key, const std::string& field,
               bool fallback) {
  if (!object.contains(key)) return fallback;
  const Json& v = object[key];
  if (!v.is_boolean()) fail_field(field + "." + key, compact_json(v), "must be true or false");
  return v.get<bool>();
}

std::string read_choice(const Json& object, const std::string& key, const std::string& field,
                        const std::string& fallback, const std::vector<std::string>& choices) {
  if (!object.contains(key)) return fallback;
  return as_choice(object[key], field + "." + key, choices);
}

std::string read_string(const Json& object, const std::string& key, const std::string& field,
                        const std::string& fallback, bool allow_empty) {
  if (!object.contains(key)) return fallback;
  const Json& v = object[key];
  if (!v.is_string() || (!allow_empty && v.get<std::string>().empty()))
    fail_field(field + "." + key, compact_json(v), "must be a non-empty string");
  return v.get<std::string>();
}

Json read_object(const Json& object, const std::string& key, const std::string& field) {
  if (!object.contains(key)) return Json::object();
  if (!object[key].is_object())
    fail_field(field + "." + key, compact_json(object[key]), "must be an object");
  return object[key];
}

const Json& read_list(const Json& object, const std::string& key, const std::string& field) {
  const std::string f = field.empty() ? key : field + "." + key;
  if (!object.contains(key)) fail_field(f, "(missing)", "is required");
  const Json& v = object[key];
  if (!v.is_array() || v.empty()) fail_field(f, compact_json(v), "must be a non-empty list");
  return v;
}

}  // namespace fsr

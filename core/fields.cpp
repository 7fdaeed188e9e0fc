#include "core/fields.h"

namespace fsr {
namespace {

const char* type_name(const Json& j) {
  if (j.is_boolean()) return "a boolean";
  if (j.is_number()) return "a number";
  if (j.is_string()) return "a string";
  if (j.is_array()) return "an array";
  return "an object";
}

std::string bracket(bool closed, bool left) {
  return closed ? (left ? "[" : "]") : (left ? "(" : ")");
}

}  // namespace

void NumberRule::check(std::string_view field, double value) const {
  switch (kind) {
    case Kind::kFinite:
      return;
    case Kind::kPositive:
      return require_positive(field, value);
    case Kind::kNonnegative:
      return require_nonnegative(field, value);
    case Kind::kRange:
      return require_in_range(field, value, lo, hi, closed_lo, closed_hi);
  }
}

std::string NumberRule::describe() const {
  switch (kind) {
    case Kind::kFinite:
      return "";
    case Kind::kPositive:
      return "> 0";
    case Kind::kNonnegative:
      return ">= 0";
    case Kind::kRange:
      return "in " + bracket(closed_lo, true) + format_value(lo) + ", " + format_value(hi) +
             bracket(closed_hi, false);
  }
  return "";
}

std::string options_markdown(const std::vector<FieldDoc>& rows) {
  // A '|' inside a cell (|cos|, ||A||) would end it.
  auto cell = [](const std::string& s) {
    std::string out;
    for (char c : s) out += c == '|' ? std::string("\\|") : std::string(1, c);
    return out;
  };
  std::string out = "| key | type and rule | default | meaning |\n| --- | --- | --- | --- |\n";
  for (const FieldDoc& r : rows) {
    const std::string def = r.default_value.empty() ? "\"\"" : r.default_value;
    out += "| `" + r.path + "` | " + cell(r.type) + " | `" + cell(def) + "` | " + cell(r.doc) +
           " |\n";
  }
  return out;
}

void overlay_on_defaults(Json& base, const Json& user, const std::string& path) {
  require_object(user, path);
  for (auto it = user.begin(); it != user.end(); ++it) {
    const std::string field = join_path(path, it.key());
    if (!base.contains(it.key())) {
      std::vector<std::string> known;
      for (auto b = base.begin(); b != base.end(); ++b) known.push_back(b.key());
      fail_unknown_key(path, it.key(), it.value(), known, UnknownKey::kValue);
    }
    Json& slot = base[it.key()];
    const Json& v = it.value();
    if (slot.is_object()) {
      overlay_on_defaults(slot, v, field);
    } else if (slot.is_array()) {
      if (v.is_number()) {
        slot = Json::array({v});  // one value for every entry
      } else if (v.is_array()) {
        slot = v;
      } else {
        fail_field(field, compact_json(v), "must be a number or an array of numbers");
      }
    } else {
      const bool same = (slot.is_number() && v.is_number()) ||
                        (slot.is_boolean() && v.is_boolean()) ||
                        (slot.is_string() && v.is_string());
      if (!same) fail_field(field, compact_json(v), std::string("must be ") + type_name(slot));
      slot = v;
    }
  }
}

}  // namespace fsr

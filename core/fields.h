// A config's fields declared once, as data: name (dotted path), type, default, rule and a doc
// line. Parsing, the normalised JSON (`to_json`), the refusal of a changed config (differences)
// and the options table in the docs are all generated from that one declaration, so a new key is
// one line and cannot be parsed without being written, documented or compared.
//
//   fsr::FieldTable<Opts> t;
//   t.integer(FSR_FIELD(Opts, sgda.d_steps), 1, 100, "discriminator steps per generator step")
//    .choice(FSR_FIELD(Opts, sgda.mode), "alternating or simultaneous updates");
//   Opts o = t.parse(json);          // "sgda.d_steps = 0: must be an integer in [1, 100]"
//   fsr::Json normal = t.to_json(o);  // every default filled in; t.parse(normal) gives o back
//
// Parsing overlays the user's object on the defaults (to_json of a default-constructed config):
// an unknown key is refused naming the known ones, a value of another JSON type than its default
// is refused ("must be a number"), then every field is read and checked in table order, and the
// cross-field checks run where they are declared. Enumerations are parsed once, into enum values,
// from the names their owner declares with `enum_names` (see EnumName).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "core/json_io.h"
#include "core/json_read.h"
#include "core/validate.h"

namespace fsr {

// The JSON spelling of one value of an enumeration. The owner of enum E declares, beside it,
//   constexpr std::array<EnumName<E>, N> enum_names(E) { return {{{E::kA, "a"}, ...}}; }
// (found by argument-dependent lookup), and the table parses and writes E through it.
template <typename E>
struct EnumName {
  E value;
  const char* name;
};

template <typename E>
std::string enum_name(E value) {
  for (const auto& n : enum_names(E{}))
    if (n.value == value) return n.name;
  return "?";
}

template <typename E>
std::vector<std::string> enum_spellings() {
  std::vector<std::string> out;
  for (const auto& n : enum_names(E{})) out.push_back(n.name);
  return out;
}

// The rule a number obeys; checked through core/validate.h, so messages read as everywhere else.
struct NumberRule {
  enum class Kind { kFinite, kPositive, kNonnegative, kRange } kind = Kind::kFinite;
  double lo = 0, hi = 0;
  bool closed_lo = false, closed_hi = false;

  static NumberRule finite() { return {}; }
  static NumberRule positive() { return {.kind = Kind::kPositive}; }
  static NumberRule nonnegative() { return {.kind = Kind::kNonnegative}; }
  static NumberRule in(double lo, double hi, bool closed_lo = false, bool closed_hi = false) {
    return {
        .kind = Kind::kRange, .lo = lo, .hi = hi, .closed_lo = closed_lo, .closed_hi = closed_hi};
  }
  void check(std::string_view field, double value) const;
  std::string describe() const;  // "> 0", "in [0, 1)", ...
};

// One row of the docs' options table.
struct FieldDoc {
  std::string path, type, default_value, doc;
};
// | key | type and rule | default | meaning | — a Markdown table of the rows, in table order.
std::string options_markdown(const std::vector<FieldDoc>& rows);

// Overlays `user` on `base` (the defaults), refusing unknown keys ("unknown key (allowed: ...)")
// and values of another JSON type than the default's ("must be a number"), so every field of the
// result has the type of its default. An array default takes an array, or one number for a
// one-entry array.
void overlay_on_defaults(Json& base, const Json& user, const std::string& path);

template <typename C>
class FieldTable {
 public:
  // An accessor of one field: `[](C& c) -> auto& { return c.member; }` (FSR_FIELD writes it).
  template <typename F>
  using FieldType = std::remove_reference_t<std::invoke_result_t<F, C&>>;

  // Free text (no rule).
  template <typename F>
  FieldTable& text(std::string path, F ref, std::string doc) {
    return add(std::move(path), "string", std::move(doc), ref,
               [ref](const Json& j, C& c, const std::string&) { ref(c) = j.get<std::string>(); });
  }
  // An integer in [lo, hi] (integral floats accepted).
  template <typename F>
  FieldTable& integer(std::string path, F ref, std::int64_t lo, std::int64_t hi, std::string doc) {
    using T = FieldType<F>;
    static_assert(std::is_integral_v<T>);
    return add(std::move(path),
               "integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]",
               std::move(doc), ref, [ref, lo, hi](const Json& j, C& c, const std::string& f) {
                 ref(c) = static_cast<T>(as_int(j, f, lo, hi));
               });
  }
  // An integer >= 0 that may use all 64 bits ("must be an integer >= 0").
  template <typename F>
  FieldTable& count(std::string path, F ref, std::string doc) {
    using T = FieldType<F>;
    static_assert(std::is_integral_v<T>);
    return add(std::move(path), "integer >= 0", std::move(doc), ref,
               [ref](const Json& j, C& c, const std::string& f) {
                 ref(c) = static_cast<T>(as_uint(j, f));
               });
  }
  template <typename F>
  FieldTable& number(std::string path, F ref, NumberRule rule, std::string doc) {
    const std::string d = rule.describe();
    return add(std::move(path), "number" + (d.empty() ? "" : " " + d), std::move(doc), ref,
               [ref, rule](const Json& j, C& c, const std::string& f) {
                 const double v = j.get<double>();
                 require_finite(f, v);
                 rule.check(f, v);
                 ref(c) = v;
               });
  }
  template <typename F>
  FieldTable& boolean(std::string path, F ref, std::string doc) {
    return add(std::move(path), "true or false", std::move(doc), ref,
               [ref](const Json& j, C& c, const std::string&) { ref(c) = j.get<bool>(); });
  }
  // One of the enumeration's spellings ("must be one of a, b").
  template <typename F>
  FieldTable& choice(std::string path, F ref, std::string doc) {
    using E = FieldType<F>;
    static_assert(std::is_enum_v<E>);
    Entry e;
    e.doc = {std::move(path), "one of " + join_names(enum_spellings<E>()), "", std::move(doc)};
    e.write = [ref](const C& c) { return Json(enum_name(ref(const_cast<C&>(c)))); };
    e.read = [ref](const Json& j, C& c, const std::string& f) {
      const std::string s = j.get<std::string>();
      for (const auto& n : enum_names(E{})) {
        if (s == n.name) {
          ref(c) = n.value;
          return;
        }
      }
      fail_field(f, s, "must be one of " + join_names(enum_spellings<E>()));
    };
    entries_.push_back(std::move(e));
    return *this;
  }
  // A non-empty list of integers in [lo, hi]; one number stands for a one-entry list. With
  // allow_empty, [] is a value too (an optional list: "absent").
  template <typename F>
  FieldTable& integer_list(std::string path, F ref, std::int64_t lo, std::int64_t hi,
                           std::string doc, bool allow_empty = false) {
    return add(std::move(path),
               std::string(allow_empty ? "[] or " : "") + "integer or list of integers in [" +
                   std::to_string(lo) + ", " + std::to_string(hi) + "]",
               std::move(doc), ref,
               [ref, lo, hi, allow_empty](const Json& j, C& c, const std::string& f) {
                 if (j.empty() && !allow_empty) fail_field(f, "[]", "must not be empty");
                 std::vector<int> v;
                 for (std::size_t i = 0; i < j.size(); ++i) {
                   const std::string fi = f + "[" + std::to_string(i) + "]";
                   if (!j[i].is_number()) fail_field(fi, compact_json(j[i]), "must be a number");
                   v.push_back(static_cast<int>(as_int(j[i], fi, lo, hi)));
                 }
                 ref(c) = std::move(v);
               });
  }
  // A rule across fields, run at this point of the parse (after the fields declared before it).
  FieldTable& check(std::function<void(const C&)> rule) {
    Entry e;
    e.read = [rule](const Json&, C& c, const std::string&) { rule(c); };
    entries_.push_back(std::move(e));
    return *this;
  }

  // Every field, by its dotted path, as nested objects.
  Json to_json(const C& config) const {
    Json out = Json::object();
    for (const Entry& e : entries_)
      if (e.write) out[dotted_pointer(e.doc.path)] = e.write(config);
    return out;
  }

  C parse(const Json& user) const {
    Json merged = to_json(C{});
    overlay_on_defaults(merged, user, "");
    C c;
    for (const Entry& e : entries_)
      e.read(e.write ? merged[dotted_pointer(e.doc.path)] : Json(), c, e.doc.path);
    return c;
  }

  // Rows of the options table, defaults from a default-constructed config.
  std::vector<FieldDoc> docs() const {
    const C defaults{};
    std::vector<FieldDoc> rows;
    for (const Entry& e : entries_) {
      if (!e.write) continue;
      FieldDoc d = e.doc;
      const Json v = e.write(defaults);
      d.default_value = v.is_string() ? v.get<std::string>() : v.dump();
      rows.push_back(std::move(d));
    }
    return rows;
  }

 private:
  struct Entry {
    FieldDoc doc;
    std::function<Json(const C&)> write;  // empty for a check
    std::function<void(const Json&, C&, const std::string&)> read;
  };

  template <typename F, typename Read>
  FieldTable& add(std::string path, std::string type, std::string doc, F ref, Read read) {
    Entry e;
    e.doc = {std::move(path), std::move(type), "", std::move(doc)};
    e.write = [ref](const C& c) { return Json(ref(const_cast<C&>(c))); };
    e.read = std::move(read);
    entries_.push_back(std::move(e));
    return *this;
  }

  std::vector<Entry> entries_;
};

}  // namespace fsr

// FSR_FIELD(Config, sgda.d_steps) -> "sgda.d_steps", an accessor of that member: the dotted path
// is the member's own spelling, so the key and the field cannot drift apart.
#define FSR_FIELD(Config, member) \
#member, [](Config & c) -> auto& { return c.member; }

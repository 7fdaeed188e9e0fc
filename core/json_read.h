// Reading JSON configs and results: the typed readers every parser shares, each error naming the
// field, the value and the rule ("jobs[0].config.samples = -3: must be an integer in [1, 1e9]"),
// plus dotted paths into documents and the leaf-by-leaf comparison of two configs. One set for
// the whole tree, so a rule or a message is written once.
//
//   std::int64_t n = fsr::read_int(config, "samples", "jobs[0].config", 1000, 1, 1000000000);
//   fsr::require_known_keys(config, "jobs[0].config", {"samples", "method"});
//   fsr::Json e = fsr::json_at_path(result, "errors.alpha_max_relative");  // null when absent
//
// Two families: read_*(object, key, field, fallback, ...) read an optional key of an object and
// name it `field.key`; as_*(value, field, ...) check a value already taken out and name it `field`.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/json_io.h"

namespace fsr {

// A value as it appears in a message: its JSON text, cut to 60 characters.
std::string compact_json(const Json& value);
// "parent.key", or "key" at the root.
std::string join_path(std::string_view parent, std::string_view key);
// "a, b, c"
std::string join_names(const std::vector<std::string>& names);

// Non-finite numbers become null (JSON has no NaN or infinity).
Json finite_or_null(double value);
Json finite_or_null(const Eigen::VectorXd& values);  // an array

// "a.b.0" -> the JSON pointer "/a/b/0" (for writing into a document).
Json::json_pointer dotted_pointer(const std::string& dotted);
// The value at a dotted path ("a.b.0.c": object keys and array indices); null when any step is
// missing.
Json json_at_path(const Json& value, const std::string& dotted);
// The leaves (non-object values, by dotted path) that differ between two documents, as
// "path: old -> new" with "(absent)" for a missing side, in path order. For refusing to resume
// or re-use a run whose config changed.
std::vector<std::string> json_differences(const Json& before, const Json& after);

// ---- Objects and keys ------------------------------------------------------------------------

// "<field> = <value>: must be an object" (field "config" at the root, field empty).
void require_object(const Json& value, const std::string& field);
// Every key of `object` is in `known`. Two message forms, both relied on by users' scripts:
// kValue (targets, learners): "<field>.<key> = <value>: unknown key (allowed: a, b)";
// kList (suites, jobs): "<field>.<key>: unknown key; known keys: a, b".
enum class UnknownKey { kValue, kList };
void require_known_keys(const Json& object, const std::string& field,
                        const std::vector<std::string>& known, UnknownKey form = UnknownKey::kList);
[[noreturn]] void fail_unknown_key(const std::string& field, const std::string& key,
                                   const Json& value, const std::vector<std::string>& known,
                                   UnknownKey form);

// ---- Values ----------------------------------------------------------------------------------

// An integer in [lo, hi]; integral floats (3.0) are accepted, and an unsigned value too large for
// int64 is out of range, not an error of type. "must be an integer" / "... in [lo, hi]".
std::int64_t as_int(const Json& value, const std::string& field, std::int64_t lo, std::int64_t hi);
// An integer >= 0 that may use all 64 bits (seeds): "must be an integer >= 0".
std::uint64_t as_uint(const Json& value, const std::string& field);
// A finite number: "must be a number".
double as_number(const Json& value, const std::string& field);
// One of `choices`: "must be a string", "must be one of a, b".
std::string as_choice(const Json& value, const std::string& field,
                      const std::vector<std::string>& choices);

// ---- Optional keys of an object (named field.key; the fallback when the key is absent) -------

// Integers here must be written as integers ("must be an integer"), then in [lo, hi].
std::int64_t read_int(const Json& object, const std::string& key, const std::string& field,
                      std::int64_t fallback, std::int64_t lo, std::int64_t hi);
double read_number(const Json& object, const std::string& key, const std::string& field,
                   double fallback);
bool read_bool(const Json& object, const std::string& key, const std::string& field, bool fallback);
std::string read_choice(const Json& object, const std::string& key, const std::string& field,
                        const std::string& fallback, const std::vector<std::string>& choices);
// "must be a non-empty string" (an empty one is refused unless allow_empty).
std::string read_string(const Json& object, const std::string& key, const std::string& field,
                        const std::string& fallback, bool allow_empty = false);
// An object ({} when absent): "must be an object".
Json read_object(const Json& object, const std::string& key, const std::string& field);
// A required non-empty array: "is required", "must be a non-empty list".
const Json& read_list(const Json& object, const std::string& key, const std::string& field);

}  // namespace fsr

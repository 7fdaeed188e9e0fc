// Validation at the boundary: every config field and input array is checked once, and a broken
// rule produces a message that names the field, the value and the rule (Ceres' IsValid style):
//
//   fsr::require_positive("alpha", alpha);       // throws "alpha = -1: must be > 0"
//   fsr::require_in_range("active[0]", p, 0, 1);  // "active[0] = 1.4: must be in (0, 1)"
//   throw fsr::InputError(fsr::field_message("samples", "S.npy", "must have rank 2"));
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace fsr {

// Bad user input (a config value, a file, a command-line flag). The command line maps it to exit
// code 2 and one line on stderr; library code throws it and never prints.
class InputError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// Formats a value for a message: doubles with enough digits to tell them apart.
std::string format_value(double value);
inline std::string format_value(std::string_view value) { return std::string(value); }
inline std::string format_value(const char* value) { return std::string(value); }
inline std::string format_value(const std::string& value) { return value; }
template <typename T>
requires std::is_integral_v<T> std::string format_value(T value) { return std::to_string(value); }
std::string format_shape(const std::vector<std::int64_t>& shape);  // "(3, 4)"
std::string matrix_shape(const Eigen::MatrixXd& matrix);           // "(rows, cols)"

// Control bytes (below 0x20, and 0x7f) written as \n, \r, \t, \0 or \xNN, so that text from the
// input (a key, a path, a string value) cannot break a one-line message or hide in it.
std::string escape_control(std::string_view text);

// A value for a message, cut to `max_bytes` (at a UTF-8 character boundary, "..." appended): an
// error must stay one readable line even when the offending value is a 100 MB array.
std::string shorten(std::string text, std::size_t max_bytes = 300);

// "<field> = <value>: <rule>", one line: control bytes in any part are escaped, long values cut.
template <typename T>
std::string field_message(std::string_view field, const T& value, std::string_view rule) {
  std::ostringstream out;
  out << field << " = " << shorten(format_value(value)) << ": " << rule;
  return escape_control(out.str());
}

template <typename T>
[[noreturn]] void fail_field(std::string_view field, const T& value, std::string_view rule) {
  throw InputError(field_message(field, value, rule));
}

void require_finite(std::string_view field, double value);
void require_positive(std::string_view field, double value);     // > 0
void require_nonnegative(std::string_view field, double value);  // >= 0
// lo < value < hi by default; closed ends on request.
void require_in_range(std::string_view field, double value, double lo, double hi,
                      bool closed_lo = false, bool closed_hi = false);
void require_int_in_range(std::string_view field, std::int64_t value, std::int64_t lo,
                          std::int64_t hi);  // lo <= value <= hi
// A number that must be an integer in [lo, hi] (JSON gives every number as a double): finite,
// whole and in range are checked before the conversion, which is undefined for 1e300.
std::int64_t require_integer(std::string_view field, double value, std::int64_t lo,
                             std::int64_t hi);
// Every entry finite; names the first offending index ("S.npy[12] = nan: must be finite").
void require_all_finite(std::string_view field, const double* data, std::size_t n);
// Every entry finite; names the first offending entry ("truth[2, 5] = inf: must be finite").
void require_all_finite(std::string_view field, const Eigen::MatrixXd& matrix);

}  // namespace fsr

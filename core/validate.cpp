#include "core/validate.h"

#include <cmath>
#include <cstdio>

namespace fsr {

std::string format_value(double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.10g", value);
  return buf;
}

std::string escape_control(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (c >= 0x20 && c != 0x7f) {
      out += ch;
      continue;
    }
    switch (c) {
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case 0:
        out += "\\0";
        break;
      default: {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\x%02x", c);
        out += buf;
      }
    }
  }
  return out;
}

std::string shorten(std::string text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  std::size_t cut = max_bytes > 3 ? max_bytes - 3 : 0;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xc0) == 0x80) --cut;
  text.resize(cut);
  return text + "...";
}

std::string format_shape(const std::vector<std::int64_t>& shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  if (shape.size() == 1) s += ",";
  return s + ")";
}

std::string matrix_shape(const Eigen::MatrixXd& matrix) {
  return format_shape(
      {static_cast<std::int64_t>(matrix.rows()), static_cast<std::int64_t>(matrix.cols())});
}

void require_all_finite(std::string_view field, const Eigen::MatrixXd& matrix) {
  for (Eigen::Index j = 0; j < matrix.cols(); ++j) {
    for (Eigen::Index i = 0; i < matrix.rows(); ++i) {
      if (!std::isfinite(matrix(i, j))) {
        fail_field(std::string(field) + "[" + std::to_string(i) + ", " + std::to_string(j) + "]",
                   matrix(i, j), "must be finite");
      }
    }
  }
}

void require_finite(std::string_view field, double value) {
  if (!std::isfinite(value)) fail_field(field, value, "must be finite");
}

void require_positive(std::string_view field, double value) {
  if (!(value > 0) || !std::isfinite(value)) fail_field(field, value, "must be finite and > 0");
}

void require_nonnegative(std::string_view field, double value) {
  if (!(value >= 0) || !std::isfinite(value)) fail_field(field, value, "must be finite and >= 0");
}

void require_in_range(std::string_view field, double value, double lo, double hi, bool closed_lo,
                      bool closed_hi) {
  const bool ok_lo = closed_lo ? value >= lo : value > lo;
  const bool ok_hi = closed_hi ? value <= hi : value < hi;
  if (!(ok_lo && ok_hi)) {
    fail_field(field, value,
               std::string("must be in ") + (closed_lo ? "[" : "(") + format_value(lo) + ", " +
                   format_value(hi) + (closed_hi ? "]" : ")"));
  }
}

void require_int_in_range(std::string_view field, std::int64_t value, std::int64_t lo,
                          std::int64_t hi) {
  if (value < lo || value > hi) {
    fail_field(field, value,
               "must be an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  }
}

std::int64_t require_integer(std::string_view field, double value, std::int64_t lo,
                             std::int64_t hi) {
  // Converting a double outside [-2^63, 2^63) to int64 is undefined: refuse those first.
  constexpr double kTwo63 = 9223372036854775808.0;
  const bool whole = std::isfinite(value) && value == std::floor(value);
  if (!whole || value < -kTwo63 || value >= kTwo63 || value < static_cast<double>(lo) ||
      value > static_cast<double>(hi)) {
    fail_field(field, value,
               "must be an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  }
  const auto v = static_cast<std::int64_t>(value);
  require_int_in_range(field, v, lo, hi);  // the ends exactly (hi = 2^63 - 1 is no double)
  return v;
}

void require_all_finite(std::string_view field, const double* data, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    if (!std::isfinite(data[i])) {
      fail_field(std::string(field) + "[" + std::to_string(i) + "]", data[i], "must be finite");
    }
  }
}

}  // namespace fsr

#include "core/validate.h"

#include <cmath>
#include <cstdio>

namespace fsr {

std::string format_value(double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.10g", value);
  return buf;
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

void require_all_finite(std::string_view field, const double* data, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    if (!std::isfinite(data[i])) {
      fail_field(std::string(field) + "[" + std::to_string(i) + "]", data[i], "must be finite");
    }
  }
}

}  // namespace fsr

#include "theory/moment_tools.h"

#include <cmath>
#include <limits>
#include <string>

#include "core/rng.h"
#include "core/validate.h"

namespace fsr {
namespace {

void require_nonempty(const std::string& field, const Eigen::MatrixXd& a) {
  if (a.rows() == 0 || a.cols() == 0) {
    fail_field(field + " shape", matrix_shape(a), "must have at least one row and one column");
  }
}

void require_directions(const Eigen::MatrixXd& directions, Eigen::Index dim) {
  require_nonempty("directions", directions);
  if (directions.rows() != dim) {
    fail_field("directions shape", matrix_shape(directions),
               "must have " + std::to_string(dim) + " rows (one per coordinate of a vector)");
  }
  require_all_finite("directions", directions);
}

void require_order(int order) { require_int_in_range("order", order, 1, kMaxMomentOrder); }

void require_dictionary_and_codes(const Eigen::MatrixXd& dictionary, const Eigen::MatrixXd& codes) {
  require_nonempty("dictionary", dictionary);
  require_nonempty("codes", codes);
  if (codes.cols() != dictionary.cols()) {
    fail_field("codes shape", matrix_shape(codes),
               "must have m = " + std::to_string(dictionary.cols()) + " columns like dictionary " +
                   matrix_shape(dictionary) + " (codes are N x m, dictionary d x m)");
  }
  require_all_finite("dictionary", dictionary);
  require_all_finite("codes", codes);
}

void finish_split(OutputMomentSplit& r, bool rms) {
  r.cross = r.full - r.diagonal;
  const double denom = rms ? std::sqrt(static_cast<double>(r.full.size())) : 1.0;
  r.full_norm = r.full.norm() / denom;
  r.diagonal_norm = r.diagonal.norm() / denom;
  r.cross_norm = r.cross.norm() / denom;
  if (r.diagonal_norm > 0.0) {
    r.cross_to_diagonal = r.cross_norm / r.diagonal_norm;
  } else {
    r.cross_to_diagonal = r.cross_norm > 0.0 ? std::numeric_limits<double>::infinity() : 0.0;
  }
}

// E[s_i^c] for each unit: a row vector of length m.
Eigen::VectorXd unit_moments(const Eigen::MatrixXd& codes, int order) {
  Eigen::VectorXd mu(codes.cols());
  for (Eigen::Index i = 0; i < codes.cols(); ++i) {
    mu(i) = codes.col(i).array().pow(order).mean();
  }
  return mu;
}

// x^{⊗c} flattened with the first index fastest, accumulated into out with weight w.
void add_tensor_power(const Eigen::VectorXd& x, int order, double w, Eigen::VectorXd& scratch_a,
                      Eigen::VectorXd& scratch_b, Eigen::VectorXd& out) {
  const Eigen::Index d = x.size();
  scratch_a.head(d) = x;
  Eigen::Index len = d;
  for (int k = 2; k <= order; ++k) {
    // New index = old index + len * i_k: block i_k is x(i_k) times the previous tensor.
    for (Eigen::Index i = 0; i < d; ++i)
      scratch_b.segment(i * len, len) = x(i) * scratch_a.head(len);
    len *= d;
    scratch_a.head(len).swap(scratch_b.head(len));
  }
  out += w * scratch_a.head(len);
}

}  // namespace

Eigen::MatrixXd random_unit_directions(int dim, int count, std::uint64_t seed) {
  require_int_in_range("dim", dim, 1, std::numeric_limits<int>::max());
  require_int_in_range("count", count, 1, std::numeric_limits<int>::max());
  Rng rng(seed, 0);
  Eigen::MatrixXd u(dim, count);
  for (int j = 0; j < count; ++j) {
    double norm = 0.0;
    do {  // a zero Gaussian vector has probability 0, but never divide by it
      for (int i = 0; i < dim; ++i) u(i, j) = rng.normal();
      norm = u.col(j).norm();
    } while (!(norm > 0.0));
    u.col(j) /= norm;
  }
  return u;
}

Eigen::MatrixXd projected_moments(const Eigen::MatrixXd& samples, const Eigen::MatrixXd& directions,
                                  int max_order) {
  require_nonempty("samples", samples);
  require_all_finite("samples", samples);
  require_directions(directions, samples.cols());
  require_int_in_range("max_order", max_order, 1, kMaxMomentOrder);
  const Eigen::ArrayXXd proj = (samples * directions).array();  // N x count
  Eigen::ArrayXXd power = proj;
  Eigen::MatrixXd moments(max_order, directions.cols());
  for (int k = 1; k <= max_order; ++k) {
    if (k > 1) power *= proj;
    moments.row(k - 1) = power.colwise().mean().matrix();
  }
  return moments;
}

MomentMismatch moment_mismatch(const Eigen::MatrixXd& x, const Eigen::MatrixXd& y,
                               const Eigen::MatrixXd& directions, int max_order) {
  require_nonempty("x", x);
  require_nonempty("y", y);
  if (y.cols() != x.cols()) {
    fail_field(
        "y shape", matrix_shape(y),
        "must have dim = " + std::to_string(x.cols()) + " columns like x " + matrix_shape(x));
  }
  MomentMismatch r;
  r.moments_x = projected_moments(x, directions, std::max(max_order, 2));
  r.moments_y = projected_moments(y, directions, std::max(max_order, 2));
  r.scale = std::sqrt(0.5 * (r.moments_x.row(1).mean() + r.moments_y.row(1).mean()));
  r.moments_x.conservativeResize(max_order, Eigen::NoChange);
  r.moments_y.conservativeResize(max_order, Eigen::NoChange);
  r.per_order.assign(max_order, 0.0);
  if (!(r.scale > 0.0)) return r;  // both batches project to 0: identical moments

  for (int k = 1; k <= max_order; ++k) {
    r.per_order[k - 1] =
        (r.moments_x.row(k - 1) - r.moments_y.row(k - 1)).cwiseAbs().mean() / std::pow(r.scale, k);
  }
  const Eigen::RowVectorXd mean_gap = x.colwise().mean() - y.colwise().mean();
  r.mean_gap = mean_gap.norm() / r.scale;
  const Eigen::MatrixXd second_gap = x.transpose() * x / static_cast<double>(x.rows()) -
                                     y.transpose() * y / static_cast<double>(y.rows());
  r.second_moment_gap = second_gap.norm() / (r.scale * r.scale);
  return r;
}

MomentMismatch moment_mismatch(const Eigen::MatrixXd& x, const Eigen::MatrixXd& y, int max_order,
                               int count, std::uint64_t seed) {
  require_nonempty("x", x);
  return moment_mismatch(x, y, random_unit_directions(static_cast<int>(x.cols()), count, seed),
                         max_order);
}

OutputMomentSplit output_moment_split(const Eigen::MatrixXd& dictionary,
                                      const Eigen::MatrixXd& codes, int order,
                                      const Eigen::MatrixXd& directions) {
  require_dictionary_and_codes(dictionary, codes);
  require_order(order);
  require_directions(directions, dictionary.rows());
  OutputMomentSplit r;
  r.order = order;
  r.projected = true;
  // <E[x^{⊗c}], u^{⊗c}> = E[(u·x)^c] with u·x = (Mᵀu)·s: project through the dictionary.
  const Eigen::MatrixXd loadings = dictionary.transpose() * directions;  // m x count: u_j·m_i
  const Eigen::ArrayXXd proj = (codes * loadings).array();               // N x count
  r.full = proj.pow(order).colwise().mean().matrix().transpose();
  const Eigen::VectorXd mu = unit_moments(codes, order);
  r.diagonal = (loadings.array().pow(order).matrix().transpose() * mu);
  finish_split(r, /*rms=*/true);
  return r;
}

OutputMomentSplit output_moment_split_tensor(const Eigen::MatrixXd& dictionary,
                                             const Eigen::MatrixXd& codes, int order,
                                             std::int64_t max_entries) {
  require_dictionary_and_codes(dictionary, codes);
  require_order(order);
  const Eigen::Index d = dictionary.rows();
  double entries = std::pow(static_cast<double>(d), order);
  if (entries > static_cast<double>(max_entries)) {
    fail_field("order", order,
               "the full tensor has d^order = " + std::to_string(d) + "^" + std::to_string(order) +
                   " = " + format_value(entries) +
                   " entries, more than max_entries = " + std::to_string(max_entries) +
                   "; use output_moment_split along random directions");
  }
  const Eigen::Index len = static_cast<Eigen::Index>(entries);
  OutputMomentSplit r;
  r.order = order;
  r.projected = false;
  r.full = Eigen::VectorXd::Zero(len);
  r.diagonal = Eigen::VectorXd::Zero(len);
  Eigen::VectorXd a(len), b(len);
  const Eigen::MatrixXd x = codes * dictionary.transpose();  // N x d
  const double w = 1.0 / static_cast<double>(x.rows());
  for (Eigen::Index n = 0; n < x.rows(); ++n) {
    add_tensor_power(x.row(n).transpose(), order, w, a, b, r.full);
  }
  const Eigen::VectorXd mu = unit_moments(codes, order);
  for (Eigen::Index i = 0; i < dictionary.cols(); ++i) {
    add_tensor_power(dictionary.col(i), order, mu(i), a, b, r.diagonal);
  }
  finish_split(r, /*rms=*/false);
  return r;
}

}  // namespace fsr

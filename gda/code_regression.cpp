#include "gda/code_regression.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/validate.h"
#include "synth/architecture.h"
#include "synth/target.h"
#include "theory/sparse_coding.h"

namespace fsr {

UpFit fit_super_resolution(const Eigen::MatrixXd& parent, const Eigen::MatrixXd& child,
                           const Architecture& a, int level, const UpFitOptions& o) {
  a.validate();
  require_int_in_range("level", level, 2, a.levels);
  const int in = a.channels[level - 2], out = a.channels[level - 1];
  const int h = a.grid_at(level), hp = h / 2, k = a.kernel;
  if (parent.cols() != std::int64_t{in} * hp * hp)
    fail_field("parent", matrix_shape(parent),
               "must have m_{l-1} h_{l-1}^2 = " + std::to_string(in * hp * hp) + " columns");
  if (child.cols() != std::int64_t{out} * h * h || child.rows() != parent.rows())
    fail_field(
        "child", matrix_shape(child),
        "must have the parent's rows and m_l h_l^2 = " + std::to_string(out * h * h) + " columns");

  // Design: one row per (sample, child position), one column per weight (i, ky, kx), then -1 for
  // the bias. Shared by every output channel.
  const Eigen::Index n = parent.rows(), rows = n * h * h;
  const int f = in * k * k;
  Eigen::MatrixXd x = Eigen::MatrixXd::Zero(rows, f + 1);
  x.col(f).setConstant(-1.0);
  for (int y = 0; y < h; ++y)
    for (int xx = 0; xx < h; ++xx)
      for (const ParentTap& t : parent_taps(y, xx, h, k))
        for (Eigen::Index a = 0; a < n; ++a)
          for (int i = 0; i < in; ++i)
            x((a * h + y) * h + xx, i * k * k + t.tap) =
                parent(a, std::int64_t{i} * hp * hp + t.parent);

  UpFit fit;
  fit.weight.assign(std::size_t(in) * out * k * k, 0.0);
  fit.bias = Eigen::VectorXd::Zero(out);
  fit.active_rows = Eigen::VectorXi::Zero(out);
  Eigen::VectorXd target(rows), mask(rows);
  for (int j = 0; j < out; ++j) {
    for (Eigen::Index a = 0; a < n; ++a)
      for (int p = 0; p < h * h; ++p) target(a * h * h + p) = child(a, std::int64_t{j} * h * h + p);
    const Eigen::Array<bool, Eigen::Dynamic, 1> active = target.array() > o.active_threshold;
    fit.active_rows(j) = static_cast<int>(active.count());
    if (active.count() == 0) continue;      // a silent channel: nothing to fit
    mask = active.cast<double>().matrix();  // round 0: the rows active in the data
    Eigen::VectorXd w = Eigen::VectorXd::Zero(f + 1);
    for (int round = 0; round <= o.rounds; ++round) {
      Eigen::MatrixXd g = x.transpose() * mask.asDiagonal() * x;
      // Ridge on the weights only (not the bias), relative to their mean diagonal: a weight the
      // rows barely exercise is pulled toward 0 instead of taking a large value from a few rows.
      const double lambda = o.ridge * g.diagonal().head(f).mean() + 1e-300;
      g.diagonal().head(f).array() += lambda;
      const Eigen::VectorXd rhs = x.transpose() * mask.cwiseProduct(target);
      w = g.ldlt().solve(rhs);
      // The next rows are those the fit predicts active: the least-squares form of minimising
      // sum (ReLU(x w) - t)^2. A row active in the data but predicted silent leaves the fit, so
      // a spurious small value (decoding leakage where the true child is off) cannot pull w.
      const Eigen::VectorXd next = ((x * w).array() > 0).cast<double>().matrix();
      if (next == mask || next.sum() == 0) break;  // converged, or keep the last non-empty fit
      mask = next;
    }
    for (int i = 0; i < in; ++i)
      for (int t = 0; t < k * k; ++t)
        fit.weight[(std::size_t(i) * out + j) * k * k + t] = w(i * k * k + t);
    fit.bias(j) = w(f);
  }
  return fit;
}

Eigen::MatrixXd refine_dictionary(const Eigen::MatrixXd& patches, const Eigen::MatrixXd& columns,
                                  int rounds, double floor_from, double floor_to) {
  if (columns.rows() != patches.cols())
    fail_field("columns", matrix_shape(columns),
               "must have one row per patch coordinate (" + std::to_string(patches.cols()) + ")");
  if (rounds < 0) fail_field("rounds", rounds, "must be >= 0");
  Eigen::MatrixXd m = columns;
  m.colwise().normalize();
  for (int round = 0; round < rounds; ++round) {
    // Leakage of the current columns would enter the update as activity, so decoded values
    // below a floor count as 0; the floor falls geometrically from floor_from to floor_to (of
    // the channel's RMS) over the rounds. A fixed floor stalls (gda/code_regression_test prints
    // both from the same start).
    const double floor = rounds > 1 ? floor_from * std::pow(floor_to / floor_from,
                                                            double(round) / double(rounds - 1))
                                    : floor_to;
    const Eigen::MatrixXd s = decode_codes(patches, m, floor);
    // MOD update (theory/sparse_coding.h): M = argmin ||X - S M^T||_F, unit columns; a column
    // no patch uses keeps its previous value.
    m = mod_update(patches, s, m);
  }
  return m;
}

Eigen::MatrixXd decode_codes(const Eigen::MatrixXd& patches, const Eigen::MatrixXd& columns,
                             double floor_fraction) {
  const Eigen::MatrixXd pinv = columns.completeOrthogonalDecomposition().pseudoInverse();
  Eigen::MatrixXd s = (patches * pinv.transpose()).cwiseMax(0.0);
  if (floor_fraction > 0)
    for (Eigen::Index j = 0; j < s.cols(); ++j) {
      const double floor = floor_fraction * std::sqrt(s.col(j).squaredNorm() /
                                                      double(std::max<Eigen::Index>(1, s.rows())));
      s.col(j) = (s.col(j).array() < floor).select(0.0, s.col(j));
    }
  return s;
}

}  // namespace fsr

#include "theory/sparse_coding.h"

#include <Eigen/Cholesky>
#include <Eigen/Eigenvalues>
#include <algorithm>
#include <cmath>
#include <numeric>
#include <thread>

#include "core/rng.h"
#include "core/validate.h"

namespace fsr {
namespace {

Eigen::MatrixXd unit_columns(const Eigen::MatrixXd& d) {
  Eigen::MatrixXd out = d;
  for (Eigen::Index j = 0; j < out.cols(); ++j) {
    const double n = out.col(j).norm();
    if (n > 0) out.col(j) /= n;
  }
  return out;
}

// Splits [0, n) into `threads` contiguous ranges and runs fn(begin, end) on each.
template <typename Fn>
void parallel_ranges(Eigen::Index n, int threads, Fn fn) {
  threads = std::max(1, std::min<int>(threads, static_cast<int>(std::max<Eigen::Index>(1, n))));
  if (threads == 1) return fn(Eigen::Index{0}, n);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    const Eigen::Index a = n * t / threads, b = n * (t + 1) / threads;
    pool.emplace_back([=] { fn(a, b); });
  }
  for (auto& th : pool) th.join();
}

}  // namespace

SparseCodes omp(const Eigen::MatrixXd& dictionary, const Eigen::MatrixXd& patches,
                const OmpOptions& o) {
  const Eigen::Index d = dictionary.rows(), m = dictionary.cols(), n = patches.rows();
  if (m < 1) fail_field("dictionary", matrix_shape(dictionary), "must have at least one column");
  if (patches.cols() != d)
    fail_field("patches", matrix_shape(patches),
               "must have one column per dictionary row (" + std::to_string(d) + ")");
  require_nonnegative("tolerance", o.tolerance);
  if (o.max_atoms < 0) fail_field("max_atoms", o.max_atoms, "must be >= 0");
  const Eigen::MatrixXd D = unit_columns(dictionary);
  const int cap =
      static_cast<int>(o.max_atoms > 0 ? std::min<Eigen::Index>(o.max_atoms, m) : std::min(d, m));
  std::vector<bool> usable(m);
  for (Eigen::Index j = 0; j < m; ++j) usable[j] = D.col(j).squaredNorm() > 0.5;
  const Eigen::MatrixXd G = D.transpose() * D;
  const double tol2 = o.tolerance * o.tolerance;

  SparseCodes out;
  out.codes = Eigen::MatrixXd::Zero(n, m);
  out.counts = Eigen::VectorXi::Zero(n);
  out.residuals = Eigen::VectorXd::Zero(n);
  parallel_ranges(n, o.threads, [&](Eigen::Index begin, Eigen::Index end) {
    Eigen::MatrixXd L(cap, cap);  // lower Cholesky factor of G[I, I]
    std::vector<int> chosen;
    std::vector<bool> in(m);
    for (Eigen::Index p = begin; p < end; ++p) {
      const Eigen::VectorXd x = patches.row(p).transpose();
      const Eigen::VectorXd alpha0 = D.transpose() * x;  // D^T x
      double r2 = x.squaredNorm();
      chosen.clear();
      std::fill(in.begin(), in.end(), false);
      Eigen::VectorXd gamma;
      Eigen::VectorXd corr = alpha0;  // D^T r
      while (r2 > tol2 && static_cast<int>(chosen.size()) < cap) {
        Eigen::Index k = -1;
        double best = 0.0;
        for (Eigen::Index j = 0; j < m; ++j) {
          if (in[j] || !usable[j]) continue;
          if (std::abs(corr(j)) > best) best = std::abs(corr(j)), k = j;
        }
        if (k < 0 || best <= 1e-14 * std::sqrt(x.squaredNorm())) break;
        const int s = static_cast<int>(chosen.size());
        if (s > 0) {
          // New Cholesky row: L w = G[I, k]; diagonal sqrt(1 - |w|^2) (unit atoms).
          Eigen::VectorXd gk(s);
          for (int i = 0; i < s; ++i) gk(i) = G(chosen[i], k);
          const Eigen::VectorXd w = L.topLeftCorner(s, s).triangularView<Eigen::Lower>().solve(gk);
          const double diag2 = 1.0 - w.squaredNorm();
          if (diag2 <= 1e-10) break;  // atom k lies in the span of the chosen ones
          L.row(s).head(s) = w.transpose();
          L(s, s) = std::sqrt(diag2);
        } else {
          L(0, 0) = 1.0;
        }
        chosen.push_back(static_cast<int>(k));
        in[k] = true;
        const int t = s + 1;
        Eigen::VectorXd a(t);
        for (int i = 0; i < t; ++i) a(i) = alpha0(chosen[i]);
        // gamma = G[I, I]^-1 D_I^T x by the two triangular solves.
        gamma = L.topLeftCorner(t, t).triangularView<Eigen::Lower>().solve(a);
        gamma = L.topLeftCorner(t, t).transpose().triangularView<Eigen::Upper>().solve(gamma);
        // The residual explicitly (||x||^2 - a^T gamma would lose its digits to cancellation
        // once the fit is nearly exact); its correlations through the Gram matrix.
        Eigen::VectorXd r = x;
        corr = alpha0;
        for (int i = 0; i < t; ++i) {
          r -= gamma(i) * D.col(chosen[i]);
          corr -= gamma(i) * G.col(chosen[i]);
        }
        r2 = r.squaredNorm();
      }
      for (std::size_t i = 0; i < chosen.size(); ++i) out.codes(p, chosen[i]) = gamma(i);
      out.counts(p) = static_cast<int>(chosen.size());
      out.residuals(p) = std::sqrt(r2);
    }
  });
  return out;
}

Eigen::MatrixXd mod_update(const Eigen::MatrixXd& patches, const Eigen::MatrixXd& codes,
                           const Eigen::MatrixXd& columns) {
  if (columns.rows() != patches.cols())
    fail_field("columns", matrix_shape(columns),
               "must have one row per patch coordinate (" + std::to_string(patches.cols()) + ")");
  if (codes.rows() != patches.rows() || codes.cols() != columns.cols())
    fail_field("codes", matrix_shape(codes),
               "must have one row per patch and one column per dictionary column");
  Eigen::MatrixXd g = codes.transpose() * codes;
  const Eigen::MatrixXd rhs = codes.transpose() * patches;  // (m, d)
  // A tiny ridge keeps the solve defined when a column is unused (its row of g is 0).
  const double lambda = 1e-12 * std::max(g.diagonal().maxCoeff(), 1e-300);
  g.diagonal().array() += lambda;
  const Eigen::MatrixXd next = g.ldlt().solve(rhs).transpose();  // (d, m)
  Eigen::MatrixXd m = columns;
  for (Eigen::Index j = 0; j < m.cols(); ++j) {
    const double nr = next.col(j).norm();
    if (codes.col(j).squaredNorm() > 0 && nr > 0) m.col(j) = next.col(j) / nr;
  }
  return m;
}

DictionaryFit learn_dictionary(const Eigen::MatrixXd& patches, const DictionaryOptions& o) {
  const Eigen::Index n = patches.rows(), d = patches.cols();
  if (o.atoms < 1) fail_field("atoms", o.atoms, "must be >= 1");
  if (o.iterations < 0) fail_field("iterations", o.iterations, "must be >= 0");
  require_in_range("duplicate_cosine", o.duplicate_cosine, 0.0, 1.0, false, true);
  std::vector<Eigen::Index> nonzero;
  for (Eigen::Index p = 0; p < n; ++p)
    if (patches.row(p).squaredNorm() > 0) nonzero.push_back(p);
  if (static_cast<Eigen::Index>(nonzero.size()) < o.atoms)
    fail_field("patches", std::to_string(nonzero.size()) + " non-zero rows",
               "must hold at least atoms = " + std::to_string(o.atoms));
  // Initial atoms: k-means++ seeding on directions (Arthur & Vassilvitskii 2007) — the first a
  // random non-zero patch, each next one a patch drawn with probability proportional to its
  // energy off the best single chosen atom, ||x||^2 (1 - max_j cos^2(x, d_j)). Plain random
  // patches started 1 seed in 4 in a local minimum on 2-sparse planted data (an atom split in
  // two, another never found); this seeding spreads the start over distinct directions.
  Rng rng(o.seed, 0x646963740000ULL);
  DictionaryFit fit;
  fit.dictionary.resize(d, o.atoms);
  Eigen::VectorXd off(n);  // energy of each patch off the chosen atoms' lines
  for (Eigen::Index p = 0; p < n; ++p) off(p) = patches.row(p).squaredNorm();
  for (int k = 0; k < o.atoms; ++k) {
    Eigen::Index pick = nonzero[rng.uniform_int(nonzero.size())];
    const double total = off.sum();
    if (k > 0 && total > 0) {
      double u = rng.uniform() * total;
      for (Eigen::Index p = 0; p < n; ++p) {
        u -= off(p);
        if (u < 0 && off(p) > 0) {
          pick = p;
          break;
        }
      }
    }
    fit.dictionary.col(k) = patches.row(pick).transpose().normalized();
    const Eigen::VectorXd proj = patches * fit.dictionary.col(k);
    for (Eigen::Index p = 0; p < n; ++p)
      off(p) = std::min(off(p), std::max(0.0, patches.row(p).squaredNorm() - proj(p) * proj(p)));
  }

  const OmpOptions coding{.tolerance = o.tolerance, .max_atoms = o.max_atoms, .threads = o.threads};
  for (int round = 0; round < o.iterations; ++round) {
    const SparseCodes c = omp(fit.dictionary, patches, coding);
    fit.mean_atoms.push_back(c.counts.cast<double>().mean());
    fit.rms_residual.push_back(
        std::sqrt(c.residuals.squaredNorm() / double(std::max<Eigen::Index>(1, n))));
    fit.dictionary = mod_update(patches, c.codes, fit.dictionary);
    // Replace unused, rarely used and duplicate atoms by the worst-coded patches' residual
    // directions — in the first 80 % of the rounds only, so that MOD polishes the last ones.
    if (round >= (4 * o.iterations) / 5) continue;
    std::vector<Eigen::Index> use(o.atoms);
    for (int j = 0; j < o.atoms; ++j) use[j] = (c.codes.col(j).array() != 0).count();
    const double mean_use =
        double(std::accumulate(use.begin(), use.end(), Eigen::Index{0})) / o.atoms;
    std::vector<int> bad;
    for (int j = 0; j < o.atoms; ++j) {
      bool replace = use[j] == 0 || double(use[j]) < o.min_use_fraction * mean_use;
      for (int i = 0; i < j && !replace; ++i)
        replace = std::abs(fit.dictionary.col(i).dot(fit.dictionary.col(j))) > o.duplicate_cosine;
      if (replace) bad.push_back(j);
    }
    if (bad.empty()) continue;
    std::vector<Eigen::Index> order(n);
    std::iota(order.begin(), order.end(), Eigen::Index{0});
    const std::size_t take = std::min<std::size_t>(bad.size(), order.size());
    std::partial_sort(
        order.begin(), order.begin() + take, order.end(), [&](Eigen::Index a, Eigen::Index b) {
          return c.residuals(a) > c.residuals(b) || (c.residuals(a) == c.residuals(b) && a < b);
        });
    for (std::size_t i = 0; i < take; ++i) {
      const Eigen::Index p = order[i];
      Eigen::VectorXd r = patches.row(p).transpose() - fit.dictionary * c.codes.row(p).transpose();
      if (r.norm() <= 0) r = patches.row(p).transpose();
      if (r.norm() <= 0) continue;
      fit.dictionary.col(bad[i]) = r.normalized();
      ++fit.replaced;
    }
  }
  return fit;
}

Eigen::MatrixXd gaussian_like(const Eigen::MatrixXd& batch, std::int64_t count,
                              std::uint64_t seed) {
  const Eigen::Index n = batch.rows(), d = batch.cols();
  if (n < 2) fail_field("batch", matrix_shape(batch), "needs at least 2 rows");
  if (count < 0) fail_field("count", count, "must be >= 0");
  const Eigen::RowVectorXd mean = batch.colwise().mean();
  const Eigen::MatrixXd centred = batch.rowwise() - mean;
  const Eigen::MatrixXd cov = centred.transpose() * centred / double(n - 1);
  const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(cov);
  // Root = V diag(sqrt(max(lambda, 0))): negative eigenvalues are rounding of a singular cov.
  const Eigen::MatrixXd root =
      eig.eigenvectors() * eig.eigenvalues().cwiseMax(0.0).cwiseSqrt().asDiagonal();
  Eigen::MatrixXd out(count, d);
  Eigen::VectorXd z(d);
  for (std::int64_t i = 0; i < count; ++i) {
    Rng rng(seed, static_cast<std::uint64_t>(i));
    for (Eigen::Index k = 0; k < d; ++k) z(k) = rng.normal();
    out.row(i) = mean + (root * z).transpose();
  }
  return out;
}

CoherenceStats coherence_stats(const Eigen::MatrixXd& dictionary) {
  CoherenceStats s;
  if (dictionary.cols() < 2) return s;
  const Eigen::MatrixXd u = unit_columns(dictionary);
  Eigen::MatrixXd g = (u.transpose() * u).cwiseAbs();
  g.diagonal().setZero();
  s.max = g.maxCoeff();
  s.mean_max = g.colwise().maxCoeff().mean();
  return s;
}

}  // namespace fsr

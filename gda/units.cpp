#include "gda/units.h"

#include <Eigen/QR>
#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/rng.h"
#include "gda/engines.h"
#include "theory/relu_moments.h"

namespace fsr {
namespace {

constexpr std::uint64_t kStreamReinit = 402;

// The first min(2048, eval_samples) held-out latents: enough to tell dead units and energies.
RowMatrix head(const RowMatrix& z) { return z.topRows(std::min<Eigen::Index>(2048, z.rows())); }

// Level 1: each kept head takes over, at every position p, the code row (A_hat row, threshold) of
// its cluster's member with the most energy along the head there, scaled so that the head's
// energy at p is the cluster's (sum of members' energy x cos^2): duplicates that split one
// column's code between channels, or carry it at different positions, leave one unit that
// carries it everywhere. `at` is the energy of channel j at position p.
void merge_clusters(RunContext& run, const UnitClusters& cl, const Eigen::MatrixXd& cols,
                    const Eigen::MatrixXd& at) {
  Engine& e = run.engine;
  const int m = int(at.rows()), hh = int(at.cols());
  const NpyArray a = e.tensor("A"), bt = e.tensor("b1");
  const Eigen::Index m0 = a.shape[1];
  std::vector<double> av = a.data, bv = bt.data;
  std::vector<bool> row_mask(av.size(), false), b_mask(bv.size(), false);
  const bool relative = run.config.generator.threshold == ThresholdForm::kRelative;
  const bool independent = run.config.generator.correlation == UnitCorrelation::kIndependent;
  for (int k = 0; k < cl.kept; ++k) {
    const int h = cl.heads[k];
    for (int p = 0; p < hh; ++p) {
      int best = h;
      double best_e = -1, total = 0;
      for (int j = 0; j < m; ++j) {
        if (cl.owner[j] != h) continue;
        const double c = cols.col(j).dot(cols.col(h));
        const double ej = at(j, p) * c * c;
        total += ej;
        if (ej > best_e) {
          best_e = ej;
          best = j;
        }
      }
      if (best_e <= 0) continue;
      const double scale = std::sqrt(total / best_e);
      const int to = h * hh + p, from = best * hh + p;
      // Independent units keep one latent each: the head's own entry takes the member's value.
      const double own = independent ? std::abs(av[from * m0 + from]) * scale : 0.0;
      for (Eigen::Index i = 0; i < m0; ++i) {
        av[to * m0 + i] = independent ? (i == to ? own : 0.0) : av[from * m0 + i] * scale;
        row_mask[to * m0 + i] = true;
      }
      // A relative threshold is in units of the row norm, which the scale already moved.
      bv[to] = relative ? bv[from] : bv[from] * scale;
      b_mask[to] = true;
    }
  }
  e.set_tensor("A", av);
  e.set_tensor("b1", bv);
  e.reset_optimizer_entries("A", row_mask);
  e.reset_optimizer_entries("b1", b_mask);
}

}  // namespace

void reinit_level1(RunContext& run, std::int64_t global_step) {
  const LearnerConfig& c = run.config;
  Engine& e = run.engine;
  const int h2 = run.shape.grid * run.shape.grid;
  const int m = run.shape.channels[0];
  const RowMatrix s = e.generate(head(run.eval_z), 1, true).codes[0];  // (N, m h2)
  const double N = double(s.rows());
  std::vector<double> activity(m, 0.0), energy(m, 0.0);
  for (int j = 0; j < m; ++j) {
    for (int p = 0; p < h2; ++p) {
      double active = 0;
      for (Eigen::Index r = 0; r < s.rows(); ++r) active += s(r, j * h2 + p) > 0;
      activity[j] = std::max(activity[j], active / N);
    }
    double acc = 0;
    for (Eigen::Index r = 0; r < s.rows(); ++r)
      for (int p = 0; p < h2; ++p) acc += s(r, j * h2 + p) * s(r, j * h2 + p);
    energy[j] = acc / (N * h2);
  }
  const std::vector<int> kept = kept_channels(e, 1);
  Eigen::MatrixXd cols = e.dictionary(1);
  cols.colwise().normalize();
  std::vector<bool> bad(m, false);
  for (int j : kept)
    if (activity[j] < c.units.dead_activity) bad[j] = true;
  for (int a : kept)
    for (int b : kept) {
      if (a >= b || bad[a] || bad[b]) continue;
      if (std::abs(cols.col(a).dot(cols.col(b))) > c.units.duplicate_cosine)
        bad[energy[a] < energy[b] ? a : b] = true;
    }
  std::vector<int> targets;
  for (int j : kept)
    if (bad[j]) targets.push_back(j);
  if (targets.empty()) return;

  // Candidate directions: decoder rows far from every live column, strongest read-out first.
  std::vector<Eigen::VectorXd> candidates;
  const Eigen::MatrixXd vm = e.decoder(1);
  if (vm.size() > 0) {
    const NpyArray lin = e.tensor("lin1");  // (P_1, U_1)
    const int U = int(vm.rows());
    std::vector<std::pair<double, int>> order;
    for (int k = 0; k < U; ++k) {
      Eigen::VectorXd dir = vm.row(k).transpose().normalized();
      double best = 0;
      for (int j : kept)
        if (!bad[j]) best = std::max(best, std::abs(cols.col(j).dot(dir)));
      if (best >= 0.9) continue;
      double weight = 0;
      for (std::size_t p = 0; p < lin.data.size() / U; ++p) weight += std::abs(lin.data[p * U + k]);
      order.push_back({-weight, k});
    }
    std::sort(order.begin(), order.end());
    for (const auto& [w, k] : order) candidates.push_back(vm.row(k).transpose().normalized());
  }
  const NpyArray at = e.tensor("A"), bt = e.tensor("b1"), mt = e.tensor("M1");
  const Eigen::Index rows = at.shape[0], m0 = at.shape[1], d = mt.shape[0];
  Eigen::MatrixXd a(rows, m0), mcols(d, m);
  for (Eigen::Index i = 0; i < rows; ++i)
    for (Eigen::Index j = 0; j < m0; ++j) a(i, j) = at.data[i * m0 + j];
  for (Eigen::Index i = 0; i < d; ++i)
    for (int j = 0; j < m; ++j) mcols(i, j) = mt.data[i * m + j];
  std::vector<double> b = bt.data;
  std::vector<double> norms;
  for (int j : kept)
    if (!bad[j])
      for (int p = 0; p < h2; ++p) norms.push_back(a.row(j * h2 + p).norm());
  std::sort(norms.begin(), norms.end());
  const double row_norm = norms.empty() ? c.generator.init_code_scale : norms[norms.size() / 2];
  const double t0 = normal_q_inverse(c.generator.init_active);
  const bool relative = c.generator.threshold == ThresholdForm::kRelative;
  Rng rng(c.seed ^ kStreamReinit, std::uint64_t(global_step));
  const double col_norm = mcols.colwise().norm().mean();
  std::vector<bool> row_mask(std::size_t(rows) * m0, false), b_mask(rows, false),
      col_mask(std::size_t(d) * m, false);
  std::size_t next = 0;
  for (int j : targets) {
    Eigen::VectorXd dir(cols.rows());
    if (next < candidates.size()) {
      dir = candidates[next++];
    } else {
      for (Eigen::Index i = 0; i < dir.size(); ++i) dir(i) = rng.normal();
      dir.normalize();
    }
    mcols.col(j) = dir * col_norm;
    for (int p = 0; p < h2; ++p) {
      const int u = j * h2 + p;
      Eigen::VectorXd row(a.cols());
      for (Eigen::Index i = 0; i < row.size(); ++i) row(i) = rng.normal();
      // Orthogonal to every other row when there is room (Gram–Schmidt against their span).
      if (c.generator.correlation == UnitCorrelation::kIndependent) {
        row.setZero();
        row(u) = 1.0;
      } else if (a.rows() <= a.cols()) {
        Eigen::MatrixXd others(a.rows() - 1, a.cols());
        for (Eigen::Index r = 0, k = 0; r < a.rows(); ++r)
          if (r != u) others.row(k++) = a.row(r);
        Eigen::HouseholderQR<Eigen::MatrixXd> qr(others.transpose());
        const Eigen::MatrixXd q =
            qr.householderQ() * Eigen::MatrixXd::Identity(a.cols(), others.rows());
        row -= q * (q.transpose() * row);
      }
      a.row(u) = row.transpose().normalized() * row_norm;
      b[u] = relative ? t0 : row_norm * t0;
      for (Eigen::Index i = 0; i < m0; ++i) row_mask[u * m0 + i] = true;
      b_mask[u] = true;
    }
    for (Eigen::Index i = 0; i < d; ++i) col_mask[i * m + j] = true;
  }
  e.set_tensor("A", row_major(a));
  e.set_tensor("b1", b);
  e.set_tensor("M1", row_major(mcols));
  e.reset_optimizer_entries("A", row_mask);
  e.reset_optimizer_entries("b1", b_mask);
  e.reset_optimizer_entries("M1", col_mask);
}

UnitClusters cluster_units(const Eigen::MatrixXd& columns, const std::vector<double>& energy,
                           const std::vector<int>& channels, double cosine, double floor) {
  UnitClusters out;
  out.owner.assign(columns.cols(), -1);
  Eigen::MatrixXd unit = columns;
  for (Eigen::Index j = 0; j < unit.cols(); ++j) {
    const double n = unit.col(j).norm();
    if (n > 0) unit.col(j) /= n;
  }
  std::vector<int> order = channels;
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return energy[a] > energy[b]; });
  std::vector<int> heads;  // in order of energy
  std::vector<double> weight;
  for (int j : order) {
    int joined = -1;
    for (std::size_t k = 0; k < heads.size() && joined < 0; ++k) {
      const double c = std::abs(unit.col(j).dot(unit.col(heads[k])));
      if (c > cosine) {
        joined = int(k);
        weight[k] += energy[j] * c * c;
      }
    }
    if (joined < 0) {
      joined = int(heads.size());
      heads.push_back(j);
      weight.push_back(energy[j]);
    }
    out.owner[j] = heads[joined];
  }
  std::vector<int> rank(heads.size());
  std::iota(rank.begin(), rank.end(), 0);
  std::stable_sort(rank.begin(), rank.end(), [&](int a, int b) { return weight[a] > weight[b]; });
  for (int k : rank) {
    out.heads.push_back(heads[k]);
    out.weights.push_back(weight[k]);
  }
  // Kept: the clusters whose weight is at least `floor` x the heaviest, and never a dead one.
  // (A cut at the largest ratio between consecutive weights was tried and dropped: the weights
  // of near-silent channels fall off by ratios larger than the step from real columns to junk.)
  while (out.kept < int(out.weights.size()) && out.weights[out.kept] > 0 &&
         out.weights[out.kept] >= floor * out.weights[0])
    ++out.kept;
  return out;
}

Json prune(RunContext& run, int level) {
  Engine& e = run.engine;
  const auto& u = run.config.units;
  const int m = run.shape.channels[level - 1], want = run.shape.target_channels[level - 1];
  const int hh = run.shape.grid_at(level) * run.shape.grid_at(level);
  const RowMatrix s = e.generate(head(run.eval_z), level, true).codes[level - 1];
  Eigen::MatrixXd cols = e.dictionary(level);
  const Eigen::VectorXd cn = cols.colwise().norm().transpose();
  cols.colwise().normalize();
  std::vector<int> order = kept_channels(e, level);
  // Energy of channel j at position p along its (unit) column: mean code^2 x ||column||^2.
  Eigen::MatrixXd at(m, hh);
  for (int j = 0; j < m; ++j)
    for (int p = 0; p < hh; ++p) {
      double acc = 0;
      for (Eigen::Index r = 0; r < s.rows(); ++r) acc += s(r, j * hh + p) * s(r, j * hh + p);
      at(j, p) = acc / double(s.rows()) * cn(j) * cn(j);
    }
  std::vector<double> energy(m);
  for (int j = 0; j < m; ++j) energy[j] = at.row(j).mean();
  std::vector<int> keep;
  Json report{{"level", level}, {"rule", u.prune_rule}};
  if (u.prune_rule == PruneRule::kClusters) {
    const UnitClusters cl = cluster_units(cols, energy, order, u.cluster_cosine, u.cluster_floor);
    if (cl.kept == 0) return report;  // every channel silent: nothing to choose by
    keep.assign(cl.heads.begin(), cl.heads.begin() + cl.kept);
    report["cluster_weights"] = cl.weights;
    report["clusters"] = int(cl.heads.size());
    if (u.cluster_merge && level == 1) merge_clusters(run, cl, cols, at);
  } else {
    std::sort(order.begin(), order.end(), [&](int a, int b) { return energy[a] > energy[b]; });
    std::vector<int> rest;
    for (int j : order) {
      bool dup = false;
      for (int k : keep) dup = dup || std::abs(cols.col(j).dot(cols.col(k))) > u.duplicate_cosine;
      (dup || static_cast<int>(keep.size()) >= want ? rest : keep).push_back(j);
    }
    for (int j : rest)
      if (static_cast<int>(keep.size()) < want) keep.push_back(j);
  }
  std::vector<double> mask(m, 0.0);
  for (int j : keep) mask[j] = 1.0;
  e.set_tensor("mask" + std::to_string(level), mask);
  report["kept"] = keep;
  return report;
}

Json maintain_units(RunContext& run, const std::vector<int>& trained, std::int64_t stage_steps,
                    bool finetune, std::int64_t step, std::int64_t global_step) {
  const auto& u = run.config.units;
  const bool trains_level1 = std::find(trained.begin(), trained.end(), 1) != trained.end();
  if (trains_level1 && u.reinit_every > 0 && step > 0 && step % u.reinit_every == 0 &&
      step < step_at_fraction(u.reinit_until, stage_steps)) {
    reinit_level1(run, global_step);
  }
  if (u.prune_at > 0 && step == step_at_fraction(u.prune_at, stage_steps) && !finetune) {
    Json reports = Json::array();
    for (int l : trained)
      if (u.prune_rule == PruneRule::kClusters ||
          run.shape.channels[l - 1] > run.shape.target_channels[l - 1])
        reports.push_back(prune(run, l));
    return reports;
  }
  return Json::array();
}

}  // namespace fsr

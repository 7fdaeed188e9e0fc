#include "score/recovery.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/json_read.h"
#include "core/rng.h"
#include "core/validate.h"
#include "synth/sample.h"
#include "theory/relu_moments.h"

namespace fsr {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

template <typename V>
std::vector<int> map_indices(const std::vector<int>& idx, const V& keep) {
  std::vector<int> out;
  out.reserve(idx.size());
  for (int i : idx) out.push_back(keep[i]);
  return out;
}

// The docs/science.md §2 errors of the scored units: truth unit truth_units[k] against the estimate
// (alpha_hat[k], beta_hat[k]) — canonical, merged where several learned units share a code — and,
// for rho = A A^T, against row learned_units[k] of learned_A.
void first_layer_errors(const Target& truth, const Eigen::MatrixXd& learned_A,
                        const std::vector<int>& truth_units, const std::vector<int>& learned_units,
                        const Eigen::VectorXd& alpha_hat, const Eigen::VectorXd& beta_hat,
                        std::uint64_t rho_seed, FirstLayerRecovery& r) {
  const auto n = static_cast<std::int64_t>(truth_units.size());
  for (std::int64_t k = 0; k < n; ++k) {
    const int u = truth_units[k];
    const UnitError e = unit_error(truth.alpha(u), truth.beta(u), alpha_hat(k), beta_hat(k));
    r.alpha_mean_relative += e.alpha_relative;
    r.beta_mean_relative += e.beta_relative;
    r.alpha_max_relative = std::max(r.alpha_max_relative, e.alpha_relative);
    r.beta_max_relative = std::max(r.beta_max_relative, e.beta_relative);
    r.t_max_abs_error = std::max(r.t_max_abs_error, e.t_abs);
  }
  if (n > 0) {
    r.alpha_mean_relative /= double(n);
    r.beta_mean_relative /= double(n);
  }
  constexpr std::int64_t kMaxPairs = 2000000;
  double rsum = 0;
  auto score_pair = [&](std::int64_t a, std::int64_t b) {
    const double rt = truth.A.row(truth_units[a]).dot(truth.A.row(truth_units[b]));
    const double rl = learned_A.row(learned_units[a]).dot(learned_A.row(learned_units[b]));
    const double e = std::abs(rt - rl);
    r.rho_max_abs_error = std::max(r.rho_max_abs_error, e);
    rsum += e;
    ++r.rho_pairs;
  };
  if (n * (n - 1) / 2 <= kMaxPairs) {
    for (std::int64_t a = 0; a < n; ++a)
      for (std::int64_t b = a + 1; b < n; ++b) score_pair(a, b);
  } else {
    Rng rng(rho_seed);
    while (r.rho_pairs < kMaxPairs) {
      const auto a = static_cast<std::int64_t>(rng.uniform_int(n));
      const auto b = static_cast<std::int64_t>(rng.uniform_int(n));
      if (a != b) score_pair(a, b);
    }
  }
  r.rho_mean_abs_error = r.rho_pairs ? rsum / double(r.rho_pairs) : 0.0;
}

// Both models in canonical form; `columns` is the level-1 match.
FirstLayerRecovery first_layer_recovery(const Target& truth, const Target& learned,
                                        const DictionaryMatch& columns, const ScoreOptions& o) {
  FirstLayerRecovery r;
  const int h2 = truth.grid * truth.grid, m = truth.channels[0];
  const std::vector<int>& perm = columns.match.permutation;
  const Eigen::VectorXd act = channel_activity(learned);
  for (int j : columns.match.dead_columns)
    if (act(j) > o.active_floor) ++r.active_unmatched;
  for (int j : columns.match.duplicate_columns)
    if (act(j) > o.active_floor) ++r.active_duplicates;

  const int n1 = truth.first_layer_units();
  r.alpha = truth.alpha;
  r.beta = truth.beta;
  r.alpha_hat = Eigen::VectorXd::Constant(n1, kNaN);
  r.beta_hat = Eigen::VectorXd::Constant(n1, kNaN);
  std::vector<int> truth_units, learned_units;  // scored pairs (for rho)
  for (int i = 0; i < m; ++i) {
    if (std::find(columns.missing_columns.begin(), columns.missing_columns.end(), i) !=
        columns.missing_columns.end()) {
      r.missing_channels.push_back(i);
      continue;
    }
    std::vector<int> aligned{perm[i]};
    for (int j : columns.match.duplicate_columns)
      if (columns.match.estimate_best_truth[j] == i && act(j) > o.active_floor)
        aligned.push_back(j);
    bool mergeable = true;
    for (std::size_t k = 1; k < aligned.size() && mergeable; ++k)
      for (int p = 0; p < h2 && mergeable; ++p) {
        const int u0 = perm[i] * h2 + p, uk = aligned[k] * h2 + p;
        const double a0 = learned.alpha(u0), ak = learned.alpha(uk);
        if (!(a0 > 0 && ak > 0)) {
          mergeable = false;
          break;
        }
        const double corr = learned.A.row(u0).dot(learned.A.row(uk));
        const double t0 = learned.beta(u0) / a0, tk = learned.beta(uk) / ak;
        mergeable = 1.0 - corr <= o.merge_tolerance &&
                    std::abs(tk - t0) <= o.merge_tolerance * (1.0 + std::abs(t0));
      }
    if (!mergeable) {
      r.not_identifiable_channels.push_back(i);
      continue;
    }
    if (aligned.size() > 1) r.merged_channels.push_back(i);
    for (int p = 0; p < h2; ++p) {
      double a = 0, b = 0;
      for (int j : aligned) {
        a += learned.alpha(j * h2 + p);
        b += learned.beta(j * h2 + p);
      }
      r.alpha_hat(i * h2 + p) = a;
      r.beta_hat(i * h2 + p) = b;
      truth_units.push_back(i * h2 + p);
      learned_units.push_back(perm[i] * h2 + p);
    }
  }
  r.identifiable = r.not_identifiable_channels.empty();
  r.units_scored = static_cast<int>(truth_units.size());
  Eigen::VectorXd a_hat(truth_units.size()), b_hat(truth_units.size());
  for (std::size_t k = 0; k < truth_units.size(); ++k) {
    a_hat(k) = r.alpha_hat(truth_units[k]);
    b_hat(k) = r.beta_hat(truth_units[k]);
  }
  first_layer_errors(truth, learned.A, truth_units, learned_units, a_hat, b_hat, o.rho_seed, r);
  return r;
}

void check_compatible(const Target& truth, const Target& learned) {
  auto same = [](const char* what, int a, int b) {
    if (a != b) {
      throw InputError(std::string("learned model ") + what + " = " + std::to_string(b) +
                       ": must equal the target's " + std::to_string(a));
    }
  };
  same("grid", truth.grid, learned.grid);
  same("patch", truth.patch, learned.patch);
  same("colors", truth.colors, learned.colors);
}

// W_l of models with different kernels read different parents: no entry of one is an entry of
// the other, so nothing is compared.
SuperResolutionRecovery not_comparable(int truth_kernel, int learned_kernel) {
  SuperResolutionRecovery s;
  s.comparable = false;
  s.w_relative = s.w_identified_relative = s.bias_relative = kNaN;
  s.not_comparable = "the learned kernel " + std::to_string(learned_kernel) +
                     " differs from the target's " + std::to_string(truth_kernel) +
                     " (generator.kernel): W_l reads other parents";
  return s;
}

}  // namespace

UnitError unit_error(double alpha, double beta, double alpha_hat, double beta_hat) {
  return {.alpha_relative = std::abs(alpha_hat - alpha) / alpha,
          .beta_relative = std::abs(beta_hat - beta) / std::max(std::abs(beta), 0.1 * alpha),
          .t_abs = alpha_hat > 0 ? std::abs(beta_hat / alpha_hat - beta / alpha)
                                 : std::numeric_limits<double>::infinity()};
}

Target canonical_form(const Target& model) {
  Target t = model;
  const int h2 = t.grid * t.grid;
  // A rows to unit norm, their norm (and the sign of alpha) into alpha:
  // ReLU(a (A_u z) - b) = ReLU(|a| n (s A_u / n) z - b), s = sign(a), n = ||A_u||.
  for (Eigen::Index u = 0; u < t.A.rows(); ++u) {
    const double n = t.A.row(u).norm();
    if (n > 0 && t.alpha(u) != 0) {
      t.A.row(u) *= (t.alpha(u) > 0 ? 1.0 : -1.0) / n;
      t.alpha(u) = std::abs(t.alpha(u)) * n;
    }
  }
  std::vector<Eigen::VectorXd> scale(t.levels);
  for (int l = 0; l < t.levels; ++l) {
    scale[l] = t.M[l].colwise().norm().transpose();
    for (Eigen::Index j = 0; j < scale[l].size(); ++j) {
      if (!(scale[l](j) > 0)) scale[l](j) = 1.0;  // a zero column stays zero
      t.M[l].col(j) /= scale[l](j);
    }
  }
  for (int j = 0; j < t.channels[0]; ++j) {
    for (int p = 0; p < h2; ++p) {
      t.alpha(j * h2 + p) *= scale[0](j);
      t.beta(j * h2 + p) *= scale[0](j);
    }
  }
  for (int l = 1; l < t.levels; ++l) {
    SuperResolutionLayer& up = t.up[l - 1];
    for (int i = 0; i < up.in_channels; ++i)
      for (int j = 0; j < up.out_channels; ++j)
        for (int ky = 0; ky < up.kernel; ++ky)
          for (int kx = 0; kx < up.kernel; ++kx)
            up.w(i, j, ky, kx) *= scale[l](j) / scale[l - 1](i);
    for (int j = 0; j < up.out_channels; ++j) up.bias(j) *= scale[l](j);
  }
  return t;
}

std::vector<bool> identified_weights(const Target& truth, int level, std::int64_t samples) {
  if (level < 2 || level > truth.levels)
    fail_field("level", level, "must be in [2, " + std::to_string(truth.levels) + "]");
  const SuperResolutionLayer& up = truth.up[level - 2];
  const int k = up.kernel, h = truth.grid_at(level), hp = h / 2;
  const SampleBatch b =
      sample(truth, 0, samples, SampleOptions{.with_hidden = true, .with_outputs = false});
  const RowMatrix& parent = b.s[level - 2];  // (channel, y, x) per row
  const RowMatrix& child = b.s[level - 1];
  std::vector<bool> seen(up.weight.size(), false);
  const std::size_t kk = std::size_t(k) * k;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < h; ++x)
      for (const ParentTap& t : parent_taps(y, x, h, k))
        for (Eigen::Index a = 0; a < parent.rows(); ++a)
          for (int j = 0; j < up.out_channels; ++j) {
            if (child(a, truth.code_index(level, j, y, x)) <= 0) continue;
            for (int i = 0; i < up.in_channels; ++i)
              if (parent(a, std::int64_t{i} * hp * hp + t.parent) > 0)
                seen[(std::size_t(i) * up.out_channels + j) * kk + t.tap] = true;
          }
  return seen;
}

Eigen::VectorXd channel_activity(const Target& model) {
  const int h2 = model.grid * model.grid;
  Eigen::VectorXd act = Eigen::VectorXd::Zero(model.channels[0]);
  for (int j = 0; j < model.channels[0]; ++j) {
    for (int p = 0; p < h2; ++p) {
      const int u = j * h2 + p;
      const double a = model.alpha(u) * model.A.row(u).norm(), b = model.beta(u);
      const double q = a > 0 ? normal_q(b / a) : (b < 0 ? 1.0 : 0.0);
      act(j) = std::max(act(j), q);
    }
  }
  return act;
}

namespace {

// The one-to-one match of `truth` (d x m) against `kept` (d x k non-zero columns, k < m) plus
// m - k stand-in columns of zero norm, indexed k..m-1, at cos 0 with every truth column: every
// kept column takes a distinct truth column (as the reversed match would) and the truth columns
// left over, listed in `missing`, take the stand-ins at |cos| 0.
ColumnMatch match_with_stand_ins(const Eigen::MatrixXd& truth, const Eigen::MatrixXd& kept,
                                 int stand_ins, double threshold, std::vector<int>& missing) {
  require_all_finite("truth", truth);
  require_all_finite("estimate", kept);
  for (Eigen::Index i = 0; i < truth.cols(); ++i)
    if (!(truth.col(i).norm() > 0))
      fail_field("truth[:, " + std::to_string(i) + "] norm", 0.0,
                 "must be > 0 (a zero column has no direction to match)");
  Eigen::MatrixXd cosines = Eigen::MatrixXd::Zero(truth.cols(), kept.cols() + stand_ins);
  cosines.leftCols(kept.cols()) =
      (truth.colwise().normalized().transpose() * kept.colwise().normalized())
          .cwiseMax(-1.0)
          .cwiseMin(1.0);
  ColumnMatch r = match_cosines(cosines, threshold);
  for (int i = 0; i < int(truth.cols()); ++i)
    if (r.permutation[i] >= kept.cols()) missing.push_back(i);
  return r;  // square: nothing unmatched, no duplicates, no dead columns
}

}  // namespace

DictionaryMatch match_dictionary(const Eigen::MatrixXd& truth, const Eigen::MatrixXd& estimate,
                                 double threshold, const std::string& what, bool allow_reversed) {
  DictionaryMatch out;
  std::vector<int> keep;
  for (Eigen::Index j = 0; j < estimate.cols(); ++j) {
    if (estimate.col(j).norm() > 0) {
      keep.push_back(static_cast<int>(j));
    } else {
      out.zero_columns.push_back(static_cast<int>(j));
    }
  }
  if (estimate.rows() != truth.rows()) {
    throw InputError(what + ": has " + std::to_string(estimate.rows()) + " rows, the target's " +
                     std::to_string(truth.rows()) + " (d = r^2 c must agree)");
  }
  if (keep.empty()) throw InputError(what + ": every column is zero");
  Eigen::MatrixXd kept(estimate.rows(), static_cast<Eigen::Index>(keep.size()));
  for (std::size_t j = 0; j < keep.size(); ++j) kept.col(j) = estimate.col(keep[j]);
  try {
    if (kept.cols() >= truth.cols()) {
      out.match = match_columns(truth, kept, threshold);
    } else if (allow_reversed) {
      out.reversed = true;
      out.match = match_columns(kept, truth, threshold);
    } else if (estimate.cols() >= truth.cols()) {
      // Zero columns stand in for the missing truth columns (in index order).
      const int stand_ins = static_cast<int>(truth.cols() - kept.cols());
      keep.insert(keep.end(), out.zero_columns.begin(), out.zero_columns.begin() + stand_ins);
      out.zero_columns.erase(out.zero_columns.begin(), out.zero_columns.begin() + stand_ins);
      out.match = match_with_stand_ins(truth, kept, stand_ins, threshold, out.missing_columns);
    } else {
      throw InputError("has " + std::to_string(estimate.cols()) + " columns (" +
                       std::to_string(kept.cols()) + " non-zero), fewer than the target's " +
                       std::to_string(truth.cols()) + ": cannot be matched one-to-one");
    }
  } catch (const InputError& e) {
    throw InputError(what + ": " + e.what());
  }
  ColumnMatch& m = out.match;
  if (!out.reversed) {
    // Back to the estimate's own column indices; zero columns are unmatched and dead.
    m.permutation = map_indices(m.permutation, keep);
    m.best_index = map_indices(m.best_index, keep);
    m.unmatched = map_indices(m.unmatched, keep);
    m.duplicate_columns = map_indices(m.duplicate_columns, keep);
    m.dead_columns = map_indices(m.dead_columns, keep);
    std::vector<double> best(estimate.cols(), 0.0);
    std::vector<int> best_truth(estimate.cols(), -1);
    for (std::size_t j = 0; j < keep.size(); ++j) {
      best[keep[j]] = m.estimate_best_cosines[j];
      best_truth[keep[j]] = m.estimate_best_truth[j];
    }
    m.estimate_best_cosines = best;
    m.estimate_best_truth = best_truth;
    for (int z : out.zero_columns) {
      m.unmatched.push_back(z);
      m.dead_columns.push_back(z);
    }
    if (!out.missing_columns.empty()) {  // the stand-ins are zero columns too (matched, not dead)
      for (std::size_t j = keep.size() - out.missing_columns.size(); j < keep.size(); ++j)
        out.zero_columns.push_back(keep[j]);
      std::sort(out.zero_columns.begin(), out.zero_columns.end());
    }
    std::sort(m.unmatched.begin(), m.unmatched.end());
    std::sort(m.dead_columns.begin(), m.dead_columns.end());
  }
  const auto above =
      std::count_if(m.cosines.begin(), m.cosines.end(), [](double c) { return c >= 0.99; });
  out.fraction_above_099 = m.cosines.empty() ? 0.0 : double(above) / double(m.cosines.size());
  return out;
}

SuperResolutionRecovery super_resolution_error(const SuperResolutionLayer& truth,
                                               const SuperResolutionLayer& learned,
                                               const std::vector<int>& prev,
                                               const std::vector<int>& perm,
                                               const std::vector<bool>& identified) {
  if (!identified.empty() && identified.size() != truth.weight.size())
    fail_field("identified", identified.size(),
               "must have one entry per weight (" + std::to_string(truth.weight.size()) + ")");
  double num = 0, den = 0, inum = 0, iden = 0, bnum = 0, bden = 0;
  SuperResolutionRecovery out;
  for (int i = 0; i < truth.in_channels; ++i)
    for (int j = 0; j < truth.out_channels; ++j)
      for (int ky = 0; ky < truth.kernel; ++ky)
        for (int kx = 0; kx < truth.kernel; ++kx) {
          const double t = truth.w(i, j, ky, kx);
          const double e = learned.w(prev[i], perm[j], ky, kx) - t;
          num += e * e;
          den += t * t;
          const std::size_t at =
              ((std::size_t(i) * truth.out_channels + j) * truth.kernel + ky) * truth.kernel + kx;
          if (!identified.empty() && !identified[at]) {
            ++out.unidentified_entries;
            continue;
          }
          inum += e * e;
          iden += t * t;
        }
  for (int j = 0; j < truth.out_channels; ++j) {
    const double e = learned.bias(perm[j]) - truth.bias(j);
    bnum += e * e;
    bden += truth.bias(j) * truth.bias(j);
  }
  out.w_relative = std::sqrt(num / std::max(den, 1e-300));
  out.w_identified_relative = std::sqrt(inum / std::max(iden, 1e-300));
  out.bias_relative = std::sqrt(bnum / std::max(bden, 1e-300));
  return out;
}

bool LevelRecovery::meets_bar(const RecoveryBar& bar) const {
  const ColumnMatch& c = columns.match;
  if (c.mean_cosine < bar.mean_cosine || c.min_cosine < bar.min_cosine) return false;
  if (first_layer) {
    const FirstLayerRecovery& f = *first_layer;
    return f.identifiable && f.alpha_max_relative <= bar.alpha_relative &&
           f.beta_max_relative <= bar.beta_relative && f.rho_max_abs_error <= bar.rho_absolute;
  }
  return !super_resolution || (super_resolution->comparable &&
                               super_resolution->w_identified_relative <= bar.w_relative);
}

bool Recovery::meets_bar(const RecoveryBar& bar) const {
  return std::all_of(levels.begin(), levels.end(),
                     [&](const LevelRecovery& r) { return r.meets_bar(bar); });
}

namespace {

// A learned model narrower than the truth at some scored level (a pruned generator that kept
// fewer channels than the target has) gets silent stand-in channels appended there, up to the
// truth's m_l: zero output column, zero weights in and out, and at level 1 alpha 0, beta 1 and a
// unit direction row (never active). Its images are unchanged; the scorer then matches the
// missing true columns to the stand-ins at |cos| 0 (DictionaryMatch::missing_columns), whose
// indices (>= the model's own m_hat_l) name no channel of the model.
Target with_stand_in_channels(const Target& model, const Target& truth, int levels) {
  Target t = model;
  for (int l = 1; l <= levels; ++l) {
    const int have = t.channels[l - 1], want = truth.channels[l - 1];
    if (have >= want) continue;
    t.M[l - 1].conservativeResize(Eigen::NoChange, want);
    t.M[l - 1].rightCols(want - have).setZero();
    if (l == 1) {  // unit (j, p) is row j h^2 + p: new channels append rows
      const Eigen::Index h2 = Eigen::Index(t.grid) * t.grid, n = h2 * want, n0 = h2 * have;
      t.A.conservativeResize(n, Eigen::NoChange);
      t.A.bottomRows(n - n0).setZero();
      if (t.A.cols() > 0) t.A.bottomRows(n - n0).col(0).setOnes();
      t.alpha.conservativeResize(n);
      t.alpha.tail(n - n0).setZero();
      t.beta.conservativeResize(n);
      t.beta.tail(n - n0).setOnes();
    } else {  // into level l: (in, out, k, k) with out growing
      SuperResolutionLayer& in = t.up[l - 2];
      std::vector<double> w(std::size_t(in.in_channels) * want * in.kernel * in.kernel, 0.0);
      const std::size_t kk = std::size_t(in.kernel) * in.kernel;
      for (int i = 0; i < in.in_channels; ++i)
        for (int j = 0; j < have; ++j)
          for (std::size_t q = 0; q < kk; ++q)
            w[(std::size_t(i) * want + j) * kk + q] =
                in.weight[(std::size_t(i) * have + j) * kk + q];
      in.weight = std::move(w);
      in.out_channels = want;
      in.bias.conservativeResize(want);
      in.bias.tail(want - have).setZero();
    }
    if (l < t.levels) {  // out of level l: in channels are the outermost index, zeros appended
      SuperResolutionLayer& out = t.up[l - 1];
      out.weight.resize(std::size_t(want) * out.out_channels * out.kernel * out.kernel, 0.0);
      out.in_channels = want;
    }
    t.channels[l - 1] = want;
  }
  return t;
}

}  // namespace

Recovery evaluate_recovery(const Target& truth_in, const Target& learned_in, const ScoreOptions& o,
                           const std::vector<std::vector<bool>>& identified) {
  require_in_range("threshold", o.threshold, 0, 1, true, true);
  require_nonnegative("active_floor", o.active_floor);
  require_nonnegative("merge_tolerance", o.merge_tolerance);
  check_compatible(truth_in, learned_in);
  const int L = o.levels > 0 ? std::min({o.levels, truth_in.levels, learned_in.levels})
                             : std::min(truth_in.levels, learned_in.levels);
  const Target truth = canonical_form(truth_in);
  bool narrower = false;
  for (int l = 1; l <= L; ++l) narrower |= learned_in.channels[l - 1] < truth_in.channels[l - 1];
  const Target learned = narrower ? canonical_form(with_stand_in_channels(learned_in, truth_in, L))
                                  : canonical_form(learned_in);
  Recovery out;
  for (int l = 1; l <= L; ++l) {
    LevelRecovery r;
    r.level = l;
    r.channels = truth.channels[l - 1];
    r.learned_channels = learned_in.channels[l - 1];
    r.columns = match_dictionary(truth.M[l - 1], learned.M[l - 1], o.threshold,
                                 "learned M_" + std::to_string(l), false);
    if (l == 1) {
      r.first_layer = first_layer_recovery(truth, learned, r.columns, o);
    } else if (truth.kernel != learned.kernel) {
      r.super_resolution = not_comparable(truth.kernel, learned.kernel);
    } else {
      r.super_resolution = super_resolution_error(
          truth.up[l - 2], learned.up[l - 2], out.levels[l - 2].columns.match.permutation,
          r.columns.match.permutation,
          std::size_t(l - 2) < identified.size() ? identified[l - 2]
                                                 : identified_weights(truth, l));
    }
    out.levels.push_back(std::move(r));
  }
  return out;
}

Json to_json(const DictionaryMatch& d) {
  const ColumnMatch& m = d.match;
  return {{"mean_cosine", m.mean_cosine},
          {"min_cosine", m.min_cosine},
          {"fraction_above_0.99", d.fraction_above_099},
          {"threshold", m.threshold},
          {"fraction_above_threshold", m.fraction_above},
          {"permutation", m.permutation},
          {"cosines", m.cosines},
          {"signed_cosines", m.signed_cosines},
          {"best_cosines", m.best_cosines},
          {"best_index", m.best_index},
          {"mean_best_cosine", m.mean_best_cosine},
          {"min_best_cosine", m.min_best_cosine},
          {"fraction_best_above_threshold", m.fraction_best_above},
          {"unmatched", m.unmatched},
          {"duplicate_columns", m.duplicate_columns},
          {"dead_columns", m.dead_columns},
          {"zero_columns", d.zero_columns},
          {"missing_columns", d.missing_columns},
          {"reversed", d.reversed}};
}

Json to_json(const FirstLayerRecovery& f) {
  return {{"identifiable", f.identifiable},
          {"merged_channels", f.merged_channels},
          {"not_identifiable_channels", f.not_identifiable_channels},
          {"missing_channels", f.missing_channels},
          {"units_scored", f.units_scored},
          {"alpha_mean_relative", f.alpha_mean_relative},
          {"alpha_max_relative", f.alpha_max_relative},
          {"beta_mean_relative", f.beta_mean_relative},
          {"beta_max_relative", f.beta_max_relative},
          {"t_max_abs_error", finite_or_null(f.t_max_abs_error)},
          {"rho_max_abs_error", f.rho_max_abs_error},
          {"rho_mean_abs_error", f.rho_mean_abs_error},
          {"rho_pairs", f.rho_pairs},
          {"active_duplicates", f.active_duplicates},
          {"active_unmatched", f.active_unmatched},
          {"alpha", finite_or_null(f.alpha)},
          {"beta", finite_or_null(f.beta)},
          {"alpha_hat", finite_or_null(f.alpha_hat)},
          {"beta_hat", finite_or_null(f.beta_hat)}};
}

Json to_json(const SuperResolutionRecovery& s) {
  Json j{{"w_relative", finite_or_null(s.w_relative)},
         {"w_identified_relative", finite_or_null(s.w_identified_relative)},
         {"unidentified_entries", s.unidentified_entries},
         {"bias_relative", finite_or_null(s.bias_relative)}};
  if (!s.comparable) {  // no entry was compared, so none was found unidentified either
    j["unidentified_entries"] = nullptr;
    j["not_comparable"] = s.not_comparable;
  }
  return j;
}

Json to_json(const LevelRecovery& r, const RecoveryBar& bar) {
  Json j{{"level", r.level},
         {"channels", r.channels},
         {"learned_channels", r.learned_channels},
         {"columns", to_json(r.columns)},
         {"meets_bar", r.meets_bar(bar)}};
  if (r.first_layer) j["first_layer"] = to_json(*r.first_layer);
  if (r.super_resolution) j["super_resolution"] = to_json(*r.super_resolution);
  return j;
}

Json to_json(const Recovery& r, const RecoveryBar& bar) {
  Json levels = Json::array();
  for (const auto& l : r.levels) levels.push_back(to_json(l, bar));
  return Json{{"levels", levels}, {"meets_bar", r.meets_bar(bar)}};
}

Json summary_json(const LevelRecovery& r, const RecoveryBar& bar) {
  const ColumnMatch& c = r.columns.match;
  Json e{{"level", r.level},
         {"mean_cosine", c.mean_cosine},
         {"min_cosine", c.min_cosine},
         {"mean_best_cosine", c.mean_best_cosine},
         {"min_best_cosine", c.min_best_cosine},
         {"channels", r.learned_channels},
         {"missing_columns", r.columns.missing_columns.size()}};
  if (r.first_layer) {
    const FirstLayerRecovery& f = *r.first_layer;
    e["alpha_max_relative"] = f.alpha_max_relative;
    e["beta_max_relative"] = f.beta_max_relative;
    e["rho_max_abs_error"] = f.rho_max_abs_error;
    e["active_duplicates"] = f.active_duplicates;
    e["active_unmatched"] = f.active_unmatched;
  }
  if (r.super_resolution) {
    const SuperResolutionRecovery& s = *r.super_resolution;
    e["w_relative"] = finite_or_null(s.w_relative);
    e["w_identified_relative"] = finite_or_null(s.w_identified_relative);
    e["bias_relative"] = finite_or_null(s.bias_relative);
    if (!s.comparable) e["w_not_comparable"] = s.not_comparable;
  }
  e["meets_bar"] = r.meets_bar(bar);
  return e;
}

}  // namespace fsr

#include "synth/recovery.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/rng.h"
#include "core/validate.h"
#include "synth/sample.h"
#include "theory/relu_moments.h"

namespace fsr {

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

std::vector<bool> exercised_weights(const Target& truth, int level, std::int64_t samples) {
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
            if (child(a, (std::int64_t{j} * h + y) * h + x) <= 0) continue;
            for (int i = 0; i < up.in_channels; ++i)
              if (parent(a, std::int64_t{i} * hp * hp + t.parent) > 0)
                seen[(std::size_t(i) * up.out_channels + j) * kk + t.tap] = true;
          }
  return seen;
}

OperatorError super_resolution_error(const SuperResolutionLayer& truth,
                                     const SuperResolutionLayer& learned,
                                     const std::vector<int>& prev, const std::vector<int>& perm,
                                     const std::vector<bool>& exercised) {
  if (!exercised.empty() && exercised.size() != truth.weight.size())
    fail_field("exercised", exercised.size(),
               "must have one entry per weight (" + std::to_string(truth.weight.size()) + ")");
  double num = 0, den = 0, inum = 0, iden = 0, bnum = 0, bden = 0;
  OperatorError out;
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
          if (!exercised.empty() && !exercised[at]) {
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

Eigen::VectorXd channel_activity(const Target& learned) {
  const int h2 = learned.grid * learned.grid;
  Eigen::VectorXd act = Eigen::VectorXd::Zero(learned.channels[0]);
  for (int j = 0; j < learned.channels[0]; ++j) {
    for (int p = 0; p < h2; ++p) {
      const int u = j * h2 + p;
      const double a = learned.alpha(u) * learned.A.row(u).norm();
      const double q = a > 0 ? normal_q(learned.beta(u) / a) : 0.0;
      act(j) = std::max(act(j), q);
    }
  }
  return act;
}

bool LevelRecovery::meets_bar(const RecoveryBar& bar) const {
  if (columns.mean_cosine < bar.mean_cosine || columns.min_cosine < bar.min_cosine) return false;
  if (level == 1) {
    return alpha_beta_identifiable && alpha_max_relative <= bar.alpha_relative &&
           beta_max_relative <= bar.beta_relative && rho_max_absolute <= bar.rho_absolute;
  }
  return w_identified_relative <= bar.w_relative;
}

bool Recovery::meets_bar(const RecoveryBar& bar) const {
  return std::all_of(levels.begin(), levels.end(),
                     [&](const LevelRecovery& r) { return r.meets_bar(bar); });
}

FirstLayerErrors first_layer_errors(const Target& truth, const Eigen::MatrixXd& learned_A,
                                    const std::vector<int>& truth_units,
                                    const std::vector<int>& learned_units,
                                    const Eigen::VectorXd& alpha_hat,
                                    const Eigen::VectorXd& beta_hat, std::uint64_t rho_seed) {
  FirstLayerErrors r;
  const auto n = static_cast<std::int64_t>(truth_units.size());
  for (std::int64_t k = 0; k < n; ++k) {
    const int u = truth_units[k];
    const double a = truth.alpha(u), b = truth.beta(u);
    const double ea = std::abs(alpha_hat(k) - a) / a;
    const double eb = std::abs(beta_hat(k) - b) / std::max(std::abs(b), 0.1 * a);
    const double et = alpha_hat(k) > 0 ? std::abs(beta_hat(k) / alpha_hat(k) - b / a)
                                       : std::numeric_limits<double>::infinity();
    r.alpha_mean_relative += ea;
    r.beta_mean_relative += eb;
    r.alpha_max_relative = std::max(r.alpha_max_relative, ea);
    r.beta_max_relative = std::max(r.beta_max_relative, eb);
    r.t_max_abs_error = std::max(r.t_max_abs_error, et);
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
  return r;
}

Recovery evaluate_recovery(const Target& truth_in, const Target& learned_in, int levels,
                           const std::vector<std::vector<bool>>& exercised) {
  if (truth_in.grid != learned_in.grid || truth_in.patch != learned_in.patch ||
      truth_in.colors != learned_in.colors) {
    throw InputError("learned model: grid, patch and colours must equal the target's");
  }
  const Target truth = canonical_form(truth_in);
  const Target learned = canonical_form(learned_in);
  const int L = levels > 0 ? std::min({levels, truth.levels, learned.levels})
                           : std::min(truth.levels, learned.levels);
  Recovery out;
  const int h2 = truth.grid * truth.grid;
  for (int l = 1; l <= L; ++l) {
    LevelRecovery r;
    r.level = l;
    r.columns = match_columns(truth.M[l - 1], learned.M[l - 1]);
    const auto& perm = r.columns.permutation;
    if (l == 1) {
      const int m = truth.channels[0];
      std::vector<int> tu, lu;  // matched unit indices
      for (int i = 0; i < m; ++i)
        for (int p = 0; p < h2; ++p) {
          tu.push_back(i * h2 + p);
          lu.push_back(perm[i] * h2 + p);
        }
      Eigen::VectorXd a_hat(lu.size()), b_hat(lu.size());
      for (std::size_t k = 0; k < lu.size(); ++k) {
        a_hat(k) = learned.alpha(lu[k]);
        b_hat(k) = learned.beta(lu[k]);
      }
      const FirstLayerErrors e = first_layer_errors(truth, learned.A, tu, lu, a_hat, b_hat, 0);
      r.alpha_max_relative = e.alpha_max_relative;
      r.alpha_mean_relative = e.alpha_mean_relative;
      r.beta_max_relative = e.beta_max_relative;
      r.beta_mean_relative = e.beta_mean_relative;
      r.rho_max_absolute = e.rho_max_abs_error;
      r.rho_mean_absolute = e.rho_mean_abs_error;
      const Eigen::VectorXd act = channel_activity(learned);
      for (int k : r.columns.unmatched) {
        if (act(k) <= 0.005) continue;
        const bool dup =
            std::find(r.columns.duplicate_columns.begin(), r.columns.duplicate_columns.end(), k) !=
            r.columns.duplicate_columns.end();
        (dup ? r.active_duplicates : r.active_unmatched) += 1;
      }
      r.alpha_beta_identifiable = r.active_duplicates == 0;
    } else {
      const OperatorError e = super_resolution_error(
          truth.up[l - 2], learned.up[l - 2], out.levels[l - 2].columns.permutation, perm,
          std::size_t(l - 2) < exercised.size() ? exercised[l - 2] : exercised_weights(truth, l));
      r.w_relative = e.w_relative;
      r.bias_relative = e.bias_relative;
      r.w_identified_relative = e.w_identified_relative;
      r.unidentified_entries = e.unidentified_entries;
    }
    out.levels.push_back(std::move(r));
  }
  return out;
}

Json to_json(const LevelRecovery& r, const RecoveryBar& bar) {
  const ColumnMatch& c = r.columns;
  Json j{{"level", r.level},
         {"columns",
          {{"mean_cosine", c.mean_cosine},
           {"min_cosine", c.min_cosine},
           {"fraction_above", c.fraction_above},
           {"threshold", c.threshold},
           {"permutation", c.permutation},
           {"cosines", c.cosines},
           {"mean_best_cosine", c.mean_best_cosine},
           {"min_best_cosine", c.min_best_cosine},
           {"duplicate_columns", c.duplicate_columns},
           {"dead_columns", c.dead_columns}}},
         {"meets_bar", r.meets_bar(bar)}};
  if (r.level == 1) {
    j["first_layer"] = {{"alpha_max_relative", r.alpha_max_relative},
                        {"alpha_mean_relative", r.alpha_mean_relative},
                        {"beta_max_relative", r.beta_max_relative},
                        {"beta_mean_relative", r.beta_mean_relative},
                        {"rho_max_absolute", r.rho_max_absolute},
                        {"rho_mean_absolute", r.rho_mean_absolute},
                        {"active_duplicates", r.active_duplicates},
                        {"active_unmatched", r.active_unmatched},
                        {"alpha_beta_identifiable", r.alpha_beta_identifiable}};
  } else {
    j["super_resolution"] = {{"w_relative", r.w_relative},
                             {"w_identified_relative", r.w_identified_relative},
                             {"unidentified_entries", r.unidentified_entries},
                             {"bias_relative", r.bias_relative}};
  }
  return j;
}

Json to_json(const Recovery& r, const RecoveryBar& bar) {
  Json levels = Json::array();
  for (const auto& l : r.levels) levels.push_back(to_json(l, bar));
  return Json{{"levels", levels}, {"meets_bar", r.meets_bar(bar)}};
}

}  // namespace fsr

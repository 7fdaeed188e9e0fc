#include "gda/warm_start.h"

#include <algorithm>
#include <cmath>

#include "core/rng.h"
#include "core/validate.h"
#include "gda/code_regression.h"
#include "gda/engines.h"
#include "theory/first_layer.h"

namespace fsr {

void init_columns_kmeans(RunContext& run, int level) {
  const LearnerConfig& c = run.config;
  const NetworkShape& shape = run.shape;
  const std::int64_t budget = 80000 / (shape.grid_at(level) * shape.grid_at(level));  // patches
  const std::int64_t n =
      c.data.source == DataSource::kFixed ? std::min<std::int64_t>(c.data.train_samples, budget) : budget;
  const Eigen::MatrixXd all = run.data.first_patches(level, n);
  std::vector<Eigen::VectorXd> pts;
  for (Eigen::Index i = 0; i < all.rows(); ++i) {
    const double nr = all.row(i).norm();
    if (nr > 1e-9) pts.push_back(all.row(i).transpose() / nr);
  }
  const int k = shape.channels[level - 1];
  const int d = shape.patch_dim();
  if (static_cast<int>(pts.size()) < k)
    fail_field("generator.columns_init", "patch_kmeans", "too few non-zero patches");
  // Restarts (generator.kmeans_restarts) share one RNG stream; the one with the largest
  // sum over patches of max_j |cos(patch, centre_j)| wins (restart 0 alone is the old start).
  Rng rng(c.seed ^ 0x6b6du, std::uint64_t(level - 1));
  Eigen::MatrixXd centres(d, k), best;
  double best_score = -1.0;
  std::vector<double> dist(pts.size());
  for (int restart = 0; restart < c.generator.kmeans_restarts; ++restart) {
    std::fill(dist.begin(), dist.end(), 1.0);
    centres.col(0) = pts[rng.uniform_int(pts.size())];
    for (int j = 1; j < k; ++j) {  // k-means++ on 1 - |cos|
      double total = 0;
      for (std::size_t i = 0; i < pts.size(); ++i) {
        dist[i] = std::min(dist[i], 1.0 - std::abs(pts[i].dot(centres.col(j - 1))));
        total += dist[i] * dist[i];
      }
      double u = rng.uniform() * total;
      std::size_t pick = 0;
      for (; pick + 1 < pts.size(); ++pick) {
        u -= dist[pick] * dist[pick];
        if (u <= 0) break;
      }
      centres.col(j) = pts[pick];
    }
    double score = 0.0;
    for (int it = 0; it <= 30; ++it) {
      Eigen::MatrixXd sum = Eigen::MatrixXd::Zero(d, k);
      score = 0.0;
      for (const auto& p : pts) {
        const Eigen::VectorXd cs = centres.transpose() * p;
        Eigen::Index j;
        score += cs.cwiseAbs().maxCoeff(&j);
        sum.col(j) += (cs(j) >= 0 ? 1.0 : -1.0) * p;
      }
      if (it == 30) break;  // the last pass only scores
      for (int j = 0; j < k; ++j)
        if (sum.col(j).norm() > 0) centres.col(j) = sum.col(j).normalized();
    }
    if (score > best_score) {
      best_score = score;
      best = centres;
    }
  }
  run.engine.set_tensor("M" + std::to_string(level), row_major(best));
}

// Sets b_l (l >= 2) so that each channel is active with probability generator.init_active under
// the current lower levels (quantile of the pre-activations over held-out latents): with sparse
// parents the pre-activation is far from Gaussian, so the closed-form threshold of level 1 is
// off by a large factor (the target's biases are calibrated the same way, by Monte Carlo).
void calibrate_bias(RunContext& run, int level) {
  const NetworkShape& shape = run.shape;
  const std::string n = std::to_string(level);
  const int m = shape.channels[level - 1], hh = shape.grid_at(level) * shape.grid_at(level);
  const RowMatrix pre = run.engine.generate(run.eval_z, level, true).pre[level - 1];
  const Eigen::Index count = pre.rows() * hh;
  const Eigen::Index k = std::min<Eigen::Index>(
      count - 1, static_cast<Eigen::Index>((1.0 - run.config.generator.init_active) * count));
  Eigen::VectorXd b(m), s2(m);
  std::vector<double> values(count);
  for (int j = 0; j < m; ++j) {
    for (Eigen::Index r = 0; r < pre.rows(); ++r)
      for (int p = 0; p < hh; ++p) values[r * hh + p] = pre(r, std::int64_t(j) * hh + p);
    std::vector<double> sorted = values;
    std::nth_element(sorted.begin(), sorted.begin() + k, sorted.end());
    b(j) = std::max(sorted[k], 1e-6);
    double acc = 0;
    for (double v : values) acc += std::pow(std::max(v - b(j), 0.0), 2);
    s2(j) = acc / double(count);
  }
  // Scale: every channel gets the same E[s^2] (as the target's construction does), and the
  // common factor makes the generated level's mean patch energy E||x_p||^2 that of the real
  // patches. ReLU(c (u - b)) = c ReLU(u - b): activity is unchanged. Without it the random W
  // starts at the wrong scale (docs/learner.md "Level 2").
  const Eigen::VectorXd c = (s2.mean() / s2.array().max(1e-30)).sqrt().matrix();
  NpyArray w = run.engine.tensor("W" + n);
  const int kk = shape.kernel * shape.kernel;
  auto scale_w = [&](auto factor) {
    for (std::size_t i = 0; i < w.data.size(); ++i) w.data[i] *= factor((i / kk) % m);
  };
  scale_w([&](std::size_t j) { return c(j); });
  std::vector<double> bias(m);
  for (int j = 0; j < m; ++j) bias[j] = b(j) * c(j);
  run.engine.set_tensor("W" + n, w.data);
  run.engine.set_tensor("bW" + n, bias);
  const RowMatrix fake = run.engine.generate(run.eval_z, level, false).patches[level - 1];
  const double e_fake = fake.rowwise().squaredNorm().mean();
  const double e_real = run.data.warm_start_patches(level).rowwise().squaredNorm().mean();
  if (e_fake > 0) {
    const double f = std::sqrt(e_real / e_fake);
    scale_w([&](std::size_t) { return f; });
    for (double& v : bias) v *= f;
    run.engine.set_tensor("W" + n, w.data);
    run.engine.set_tensor("bW" + n, bias);
  }
}

// Sets M_l, W_l, b_l (l >= 2) from real images (warm_start_patches): the level's k-means columns
// polished by MOD (generator.mod_rounds) and written to the generator; the parent level's columns
// polished the same way into a copy (level l-1 is frozen: the copy only decodes); codes of both
// levels decoded through those columns; then W_l, b_l by ReLU regression of the child codes on
// the parent codes (gda/code_regression.h).
void fit_up_layer(RunContext& run, int level) {
  const NetworkShape& shape = run.shape;
  const int rounds = run.config.generator.mod_rounds;
  const Eigen::MatrixXd child_columns =
      refine_dictionary(run.data.warm_start_patches(level), run.engine.dictionary(level), rounds);
  run.engine.set_tensor("M" + std::to_string(level), row_major(child_columns));
  auto codes = [&](int l, const Eigen::MatrixXd& columns) {
    const Eigen::MatrixXd s = decode_codes(run.data.warm_start_patches(l), columns);
    // rows (sample, position) -> one row per sample in (channel, y, x) order
    const Eigen::Index hh = shape.grid_at(l) * shape.grid_at(l), n = s.rows() / hh;
    Eigen::MatrixXd out(n, s.cols() * hh);
    for (Eigen::Index a = 0; a < n; ++a)
      for (Eigen::Index j = 0; j < s.cols(); ++j)
        for (Eigen::Index p = 0; p < hh; ++p) out(a, j * hh + p) = s(a * hh + p, j);
    return out;
  };
  const Eigen::MatrixXd parent_columns = refine_dictionary(
      run.data.warm_start_patches(level - 1), run.engine.dictionary(level - 1), rounds);
  const UpFit fit =
      fit_super_resolution(codes(level - 1, parent_columns), codes(level, child_columns), shape,
                           level);
  run.engine.set_tensor("W" + std::to_string(level), fit.weight);
  run.engine.set_tensor("bW" + std::to_string(level),
                        std::vector<double>(fit.bias.data(), fit.bias.data() + fit.bias.size()));
}

// generator.first_layer_init = "moments": M_1 <- MOD-polished columns, then per unit (channel j,
// position p) the censored-normal ML fit of its decoded codes sets ||A_u|| = alpha_u and the
// threshold (beta_u, or t_u = beta_u / alpha_u with relative thresholds). Units whose fit fails
// (too few active samples) keep their initial values.
void fit_first_layer_start(RunContext& run) {
  const Eigen::MatrixXd& patches = run.data.warm_start_patches(1);
  const Eigen::MatrixXd columns =
      refine_dictionary(patches, run.engine.dictionary(1), run.config.generator.mod_rounds);
  run.engine.set_tensor("M1", row_major(columns));
  // Rows (sample, position). Decoding leaves round-off (and, with imperfect columns, leakage)
  // where a unit is off; the ML fit would count those as active samples and come out far too
  // dense and too small, so values below 1% of the channel's RMS count as 0. True values that
  // small have probability ~phi(t) 0.01 RMS / alpha (< 0.1% here).
  const Eigen::MatrixXd s = decode_codes(patches, columns, 0.01);
  const Eigen::Index hh = run.shape.grid_at(1) * run.shape.grid_at(1), n = s.rows() / hh;
  NpyArray a = run.engine.tensor("A");
  const Eigen::MatrixXd code = run.engine.code_matrix();
  NpyArray b = run.engine.tensor("b1");
  const Eigen::Index m0 = code.cols();
  const bool relative = run.config.generator.threshold == ThresholdForm::kRelative;
  Eigen::VectorXd v(n);
  for (Eigen::Index j = 0; j < s.cols(); ++j)
    for (Eigen::Index p = 0; p < hh; ++p) {
      for (Eigen::Index r = 0; r < n; ++r) v(r) = s(r * hh + p, j);
      const UnitFit f = fit_unit_mle(v, /*min_active=*/20);
      if (!f.ok) continue;
      const Eigen::Index u = j * hh + p;
      const double norm = code.row(u).norm();
      if (norm > 0)
        for (Eigen::Index i = 0; i < m0; ++i) a.data[u * m0 + i] *= f.alpha / norm;
      b.data[u] = relative ? f.beta / f.alpha : f.beta;
    }
  run.engine.set_tensor("A", a.data);
  run.engine.set_tensor("b1", b.data);
}

void warm_start_stage(RunContext& run, const std::vector<int>& trained) {
  for (int l : trained) {
    if (l == 1 && run.config.generator.first_layer_init == FirstLayerInit::kMoments) fit_first_layer_start(run);
    if (l >= 2) {
      if (run.config.generator.up_init == UpInit::kRegression)
        fit_up_layer(run, l);
      else
        calibrate_bias(run, l);
    }
  }
}

}  // namespace fsr

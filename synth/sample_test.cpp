// Statistical and determinism tests of sampling. Statistical tests fix their seeds; each states
// its flake budget (the probability that a correct implementation fails with a fresh seed).
#include "synth/sample.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <numbers>

#include "core/rng.h"
#include "core/thread_pool.h"
#include "core/validate.h"
#include "synth/config.h"
#include "synth/latent.h"
#include "synth/report.h"
#include "synth/target.h"
#include "theory/relu_moments.h"

namespace fsr {
namespace {

Target make(const Json& j) { return build_target(parse_target_config(j)); }

Json base_config() {
  return Json{{"levels", 1},
              {"grid", 2},
              {"channels", {8}},
              {"patch", 2},
              {"colors", 3},
              {"active", {0.2}},
              {"first_layer", {{"correlation", "independent"}, {"alpha", {0.5, 2.0}}}},
              {"seed", 11}};
}

// Level-1 codes against the closed forms of theory/relu_moments.h: P(s > 0), E[s], E[s^2] per
// unit. z-scores use the closed-form variance (moments up to order 4). Flake budget: 32 units x
// 3 statistics at |z| <= 5 -> < 1e-4.
void check_first_layer_moments(const Json& config, std::int64_t n) {
  const Target t = make(config);
  const SampleBatch b = sample(t, 0, n, true);
  const int units = t.first_layer_units(), hh = t.grid * t.grid;
  for (int u = 0; u < units; ++u) {
    const ReluMoments rm = relu_moments(t.alpha[u], t.beta[u], 4);
    double active = 0, m1 = 0, m2 = 0;
    for (std::int64_t i = 0; i < n; ++i) {
      const double s = b.s[0](i, u);  // S_1 row layout (channel, y, x) == unit order
      active += s > 0;
      m1 += s;
      m2 += s * s;
    }
    active /= n, m1 /= n, m2 /= n;
    const double p = rm.p_active, e1 = rm.moments[0], e2 = rm.moments[1], e4 = rm.moments[3];
    const double se_p = std::sqrt(p * (1 - p) / n), se1 = std::sqrt((e2 - e1 * e1) / n),
                 se2 = std::sqrt((e4 - e2 * e2) / n);
    EXPECT_LE(std::abs(active - p), 5 * se_p)
        << "unit " << u << " (channel " << u / hh << "): P(s>0) measured " << active << " expected "
        << p;
    EXPECT_LE(std::abs(m1 - e1), 5 * se1)
        << "unit " << u << ": E[s] measured " << m1 << " expected " << e1;
    EXPECT_LE(std::abs(m2 - e2), 5 * se2)
        << "unit " << u << ": E[s^2] measured " << m2 << " expected " << e2;
  }
}

TEST(FirstLayer, IndependentMomentsMatchClosedForms) {
  check_first_layer_moments(base_config(), 40000);
}

TEST(FirstLayer, LatentMarginalsMatchClosedForms) {
  Json c = base_config();
  c["first_layer"] = {{"correlation", "latent"}, {"latent_dim", 6}, {"alpha", {1.0, 3.0}}};
  c["active"] = {0.1};
  check_first_layer_moments(c, 40000);
}

// rho = A A^T: at t = 0 (active = 0.5) two units are both active with probability
// 1/4 + asin(rho) / (2 pi) (Sheppard's formula, independent of the code under test).
// Flake budget: 496 pairs at |z| <= 5 -> < 3e-4.
TEST(FirstLayer, RhoAsConfigured) {
  Json c = base_config();
  c["first_layer"] = {{"correlation", "latent"}, {"latent_dim", 5}, {"alpha", {1.0, 1.0}}};
  c["active"] = {0.5};
  const Target t = make(c);
  const Eigen::MatrixXd rho = t.A * t.A.transpose();
  for (int i = 0; i < rho.rows(); ++i) {
    // Rows of A have unit norm: 1e-12 (one normalisation in float64).
    ASSERT_NEAR(rho(i, i), 1.0, 1e-12) << "row " << i << " of A";
  }
  const std::int64_t n = 20000;
  const SampleBatch b = sample(t, 0, n, true);
  int checked = 0;
  for (int i = 0; i < rho.rows(); ++i) {
    for (int j = i + 1; j < rho.rows(); ++j) {
      double both = 0;
      for (std::int64_t k = 0; k < n; ++k) both += (b.s[0](k, i) > 0) && (b.s[0](k, j) > 0);
      both /= n;
      const double expected =
          0.25 + std::asin(std::clamp(rho(i, j), -1.0, 1.0)) / (2 * std::numbers::pi);
      const double se = std::sqrt(std::max(expected * (1 - expected), 1e-4) / n);
      EXPECT_LE(std::abs(both - expected), 5 * se)
          << "pair (" << i << ", " << j << "), rho = " << rho(i, j) << ": P(both) measured " << both
          << " expected " << expected;
      ++checked;
    }
  }
  EXPECT_EQ(checked, 32 * 31 / 2);
  // Independent units: rho is the identity exactly.
  const Target ind = make(base_config());
  EXPECT_EQ(rho_summary(ind.A)["max_abs"].get<double>(), 0.0);
}

struct ActivityCase {
  const char* name;
  int kernel;
  std::vector<int> channels;
  std::vector<double> active;
};

class Activity : public ::testing::TestWithParam<ActivityCase> {};

// Per level, the activity measured on samples the calibration never saw (indices from 10^6 on)
// is within 5 combined standard errors of the request: the validation stderr (spread of
// per-sample fractions) and the calibration's own Monte Carlo error (same spread, its sample
// count). Flake budget: 3 levels x 2 cases at 5 sigma -> < 1e-5.
TEST_P(Activity, AchievedWithinTolerance) {
  const ActivityCase& p = GetParam();
  Json c{{"levels", 3},
         {"grid", 2},
         {"channels", p.channels},
         {"patch", 2},
         {"colors", 3},
         {"kernel", p.kernel},
         {"active", p.active},
         {"first_layer", {{"correlation", "latent"}, {"latent_dim", 12}, {"alpha", {0.5, 2.0}}}},
         {"dictionary", {{"kind", "incoherent"}, {"coherence", 0.6}}},
         {"seed", 5},
         {"calibration_samples", 4000}};
  Target t = make(c);
  // Shift the sample streams: a fresh validation set, disjoint from calibration by construction.
  Target fresh = t;
  fresh.sample_seed ^= 0x9e3779b97f4a7c15ULL;
  const Json act = activity_report(fresh, 4000);
  for (int l = 1; l <= 3; ++l) {
    const double achieved = act[l - 1]["achieved"].get<double>();
    const double se = act[l - 1]["stderr"].get<double>();
    double n_cal = 1e18;  // level 1 is exact (closed form)
    if (l >= 2) n_cal = t.achieved["calibration"][l - 2]["samples"].get<double>();
    const double tol = 5 * se * std::sqrt(1 + 4000.0 / n_cal);
    EXPECT_LE(std::abs(achieved - p.active[l - 1]), tol)
        << "level " << l << ": requested " << p.active[l - 1] << ", measured " << achieved
        << " (stderr " << se << ", calibration samples " << n_cal << ")";
  }
}

INSTANTIATE_TEST_SUITE_P(
    Kernels, Activity,
    ::testing::Values(ActivityCase{"kernel2", 2, {8, 12, 16}, {0.2, 0.15, 0.1}},
                      ActivityCase{"kernel4", 4, {8, 16, 16}, {0.1, 0.1, 0.05}}),
    [](const auto& info) { return std::string(info.param.name); });

Json four_level() {
  return Json{
      {"levels", 4},
      {"grid", 2},
      {"channels", {8, 12, 16, 16}},
      {"patch", 2},
      {"colors", 3},
      {"kernel", 4},
      {"active", {0.15, 0.1, 0.1, 0.1}},
      {"first_layer", {{"correlation", "latent"}, {"latent_dim", 10}, {"alpha", {0.5, 2.0}}}},
      {"dictionary", {{"kind", "incoherent"}, {"coherence", 0.6}}},
      {"noise", 0.05},
      {"seed", 3},
      {"calibration_samples", 500}};
}

void expect_equal_batches(const SampleBatch& a, std::int64_t a_offset, const SampleBatch& b,
                          std::int64_t count, const std::string& what) {
  for (std::size_t l = 0; l < a.x.size(); ++l) {
    // Bitwise: the same arithmetic on the same block, so exactly equal.
    EXPECT_TRUE(a.x[l].middleRows(a_offset, count) == b.x[l].topRows(count))
        << what << ": X_" << l + 1 << " differs";
    if (!a.s.empty() && !b.s.empty()) {
      EXPECT_TRUE(a.s[l].middleRows(a_offset, count) == b.s[l].topRows(count))
          << what << ": S_" << l + 1 << " differs";
    }
  }
}

TEST(Determinism, SameSeedSameTarget) {
  const Target a = make(four_level()), b = make(four_level());
  EXPECT_EQ(fingerprint(a), fingerprint(b));
  Json other = four_level();
  other["seed"] = 4;
  EXPECT_NE(fingerprint(a), fingerprint(make(other)));
  expect_equal_batches(sample(a, 0, 40, true), 0, sample(b, 0, 40, true), 40, "same seed");
}

TEST(Determinism, BatchSizeAndThreadsDoNotMatter) {
  const Target t = make(four_level());
  const SampleBatch ref = sample(t, 0, 130, true);
  for (int batch : {1, 7, 64}) {
    for (std::int64_t first = 0; first < 130; first += batch) {
      const std::int64_t count = std::min<std::int64_t>(batch, 130 - first);
      expect_equal_batches(ref, first, sample(t, first, count, true), count,
                           "batch " + std::to_string(batch) + " at " + std::to_string(first));
    }
  }
  const SampleBatch threaded = sample(t, 0, 130, SampleOptions{.with_hidden = true, .threads = 3});
  expect_equal_batches(ref, 0, threaded, 130, "3 threads");
  // On a caller's pool (the fast engine's): 3 threads, and 5 for 3 blocks (empty shares).
  for (const int size : {3, 5}) {
    ThreadPool pool(size);
    const std::int64_t n = size == 3 ? 130 : 3 * kSampleBlock - 1;
    const SampleBatch pooled = sample(t, 0, n, SampleOptions{.with_hidden = true, .pool = &pool});
    expect_equal_batches(ref, 0, pooled, std::min<std::int64_t>(n, 130),
                         "pool of " + std::to_string(size));
  }
  const SampleBatch tail = sample(t, 77, 5, true);
  expect_equal_batches(ref, 77, tail, 5, "samples 77..81 alone");
}

// The GEMM path of sample() against the sparse loops of super_resolve()/render(), two separate
// implementations of ConvTranspose2d and of the patch dictionary.
TEST(Consistency, LocalMapsReproduceSamples) {
  Json c = four_level();
  c["noise"] = 0.0;
  const Target t = make(c);
  const SampleBatch b = sample(t, 0, 50, true);
  for (int l = 1; l <= t.levels; ++l) {
    const double scale = b.s[l - 1].cwiseAbs().maxCoeff();
    if (l >= 2) {
      const RowMatrix s = super_resolve(t.up[l - 2], b.s[l - 2], t.grid_at(l - 1));
      // Sums of <= 16 m_{l-1} terms in another order: 1e-12 relative.
      EXPECT_LE((s - b.s[l - 1]).cwiseAbs().maxCoeff(), 1e-12 * scale) << "level " << l;
    }
    const RowMatrix x = render(t.M[l - 1], b.s[l - 1], t.grid_at(l), t.patch, t.colors);
    EXPECT_LE((x - b.x[l - 1]).cwiseAbs().maxCoeff(), 1e-12 * scale) << "level " << l;
  }
}

// Output noise: X - M S has standard deviation sigma. 4 levels x ~4000 values per sample x 200
// samples; the relative stderr of a std estimate is 1/sqrt(2 n) ~ 1e-3: 2% is > 10 sigma.
TEST(Noise, ResidualHasConfiguredStd) {
  const Target t = make(four_level());
  const SampleBatch b = sample(t, 0, 200, true);
  for (int l = 1; l <= t.levels; ++l) {
    const RowMatrix x = render(t.M[l - 1], b.s[l - 1], t.grid_at(l), t.patch, t.colors);
    const double sd = std::sqrt((b.x[l - 1] - x).squaredNorm() / double(x.size()));
    EXPECT_NEAR(sd, 0.05, 0.05 * 0.02 * (l == 1 ? 3 : 1)) << "level " << l;
  }
}

// SampleOptions::normals: each sample's own stream draws (z, then its output noise level by level),
// given back by the caller, reproduce sample() bit for bit — the images from given latents are
// synth's images from those latents — for a 4-level target with correlated latents and output
// noise, an unaligned first index (partial blocks), 3 threads, and all or 2 of the 4 levels.
// Other normals give other images (the given ones are the ones used).
TEST(GivenNormals, TheStreamsOwnDrawsReproduceSamplesExactly) {
  const Target t = make(four_level());
  const std::int64_t first = 45, count = 70;
  for (int levels : {0, 2}) {
    const int L = levels > 0 ? levels : t.levels;
    Eigen::MatrixXd z(t.latent_dim(), count);
    std::vector<RowMatrix> noise(L);
    for (int l = 1; l <= L; ++l) noise[l - 1].resize(count, t.output_size(l));
    for (std::int64_t n = 0; n < count; ++n) {
      Rng rng(t.sample_seed, static_cast<std::uint64_t>(first + n));
      rng.fill_normal(z.col(n).data(), static_cast<std::size_t>(z.rows()));
      for (int l = 1; l <= L; ++l) {
        for (std::int64_t q = 0; q < noise[l - 1].cols(); ++q) noise[l - 1](n, q) = rng.normal();
      }
    }
    const GivenNormals given{.z = &z, .noise = &noise};
    const SampleBatch ref =
        sample(t, first, count, SampleOptions{.with_hidden = true, .levels = levels});
    const SampleBatch got = sample(
        t, first, count,
        SampleOptions{.with_hidden = true, .threads = 3, .levels = levels, .normals = &given});
    ASSERT_EQ(got.x.size(), std::size_t(L));
    ASSERT_EQ(got.s.size(), std::size_t(L));
    expect_equal_batches(ref, 0, got, count, "given normals, levels " + std::to_string(levels));
    // Reused arrays (sample_into), as the trainer draws them.
    SampleBatch into = sample(t, 0, count, SampleOptions{.levels = levels});
    sample_into(t, first, count, SampleOptions{.levels = levels, .normals = &given}, into);
    expect_equal_batches(ref, 0, into, count, "sample_into, levels " + std::to_string(levels));

    Eigen::MatrixXd other = -z;
    const GivenNormals flipped{.z = &other, .noise = &noise};
    const SampleBatch b = sample(
        t, first, count, SampleOptions{.with_hidden = true, .levels = levels, .normals = &flipped});
    EXPECT_FALSE(b.s[0] == ref.s[0]);
  }
}

TEST(GivenNormals, WrongShapesAreRefusedNamingTheField) {
  const Target t = make(four_level());  // noise 0.05: the output noise must be given too
  const Eigen::MatrixXd z = Eigen::MatrixXd::Zero(t.latent_dim(), 10);
  const Eigen::MatrixXd short_z = Eigen::MatrixXd::Zero(t.latent_dim(), 9);
  std::vector<RowMatrix> noise(t.levels);
  for (int l = 1; l <= t.levels; ++l) noise[l - 1] = RowMatrix::Zero(10, t.output_size(l));
  auto message = [&](const GivenNormals& g, SampleOptions o) {
    o.normals = &g;
    try {
      sample(t, 0, 10, o);
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_EQ(message({.z = &z, .noise = &noise}, {}), "accepted");
  EXPECT_NE(message({.z = &short_z, .noise = &noise}, {}).find("normals.z"), std::string::npos);
  EXPECT_NE(message({.z = nullptr, .noise = &noise}, {}).find("normals.z"), std::string::npos);
  EXPECT_NE(message({.z = &z}, {}).find("normals.noise"), std::string::npos);
  std::vector<RowMatrix> two(noise.begin(), noise.begin() + 2);
  EXPECT_NE(message({.z = &z, .noise = &two}, {}).find("normals.noise"), std::string::npos);
  EXPECT_EQ(message({.z = &z, .noise = &two}, {.levels = 2}), "accepted");
  EXPECT_EQ(message({.z = &z}, {.with_hidden = true, .with_outputs = false}), "accepted");
}

TEST(Sample, RejectsBadArguments) {
  const Target t = make(base_config());
  EXPECT_THROW(sample(t, -1, 3), InputError);
  EXPECT_THROW(sample(t, 0, -3), InputError);
  EXPECT_EQ(sample(t, 5, 0).count, 0);
}

// ---- first_layer.noise: Laplace and Gaussian-scale-mixture latents -----------------------------

struct LawCase {
  FirstLayerNoise law;
  const char* name;
  double m4, m8;  // E z^4 and E z^8 from the law's definition (not from synth/latent.cpp)
  double p_above(double t) const {
    if (law == FirstLayerNoise::kLaplace) {  // scale b = 1/sqrt(2): P(z > t) = e^{-t/b} / 2, t >= 0
      return 0.5 * std::exp(-t * std::sqrt(2.0));
    }
    // p Q(t / s_hi) + (1 - p) Q(t / s_lo), p = 0.1, s_hi^2 = 7.75, s_lo = 0.5.
    return 0.1 * normal_q(t / std::sqrt(7.75)) + 0.9 * normal_q(t / 0.5);
  }
};

// Laplace, b = 1/sqrt(2): E z^{2k} = (2k)! b^{2k}: E z^4 = 24 / 4 = 6 (kurtosis 6), E z^8 =
// 40320 / 16 = 2520. Mixture: E z^{2k} = (2k - 1)!! (p s_hi^{2k} + (1 - p) s_lo^{2k}): E z^4 =
// 3 (0.1 * 7.75^2 + 0.9 * 0.25^2) = 18.1875, E z^8 = 105 (0.1 * 7.75^4 + 0.9 * 0.25^4).
const LawCase kLaplaceCase{FirstLayerNoise::kLaplace, "laplace", 6.0, 2520.0};
const LawCase kMixtureCase{FirstLayerNoise::kMixture, "mixture", 18.1875,
                           105.0 * (0.1 * std::pow(7.75, 4) + 0.9 * std::pow(0.25, 4))};

class Laws : public ::testing::TestWithParam<LawCase> {};

// The draws of fill_latents (what sample() uses for z): N = 2e6 latents from 2000 streams of a
// fixed seed. The sample mean of z^k has standard error sqrt((E z^{2k} - (E z^k)^2) / N), from the
// law's own moments: mean sqrt(1 / N) = 7e-4, variance sqrt((E z^4 - 1) / N) (Laplace 1.6e-3,
// mixture 2.9e-3), 4th moment sqrt((E z^8 - (E z^4)^2) / N) (Laplace 0.035 of 6, mixture 0.14 of
// 18.19); each is checked within 5 standard errors. Flake budget: 3 statistics x 2 laws at
// |z| <= 5 -> < 4e-6 under the normal approximation of the means.
TEST_P(Laws, LatentsHaveMeanZeroVarianceOneAndTheLawsFourthMoment) {
  const LawCase& c = GetParam();
  constexpr std::int64_t kStreams = 2000, kPerStream = 1000, N = kStreams * kPerStream;
  std::vector<double> z(kPerStream);
  double m1 = 0, m2 = 0, m4 = 0;
  for (std::int64_t s = 0; s < kStreams; ++s) {
    Rng rng(12345, static_cast<std::uint64_t>(s));
    fill_latents(rng, c.law, z.data(), z.size());
    for (double v : z) {
      const double v2 = v * v;
      m1 += v, m2 += v2, m4 += v2 * v2;
    }
  }
  m1 /= N, m2 /= N, m4 /= N;
  std::printf("%s latents, N = %lld: mean %.2e, variance %.5f, E z^4 %.4f (law %.4f)\n", c.name,
              static_cast<long long>(N), m1, m2, m4, c.m4);
  EXPECT_LE(std::abs(m1), 5 * std::sqrt(1.0 / N)) << c.name << ": mean " << m1;
  EXPECT_LE(std::abs(m2 - 1.0), 5 * std::sqrt((c.m4 - 1.0) / N)) << c.name << ": variance " << m2;
  EXPECT_LE(std::abs(m4 - c.m4), 5 * std::sqrt((c.m8 - c.m4 * c.m4) / N))
      << c.name << ": E z^4 " << m4 << " expected " << c.m4;
  EXPECT_DOUBLE_EQ(latent_fourth_moment(c.law), c.m4);
}

// The thresholded code S_1 = ReLU(alpha z - beta) of a target with independent units (A = I, so
// g = z): beta / alpha = t is the law's own quantile, P(z > t) = active = 0.1 by the law's tail
// written here (Laplace t = ln(5) / sqrt(2) = 1.1380; the Gaussian 1.2816 would give 0.0816 and,
// for the mixture, 0.0369), and each unit is active with that probability. 20000 samples x 32
// units are independent Bernoulli draws: pooled standard error sqrt(p (1 - p) / 640000) = 3.8e-4;
// checked within 5 of them. The mean of s^2 over units against the closed form the level-2
// scaling uses (latent_relu_second_moment), within 5 standard errors of the sample. Flake budget:
// 2 statistics x 2 laws -> < 3e-6.
TEST_P(Laws, ThresholdedActivityIsTheLawsTailProbability) {
  const LawCase& c = GetParam();
  Json config = base_config();
  config["active"] = {0.1};
  config["first_layer"]["noise"] = c.name;
  const Target t = make(config);
  ASSERT_EQ(t.first_layer_noise, c.law);
  const double thr = t.beta[0] / t.alpha[0];
  const double p = c.p_above(thr);
  EXPECT_NEAR(p, 0.1, 1e-13) << c.name << ": P(z > t) at t = " << thr;
  EXPECT_GT(std::abs(thr - normal_q_inverse(0.1)), 0.01) << c.name << ": the Gaussian threshold";
  if (c.law == FirstLayerNoise::kLaplace) EXPECT_NEAR(thr, std::log(5.0) / std::sqrt(2.0), 1e-14);
  EXPECT_NEAR(latent_q(c.law, thr), p, 1e-14);
  EXPECT_NEAR(latent_q_inverse(c.law, 0.1), thr, 1e-14);
  EXPECT_NEAR(t.achieved["first_layer"]["p_active_closed_form"].get<double>(), p, 1e-14);
  EXPECT_EQ(t.achieved["first_layer"]["threshold_t"].get<double>(), thr);
  constexpr std::int64_t n = 20000;
  const SampleBatch b =
      sample(t, 0, n, SampleOptions{.with_hidden = true, .with_outputs = false, .threads = 2});
  const int units = t.first_layer_units();
  double active = 0, s2 = 0, s2sq = 0, closed = 0;
  for (int u = 0; u < units; ++u) {
    EXPECT_NEAR(t.beta[u] / t.alpha[u], thr, 1e-12);
    closed += latent_relu_second_moment(c.law, t.alpha[u], t.beta[u]);
    for (std::int64_t i = 0; i < n; ++i) {
      const double s = b.s[0](i, u);
      active += s > 0;
      s2 += s * s;
      s2sq += s * s * s * s;
    }
  }
  const double N = double(n) * units;
  active /= N, s2 /= N, s2sq /= N, closed /= units;
  std::printf("%s S_1: t = %.5f, activity %.5f (P(z > t) = %.5f), E[s^2] %.5f (closed form %.5f)\n",
              c.name, thr, active, p, s2, closed);
  EXPECT_LE(std::abs(active - p), 5 * std::sqrt(p * (1 - p) / N))
      << c.name << ": P(s > 0) measured " << active << ", P(z > t) = " << p;
  EXPECT_LE(std::abs(s2 - closed), 5 * std::sqrt((s2sq - s2 * s2) / N))
      << c.name << ": E[s^2] measured " << s2 << ", closed form " << closed;
}

// sample() draws z with fill_latents from sample i's own stream: with A = I, S_1 is
// ReLU(alpha z - beta) of those draws exactly.
TEST_P(Laws, SampleUsesTheStreamsDrawsOfTheLaw) {
  const LawCase& c = GetParam();
  Json config = base_config();
  config["first_layer"]["noise"] = c.name;
  const Target t = make(config);
  const std::int64_t first = 45, count = 40;
  const SampleBatch b = sample(t, first, count, true);
  std::vector<double> z(t.latent_dim());
  for (std::int64_t i = 0; i < count; ++i) {
    Rng rng(t.sample_seed, static_cast<std::uint64_t>(first + i));
    fill_latents(rng, c.law, z.data(), z.size());
    for (int u = 0; u < t.first_layer_units(); ++u)
      ASSERT_EQ(b.s[0](i, u), std::max(t.alpha[u] * z[u] - t.beta[u], 0.0)) << "sample " << i;
  }
}

// Given normals are Gaussian latents: refused for these targets, naming the field and the law.
TEST_P(Laws, GivenNormalsAreRefused) {
  const LawCase& c = GetParam();
  Json config = base_config();
  config["first_layer"]["noise"] = c.name;
  const Target t = make(config);
  const Eigen::MatrixXd z = Eigen::MatrixXd::Zero(t.latent_dim(), 4);
  const GivenNormals given{.z = &z};
  try {
    sample(t, 0, 4, SampleOptions{.normals = &given});
    ADD_FAILURE() << "accepted";
  } catch (const InputError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("normals"), std::string::npos) << m;
    EXPECT_NE(m.find(std::string("first_layer.noise = ") + c.name), std::string::npos) << m;
  }
}

INSTANTIATE_TEST_SUITE_P(FirstLayerNoise, Laws, ::testing::Values(kLaplaceCase, kMixtureCase),
                         [](const auto& info) { return std::string(info.param.name); });

// The same seed with another law: the same A, alpha and dictionaries; the threshold of the law
// (beta = alpha t_law) and other latents.
TEST(FirstLayerNoise, OnlyTheLatentsAndTheThresholdChange) {
  Json config = base_config();
  const Target g = make(config);
  config["first_layer"]["noise"] = "laplace";
  const Target l = make(config);
  EXPECT_TRUE(g.A == l.A && g.alpha == l.alpha && g.M[0] == l.M[0]);
  const double t = latent_q_inverse(FirstLayerNoise::kLaplace, 0.2);  // base_config: active 0.2
  EXPECT_TRUE(l.beta == g.alpha * t);
  EXPECT_NE(fingerprint(g), fingerprint(l));
  EXPECT_FALSE(sample(g, 0, 8, true).s[0] == sample(l, 0, 8, true).s[0]);
}

}  // namespace
}  // namespace fsr

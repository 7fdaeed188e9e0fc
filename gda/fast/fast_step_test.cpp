// Checks of the hand-written SGDA step (gda/fast/fast_step.h), in float64:
//  * the generator's forward pass against synth's independent implementation (super_resolve for
//    the transposed convolution, render for the output dictionaries), kernel 2 and 4;
//  * the discriminator scores and L_D against a direct loop over images written from the
//    definition in fast_step.h;
//  * every gradient (L_D w.r.t. V, tau, lin, quad, C; L_G w.r.t. A, b_1, W_l, b_l, M_l — which
//    runs back through the decoder, cross terms, render, both transposed-convolution kernels and
//    level 1) against central differences;
//  * one step() = theta - lr * gradient, with L_G taken after the D update.
#include "gda/fast/fast_step.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>

#include "core/validate.h"
#include "synth/sample.h"

namespace fsr::fast {
namespace {

StepShape tiny_shape(int kernel, int patch = 1, int colors = 2) {
  StepShape s;
  s.levels = 3;
  s.grid = 2;
  s.patch = patch;
  s.colors = colors;
  s.kernel = kernel;
  s.channels = {3, 4, 2};
  s.units = {3, 4, 3};
  s.latent_dim = 13;  // > n1 = 12: a dense, non-square A
  s.batch = 4;
  return s;
}

std::vector<double> normals(std::size_t n, std::uint64_t stream, double scale = 1.0) {
  Rng rng(42, stream);
  std::vector<double> v(n);
  for (double& x : v) x = scale * rng.normal();
  return v;
}

RealBatch<double> random_real(const StepShape& s) {
  RealBatch<double> r;
  for (int l = 1; l <= s.levels; ++l)
    r.push_back(normals(std::size_t(s.batch) * s.patches_at(l) * s.patch_dim(), 10 + l, 0.5));
  return r;
}

const NamedTensor<double>& find(const std::vector<NamedTensor<double>>& p, const std::string& n) {
  for (const auto& t : p)
    if (t.name == n) return t;
  throw std::runtime_error("no parameter " + n);
}

// Reference generator from the canonical parameters: level 1 by Eigen in (c, y, x) order, then
// synth::super_resolve and synth::render. Returns images per level (B x c side^2).
std::vector<RowMatrix> reference_images(const StepShape& s,
                                        const std::vector<NamedTensor<double>>& p,
                                        const std::vector<double>& z,
                                        std::vector<RowMatrix>* codes) {
  const int B = s.batch, n1 = s.first_layer_units(), m0 = s.latent_dim;
  const auto& A = find(p, "A");
  const auto& b1 = find(p, "b1");
  RowMatrix S(B, n1);
  for (int n = 0; n < B; ++n)
    for (int u = 0; u < n1; ++u) {
      double acc = -b1.data[u];
      for (int j = 0; j < m0; ++j)
        acc += A.data[std::size_t(u) * m0 + j] * z[std::size_t(n) * m0 + j];
      S(n, u) = std::max(acc, 0.0);
    }
  std::vector<RowMatrix> images;
  for (int l = 1; l <= s.levels; ++l) {
    const std::string n = std::to_string(l);
    if (l >= 2) {
      SuperResolutionLayer layer;
      layer.in_channels = s.channels[l - 2];
      layer.out_channels = s.channels[l - 1];
      layer.kernel = s.kernel;
      layer.weight = find(p, "W" + n).data;
      const auto& bw = find(p, "bW" + n).data;
      layer.bias = Eigen::Map<const Eigen::VectorXd>(bw.data(), bw.size());
      S = super_resolve(layer, S, s.grid_at(l - 1), true);
    }
    if (codes) codes->push_back(S);
    const auto& M = find(p, "M" + n);
    Eigen::MatrixXd m(s.patch_dim(), s.channels[l - 1]);
    for (int i = 0; i < m.rows(); ++i)
      for (int j = 0; j < m.cols(); ++j) m(i, j) = M.data[std::size_t(i) * m.cols() + j];
    images.push_back(render(m, S, s.grid_at(l), s.patch, s.colors));
  }
  return images;
}

// D(X) of one sample by direct loops over the images (definition in fast_step.h).
double reference_score(const StepShape& s, const std::vector<NamedTensor<double>>& p,
                       const std::vector<RowMatrix>& images, int n) {
  const int r = s.patch, c = s.colors, d = s.patch_dim();
  std::vector<std::vector<double>> codes(s.levels + 1);
  double f = 0;
  for (int l = 1; l <= s.levels; ++l) {
    const std::string nm = std::to_string(l);
    const int h = s.grid_at(l), side = h * r, U = s.units[l - 1];
    const auto& V = find(p, "V" + nm).data;
    const auto& tau = find(p, "tau" + nm).data;
    const auto& lin = find(p, "lin" + nm).data;
    const auto& quad = find(p, "quad" + nm).data;
    codes[l].assign(std::size_t(h) * h * U, 0.0);
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < h; ++x) {
        const int pp = y * h + x;
        for (int i = 0; i < U; ++i) {
          double acc = -tau[i];
          for (int col = 0; col < c; ++col)
            for (int dy = 0; dy < r; ++dy)
              for (int dx = 0; dx < r; ++dx)
                acc += V[std::size_t(i) * d + (col * r + dy) * r + dx] *
                       images[l - 1](n, (col * side + y * r + dy) * side + x * r + dx);
          const double u = std::max(acc, 0.0);
          codes[l][std::size_t(pp) * U + i] = u;
          f += lin[std::size_t(pp) * U + i] * u + quad[std::size_t(pp) * U + i] * u * u;
        }
      }
    if (l >= 2) {
      const auto& C = find(p, "cross" + nm).data;
      const int Up = s.units[l - 2], hp = h / 2;
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < h; ++x) {
          const int pp = y * h + x, q = (y / 2) * hp + x / 2;
          for (int i = 0; i < U; ++i)
            for (int j = 0; j < Up; ++j)
              f += codes[l][std::size_t(pp) * U + i] * C[(std::size_t(pp) * U + i) * Up + j] *
                   codes[l - 1][std::size_t(q) * Up + j];
        }
    }
  }
  return f;
}

class FastStepTest : public ::testing::TestWithParam<int> {};

TEST_P(FastStepTest, GeneratorMatchesSynthSuperResolveAndRender) {
  const StepShape s = tiny_shape(GetParam(), /*patch=*/2, /*colors=*/2);
  FastSgda<double> g(s, {});
  g.init(3);
  const auto p = g.parameters();
  const std::vector<double> z = normals(std::size_t(s.batch) * s.latent_dim, 1);
  std::vector<RowMatrix> ref_codes;
  const std::vector<RowMatrix> images = reference_images(s, p, z, &ref_codes);
  RealBatch<double> patches;
  std::vector<std::vector<double>> codes;
  g.generate(z.data(), &patches, &codes);
  int active = 0;
  for (int l = 1; l <= s.levels; ++l) {
    // Same sums in another order: float64 rounding only, 1e-12 absolute on O(1) values.
    const std::vector<double> want =
        images_to_patches<double>(images[l - 1], s.grid_at(l), s.patch, s.colors);
    ASSERT_EQ(want.size(), patches[l - 1].size());
    for (std::size_t i = 0; i < want.size(); ++i)
      ASSERT_NEAR(patches[l - 1][i], want[i], 1e-12) << "level " << l << " entry " << i;
    ASSERT_EQ(std::size_t(ref_codes[l - 1].size()), codes[l - 1].size());
    for (std::size_t i = 0; i < codes[l - 1].size(); ++i) {
      ASSERT_NEAR(codes[l - 1][i], ref_codes[l - 1].data()[i], 1e-12) << "S_" << l << " " << i;
      active += codes[l - 1][i] > 0;
    }
  }
  EXPECT_GT(active, 20);  // the check is not vacuous (ReLUs not all off)
}

TEST_P(FastStepTest, DiscriminatorLossMatchesDirectLoops) {
  for (int grid : {2, 3}) {  // 3: quadtree order below a non-power-of-two raster level 1
    StepShape s = tiny_shape(GetParam(), 2, 2);
    s.grid = grid;
    s.latent_dim = s.first_layer_units() + 1;
    const StepOptions o{.lr_d = 0.1, .lr_g = 0.1, .lambda = 0.01};
    FastSgda<double> g(s, o);
    g.init(4);
    const auto p = g.parameters();
    const std::vector<double> z = normals(std::size_t(s.batch) * s.latent_dim, 2);
    const std::vector<RowMatrix> fake = reference_images(s, p, z, nullptr);
    // A "real" batch: images of other latents, converted to patches once.
    const std::vector<double> zr = normals(std::size_t(s.batch) * s.latent_dim, 3);
    const std::vector<RowMatrix> real_images = reference_images(s, p, zr, nullptr);
    const RealBatch<double> real = real_patches<double>(s, real_images);
    double want = 0, penalty = 0;
    for (int n = 0; n < s.batch; ++n)
      want += (reference_score(s, p, fake, n) - reference_score(s, p, real_images, n)) / s.batch;
    for (const auto& t : p)
      if (t.name.rfind("lin", 0) == 0 || t.name.rfind("quad", 0) == 0 ||
          t.name.rfind("cross", 0) == 0)
        for (double v : t.data) penalty += v * v;
    want += o.lambda * penalty;
    EXPECT_NEAR(g.d_loss(real, z.data()), want, 1e-12 * (1 + std::abs(want)));
    double g_want = 0;
    for (int n = 0; n < s.batch; ++n) g_want -= reference_score(s, p, fake, n) / s.batch;
    EXPECT_NEAR(g.g_loss(z.data()), g_want, 1e-12 * (1 + std::abs(g_want)));
    EXPECT_GT(std::abs(g_want), 1e-4);  // the read-outs are not zero
  }
}

// Central differences, h = 1e-6: truncation O(h^2 f''') ~ 1e-12, rounding ~ 1e-16 |L| / h ~ 1e-10;
// a ReLU kink within h of a pre-activation would break one entry, which random data makes
// improbable (and the seeds are fixed). Tolerance 1e-7 absolute + 1e-6 relative.
void expect_gradient(FastSgda<double>& g, const std::vector<double>& grad, std::size_t begin,
                     std::size_t end, const std::function<double()>& loss, const char* what) {
  std::vector<double>& th = g.flat();
  const double h = 1e-6;
  int nonzero = 0;
  for (std::size_t i = begin; i < end; ++i) {
    const double keep = th[i];
    th[i] = keep + h;
    const double up = loss();
    th[i] = keep - h;
    const double down = loss();
    th[i] = keep;
    const double fd = (up - down) / (2 * h);
    ASSERT_NEAR(grad[i], fd, 1e-7 + 1e-6 * std::abs(fd)) << what << " parameter " << i;
    nonzero += std::abs(fd) > 1e-9;
  }
  EXPECT_GT(nonzero, int(end - begin) / 3) << what;  // most coordinates carry a gradient
}

TEST_P(FastStepTest, DiscriminatorGradientMatchesCentralDifferences) {
  const StepShape s = tiny_shape(GetParam());
  FastSgda<double> g(s, {.lr_d = 0.1, .lr_g = 0.1, .lambda = 0.05});
  g.init(5);
  const RealBatch<double> real = random_real(s);
  const std::vector<double> z = normals(std::size_t(s.batch) * s.latent_dim, 4);
  const std::vector<double> grad = g.d_gradient(real, z.data());
  expect_gradient(
      g, grad, g.generator_size(), g.flat().size(), [&] { return g.d_loss(real, z.data()); },
      "L_D");
}

TEST_P(FastStepTest, GeneratorGradientMatchesCentralDifferences) {
  const StepShape s = tiny_shape(GetParam());
  FastSgda<double> g(s, {});
  g.init(6);
  const std::vector<double> z = normals(std::size_t(s.batch) * s.latent_dim, 5);
  const std::vector<double> grad = g.g_gradient(z.data());
  expect_gradient(
      g, grad, 0, g.generator_size(), [&] { return g.g_loss(z.data()); }, "L_G");
}

TEST_P(FastStepTest, StepIsSgdOnBothBlocks) {
  const StepShape s = tiny_shape(GetParam());
  const StepOptions o{.lr_d = 0.07, .lr_g = 0.03, .lambda = 0.02};
  FastSgda<double> a(s, o), b(s, o);
  a.init(7);
  b.init(7);
  const RealBatch<double> real = random_real(s);
  const std::vector<double> zd = normals(std::size_t(s.batch) * s.latent_dim, 6);
  const std::vector<double> zg = normals(std::size_t(s.batch) * s.latent_dim, 7);
  const StepLosses loss = a.step(real, zd.data(), zg.data());
  // By hand on b: D update first, then the G gradient at the updated D.
  EXPECT_NEAR(loss.d_loss, b.d_loss(real, zd.data()), 1e-14);
  const std::vector<double> gd = b.d_gradient(real, zd.data());
  for (std::size_t i = b.generator_size(); i < gd.size(); ++i) b.flat()[i] -= o.lr_d * gd[i];
  EXPECT_NEAR(loss.g_loss, b.g_loss(zg.data()), 1e-14);
  const std::vector<double> gg = b.g_gradient(zg.data());
  for (std::size_t i = 0; i < b.generator_size(); ++i) b.flat()[i] -= o.lr_g * gg[i];
  for (std::size_t i = 0; i < gd.size(); ++i) ASSERT_NEAR(a.flat()[i], b.flat()[i], 1e-15) << i;
}

INSTANTIATE_TEST_SUITE_P(Kernel, FastStepTest, ::testing::Values(2, 4),
                         [](const auto& info) { return "k" + std::to_string(info.param); });

TEST(FastStepOrder, QuadtreeOrderIsAPermutationWithSiblingsTogether) {
  StepShape s = tiny_shape(4);
  s.grid = 3;  // not a power of two: level 1 raster, then 4 children per parent
  for (int l = 1; l <= s.levels; ++l) {
    const std::vector<int> o = patch_order(s, l);
    std::vector<int> seen(o.size(), 0);
    for (int v : o) ++seen.at(v);
    EXPECT_EQ(std::count(seen.begin(), seen.end(), 1), int(o.size())) << "level " << l;
    if (l == 1) continue;
    const std::vector<int> parent = patch_order(s, l - 1);
    const int h = s.grid_at(l);
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < h; ++x)
        EXPECT_EQ(o[y * h + x] / 4, parent[(y / 2) * (h / 2) + x / 2]) << l << " " << y << " " << x;
  }
}

TEST(FastStepLatents, FillNormalsHasGaussianMoments) {
  // 10^6 draws, fixed seed: standard errors of mean, variance, 4th moment are 1e-3, 1.4e-3,
  // 1e-2 (Var x^4 = 96); bounds at ~5 standard errors (flake budget ~1e-6 per moment).
  const std::size_t n = 1000000;
  std::vector<float> x(n);
  Rng rng(5, 1);
  fill_normals(rng, x.data(), n);
  double m1 = 0, m2 = 0, m4 = 0;
  for (float v : x) {
    m1 += v;
    m2 += double(v) * v;
    m4 += double(v) * v * v * v;
  }
  m1 /= n;
  m2 /= n;
  m4 /= n;
  EXPECT_NEAR(m1, 0.0, 5e-3);
  EXPECT_NEAR(m2, 1.0, 7e-3);
  EXPECT_NEAR(m4, 3.0, 5e-2);
  std::vector<float> odd(3);
  fill_normals(rng, odd.data(), 3);  // odd n: the last pair's second value is dropped
  EXPECT_TRUE(std::isfinite(odd[2]));
}

TEST(FastStepParams, RoundTripAndErrorsNameTheTensor) {
  const StepShape s = tiny_shape(4);
  FastSgda<float> a(s, {}), b(s, {});
  a.init(8);
  b.set_parameters(a.parameters());
  EXPECT_EQ(a.flat(), b.flat());
  auto p = a.parameters();
  for (auto& t : p)
    if (t.name == "W2") t.shape[0] += 1;
  try {
    b.set_parameters(p);
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("W2.shape = (4, 4, 4, 4): must be (3, 4, 4, 4)"),
              std::string::npos)
        << e.what();
  }
  Target t;
  EXPECT_THROW(step_shape(t, 0), InputError);
}

TEST(FastStepFlops, QuickstartCountByHand) {
  // Quick-start (d 12, h 2/4, m 8/8, U 16/16, m0 = n1 = 32, k 2), per sample multiply-adds:
  // gen_fwd 1024 + 1024 + 1920 = 3968; gen_bwd 1024 + 2048 + 3840 = 6912;
  // d_fwd 3840 + 4096 = 7936; d_bwd_p 3840 + 8192 = 12032; d_bwd_x 7936.
  // step = 2 * 256 * (3968 + 2*7936 + 2*12032 + 3968 + 7936 + 7936 + 6912) = 2 * 256 * 70656.
  StepShape s;
  s.levels = 2;
  s.grid = 2;
  s.patch = 2;
  s.colors = 3;
  s.kernel = 2;
  s.channels = {8, 8};
  s.units = {16, 16};
  s.latent_dim = 32;
  s.batch = 256;
  EXPECT_DOUBLE_EQ(flops_per_step(s), 2.0 * 256 * 70656);
}

}  // namespace
}  // namespace fsr::fast

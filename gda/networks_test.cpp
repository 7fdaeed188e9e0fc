#include "gda/networks.h"

#include <gtest/gtest.h>

#include "gda/engines.h"
#include "gda/torch_engine.h"
#include "synth/config.h"
#include "synth/sample.h"
#include "theory/moment_tools.h"

namespace fsr {
namespace {

Target small_target(int levels = 1) {
  Json j = {{"levels", levels},
            {"grid", 2},
            {"channels", std::vector<int>(levels, 8)},
            {"patch", 2},
            {"colors", 3},
            {"kernel", 2},
            {"active", std::vector<double>(levels, 0.1)},
            {"first_layer", {{"correlation", "independent"}, {"alpha", {0.5, 2.0}}}},
            {"dictionary", {{"kind", "orthonormal"}, {"coherence", 0.1}}},
            {"seed", 3},
            {"calibration_samples", 2000}};
  return build_target(parse_target_config(j));
}

torch::Tensor from_matrix(const Eigen::MatrixXd& m) {
  torch::Tensor t = torch::empty({m.rows(), m.cols()}, torch::kFloat64);
  for (Eigen::Index i = 0; i < m.rows(); ++i)
    for (Eigen::Index j = 0; j < m.cols(); ++j) t[i][j] = m(i, j);
  return t;
}

// Loads a target's parameters into a generator of the same width.
void load_truth(Generator& g, const Target& t) {
  torch::NoGradGuard no_grad;
  Eigen::MatrixXd a = t.A;
  for (Eigen::Index u = 0; u < a.rows(); ++u) a.row(u) *= t.alpha(u);
  g->A.copy_(from_matrix(a));
  g->b1.copy_(from_matrix(t.beta).view({-1}));
  for (int l = 1; l <= t.levels; ++l) g->M[l - 1].copy_(from_matrix(t.M[l - 1]));
  for (int l = 2; l <= t.levels; ++l) {
    const auto& up = t.up[l - 2];
    g->W[l - 2].copy_(torch::from_blob(const_cast<double*>(up.weight.data()),
                                       {up.in_channels, up.out_channels, up.kernel, up.kernel},
                                       torch::kFloat64));
    g->bW[l - 2].copy_(from_matrix(up.bias).view({-1}));
  }
}

Eigen::MatrixXd rows(const torch::Tensor& x) {
  const torch::Tensor c = x.reshape({x.size(0), -1}).contiguous();
  return Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
      c.data_ptr<double>(), c.size(0), c.size(1));
}

// A generator holding the target's parameters draws the target's distribution: the images agree
// with synth's in layout (not only in law), checked through moments of order 1..4.
TEST(Generator, WithTargetParametersMatchesTargetSamples) {
  for (int levels : {1, 2}) {
    const Target t = small_target(levels);
    LearnerConfig c;
    c.generator.width = 1.0;
    const NetworkShape shape = network_shape(t, c);
    Generator g(shape, c, torch::TensorOptions().dtype(torch::kFloat64));
    load_truth(g, t);
    torch::manual_seed(5);
    const std::int64_t n = 20000;
    const auto fake = g->forward(torch::randn({n, shape.latent_dim}, torch::kFloat64), levels);
    const SampleBatch real = sample(t, 0, n);
    for (int l = 1; l <= levels; ++l) {
      const MomentMismatch mm = moment_mismatch(real.x[l - 1], rows(fake[l - 1]), 4, 64, 9);
      // 2e4 samples of sparse codes: sampling noise of the normalised moment gaps is ~0.02 at
      // order 1-2 and grows with the order (heavy tails); a layout error gives gaps of order 1.
      EXPECT_LT(mm.per_order[0], 0.05) << "level " << l;
      EXPECT_LT(mm.per_order[1], 0.05) << "level " << l;
      EXPECT_LT(mm.per_order[2], 0.15) << "level " << l;
      // mean_gap pools all r^2 c h^2 pixel means: its noise is ~sqrt(dim / N) ~ 0.05-0.1 here.
      EXPECT_LT(mm.mean_gap, 0.2) << "level " << l;
    }
    // The exported model is the target (canonical form; same channel order here): the engine
    // holding the generator's tensors exports it.
    TorchEngine engine(shape, c, "cpu");
    for (const auto& p : g->named_parameters()) {
      const torch::Tensor v = p.value().detach().contiguous();
      engine.set_tensor(
          p.key(), std::vector<double>(v.data_ptr<double>(), v.data_ptr<double>() + v.numel()));
    }
    const Target back = learned_target(engine, shape, 0);
    EXPECT_LT((back.M[0] - t.M[0]).norm(), 1e-12);
    EXPECT_LT((back.alpha - t.alpha).norm(), 1e-12);
    EXPECT_LT((back.beta - t.beta).norm(), 1e-12);
  }
}

TEST(Patches, ImagesToPatchesInvertsCodesToImages) {
  torch::manual_seed(1);
  const int h = 2, r = 2, c = 3, m = 5;
  const torch::Tensor s = torch::rand({4, m, h, h}, torch::kFloat64);
  const torch::Tensor M = torch::randn({r * r * c, m}, torch::kFloat64);
  const torch::Tensor x = codes_to_images(s, M, r, c);
  const torch::Tensor p = images_to_patches(x, h, r, c);  // (N, h^2, d)
  const torch::Tensor expect = s.reshape({4, m, h * h}).permute({0, 2, 1}).matmul(M.t());
  EXPECT_TRUE(torch::allclose(p, expect, 0, 1e-12));
}

// Central differences in float64 against autograd for every hand-written forward (the theory
// discriminator's read-outs including cross-scale terms, and the generator).
double numeric_grad(const std::function<torch::Tensor()>& f, torch::Tensor& param,
                    std::int64_t flat) {
  const double h = 1e-6;
  torch::NoGradGuard no_grad;
  auto v = param.view({-1});
  const double x0 = v[flat].item<double>();
  v[flat] = x0 + h;
  const double fp = f().item<double>();
  v[flat] = x0 - h;
  const double fm = f().item<double>();
  v[flat] = x0;
  return (fp - fm) / (2 * h);
}

void check_gradients(torch::nn::Module& module, const std::function<torch::Tensor()>& f) {
  for (auto& p : module.named_parameters()) {
    if (!p.value().requires_grad()) continue;
    module.zero_grad();
    f().backward();
    const torch::Tensor g = p.value().grad().view({-1}).clone();
    const std::int64_t n = g.numel();
    for (std::int64_t k = 0; k < n; k += std::max<std::int64_t>(1, n / 7)) {
      const double num = numeric_grad(f, p.value(), k);
      // Central differences with h = 1e-6 in float64 on O(1) values: ~1e-8 absolute error; the
      // ReLU kinks are avoided by random inputs (probability ~0 of landing within h of one).
      EXPECT_NEAR(g[k].item<double>(), num, 1e-6 * std::max(1.0, std::abs(num)))
          << p.key() << "[" << k << "]";
    }
  }
}

void check_theory_discriminator_and_generator(const LearnerConfig& c) {
  const Target t = small_target(2);
  const NetworkShape shape = network_shape(t, c);
  const auto opts = torch::TensorOptions().dtype(torch::kFloat64);
  TheoryDiscriminator d(shape, c, opts);
  torch::manual_seed(2);
  {
    torch::NoGradGuard no_grad;
    for (auto& p : d.parameters()) p.add_(0.3 * torch::randn_like(p));
  }
  Generator g(shape, c, opts);
  const torch::Tensor z = torch::randn({16, shape.latent_dim}, opts);
  const auto x = g->forward(z, 2);
  std::vector<torch::Tensor> xd = {x[0].detach(), x[1].detach()};
  check_gradients(d, [&] { return d.forward(xd, 1, 2).pow(2).mean(); });
  check_gradients(*g, [&] { return d.forward(g->forward(z, 2), 1, 2).mean(); });
}

TEST(GradientCheck, TheoryDiscriminatorAndGenerator) {
  LearnerConfig c;
  c.discriminator.cubic = true;
  check_theory_discriminator_and_generator(c);
}

TEST(GradientCheck, TheoryDiscriminatorWithQuarticReadout) {
  LearnerConfig c;
  c.discriminator.cubic = true;
  c.discriminator.quartic = true;
  check_theory_discriminator_and_generator(c);
}

}  // namespace
}  // namespace fsr

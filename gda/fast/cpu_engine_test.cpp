// Checks of the fast engine's CPU backend (gda/fast/cpu_engine.h) in float64, for every model
// option, against an independent reference written here from the definitions in the header:
//  * the generator against synth's super_resolve and render (channel masks, unit columns,
//    relative thresholds, independent units; kernels 2 and 4);
//  * the losses (learned read-outs: IPM + L2 and non-saturating; diagonal, full and no quadratic
//    read-out, cubic, quartic, cross-scale; optimal split-half read-outs) against direct loops over
//    images;
//  * every gradient of L_D and L_G against central differences (each hand-written backward:
//    transposed convolution, ReLUs and masks, column and row normalisation, relative thresholds,
//    read-outs and their features, the cross-scale products up and down, the optimal read-out's
//    coefficients), for a joint stage and a layer-wise stage whose parent level is read only
//    through the cross-scale terms;
//  * step() = the optimiser (Adam, SGD with momentum, written out here from torch.optim's
//    formulas) applied to those gradients, alternating and simultaneous, two D steps;
//  * parameters and optimiser states round trip exactly, errors name the tensor.
#include "gda/fast/cpu_engine.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>

#include "core/thread_pool.h"
#include "core/validate.h"
#include "synth/sample.h"

namespace fsr::fast {
namespace {

using Params = std::map<std::string, std::vector<double>>;

ModelShape tiny_shape(int kernel) {
  ModelShape s;
  s.levels = 3;
  s.grid = 2;
  s.patch = 1;
  s.colors = 2;
  s.kernel = kernel;
  s.channels = {3, 4, 2};
  s.units = {3, 4, 3};
  s.latent_dim = 13;  // > n1 = 12: a dense, non-square A
  return s;
}

std::vector<double> normals(std::size_t n, std::uint64_t stream, double scale = 1.0,
                            double shift = 0.0) {
  Rng rng(42, stream);
  std::vector<double> v(n);
  for (double& x : v) x = shift + scale * rng.normal();
  return v;
}

// Random parameters of every tensor (masks and A_mask as the engine set them, one pruned channel
// at level 2 when asked), read-outs large enough that the generator gets a gradient.
Params random_params(CpuEngine<double>& e, std::uint64_t seed, bool prune) {
  Params p;
  std::uint64_t stream = 100;
  for (const auto& t : e.parameters()) {
    std::vector<double> v = t.data;
    const std::string& n = t.name;
    if (n == "A_mask" || n.rfind("mask", 0) == 0) {
      if (prune && n == "mask2") v[1] = 0.0;
    } else if (n == "b1") {
      v = normals(v.size(), seed * 1000 + stream++, 0.1, 0.3);
    } else if (n.rfind("bW", 0) == 0) {
      v = normals(v.size(), seed * 1000 + stream++, 0.1, 0.0);
    } else if (n.rfind("tau", 0) == 0) {
      v = normals(v.size(), seed * 1000 + stream++, 0.05, 0.05);
    } else if (n == "A" || n.rfind("W", 0) == 0 || n.rfind("M", 0) == 0 || n.rfind("V", 0) == 0) {
      v = normals(v.size(), seed * 1000 + stream++, 0.6);
    } else {  // read-outs
      v = normals(v.size(), seed * 1000 + stream++, 0.3);
    }
    p[n] = v;
    e.set_parameter(n, v);
  }
  return p;
}

// ---- the reference model, from the definitions -------------------------------------------------

struct Reference {
  ModelShape s;
  ModelOptions o;
  Params p;

  int P(int l) const { return s.patches_at(l); }

  // Fake images per level (B x c side^2) for latents z (B x m0).
  std::vector<RowMatrix> images(const std::vector<double>& z, int B, int levels) const {
    const int n1 = s.first_layer_units(), m0 = s.latent_dim, P1 = P(1);
    const auto &A = p.at("A"), &mask = p.at("A_mask"), &b1 = p.at("b1");
    RowMatrix S(B, n1);
    for (int u = 0; u < n1; ++u) {
      double norm = 0;
      for (int j = 0; j < m0; ++j) norm += std::pow(A[u * m0 + j] * mask[u * m0 + j], 2);
      const double thr = o.relative_threshold ? b1[u] * std::sqrt(norm) : b1[u];
      const double keep = p.at("mask1")[u / P1];
      for (int n = 0; n < B; ++n) {
        double acc = -thr;
        for (int j = 0; j < m0; ++j) acc += A[u * m0 + j] * mask[u * m0 + j] * z[n * m0 + j];
        S(n, u) = std::max(acc, 0.0) * keep;
      }
    }
    std::vector<RowMatrix> out;
    for (int l = 1; l <= levels; ++l) {
      const std::string nm = std::to_string(l);
      const int m = s.channels[l - 1];
      if (l >= 2) {
        SuperResolutionLayer layer;
        layer.in_channels = s.channels[l - 2];
        layer.out_channels = m;
        layer.kernel = s.kernel;
        layer.weight = p.at("W" + nm);
        layer.bias = Eigen::Map<const Eigen::VectorXd>(p.at("bW" + nm).data(), m);
        S = super_resolve(layer, S, s.grid_at(l - 1), true);
        for (int c = 0; c < m; ++c)
          S.middleCols(std::int64_t(c) * P(l), P(l)) *= p.at("mask" + nm)[c];
      }
      Eigen::MatrixXd M(s.patch_dim(), m);
      for (int r = 0; r < s.patch_dim(); ++r)
        for (int c = 0; c < m; ++c) M(r, c) = p.at("M" + nm)[r * m + c];
      if (o.unit_norm_columns) M.colwise().normalize();
      out.push_back(render(M, S, s.grid_at(l), s.patch, s.colors));
    }
    return out;
  }

  // Decoded codes u[p * U + i] (raster p) of sample n at level l.
  std::vector<double> codes(const std::vector<RowMatrix>& x, int n, int l) const {
    const int h = s.grid_at(l), r = s.patch, c = s.colors, side = h * r, d = s.patch_dim(),
              U = s.units[l - 1];
    const std::string nm = std::to_string(l);
    Eigen::MatrixXd V(U, d);
    for (int i = 0; i < U; ++i)
      for (int k = 0; k < d; ++k) V(i, k) = p.at("V" + nm)[i * d + k];
    if (o.unit_norm_rows) V.rowwise().normalize();
    std::vector<double> u(std::size_t(h) * h * U);
    for (int y = 0; y < h; ++y)
      for (int xx = 0; xx < h; ++xx)
        for (int i = 0; i < U; ++i) {
          double acc = -p.at("tau" + nm)[i];
          for (int col = 0; col < c; ++col)
            for (int dy = 0; dy < r; ++dy)
              for (int dx = 0; dx < r; ++dx)
                acc += V(i, (col * r + dy) * r + dx) *
                       x[l - 1](n, (col * side + y * r + dy) * side + xx * r + dx);
          u[(y * h + xx) * U + i] = std::max(acc, 0.0);
        }
    return u;
  }

  // The read-out features of sample n at level l, in the read-out tensors' layouts, by name.
  std::map<std::string, std::vector<double>> features(const std::vector<RowMatrix>& x, int n,
                                                      int l) const {
    const std::string nm = std::to_string(l);
    const std::vector<double> u = codes(x, n, l);
    std::map<std::string, std::vector<double>> out;
    out["lin" + nm] = u;
    if (o.quadratic == Quadratic::kDiag) {
      std::vector<double> q(u.size());
      for (std::size_t a = 0; a < u.size(); ++a) q[a] = u[a] * u[a];
      out["quad" + nm] = q;
    } else if (o.quadratic == Quadratic::kFull) {
      std::vector<double> q(u.size() * u.size());
      for (std::size_t a = 0; a < u.size(); ++a)
        for (std::size_t b = 0; b < u.size(); ++b) q[a * u.size() + b] = u[a] * u[b];
      out["quad" + nm] = q;
    }
    if (o.cubic) {
      std::vector<double> q(u.size());
      for (std::size_t a = 0; a < u.size(); ++a) q[a] = u[a] * u[a] * u[a];
      out["cubic" + nm] = q;
    }
    if (o.quartic) {
      std::vector<double> q(u.size());
      for (std::size_t a = 0; a < u.size(); ++a) q[a] = u[a] * u[a] * u[a] * u[a];
      out["quartic" + nm] = q;
    }
    if (o.cross_scale && l >= 2) {
      const std::vector<double> up = codes(x, n, l - 1);
      const int h = s.grid_at(l), U = s.units[l - 1], Up = s.units[l - 2];
      std::vector<double> c(std::size_t(h) * h * U * Up);
      for (int y = 0; y < h; ++y)
        for (int xx = 0; xx < h; ++xx) {
          const int pp = y * h + xx, q = (y / 2) * (h / 2) + xx / 2;
          for (int i = 0; i < U; ++i)
            for (int j = 0; j < Up; ++j)
              c[(std::size_t(pp) * U + i) * Up + j] = u[pp * U + i] * up[q * Up + j];
        }
      out["cross" + nm] = c;
    }
    return out;
  }

  double score(const std::vector<RowMatrix>& x, int n, const StageLevels& st) const {
    double f = 0;
    for (int l = st.first; l <= st.last; ++l)
      for (const auto& [name, phi] : features(x, n, l)) {
        const auto& r = p.at(name);
        for (std::size_t a = 0; a < phi.size(); ++a) f += r[a] * phi[a];
      }
    return f;
  }

  double penalty() const {
    if (o.readout != Readout::kLearned) return 0;
    double acc = 0;
    for (const auto& [name, v] : p)
      if (name.rfind("lin", 0) == 0 || name.rfind("quad", 0) == 0 || name.rfind("cubic", 0) == 0 ||
          name.rfind("quartic", 0) == 0 || name.rfind("cross", 0) == 0)
        for (double e : v) acc += e * e;
    return o.penalty_weight * acc;
  }

  static double softplus(double v) { return v > 20 ? v : std::log1p(std::exp(v)); }

  // sum_groups <m_rA - m_fA, m_rB - m_fB> / (||(m_rA + m_rB) / 2||^2 + 1e-8).
  double optimal(const std::vector<RowMatrix>& real, const std::vector<RowMatrix>& fake, int B,
                 const StageLevels& st) const {
    const int h = B / 2;
    double total = 0;
    for (int l = st.first; l <= st.last; ++l) {
      std::map<std::string, std::vector<double>> m[4];
      const std::vector<RowMatrix>* src[4] = {&real, &real, &fake, &fake};
      for (int b = 0; b < 4; ++b)
        for (int n = (b % 2) * h; n < (b % 2 + 1) * h; ++n)
          for (const auto& [name, phi] : features(*src[b], n, l)) {
            auto& acc = m[b][name];
            acc.resize(phi.size(), 0.0);
            for (std::size_t a = 0; a < phi.size(); ++a) acc[a] += phi[a] / h;
          }
      for (const auto& [name, ra] : m[0]) {
        const auto &rb = m[1][name], &fa = m[2][name], &fb = m[3][name];
        double scale = 1e-8, dot = 0;
        for (std::size_t a = 0; a < ra.size(); ++a) {
          scale += std::pow(0.5 * (ra[a] + rb[a]), 2);
          dot += (ra[a] - fa[a]) * (rb[a] - fb[a]);
        }
        total += dot / scale;
      }
    }
    return total;
  }

  double d_loss(const std::vector<RowMatrix>& real, const std::vector<double>& z, int B,
                const StageLevels& st) const {
    const auto fake = images(z, B, st.last);
    if (o.readout == Readout::kOptimal) return -optimal(real, fake, B, st);
    double loss = 0;
    for (int n = 0; n < B; ++n) {
      const double fr = score(real, n, st), ff = score(fake, n, st);
      loss += (o.loss == Loss::kIpm ? ff - fr : softplus(-fr) + softplus(ff)) / B;
    }
    return loss + penalty();
  }

  double g_loss(const std::vector<RowMatrix>& real, const std::vector<double>& z, int B,
                const StageLevels& st) const {
    const auto fake = images(z, B, st.last);
    if (o.readout == Readout::kOptimal) return optimal(real, fake, B, st);
    double loss = 0;
    for (int n = 0; n < B; ++n) {
      const double f = score(fake, n, st);
      loss += (o.loss == Loss::kIpm ? -f : softplus(-f)) / B;
    }
    return loss;
  }
};

// ---- the option sets ---------------------------------------------------------------------------

struct Case {
  const char* name;
  ModelOptions options;
};

std::vector<Case> cases() {
  std::vector<Case> c;
  ModelOptions o;
  o.batch = 6;
  o.unit_norm_columns = o.unit_norm_rows = false;
  o.quadratic = Quadratic::kDiag;
  o.penalty_weight = 0.05;
  c.push_back({"learned_diag_ipm", o});  // the issue-7 step's model
  o.quadratic = Quadratic::kFull;
  o.cubic = true;
  o.unit_norm_columns = o.unit_norm_rows = true;
  o.relative_threshold = true;
  o.penalty_weight = 0.01;
  c.push_back({"learned_full_cubic_unitnorm_relative", o});
  o = ModelOptions{};
  o.batch = 5;
  o.loss = Loss::kNonSaturating;
  o.quadratic = Quadratic::kNone;
  o.cross_scale = false;
  o.independent_units = true;
  o.learn_threshold = false;
  o.penalty_weight = 0;
  c.push_back({"learned_nonsaturating_noquad_nocross_independent", o});
  o = ModelOptions{};
  o.batch = 6;
  o.readout = Readout::kOptimal;
  o.quadratic = Quadratic::kDiag;
  o.cubic = true;
  o.relative_threshold = true;
  o.independent_units = true;
  c.push_back({"optimal_diag_cubic_relative_independent", o});
  o = ModelOptions{};
  o.batch = 7;  // odd: the last sample of each half-pair is left out
  o.readout = Readout::kOptimal;
  o.quadratic = Quadratic::kFull;
  o.unit_norm_columns = false;
  c.push_back({"optimal_full_oddbatch", o});
  // The quartic read-out, learned (alone beside the diagonal quadratic) and optimal (beside the
  // cubic one).
  o = ModelOptions{};
  o.batch = 6;
  o.loss = Loss::kNonSaturating;
  o.quadratic = Quadratic::kDiag;
  o.quartic = true;
  o.penalty_weight = 0.03;
  c.push_back({"learned_diag_quartic_nonsaturating", o});
  o = ModelOptions{};
  o.batch = 6;
  o.readout = Readout::kOptimal;
  o.quadratic = Quadratic::kDiag;
  o.cubic = true;
  o.quartic = true;
  o.independent_units = true;
  c.push_back({"optimal_diag_cubic_quartic_independent", o});
  return c;
}

struct StageCase {
  const char* name;
  StageLevels stage;
};
const StageCase kStages[] = {{"joint", {{1, 2, 3}, 1, 3}},
                             {"level3", {{3}, 3, 3}},      // level 2 read through cross terms
                             {"level2of3", {{2}, 2, 2}}};  // level 3 idle

struct Param {
  int kernel;
  int option;
  int stage;
};

std::string param_name(const ::testing::TestParamInfo<Param>& info) {
  return std::string(cases()[info.param.option].name) + "_" + kStages[info.param.stage].name +
         "_k" + std::to_string(info.param.kernel);
}

class CpuEngineTest : public ::testing::TestWithParam<Param> {
 protected:
  void SetUp() override {
    const Param& pr = GetParam();
    shape = tiny_shape(pr.kernel);
    options = cases()[pr.option].options;
    stage = kStages[pr.stage].stage;
    B = options.batch;
    engine = std::make_unique<CpuEngine<double>>(shape, options);
    engine->begin_stage(stage);
    ref.s = shape;
    ref.o = options;
    ref.p = random_params(*engine, 1 + pr.option, /*prune=*/pr.option == 1);
    for (int l = 1; l <= shape.levels; ++l) {
      const int side = shape.grid_at(l) * shape.patch;
      RowMatrix x(B, shape.colors * side * side);
      const auto v = normals(x.size(), 500 + l, 0.5);
      std::copy(v.begin(), v.end(), x.data());
      real_images.push_back(x);
    }
    real = real_patches<double>(shape, real_images);
    z = normals(std::size_t(B) * shape.latent_dim, 7);
  }

  // Whether the loss of this stage has a gradient w.r.t. the tensor (torch: requires_grad and
  // in the graph): generator tensors of the trained levels; decoders of the levels read
  // (first - 1 with cross-scale terms); thresholds when learned; read-outs when learned.
  bool trainable(const std::string& n, bool generator) const {
    const int l = std::isdigit(static_cast<unsigned char>(n.back())) ? n.back() - '0' : 1;
    const bool is_gen =
        n == "A" || n == "b1" || n[0] == 'M' || n[0] == 'W' || n.rfind("bW", 0) == 0;
    if (n == "A_mask" || n.rfind("mask", 0) == 0 || is_gen != generator) return false;
    if (generator) return std::count(stage.trained.begin(), stage.trained.end(), l) > 0;
    const int lo = options.cross_scale && stage.first >= 2 ? stage.first - 1 : stage.first;
    if (n[0] == 'V') return l >= lo && l <= stage.last;
    if (n.rfind("tau", 0) == 0) return options.learn_threshold && l >= lo && l <= stage.last;
    return options.readout == Readout::kLearned;
  }

  // Central differences, h = 1e-6: truncation O(h^2 f''') ~ 1e-12, rounding ~ 2.2e-16 |L| / h
  // (|L| reaches 3e3 with the optimal full-quadratic read-out: 7e-7); a ReLU kink within h of a
  // pre-activation would break one entry, which random data makes improbable (the seeds are
  // fixed). Tolerance 1e-7 absolute + 1e-6 relative + 10x the rounding. Up to 24
  // entries per tensor (spread over it) keep the check fast. Tensors the loss does not depend on
  // must have a zero gradient.
  void expect_gradient(const std::vector<NamedTensor<double>>& grad,
                       const std::function<double()>& loss, bool generator) {
    int checked = 0, nonzero = 0;
    for (const auto& g : grad) {
      if (!trainable(g.name, generator)) {
        for (double v : g.data) ASSERT_EQ(v, 0.0) << g.name << " has no gradient in this stage";
        continue;
      }
      std::vector<double> v = engine->parameter(g.name).data;
      const std::size_t stride = std::max<std::size_t>(1, v.size() / 24);
      for (std::size_t i = 0; i < v.size(); i += stride) {
        const double keep = v[i], h = 1e-6;
        v[i] = keep + h;
        engine->set_parameter(g.name, v);
        const double up = loss();
        v[i] = keep - h;
        engine->set_parameter(g.name, v);
        const double down = loss();
        v[i] = keep;
        engine->set_parameter(g.name, v);
        const double fd = (up - down) / (2 * h);
        const double rounding = 10 * 2.2e-16 * std::abs(up) / h;
        ASSERT_NEAR(g.data[i], fd, 1e-7 + 1e-6 * std::abs(fd) + rounding)
            << g.name << "[" << i << "]";
        ++checked;
        nonzero += std::abs(fd) > 1e-9;
      }
    }
    EXPECT_GT(checked, 20);
    // Not vacuous: sparse codes leave some entries without a gradient, not most.
    EXPECT_GE(nonzero, std::max(3, checked / 10));
  }

  ModelShape shape;
  ModelOptions options;
  StageLevels stage;
  int B = 1;
  std::unique_ptr<CpuEngine<double>> engine;
  Reference ref;
  std::vector<RowMatrix> real_images;
  RealBatch<double> real;
  std::vector<double> z;
};

TEST_P(CpuEngineTest, GeneratorMatchesSynthSuperResolveAndRender) {
  RowMatrix zm(B, shape.latent_dim);
  std::copy(z.begin(), z.end(), zm.data());
  const auto out = engine->generate(zm, shape.levels);
  const auto want = ref.images(z, B, shape.levels);
  int active = 0;
  for (int l = 1; l <= shape.levels; ++l) {
    // Same sums in another order: float64 rounding only, 1e-12 absolute on O(1) values.
    const std::vector<double> w =
        images_to_patches<double>(want[l - 1], shape.grid_at(l), shape.patch, shape.colors);
    ASSERT_EQ(std::size_t(out.patches[l - 1].size()), w.size());
    for (std::size_t i = 0; i < w.size(); ++i) {
      ASSERT_NEAR(out.patches[l - 1].data()[i], w[i], 1e-12) << "X_" << l << " entry " << i;
      active += std::abs(w[i]) > 0;
    }
  }
  EXPECT_GT(active, 20);  // the check is not vacuous (ReLUs not all off)
}

TEST_P(CpuEngineTest, LossesMatchDirectLoops) {
  const double d_want = ref.d_loss(real_images, z, B, stage);
  EXPECT_NEAR(engine->d_loss(real, z.data()), d_want, 1e-12 * (1 + std::abs(d_want)));
  const double g_want = ref.g_loss(real_images, z, B, stage);
  EXPECT_NEAR(engine->g_loss(real, z.data()), g_want, 1e-12 * (1 + std::abs(g_want)));
  EXPECT_GT(std::abs(g_want), 1e-6);  // the read-outs are not zero
}

TEST_P(CpuEngineTest, DiscriminatorGradientMatchesCentralDifferences) {
  const auto grad = engine->d_gradient(real, z.data());
  engine->freeze_optimal_scales(true);  // the scales of the optimal read-out are constants
  expect_gradient(
      grad, [&] { return engine->d_loss(real, z.data()); }, false);
}

TEST_P(CpuEngineTest, GeneratorGradientMatchesCentralDifferences) {
  const auto grad = engine->g_gradient(real, z.data());
  expect_gradient(
      grad, [&] { return engine->g_loss(real, z.data()); }, true);
}

std::vector<Param> all_params() {
  std::vector<Param> v;
  for (int k : {2, 4})
    for (int o = 0; o < int(cases().size()); ++o)
      for (int st = 0; st < 3; ++st) v.push_back({k, o, st});
  return v;
}

INSTANTIATE_TEST_SUITE_P(Options, CpuEngineTest, ::testing::ValuesIn(all_params()), param_name);

// ---- the step ----------------------------------------------------------------------------------

// torch.optim.Adam (LibTorch 1.13, no weight decay): m = b1 m + (1 - b1) g, v = b2 v + (1 - b2)
// g^2, p -= lr / (1 - b1^t) m / (sqrt(v) / sqrt(1 - b2^t) + eps); SGD with momentum: buf = g at the
// first step, then buf = mu buf + g; p -= lr buf.
struct HandOptimizer {
  ModelOptions o;
  std::map<std::string, std::vector<double>> m, v;
  std::map<std::string, int> t;
  void apply(std::vector<double>& p, const std::vector<double>& g, const std::string& name,
             double lr) {
    auto& mm = m[name];
    auto& vv = v[name];
    const int step = ++t[name];
    if (mm.empty()) {
      mm.assign(p.size(), 0.0);
      vv.assign(p.size(), 0.0);
      if (o.optimizer == Optimizer::kSgd) mm = g;
    } else if (o.optimizer == Optimizer::kSgd) {
      for (std::size_t i = 0; i < p.size(); ++i) mm[i] = o.momentum * mm[i] + g[i];
    }
    for (std::size_t i = 0; i < p.size(); ++i) {
      if (o.optimizer == Optimizer::kAdam) {
        mm[i] = o.beta1 * mm[i] + (1 - o.beta1) * g[i];
        vv[i] = o.beta2 * vv[i] + (1 - o.beta2) * g[i] * g[i];
        const double denom = std::sqrt(vv[i]) / std::sqrt(1 - std::pow(o.beta2, step)) + o.eps;
        p[i] -= lr / (1 - std::pow(o.beta1, step)) * mm[i] / denom;
      } else {
        p[i] -= lr * mm[i];
      }
    }
  }
};

// Applies the hand optimiser to every tensor of one side whose gradient is not identically
// absent (torch: grad defined). `defined` lists them.
void hand_update(CpuEngine<double>& e, HandOptimizer& opt,
                 const std::vector<NamedTensor<double>>& g, const std::vector<std::string>& defined,
                 double lr) {
  for (const auto& t : g)
    if (std::find(defined.begin(), defined.end(), t.name) != defined.end()) {
      std::vector<double> p = e.parameter(t.name).data;
      opt.apply(p, t.data, t.name, lr);
      e.set_parameter(t.name, p);
    }
}

class CpuEngineStepTest : public ::testing::TestWithParam<int> {};

TEST_P(CpuEngineStepTest, StepIsTheOptimiserOnTheGradients) {
  const ModelShape s = tiny_shape(4);
  ModelOptions o;
  o.batch = 4;
  o.d_steps = 2;
  o.quadratic = Quadratic::kDiag;
  o.cubic = true;
  o.penalty_weight = 0.02;
  const int variant = GetParam();
  if (variant == 1) {
    o.optimizer = Optimizer::kSgd;
    o.momentum = 0.8;
    o.simultaneous = true;
  }
  if (variant == 2) o.readout = Readout::kOptimal;
  const StageLevels st{{2}, 2, 3};  // level 3 idle in the generator, read by D; level 1 a parent
  CpuEngine<double> a(s, o), b(s, o);
  a.begin_stage(st);
  b.begin_stage(st);
  const Params p = random_params(a, 9, false);
  for (const auto& [n, v] : p) b.set_parameter(n, v);
  std::vector<RealBatch<double>> reals;
  for (int k = 0; k < 2; ++k) {
    RealBatch<double> r;
    for (int l = 1; l <= s.levels; ++l)
      r.push_back(
          normals(std::size_t(o.batch) * s.patches_at(l) * s.patch_dim(), 60 + 10 * k + l, 0.5));
    reals.push_back(r);
  }
  const std::size_t zs = std::size_t(o.batch) * s.latent_dim;
  const std::vector<double> z = normals(3 * zs, 70);
  HandOptimizer hg{o}, hd{o};
  // Which tensors carry a gradient in this stage (torch: grad defined): D decoders of levels
  // 1..3 (level 1 through the cross terms of level 2), every read-out (the L2 penalty reaches
  // all levels) unless optimal; generator level 2.
  std::vector<std::string> d_defined = {"V1", "tau1", "V2", "tau2", "V3", "tau3"};
  if (o.readout == Readout::kLearned)
    for (int l = 1; l <= 3; ++l)
      for (const char* r : {"lin", "quad", "cubic", "cross"})
        d_defined.push_back(r + std::to_string(l));
  const std::vector<std::string> g_defined = {"W2", "bW2", "M2"};
  for (int step = 0; step < 3; ++step) {
    const double lr_g = 0.01 * (step + 1), lr_d = 0.02;
    const StepStats stats = a.step({&reals[0], &reals[1]}, z.data(), lr_g, lr_d);
    ASSERT_TRUE(stats.finite);
    // By hand on b, from the definitions: D steps, then the G step against the updated D
    // (simultaneous: G's gradient first, at the old D, applied after the D steps).
    std::vector<NamedTensor<double>> gg;
    double g_loss = 0;
    if (o.simultaneous) {
      g_loss = b.g_loss(reals[1], z.data() + 2 * zs);
      gg = b.g_gradient(reals[1], z.data() + 2 * zs);
    }
    double d_loss = 0;
    for (int k = 0; k < 2; ++k) {
      d_loss = b.d_loss(reals[k], z.data() + k * zs);
      hand_update(b, hd, b.d_gradient(reals[k], z.data() + k * zs), d_defined, lr_d);
    }
    if (!o.simultaneous) {
      g_loss = b.g_loss(reals[1], z.data() + 2 * zs);
      gg = b.g_gradient(reals[1], z.data() + 2 * zs);
    }
    hand_update(b, hg, gg, g_defined, lr_g);
    EXPECT_NEAR(stats.loss_d, d_loss, 1e-13 * (1 + std::abs(d_loss)));
    EXPECT_NEAR(stats.loss_g, g_loss, 1e-13 * (1 + std::abs(g_loss)));
    const auto pa = a.parameters(), pb = b.parameters();
    for (std::size_t i = 0; i < pa.size(); ++i)
      for (std::size_t j = 0; j < pa[i].data.size(); ++j)
        ASSERT_NEAR(pa[i].data[j], pb[i].data[j], 1e-12 * (1 + std::abs(pb[i].data[j])))
            << "step " << step << " " << pa[i].name << "[" << j << "]";
  }
  // Tensors outside the stage did not move.
  for (const char* n : {"A", "b1", "M1", "W3", "M3"}) EXPECT_EQ(a.parameter(n).data, p.at(n)) << n;
}

INSTANTIATE_TEST_SUITE_P(Optimisers, CpuEngineStepTest, ::testing::Values(0, 1, 2),
                         [](const auto& info) {
                           return std::string(info.param == 0   ? "adam_learned"
                                              : info.param == 1 ? "sgd_momentum_simultaneous"
                                                                : "adam_optimal");
                         });

// Threads split the batch by samples (and walk their share in chunks); the sums over samples are
// then added in thread order, so 1 and 3 threads, or chunks of 2 samples, agree to float64
// rounding (1e-12 relative over three steps) and a given thread count repeats itself bit for bit.
// Covers both read-out kinds, cross-scale terms up and down, a generator level trained below the
// discriminator's top level.
TEST(CpuEngineThreads, ThreadCountsAgreeAndEachIsDeterministic) {
  const ModelShape s = tiny_shape(4);
  for (Readout readout : {Readout::kLearned, Readout::kOptimal}) {
    ModelOptions o;
    o.batch = 7;
    o.d_steps = 2;
    o.quadratic = Quadratic::kDiag;
    o.cubic = true;
    o.readout = readout;
    const StageLevels st{{2, 3}, 2, 3};
    auto run = [&]<typename T>(int threads, T, int chunk = 0) {
      ModelOptions ot = o;
      ot.threads = threads;
      ot.chunk_samples = chunk;
      CpuEngine<T> e(s, ot);
      CpuEngine<double> init(s, o);
      const Params p = random_params(init, 4, false);
      for (const auto& [n, v] : p) e.set_parameter(n, v);
      e.begin_stage(st);
      std::vector<RealBatch<T>> reals(2);
      for (int k = 0; k < 2; ++k)
        for (int l = 1; l <= s.levels; ++l) {
          const auto v =
              normals(std::size_t(o.batch) * s.patches_at(l) * s.patch_dim(), 90 + 10 * k + l, 0.5);
          reals[k].emplace_back(v.begin(), v.end());
        }
      const auto zd = normals(3 * std::size_t(o.batch) * s.latent_dim, 95);
      const std::vector<T> z(zd.begin(), zd.end());
      for (int step = 0; step < 3; ++step) e.step({&reals[0], &reals[1]}, z.data(), 0.01, 0.02);
      return e.parameters();
    };
    const auto one = run(1, 0.0), three = run(3, 0.0), chunked = run(2, 0.0, 2);
    for (std::size_t i = 0; i < one.size(); ++i)
      for (std::size_t j = 0; j < one[i].data.size(); ++j) {
        ASSERT_NEAR(three[i].data[j], one[i].data[j], 1e-12 * (1 + std::abs(one[i].data[j])))
            << one[i].name << "[" << j << "]";
        ASSERT_NEAR(chunked[i].data[j], one[i].data[j], 1e-12 * (1 + std::abs(one[i].data[j])))
            << "chunks of 2: " << one[i].name << "[" << j << "]";
      }
    const auto a = run(2, 0.0f), b = run(2, 0.0f);
    for (std::size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].data, b[i].data) << a[i].name;
  }
}

TEST(CpuEngineState, ParametersAndOptimiserStateRoundTripExactly) {
  const ModelShape s = tiny_shape(2);
  ModelOptions o;
  o.batch = 4;
  CpuEngine<float> a(s, o), b(s, o);
  const StageLevels st{{1, 2, 3}, 1, 3};
  a.begin_stage(st);
  b.begin_stage(st);
  CpuEngine<double> init(s, o);
  const Params p = random_params(init, 3, false);
  for (const auto& [n, v] : p) a.set_parameter(n, v);
  RealBatch<float> r;
  for (int l = 1; l <= s.levels; ++l) {
    const auto v = normals(std::size_t(o.batch) * s.patches_at(l) * s.patch_dim(), 80 + l, 0.5);
    r.emplace_back(v.begin(), v.end());
  }
  std::vector<float> z(std::size_t(o.d_steps + 1) * o.batch * s.latent_dim);
  Rng rng(1, 2);
  fill_normals(rng, z.data(), z.size());
  a.step({&r}, z.data(), 1e-2, 1e-2);
  b.set_parameters(a.parameters());
  b.set_optimizer_state(a.optimizer_state());
  EXPECT_FALSE(a.optimizer_state().empty());
  a.step({&r}, z.data(), 1e-2, 1e-2);
  b.step({&r}, z.data(), 1e-2, 1e-2);
  const auto pa = a.parameters(), pb = b.parameters();
  for (std::size_t i = 0; i < pa.size(); ++i) EXPECT_EQ(pa[i].data, pb[i].data) << pa[i].name;
}

TEST(CpuEngineState, ErrorsNameTheTensor) {
  const ModelShape s = tiny_shape(4);
  CpuEngine<float> e(s, ModelOptions{});
  try {
    e.set_parameters({{"W2", {4, 4, 4, 4}, std::vector<double>(256)}});
    FAIL() << "expected InputError";
  } catch (const InputError& err) {
    EXPECT_NE(std::string(err.what()).find("W2.shape = (4, 4, 4, 4): must be (3, 4, 4, 4)"),
              std::string::npos)
        << err.what();
  }
  EXPECT_THROW(e.set_parameter("W9", {}), InputError);
  ModelShape bad = s;
  bad.kernel = 3;
  EXPECT_THROW(CpuEngine<float>(bad, ModelOptions{}), InputError);
}

TEST(CpuEngineLayout, QuadtreeOrderIsAPermutationWithSiblingsTogether) {
  ModelShape s = tiny_shape(4);
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

// real_patches_into (one pass, into reused arrays) against images_to_patches put in quadtree
// order by patch_order: the same values exactly (a float64 -> T conversion, no arithmetic), also
// when the arrays come from a batch of another size and are poisoned.
template <typename T>
void check_real_patches_into() {
  ModelShape s = tiny_shape(4);
  s.grid = 3;
  RealBatch<T> reused;
  for (const int n : {5, 3, 5}) {
    std::vector<RowMatrix> images;
    for (int l = 1; l <= s.levels; ++l) {
      const int side = s.grid_at(l) * s.patch;
      images.push_back(
          RowMatrix::NullaryExpr(n, s.colors * side * side, [&](Eigen::Index i, Eigen::Index j) {
            return std::sin(1.0 + 7.3 * double(i) + 0.37 * double(j) +
                            double(l));  // not exact in float
          }));
    }
    for (auto& v : reused) std::fill(v.begin(), v.end(), T(-12345));
    real_patches_into<T>(s, images, reused);
    RealBatch<T> pooled = reused;  // on a pool of 2 threads: the same values
    for (auto& v : pooled) std::fill(v.begin(), v.end(), T(-12345));
    ThreadPool pool(2);
    real_patches_into<T>(s, images, pooled, &pool);
    EXPECT_TRUE(pooled == reused) << "real_patches_into on a pool of 2 threads differs";
    ASSERT_EQ(int(reused.size()), s.levels);
    const int d = s.patch_dim();
    for (int l = 1; l <= s.levels; ++l) {
      const std::vector<T> raster =
          images_to_patches<T>(images[l - 1], s.grid_at(l), s.patch, s.colors);
      const std::vector<int> order = patch_order(s, l);
      const std::size_t P = order.size();
      ASSERT_EQ(reused[l - 1].size(), raster.size()) << "level " << l;
      for (int b = 0; b < n; ++b)
        for (std::size_t p = 0; p < P; ++p)
          for (int k = 0; k < d; ++k)
            ASSERT_EQ(reused[l - 1][(b * P + order[p]) * d + k], raster[(b * P + p) * d + k])
                << "level " << l << " sample " << b << " patch " << p << " entry " << k;
    }
    const RealBatch<T> fresh = real_patches<T>(s, images);
    EXPECT_TRUE(fresh == reused) << "real_patches and real_patches_into differ";
  }
}

TEST(CpuEngineLayout, RealPatchesIntoReusedArraysIsTheQuadtreeOrderOfTheImagePatches) {
  check_real_patches_into<float>();
  check_real_patches_into<double>();
}

TEST(CpuEngineLatents, FillNormalsHasGaussianMoments) {
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

}  // namespace
}  // namespace fsr::fast

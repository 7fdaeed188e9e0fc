#include "gda/engines.h"

#include <Eigen/QR>
#include <cmath>

#include "core/rng.h"
#include "core/validate.h"
#include "gda/cuda/cuda_engine.h"
#include "gda/fast/fast_engine.h"
#include "gda/torch_engine.h"
#include "score/recovery.h"
#include "theory/relu_moments.h"

namespace fsr {
namespace {

Eigen::MatrixXd normal_matrix(std::int64_t rows, std::int64_t cols, std::uint64_t seed,
                              std::uint64_t stream) {
  Rng rng(seed, stream);
  Eigen::MatrixXd m(rows, cols);
  for (Eigen::Index i = 0; i < rows; ++i)
    for (Eigen::Index j = 0; j < cols; ++j) m(i, j) = rng.normal();
  return m;
}

// Streams of the learner's seeded initialisation (disjoint from the trainer's).
enum : std::uint64_t { kStreamA = 101, kStreamM = 102, kStreamW = 103, kStreamV = 201 };

NpyArray matrix_array(const Eigen::MatrixXd& m, std::vector<std::int64_t> shape) {
  NpyArray a{std::move(shape), DType::kFloat64, std::vector<double>(std::size_t(m.size()))};
  for (Eigen::Index i = 0; i < m.rows(); ++i)
    for (Eigen::Index j = 0; j < m.cols(); ++j) a.data[std::size_t(i * m.cols() + j)] = m(i, j);
  return a;
}

NpyArray filled(std::vector<std::int64_t> shape, double value) {
  std::size_t n = 1;
  for (auto e : shape) n *= std::size_t(e);
  return NpyArray{std::move(shape), DType::kFloat64, std::vector<double>(n, value)};
}

[[noreturn]] void refuse(const std::string& field, const std::string& value,
                         const std::string& why) {
  fail_field(field, value,
             why + "; the fast engine does not compute it (use \"engine\": \"torch\")");
}

}  // namespace

fast::ModelShape fast_shape(const NetworkShape& s) {
  fast::ModelShape m;
  static_cast<Architecture&>(m) = s;
  m.units = s.decoder_units;
  m.latent_dim = s.latent_dim;
  return m;
}

fast::ModelOptions fast_options(const LearnerConfig& c) {
  if (c.discriminator.kind != DiscriminatorKind::kTheory)
    refuse("discriminator.kind", enum_name(c.discriminator.kind), "a convolutional discriminator");
  if (c.loss.penalty == Penalty::kGradient && c.loss.penalty_weight > 0)
    refuse("loss.penalty", enum_name(c.loss.penalty), "the gradient penalty needs double backpropagation");
  fast::ModelOptions o;
  o.independent_units = c.generator.correlation == UnitCorrelation::kIndependent;
  o.relative_threshold = c.generator.threshold == ThresholdForm::kRelative;
  o.unit_norm_columns = c.generator.unit_norm_columns;
  o.unit_norm_rows = c.discriminator.unit_norm_rows;
  o.learn_threshold = c.discriminator.learn_threshold;
  o.quadratic = c.discriminator.quadratic == QuadraticReadout::kFull   ? fast::Quadratic::kFull
                : c.discriminator.quadratic == QuadraticReadout::kDiag ? fast::Quadratic::kDiag
                                                      : fast::Quadratic::kNone;
  o.cubic = c.discriminator.cubic;
  o.quartic = c.discriminator.quartic;
  o.cross_scale = c.discriminator.cross_scale;
  o.readout =
      c.discriminator.readout == Readout::kOptimal ? fast::Readout::kOptimal : fast::Readout::kLearned;
  o.loss = c.loss.kind == LossKind::kIpm ? fast::Loss::kIpm : fast::Loss::kNonSaturating;
  o.penalty_weight = c.loss.penalty == Penalty::kL2 ? c.loss.penalty_weight : 0.0;
  o.batch = c.sgda.batch;
  o.d_steps = c.sgda.d_steps;
  o.simultaneous = c.sgda.mode == SgdaMode::kSimultaneous;
  o.optimizer = c.sgda.optimizer == OptimizerKind::kAdam ? fast::Optimizer::kAdam : fast::Optimizer::kSgd;
  o.beta1 = c.sgda.beta1;
  o.beta2 = c.sgda.beta2;
  o.momentum = c.sgda.momentum;
  o.threads = c.threads;
  return o;
}

NamedArrays initial_tensors(const NetworkShape& s, const LearnerConfig& config) {
  const auto& g = config.generator;
  const std::uint64_t seed = config.seed;
  const int h2 = s.grid * s.grid, n1 = h2 * s.channels[0], m0 = s.latent_dim, d = s.patch_dim();
  NamedArrays out;
  Eigen::MatrixXd a = normal_matrix(n1, m0, seed, kStreamA);
  if (g.init == GeneratorInit::kOrthogonal && n1 <= m0) {
    Eigen::HouseholderQR<Eigen::MatrixXd> qr(a.transpose());
    Eigen::MatrixXd q = qr.householderQ() * Eigen::MatrixXd::Identity(m0, n1);
    a = q.transpose();
  }
  Eigen::MatrixXd amask = Eigen::MatrixXd::Ones(n1, m0);
  if (g.correlation == UnitCorrelation::kIndependent) {
    if (m0 < n1)
      fail_field("generator.latent_dim", m0,
                 "must be >= n_hat_1 = " + std::to_string(n1) + " for independent units");
    a = Eigen::MatrixXd::Identity(n1, m0);
    amask = a;
  }
  for (Eigen::Index i = 0; i < a.rows(); ++i) a.row(i) *= g.init_code_scale / a.row(i).norm();
  out.emplace_back("A", matrix_array(a, {n1, m0}));
  out.emplace_back("A_mask", matrix_array(amask, {n1, m0}));
  const double t0 = normal_q_inverse(g.init_active);
  const bool relative = g.threshold == ThresholdForm::kRelative;
  out.emplace_back("b1", filled({n1}, relative ? t0 : g.init_code_scale * t0));
  const double es2 = relu_moments(1.0, t0, 2).moments[1];  // E[s^2] of a unit at init
  for (int l = 1; l <= s.levels; ++l) {
    const std::string n = std::to_string(l);
    Eigen::MatrixXd m = normal_matrix(d, s.channels[l - 1], seed, kStreamM + 1000 * l);
    m.colwise().normalize();
    out.emplace_back("M" + n, matrix_array(m, {d, s.channels[l - 1]}));
    out.emplace_back("mask" + n, filled({s.channels[l - 1]}, 1.0));
    if (l >= 2) {
      const int in = s.channels[l - 2], o = s.channels[l - 1], k = s.kernel;
      const double fan_in = in * (k / 2.0) * (k / 2.0);
      const double std = g.init_code_scale / std::sqrt(fan_in * es2);
      const Eigen::MatrixXd w = normal_matrix(in, o * k * k, seed, kStreamW + 1000 * l) * std;
      out.emplace_back("W" + n, matrix_array(w, {in, o, k, k}));
      out.emplace_back("bW" + n, filled({o}, g.init_code_scale * t0));
    }
  }
  const auto& dc = config.discriminator;
  if (dc.kind != DiscriminatorKind::kTheory) return out;
  for (int l = 1; l <= s.levels; ++l) {
    const std::string n = std::to_string(l);
    const int units = s.decoder_units[l - 1], P = s.grid_at(l) * s.grid_at(l);
    Eigen::MatrixXd v = normal_matrix(units, d, seed, kStreamV + 1000 * l);
    v.rowwise().normalize();
    out.emplace_back("V" + n, matrix_array(v, {units, d}));
    out.emplace_back("tau" + n, filled({units}, dc.threshold_init));
    out.emplace_back("lin" + n, filled({P, units}, 0.0));
    if (dc.quadratic == QuadraticReadout::kFull) out.emplace_back("quad" + n, filled({P * units, P * units}, 0.0));
    if (dc.quadratic == QuadraticReadout::kDiag) out.emplace_back("quad" + n, filled({P, units}, 0.0));
    if (dc.cubic) out.emplace_back("cubic" + n, filled({P, units}, 0.0));
    if (dc.quartic) out.emplace_back("quartic" + n, filled({P, units}, 0.0));
    if (dc.cross_scale && l >= 2)
      out.emplace_back("cross" + n, filled({P, units, s.decoder_units[l - 2]}, 0.0));
  }
  return out;
}

std::vector<double> row_major(const Eigen::MatrixXd& m) {
  std::vector<double> v(std::size_t(m.size()));
  for (Eigen::Index i = 0; i < m.rows(); ++i)
    for (Eigen::Index j = 0; j < m.cols(); ++j) v[std::size_t(i * m.cols() + j)] = m(i, j);
  return v;
}

std::vector<int> kept_channels(const Engine& engine, int level) {
  const NpyArray m = engine.tensor("mask" + std::to_string(level));
  std::vector<int> kept;
  for (std::size_t j = 0; j < m.data.size(); ++j)
    if (m.data[j] > 0.5) kept.push_back(int(j));
  return kept;
}

Target learned_target(const Engine& engine, const NetworkShape& shape, std::uint64_t sample_seed) {
  Target t;
  static_cast<Architecture&>(t) = shape;
  t.channels.clear();  // the kept ones, below
  t.sample_seed = sample_seed;
  const int h2 = shape.grid * shape.grid;
  std::vector<std::vector<int>> kept;
  for (int l = 1; l <= shape.levels; ++l) {
    kept.push_back(kept_channels(engine, l));
    t.channels.push_back(static_cast<int>(kept.back().size()));
  }
  const Eigen::MatrixXd a = engine.code_matrix();
  const Eigen::VectorXd b = engine.thresholds();
  const int n1 = h2 * t.channels[0];
  t.A.resize(n1, a.cols());
  t.alpha.resize(n1);
  t.beta.resize(n1);
  for (int jj = 0; jj < t.channels[0]; ++jj)
    for (int p = 0; p < h2; ++p) {
      const int u = kept[0][jj] * h2 + p, v = jj * h2 + p;
      const double norm = a.row(u).norm();
      t.A.row(v) = a.row(u) / norm;
      t.alpha(v) = norm;
      t.beta(v) = b(u);
    }
  for (int l = 1; l <= shape.levels; ++l) {
    const Eigen::MatrixXd m = engine.dictionary(l);
    Eigen::MatrixXd mk(m.rows(), t.channels[l - 1]);
    for (int jj = 0; jj < t.channels[l - 1]; ++jj) mk.col(jj) = m.col(kept[l - 1][jj]);
    t.M.push_back(mk);
    if (l >= 2) {
      const std::string n = std::to_string(l);
      SuperResolutionLayer layer;
      layer.in_channels = t.channels[l - 2];
      layer.out_channels = t.channels[l - 1];
      layer.kernel = shape.kernel;
      layer.weight.resize(std::size_t(layer.in_channels) * layer.out_channels * shape.kernel *
                          shape.kernel);
      const NpyArray w = engine.tensor("W" + n), bias = engine.tensor("bW" + n);
      const int k = shape.kernel, out = shape.channels[l - 1];
      for (int i = 0; i < layer.in_channels; ++i)
        for (int j = 0; j < layer.out_channels; ++j)
          for (int ky = 0; ky < k; ++ky)
            for (int kx = 0; kx < k; ++kx)
              layer.w(i, j, ky, kx) =
                  w.data[((std::size_t(kept[l - 2][i]) * out + kept[l - 1][j]) * k + ky) * k + kx];
      layer.bias.resize(layer.out_channels);
      for (int j = 0; j < layer.out_channels; ++j) layer.bias(j) = bias.data[kept[l - 1][j]];
      t.up.push_back(std::move(layer));
    }
  }
  t.config = Json();
  t.achieved = Json::object();
  return canonical_form(t);
}

std::unique_ptr<Engine> make_engine(EngineKind engine, const NetworkShape& shape,
                                    const LearnerConfig& config, const std::string& device) {
  if (engine == EngineKind::kTorch) return std::make_unique<TorchEngine>(shape, config, device);
  if (device != "auto" && device != "cpu" && device != "cuda")
    fail_field("--device", device, "must be auto, cpu or cuda");
  const fast::ModelShape s = fast_shape(shape);
  const fast::ModelOptions o = fast_options(config);
  // cuda: the device step (gda/cuda/cuda_engine.h), which refuses, naming --device, a build
  // without CUDA or a machine without a GPU; auto: cuda where a device is usable, else the CPU.
  const bool cuda = device == "cuda" || (device == "auto" && cuda::cuda_device_count() > 0);
  std::unique_ptr<Engine> e;
  if (cuda && config.dtype == Precision::kFloat64)
    e = std::make_unique<cuda::DeviceEngine<double>>(s, o, cuda::Backend::kCuda);
  else if (cuda)
    e = std::make_unique<cuda::DeviceEngine<float>>(s, o, cuda::Backend::kCuda);
  else if (config.dtype == Precision::kFloat64)
    e = std::make_unique<fast::FastEngine<double>>(s, o);
  else
    e = std::make_unique<fast::FastEngine<float>>(s, o);
  for (const auto& [name, a] : initial_tensors(shape, config)) e->set_tensor(name, a.data);
  return e;
}

}  // namespace fsr

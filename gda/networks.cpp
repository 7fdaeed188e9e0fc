#include "gda/networks.h"

#include <Eigen/QR>
#include <cmath>

#include "core/rng.h"
#include "core/validate.h"
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

}  // namespace

Eigen::MatrixXd to_eigen(const torch::Tensor& t) {
  const torch::Tensor c = t.detach().to(torch::kCPU, torch::kFloat64).contiguous();
  Eigen::MatrixXd m(c.size(0), c.dim() > 1 ? c.size(1) : 1);
  const double* p = c.data_ptr<double>();
  for (Eigen::Index i = 0; i < m.rows(); ++i)
    for (Eigen::Index j = 0; j < m.cols(); ++j) m(i, j) = p[i * m.cols() + j];
  return m;
}

torch::Tensor from_eigen(const Eigen::MatrixXd& m, torch::TensorOptions options) {
  torch::Tensor t = torch::empty({m.rows(), m.cols()}, torch::kFloat64);
  double* p = t.data_ptr<double>();
  for (Eigen::Index i = 0; i < m.rows(); ++i)
    for (Eigen::Index j = 0; j < m.cols(); ++j) p[i * m.cols() + j] = m(i, j);
  return t.to(options);
}

void assign(torch::Tensor& dst, const Eigen::MatrixXd& values) {
  dst.copy_(from_eigen(values, dst.options()).reshape(dst.sizes()));
}

void assign(torch::Tensor& dst, const std::vector<double>& c_order) {
  dst.copy_(torch::from_blob(const_cast<double*>(c_order.data()), dst.sizes(), torch::kFloat64)
                .to(dst.options()));
}

torch::Tensor seeded_normal(std::int64_t rows, std::int64_t cols, std::uint64_t seed,
                            std::uint64_t stream, double scale, torch::TensorOptions options) {
  return from_eigen(normal_matrix(rows, cols, seed, stream) * scale, options);
}

namespace {
NetworkShape shape_for(const Architecture& t, int target_latent_dim, const LearnerConfig& c) {
  NetworkShape s;
  static_cast<Architecture&>(s) = t;
  s.target_channels = t.channels;
  s.channels.clear();
  for (int m : t.channels) {
    s.channels.push_back(static_cast<int>(std::ceil(c.generator.width * m - 1e-9)));
    s.decoder_units.push_back(
        std::max(1, static_cast<int>(std::ceil(c.discriminator.width * m - 1e-9))));
  }
  if (c.generator.kernel != 0)
    s.kernel = c.generator.kernel;  // the learner's own (0: the target's)
  s.latent_dim = c.generator.latent_dim > 0 ? c.generator.latent_dim
                                            : std::max(target_latent_dim, s.first_layer_units());
  return s;
}

std::string list_text(const std::vector<int>& v) {
  std::string out = "[";
  for (std::size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + std::to_string(v[i]);
  return out + "]";
}
}  // namespace

NetworkShape network_shape(const Target& t, const LearnerConfig& c) {
  if (!c.generator.channels.empty()) {
    fail_field("generator.channels", list_text(c.generator.channels),
               "is for a data-set target only (an image pyramid); a planted target fixes m_l = " +
                   list_text(t.channels) + " (scale them with generator.width)");
  }
  return shape_for(t, t.latent_dim(), c);
}

Architecture data_set_architecture(Architecture a, const LearnerConfig& c) {
  const auto& ch = c.generator.channels;
  if (ch.empty()) {
    fail_field("generator.channels", "[]",
               "is required with a data-set target (an image pyramid has no planted m_l): one "
               "value, or one per level (" +
                   std::to_string(a.levels) + ")");
  }
  if (ch.size() != 1 && static_cast<int>(ch.size()) != a.levels) {
    fail_field(
        "generator.channels", list_text(ch),
        "must list one value or one per level of the data set (" + std::to_string(a.levels) + ")");
  }
  if (c.generator.kernel == 0) {
    fail_field("generator.kernel", 0,
               "must be 2 or 4 with a data-set target (an image pyramid has no planted kernel)");
  }
  a.channels = ch.size() == 1 ? std::vector<int>(a.levels, ch[0]) : ch;
  a.kernel = c.generator.kernel;
  a.validate();
  return a;
}

NetworkShape network_shape(const Architecture& learned, const LearnerConfig& c) {
  return shape_for(learned, 0, c);
}

torch::Tensor images_to_patches(const torch::Tensor& x, int h, int r, int c) {
  const auto n = x.size(0);
  return x.reshape({n, c, h, r, h, r}).permute({0, 2, 4, 1, 3, 5}).reshape({n, h * h, c * r * r});
}

torch::Tensor codes_to_images(const torch::Tensor& s, const torch::Tensor& M, int r, int c) {
  const auto n = s.size(0), h = s.size(2);
  return s.permute({0, 2, 3, 1})
      .matmul(M.t())
      .reshape({n, h, h, c, r, r})
      .permute({0, 3, 1, 4, 2, 5})
      .reshape({n, c, h * r, h * r});
}

// ---- Generator ----------------------------------------------------------------------------------

GeneratorImpl::GeneratorImpl(const NetworkShape& s, const LearnerConfig& config,
                             torch::TensorOptions options)
    : shape(s),
      unit_norm_columns(config.generator.unit_norm_columns),
      relative_threshold(config.generator.threshold == ThresholdForm::kRelative) {
  const auto& g = config.generator;
  const std::uint64_t seed = config.seed;
  const int h2 = s.grid * s.grid;
  const int n1 = h2 * s.channels[0];
  const int m0 = s.latent_dim;
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
  A = register_parameter("A", from_eigen(a, options));
  A_mask = register_buffer("A_mask", from_eigen(amask, options));
  const double t0 = normal_q_inverse(g.init_active);
  b1 = register_parameter(
      "b1", torch::full({n1}, relative_threshold ? t0 : g.init_code_scale * t0, options));
  const double es2 = relu_moments(1.0, t0, 2).moments[1];  // E[s^2] of a unit at init
  const int d = s.patch_dim();
  for (int l = 1; l <= s.levels; ++l) {
    Eigen::MatrixXd m = normal_matrix(d, s.channels[l - 1], seed, kStreamM + 1000 * l);
    m.colwise().normalize();
    M.push_back(register_parameter("M" + std::to_string(l), from_eigen(m, options)));
    mask.push_back(
        register_buffer("mask" + std::to_string(l), torch::ones({s.channels[l - 1]}, options)));
    if (l >= 2) {
      const int in = s.channels[l - 2], out = s.channels[l - 1], k = s.kernel;
      const double fan_in = in * (k / 2.0) * (k / 2.0);
      const double std = g.init_code_scale / std::sqrt(fan_in * es2);
      torch::Tensor w = seeded_normal(in, out * k * k, seed, kStreamW + 1000 * l, std, options)
                            .reshape({in, out, k, k});
      W.push_back(register_parameter("W" + std::to_string(l), w));
      bW.push_back(register_parameter("bW" + std::to_string(l),
                                      torch::full({out}, g.init_code_scale * t0, options)));
    }
  }
}

torch::Tensor GeneratorImpl::thresholds() const {
  return relative_threshold ? b1 * code_matrix().norm(2, {1}) : b1;
}

torch::Tensor GeneratorImpl::dictionary(int level) const {
  const torch::Tensor& m = M[level - 1];
  return unit_norm_columns ? m / m.norm(2, {0}, true) : m;
}

std::vector<torch::Tensor> GeneratorImpl::forward(const torch::Tensor& z, int levels,
                                                  std::vector<torch::Tensor>* hidden) {
  std::vector<torch::Tensor> xs;
  const int h1 = shape.grid;
  const auto n = z.size(0);
  torch::Tensor s = torch::relu(z.matmul(code_matrix().t()) - thresholds())
                        .reshape({n, shape.channels[0], h1, h1}) *
                    mask[0].view({1, -1, 1, 1});
  for (int l = 1; l <= levels; ++l) {
    if (l >= 2) {
      s = torch::conv_transpose2d(s, W[l - 2], {}, 2, s.size(2) > 0 ? shape.padding() : 0);
      s = torch::relu(s - bW[l - 2].view({1, -1, 1, 1})) * mask[l - 1].view({1, -1, 1, 1});
    }
    if (hidden) hidden->push_back(s);
    xs.push_back(codes_to_images(s, dictionary(l), shape.patch, shape.colors));
  }
  return xs;
}

std::vector<torch::Tensor> GeneratorImpl::level_parameters(int level) {
  if (level == 1) return {A, b1, M[0]};
  return {W[level - 2], bW[level - 2], M[level - 1]};
}

// ---- Theory discriminator
// -------------------------------------------------------------------------

TheoryDiscriminator::TheoryDiscriminator(const NetworkShape& s, const LearnerConfig& config,
                                         torch::TensorOptions opts)
    : shape(s), options(config.discriminator) {
  const int d = s.patch_dim();
  for (int l = 1; l <= s.levels; ++l) {
    const int units = s.decoder_units[l - 1];
    const int P = s.grid_at(l) * s.grid_at(l);
    const std::string n = std::to_string(l);
    Eigen::MatrixXd v = normal_matrix(units, d, config.seed, kStreamV + 1000 * l);
    v.rowwise().normalize();
    V.push_back(register_parameter("V" + n, from_eigen(v, opts)));
    tau.push_back(register_parameter("tau" + n, torch::full({units}, options.threshold_init, opts),
                                     options.learn_threshold));
    lin.push_back(register_parameter("lin" + n, torch::zeros({P, units}, opts)));
    if (options.quadratic == QuadraticReadout::kFull) {
      quad.push_back(register_parameter("quad" + n, torch::zeros({P * units, P * units}, opts)));
    } else if (options.quadratic == QuadraticReadout::kDiag) {
      quad.push_back(register_parameter("quad" + n, torch::zeros({P, units}, opts)));
    }
    if (options.cubic)
      cubic.push_back(register_parameter("cubic" + n, torch::zeros({P, units}, opts)));
    if (options.quartic)
      quartic.push_back(register_parameter("quartic" + n, torch::zeros({P, units}, opts)));
    if (options.cross_scale && l >= 2) {
      cross.push_back(
          register_parameter("cross" + n, torch::zeros({P, units, s.decoder_units[l - 2]}, opts)));
    }
  }
}

torch::Tensor TheoryDiscriminator::decoder(int level) const {
  const torch::Tensor& v = V[level - 1];
  return options.unit_norm_rows ? v / v.norm(2, {1}, true) : v;
}

torch::Tensor TheoryDiscriminator::decode(int level, const torch::Tensor& x) const {
  const int h = shape.grid_at(level);
  const torch::Tensor p = images_to_patches(x, h, shape.patch, shape.colors);
  return torch::relu(p.matmul(decoder(level).t()) - tau[level - 1]);
}

torch::Tensor TheoryDiscriminator::parent_codes(int level,
                                                const std::vector<torch::Tensor>& x) const {
  const int h = shape.grid_at(level), hp = h / 2;
  std::vector<std::int64_t> parent;  // child position y h + x -> its parent's (y/2) hp + x/2
  for (int y = 0; y < h; ++y)
    for (int xx = 0; xx < h; ++xx) parent.push_back((y / 2) * hp + xx / 2);
  const torch::Tensor codes = decode(level - 1, x[level - 2]);
  return codes.index_select(
      1, torch::tensor(parent, torch::TensorOptions().dtype(torch::kLong).device(codes.device())));
}

torch::Tensor TheoryDiscriminator::forward(const std::vector<torch::Tensor>& x, int first,
                                           int last) {
  torch::Tensor f;
  for (int l = first; l <= last; ++l) {
    const torch::Tensor u = decode(l, x[l - 1]);  // (N, P, units)
    const auto n = u.size(0);
    torch::Tensor fl = (u * lin[l - 1]).sum({1, 2});
    if (options.quadratic == QuadraticReadout::kFull) {
      const torch::Tensor uf = u.reshape({n, -1});
      fl = fl + (uf.matmul(quad[l - 1]) * uf).sum(1);
    } else if (options.quadratic == QuadraticReadout::kDiag) {
      fl = fl + (u * u * quad[l - 1]).sum({1, 2});
    }
    if (options.cubic) fl = fl + (u * u * u * cubic[l - 1]).sum({1, 2});
    if (options.quartic) fl = fl + (u * u * u * u * quartic[l - 1]).sum({1, 2});
    if (options.cross_scale && l >= 2) {
      const torch::Tensor up = parent_codes(l, x);
      fl = fl + torch::einsum("npi,pij,npj->n", {u, cross[l - 2], up});
    }
    f = f.defined() ? f + fl : fl;
  }
  return f;
}

std::vector<torch::Tensor> TheoryDiscriminator::feature_means(const std::vector<torch::Tensor>& x,
                                                              int first, int last) const {
  std::vector<torch::Tensor> out;
  for (int l = first; l <= last; ++l) {
    const torch::Tensor u = decode(l, x[l - 1]);
    const auto n = u.size(0);
    const torch::Tensor uf = u.reshape({n, -1});
    out.push_back(uf.mean(0));
    if (options.quadratic == QuadraticReadout::kFull) out.push_back(uf.t().matmul(uf) / double(n));
    if (options.quadratic == QuadraticReadout::kDiag) out.push_back(uf.pow(2).mean(0));
    if (options.cubic) out.push_back(uf.pow(3).mean(0));
    if (options.quartic) out.push_back(uf.pow(4).mean(0));
    if (options.cross_scale && l >= 2) {
      const torch::Tensor up = parent_codes(l, x);
      out.push_back(torch::einsum("npi,npj->pij", {u, up}) / double(n));
    }
  }
  return out;
}

std::vector<torch::Tensor> TheoryDiscriminator::penalised_parameters() {
  std::vector<torch::Tensor> p;
  for (auto* group : {&lin, &quad, &cubic, &quartic, &cross})
    for (auto& t : *group) p.push_back(t);
  return p;
}

// ---- Conv discriminator ------------------------------------------------------------------------

ConvDiscriminator::ConvDiscriminator(const NetworkShape& s, const LearnerConfig& config,
                                     torch::TensorOptions opts)
    : shape(s) {
  torch::manual_seed(config.seed);  // torch's default initialisers draw from the global generator
  const int C = config.discriminator.conv_channels;
  for (int l = 1; l <= s.levels; ++l) {
    const std::string n = std::to_string(l);
    conv1.push_back(register_module(
        "conv1_" + n,
        torch::nn::Conv2d(torch::nn::Conv2dOptions(s.colors, C, s.patch).stride(s.patch))));
    conv2.push_back(register_module(
        "conv2_" + n, torch::nn::Conv2d(torch::nn::Conv2dOptions(C, C, 3).padding(1))));
    head.push_back(register_module("head_" + n, torch::nn::Linear(C, 1)));
  }
  to(opts.device(), opts.dtype().toScalarType());
}

torch::Tensor ConvDiscriminator::forward(const std::vector<torch::Tensor>& x, int first, int last) {
  torch::Tensor f;
  for (int l = first; l <= last; ++l) {
    torch::Tensor h = torch::leaky_relu(conv1[l - 1]->forward(x[l - 1]), 0.2);
    h = torch::leaky_relu(conv2[l - 1]->forward(h), 0.2);
    const torch::Tensor fl = head[l - 1]->forward(h.mean({2, 3})).squeeze(1);
    f = f.defined() ? f + fl : fl;
  }
  return f;
}

std::vector<torch::Tensor> ConvDiscriminator::penalised_parameters() {
  std::vector<torch::Tensor> p;
  for (auto& h : head) p.push_back(h->weight);
  return p;
}

std::shared_ptr<DiscriminatorImpl> make_discriminator(const NetworkShape& shape,
                                                      const LearnerConfig& config,
                                                      torch::TensorOptions options) {
  switch (config.discriminator.kind) {
    case DiscriminatorKind::kTheory:
      return std::make_shared<TheoryDiscriminator>(shape, config, options);
    case DiscriminatorKind::kConv:
      return std::make_shared<ConvDiscriminator>(shape, config, options);
  }
  fail_field("discriminator.kind", enum_name(config.discriminator.kind), "must be theory or conv");
}

}  // namespace fsr

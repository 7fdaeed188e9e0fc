// The generator and the discriminators of the GDA learner (docs/science.md §4), as LibTorch modules.
//
// Generator: the architecture of G* (docs/science.md §1), possibly wider. Level 1: S_1 = ReLU(A_hat z - b_1)
// (A_hat rows carry alpha), levels l >= 2: S_l = ReLU(ConvT_l(S_{l-1}) - b_l), outputs
// [X_l]_p = M_hat_l [S_l]_p. A channel mask per level switches pruned channels off.
// Theory discriminator, per level: decoded codes u_p = ReLU(V_l x_p - tau_l) of every patch,
// then linear, quadratic (over all patches' codes) and optional cubic and quartic read-outs, plus
// for l >= 2 cross-scale products u_child^T C u_parent. Conv discriminator: two convolutions,
// mean, linear.
//
//   fsr::Generator g(shape, config, device);  auto xs = g->forward(z, /*levels=*/1);
//   fsr::TheoryDiscriminator d(shape, config, device);  torch::Tensor f = d->forward(xs, 1, 1);
//
// Tensor layouts: images X_l are (N, c, r h_l, r h_l); hidden codes S_l are (N, m_l, h_l, h_l);
// patches are (N, h_l^2, d) with p = y h_l + x and the patch vector in (colour, dy, dx) order,
// the row order of M_l in synth/target.h.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "gda/learner_config.h"
#include "synth/target.h"

namespace fsr {

// The architecture both networks are built for: the generator's — the target's, with m_hat_l
// channels per level and the kernel generator.kernel (0: the target's) — and what only the
// learner has.
struct NetworkShape : Architecture {
  std::vector<int> target_channels;  // m_l of the target (channels holds m_hat_l)
  std::vector<int> decoder_units;    // theory discriminator units per level
  int latent_dim = 1;                // m0_hat
};
// A planted target: its architecture, m_hat_l = ceil(generator.width m_l), the kernel
// generator.kernel (0: the target's). generator.channels is refused (the target fixes m_l).
NetworkShape network_shape(const Target& target, const LearnerConfig& config);
// The architecture a data set with no planted generator (an image pyramid) is learned with:
// levels, grid, patch and colours of `data`, m_l = generator.channels (one value or one per
// level) and generator.kernel (2 or 4), both required; InputError naming the field otherwise.
Architecture data_set_architecture(Architecture data, const LearnerConfig& config);
// The networks for such an architecture (data_set_architecture's): m_hat_l = ceil(generator.width
// m_l), its kernel, no planted latent dimension.
NetworkShape network_shape(const Architecture& learned, const LearnerConfig& config);

// Eigen <-> torch through float64 on the CPU: a (rows, cols) tensor with `options`; a 1- or 2-d
// tensor as a matrix (a vector as one column). assign overwrites a parameter or buffer in place,
// keeping its dtype and device: `values` read row by row (or C order) into dst.numel() entries.
torch::Tensor from_eigen(const Eigen::MatrixXd& m, torch::TensorOptions options);
Eigen::MatrixXd to_eigen(const torch::Tensor& t);
void assign(torch::Tensor& dst, const Eigen::MatrixXd& values);
void assign(torch::Tensor& dst, const std::vector<double>& c_order);

torch::Tensor images_to_patches(const torch::Tensor& x, int h, int r, int c);  // -> (N, h^2, d)
torch::Tensor codes_to_images(const torch::Tensor& s, const torch::Tensor& M, int r, int c);

class GeneratorImpl : public torch::nn::Module {
 public:
  GeneratorImpl(const NetworkShape& shape, const LearnerConfig& config,
                torch::TensorOptions options);
  // X_1..X_levels for latents z (N, m0_hat); `hidden` receives S_1..S_levels when given.
  std::vector<torch::Tensor> forward(const torch::Tensor& z, int levels,
                                     std::vector<torch::Tensor>* hidden = nullptr);
  torch::Tensor dictionary(int level) const;  // effective M_l (d, m_hat_l)
  std::vector<torch::Tensor> level_parameters(int level);

  NetworkShape shape;
  bool unit_norm_columns = true;
  torch::Tensor A, b1;   // (n_hat_1, m0_hat), (n_hat_1)
  torch::Tensor A_mask;  // buffer: identity for independent units, else ones
  torch::Tensor code_matrix() const { return A * A_mask; }
  torch::Tensor thresholds() const;  // beta_u = b_u or ||A_u|| t_u (generator.threshold)
  bool relative_threshold = false;
  std::vector<torch::Tensor> W, bW;  // W[l-2]: (m_{l-1}, m_l, k, k), bW[l-2]: (m_l)
  std::vector<torch::Tensor> M;      // M[l-1]: (d, m_hat_l)
  std::vector<torch::Tensor> mask;   // buffers, mask[l-1]: (m_hat_l), 1 kept / 0 pruned
};
TORCH_MODULE(Generator);

// The common interface of both discriminator families: a score per sample from X_first..X_last
// (images of all levels up to `last` are passed; cross-scale terms read X_{first-1}).
class DiscriminatorImpl : public torch::nn::Module {
 public:
  virtual torch::Tensor forward(const std::vector<torch::Tensor>& x, int first, int last) = 0;
  // Parameters under the L2 penalty (the read-outs; not V or tau).
  virtual std::vector<torch::Tensor> penalised_parameters() = 0;
  // Decoder rows V_l (units, d), effective (normalised); undefined for families without one.
  virtual torch::Tensor decoder(int /*level*/) const { return {}; }
};

class TheoryDiscriminator : public DiscriminatorImpl {
 public:
  TheoryDiscriminator(const NetworkShape& shape, const LearnerConfig& config,
                      torch::TensorOptions options);
  torch::Tensor forward(const std::vector<torch::Tensor>& x, int first, int last) override;
  std::vector<torch::Tensor> penalised_parameters() override;
  torch::Tensor decoder(int level) const override;
  torch::Tensor decode(int level, const torch::Tensor& x) const;  // (N, h^2, units)
  // The level-(l-1) decoded codes of each level-l position's parent: (N, h_l^2, units_{l-1}).
  torch::Tensor parent_codes(int level, const std::vector<torch::Tensor>& x) const;
  // The read-out features' batch means, one tensor per group (linear, quadratic, cubic, quartic,
  // cross), for the closed-form ("optimal") read-out.
  std::vector<torch::Tensor> feature_means(const std::vector<torch::Tensor>& x, int first,
                                           int last) const;

  NetworkShape shape;
  LearnerConfig::Discriminator options;
  std::vector<torch::Tensor> V, tau, lin, quad, cubic, quartic, cross;
};

class ConvDiscriminator : public DiscriminatorImpl {
 public:
  ConvDiscriminator(const NetworkShape& shape, const LearnerConfig& config,
                    torch::TensorOptions options);
  torch::Tensor forward(const std::vector<torch::Tensor>& x, int first, int last) override;
  std::vector<torch::Tensor> penalised_parameters() override;

  NetworkShape shape;
  std::vector<torch::nn::Conv2d> conv1, conv2;
  std::vector<torch::nn::Linear> head;
};

std::shared_ptr<DiscriminatorImpl> make_discriminator(const NetworkShape& shape,
                                                      const LearnerConfig& config,
                                                      torch::TensorOptions options);

// Seeded values independent of torch's generators (fsr::Rng): (rows x cols) N(0, 1) * scale.
torch::Tensor seeded_normal(std::int64_t rows, std::int64_t cols, std::uint64_t seed,
                            std::uint64_t stream, double scale, torch::TensorOptions options);

}  // namespace fsr

// A planted FSR-Gaussian generator G* (docs/science.md §1) — or a learned generator of the same architecture:
// the parameters, their shapes, and the target directory they live in. Layout and shapes are
// documented in docs/target_format.md; the learner writes its models in the same layout so every
// analyzer reads both through load_target().
//
//   fsr::Target t = fsr::build_target(fsr::parse_target_config(fsr::read_json("c.json")));
//   fsr::save_target("out/target", t);                 // target.json + A.npy, alpha.npy, ...
//   fsr::Target u = fsr::load_target("out/target");    // sample(u, ...) == sample(t, ...), bitwise
//
// Shapes (all float64; n_1 = h_1^2 m_1; d = r^2 c):
//   A       n_1 x m0          rows of unit norm, row index = channel * h_1^2 + y * h_1 + x
//   alpha   n_1               beta n_1, same order as S_1 (channel, y, x)
//   W_l     (m_{l-1}, m_l, k, k) for l = 2..L: PyTorch ConvTranspose2d weight, stride 2,
//           padding 0 (k = 2) or 1 (k = 4)
//   b_l     m_l               per output channel; S_l = ReLU(ConvT(S_{l-1}; W_l) - b_l)
//   M_l     d x m_l           row index = colour * r^2 + dy * r + dx; [X_l]_p = M_l [S_l]_p
#pragma once

#include <Eigen/Dense>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <vector>

#include "core/json_io.h"
#include "synth/architecture.h"
#include "synth/config.h"

namespace fsr {

// One super-resolution layer S_l = ReLU(ConvTranspose2d(S_{l-1}) - b), stride 2.
struct SuperResolutionLayer {
  int in_channels = 0;         // m_{l-1}
  int out_channels = 0;        // m_l
  int kernel = 2;              // 2 (padding 0) or 4 (padding 1)
  std::vector<double> weight;  // C order (in, out, k, k), as torch.nn.ConvTranspose2d.weight
  Eigen::VectorXd bias;        // out_channels

  int padding() const { return transposed_padding(kernel); }
  double& w(int i, int j, int ky, int kx) {
    return weight[((std::size_t(i) * out_channels + j) * kernel + ky) * kernel + kx];
  }
  double w(int i, int j, int ky, int kx) const {
    return weight[((std::size_t(i) * out_channels + j) * kernel + ky) * kernel + kx];
  }
};

// The architecture (levels, grid, channels, patch, colours, kernel), what samples it, and the
// parameters.
struct Target : Architecture {
  double noise = 0.0;             // sigma of the output noise
  std::uint64_t sample_seed = 0;  // sample i draws from Rng(sample_seed, i)
  // The law of the entries of z (synth/latent.h). A learned model is always Gaussian.
  FirstLayerNoise first_layer_noise = FirstLayerNoise::kGaussian;

  // Parameters.
  Eigen::MatrixXd A;                     // n_1 x m0
  Eigen::VectorXd alpha;                 // n_1
  Eigen::VectorXd beta;                  // n_1
  std::vector<SuperResolutionLayer> up;  // up[l - 2] maps level l - 1 to level l, l = 2..L
  std::vector<Eigen::MatrixXd> M;        // M[l - 1]: d x m_l

  // Provenance: the normalised config (null for a learned model) and what construction achieved.
  Json config;
  Json achieved;

  int latent_dim() const { return static_cast<int>(A.cols()); }
  // Per-sample sizes of X_l (c * side^2) and S_l (m_l * h_l^2).
  std::int64_t output_size(int level) const;
  std::int64_t hidden_size(int level) const;
  // Multiply-adds x 2 per sample for the hidden layers and outputs of `level`.
  double flops_per_sample(int level) const;
};

// Builds G* from a validated config: draws A, alpha, W_l, M_l from the seed, sets the level-1
// thresholds by the closed form beta = alpha Q^{-1}(active[0]) (Q the tail of the latent law,
// synth/latent.h), calibrates b_l (l >= 2) by
// Monte Carlo so each channel is active with probability active[l-1], rescales each channel of
// W_l, b_l so that E[s^2] matches level 1, and records requested vs achieved statistics in
// `achieved`. Throws fsr::InputError (naming the field) when a request cannot be met.
Target build_target(const TargetConfig& config);

// Checks that shapes agree with the architecture and values are finite; throws InputError naming
// the array and the rule.
void validate_target(const Target& target);

// A 64-bit fingerprint of architecture and parameters (bit-exact): equal targets, equal prints.
std::uint64_t fingerprint(const Target& target);

// Writes target.json and the .npy files. A missing `dir` is built next to it and renamed into
// place (atomic); an existing empty dir or one that already holds the same target (same
// fingerprint) is (re)written file by file, each atomically. Anything else in the way is an
// InputError naming `field` (the flag the user gave) and nothing is written. `write_more` adds
// files (samples) to the directory being built before target.json, so that a target never
// appears without them. Temporaries of killed writers next to `dir` are removed first.
void save_target(const std::filesystem::path& dir, const Target& target,
                 const std::string& field = "out",
                 const std::function<void(const std::filesystem::path&)>& write_more = {});
// Throws InputError naming `dir` (or the file) when it is missing or inconsistent.
Target load_target(const std::filesystem::path& dir);

// The architecture block of target.json.
Json architecture_json(const Target& target);

}  // namespace fsr

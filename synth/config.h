// The configuration of a planted FSR-Gaussian target G* (docs/science.md §1), parsed and validated once at
// the boundary. The JSON keys are a contract with users and scripts (docs/target_format.md);
// an unknown key, a wrong type or a value that breaks a rule is an fsr::InputError whose message
// names the field path, the value and the rule ("first_layer.alpha[0] = -1: must be > 0").
//
//   fsr::Json j = fsr::read_json("experiments/targets/two_level_issue_example.json");
//   fsr::TargetConfig config = fsr::parse_target_config(j, /*base_dir=*/"experiments/targets");
//   fsr::Json normalized = fsr::to_json(config);   // every default filled in
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/fields.h"
#include "core/json_io.h"
#include "synth/architecture.h"

namespace fsr {

enum class Correlation { kIndependent, kLatent, kFile };
enum class DictionaryKind { kOrthonormal, kIncoherent, kFile };

// The distribution of the latent entries z_i (first_layer.noise, docs/target_format.md §1). Every
// one has mean 0 and variance 1, so g = A z keeps the covariance A A^T, and the level-1 threshold
// is its own quantile (P(z > t) = active[0]); only the Gaussian one is what the learner's generator
// draws (the others make the target misspecified for it).
//   gaussian: N(0, 1)
//   laplace:  Laplace with scale b = 1/sqrt(2) (variance 2 b^2 = 1, E z^4 = 6)
//   mixture:  N(0, s^2) with s = kMixtureHighStd with probability kMixtureHighProb, else
//             kMixtureLowStd: variance 0.1 * 7.75 + 0.9 * 0.25 = 1, E z^4 = 3 (0.1 * 7.75^2 +
//             0.9 * 0.25^2) = 18.1875
enum class FirstLayerNoise { kGaussian, kLaplace, kMixture };
constexpr std::array<EnumName<FirstLayerNoise>, 3> enum_names(FirstLayerNoise) {
  return {{{FirstLayerNoise::kGaussian, "gaussian"},
           {FirstLayerNoise::kLaplace, "laplace"},
           {FirstLayerNoise::kMixture, "mixture"}}};
}
inline constexpr double kMixtureHighProb = 0.1;
inline constexpr double kMixtureHighVariance = 7.75;  // s_hi = sqrt(7.75) = 2.7839...
inline constexpr double kMixtureLowStd = 0.5;         // s_lo^2 = 0.25

// The architecture (levels, grid, channels, patch, colours, kernel) and what G* draws on it.
struct TargetConfig : Architecture {
  std::vector<double> active;  // requested P(unit active), per level, each in (0, 1)

  // First hidden layer g = A z, z ~ N(0, I_{m0}) (or the law of first_layer_noise), rows of A of
  // unit norm.
  Correlation correlation = Correlation::kIndependent;
  int latent_dim = 0;                       // m0; for independent units m0 = h_1^2 m_1 and A = I
  std::filesystem::path correlation_file;   // kFile: an .npy of A, shape (h_1^2 m_1, m0)
  double alpha_min = 1.0, alpha_max = 1.0;  // alpha_i ~ Uniform[alpha_min, alpha_max]
  // The law of the entries of z (gaussian: the model's own; laplace, mixture: misspecified).
  FirstLayerNoise first_layer_noise = FirstLayerNoise::kGaussian;

  // Output dictionaries M_l (d x m_l, d = r^2 c).
  DictionaryKind dictionary = DictionaryKind::kOrthonormal;
  std::string dictionary_file;  // kFile: path, "{level}" replaced by l (resolved, absolute)
  double coherence = 1.0;       // mu: required bound on max_{i != j} |<M_i, M_j>|

  double noise = 0.0;  // sigma of the Gaussian output noise
  std::uint64_t seed = 0;
  int calibration_samples = 2000;  // Monte Carlo samples for the biases of levels >= 2
};

// `base_dir` resolves relative .npy paths (the directory of the config file).
TargetConfig parse_target_config(const Json& json, const std::filesystem::path& base_dir = {});

// The normalised config: every key, defaults filled, paths absolute. parse(to_json(c)) == c.
Json to_json(const TargetConfig& config);

std::string to_string(Correlation c);
std::string to_string(DictionaryKind k);
std::string to_string(FirstLayerNoise n);

}  // namespace fsr

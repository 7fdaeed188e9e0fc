// The law of a target's latent entries z_i (first_layer.noise, synth/config.h): how sample() draws
// them from a sample's stream, and the closed forms build_target() reports with them. Every law
// has mean 0 and variance 1; g = A z then has covariance A A^T whatever the law, and g_n has
// exactly the law of z_i when the units are independent (A = I). With correlation latent or a
// file, g_n = sum_i A_ni z_i is a weighted sum of such draws (closer to Gaussian) and the closed
// forms below are those of z_i, not of g_n.
//
//   fsr::Rng rng(seed, sample_index);
//   fsr::fill_latents(rng, fsr::FirstLayerNoise::kLaplace, z.data(), z.size());
//   double t = fsr::latent_q_inverse(fsr::FirstLayerNoise::kLaplace, 0.1);  // 1.138: P(z > t) =
//   0.1
#pragma once

#include <cstddef>

#include "core/rng.h"
#include "synth/config.h"

namespace fsr {

// The next n draws of the law from `rng`, in order. Gaussian: Rng::fill_normal, bit for bit (the
// stream every existing target draws). Laplace: one uniform_open() u each, z = b log(2u) for
// u < 1/2, else -b log(2 (1 - u)), b = 1/sqrt(2). Mixture: one uniform() u each, then one
// normal() times s_hi (u < kMixtureHighProb) or s_lo.
void fill_latents(Rng& rng, FirstLayerNoise law, double* out, std::size_t n);

// P(z > t).
double latent_q(FirstLayerNoise law, double t);
// The t with P(z > t) = p, p in (0, 1): the level-1 threshold of build_target (gaussian:
// normal_q_inverse, the same value; laplace: closed form; mixture: bisection to the last bit).
double latent_q_inverse(FirstLayerNoise law, double p);
// E[ReLU(alpha z - beta)^2], alpha > 0 (gaussian: theory/relu_moments.h, the same value).
double latent_relu_second_moment(FirstLayerNoise law, double alpha, double beta);
// E[z^4]: 3, 6, 3 (p s_hi^4 + (1 - p) s_lo^4) = 18.1875.
double latent_fourth_moment(FirstLayerNoise law);

}  // namespace fsr

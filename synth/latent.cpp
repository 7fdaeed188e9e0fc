#include "synth/latent.h"

#include <cmath>

#include "core/validate.h"
#include "theory/relu_moments.h"

namespace fsr {
namespace {

const double kLaplaceScale = 1.0 / std::sqrt(2.0);  // b: variance 2 b^2 = 1
const double kMixtureHighStd = std::sqrt(kMixtureHighVariance);

}  // namespace

void fill_latents(Rng& rng, FirstLayerNoise law, double* out, std::size_t n) {
  switch (law) {
    case FirstLayerNoise::kGaussian:
      rng.fill_normal(out, n);
      return;
    case FirstLayerNoise::kLaplace:
      // Inverse CDF; 1 - u is exact for u in [1/2, 1), and u in (0, 1) keeps the logs finite.
      for (std::size_t i = 0; i < n; ++i) {
        const double u = rng.uniform_open();
        out[i] = u < 0.5 ? kLaplaceScale * std::log(2.0 * u)
                         : -kLaplaceScale * std::log(2.0 * (1.0 - u));
      }
      return;
    case FirstLayerNoise::kMixture:
      for (std::size_t i = 0; i < n; ++i) {
        const double s = rng.uniform() < kMixtureHighProb ? kMixtureHighStd : kMixtureLowStd;
        out[i] = s * rng.normal();
      }
      return;
  }
}

double latent_q(FirstLayerNoise law, double t) {
  switch (law) {
    case FirstLayerNoise::kGaussian:
      return normal_q(t);
    case FirstLayerNoise::kLaplace:
      return t >= 0 ? 0.5 * std::exp(-t / kLaplaceScale) : 1.0 - 0.5 * std::exp(t / kLaplaceScale);
    case FirstLayerNoise::kMixture:
      return kMixtureHighProb * normal_q(t / kMixtureHighStd) +
             (1.0 - kMixtureHighProb) * normal_q(t / kMixtureLowStd);
  }
  return 0.0;
}

double latent_q_inverse(FirstLayerNoise law, double p) {
  require_in_range("p", p, 0.0, 1.0);
  switch (law) {
    case FirstLayerNoise::kGaussian:
      return normal_q_inverse(p);
    case FirstLayerNoise::kLaplace:
      return p <= 0.5 ? -kLaplaceScale * std::log(2.0 * p)
                      : kLaplaceScale * std::log(2.0 * (1 - p));
    case FirstLayerNoise::kMixture: {
      // latent_q is decreasing; P(z > -40) = 1 and P(z > 40) = 0 in double for both components.
      double lo = -40.0, hi = 40.0;
      for (int i = 0; i < 200; ++i) {
        const double mid = 0.5 * (lo + hi);
        if (mid <= lo || mid >= hi) break;  // no double left between them
        (latent_q(law, mid) > p ? lo : hi) = mid;
      }
      return 0.5 * (lo + hi);
    }
  }
  return 0.0;
}

double latent_relu_second_moment(FirstLayerNoise law, double alpha, double beta) {
  switch (law) {
    case FirstLayerNoise::kGaussian:
      return relu_moments(alpha, beta, 2).moments[1];
    case FirstLayerNoise::kLaplace: {
      // E[(z - t)_+^2], t = beta / alpha: above t >= 0 the excess z - t is Exp(b) with
      // probability e^{-t/b} / 2 (second moment 2 b^2); for t < 0, E[(z - t)^2] = 1 + t^2 less the
      // same tail below t.
      const double t = beta / alpha, b = kLaplaceScale;
      const double tail = b * b * std::exp(-std::abs(t) / b);
      return alpha * alpha * (t >= 0 ? tail : 1.0 + t * t - tail);
    }
    case FirstLayerNoise::kMixture:
      // Given its component z = s g, g ~ N(0, 1): ReLU(alpha s g - beta).
      return kMixtureHighProb * relu_moments(alpha * kMixtureHighStd, beta, 2).moments[1] +
             (1.0 - kMixtureHighProb) * relu_moments(alpha * kMixtureLowStd, beta, 2).moments[1];
  }
  return 0.0;
}

double latent_fourth_moment(FirstLayerNoise law) {
  switch (law) {
    case FirstLayerNoise::kGaussian:
      return 3.0;
    case FirstLayerNoise::kLaplace:
      return 6.0;  // 24 b^4 = 24 / 4
    case FirstLayerNoise::kMixture: {
      const double lo2 = kMixtureLowStd * kMixtureLowStd;
      return 3.0 * (kMixtureHighProb * kMixtureHighVariance * kMixtureHighVariance +
                    (1.0 - kMixtureHighProb) * lo2 * lo2);
    }
  }
  return 0.0;
}

}  // namespace fsr

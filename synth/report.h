// The property report of a target (docs/science.md §1): is it hierarchical sparse coding (per-level
// activity, its distribution per patch, coherence of each M_l), is it forward super-resolution
// (receptive field of a fine patch, exactness of the local map), and how close a 2x down-scaled
// X_{l+1} is to X_l. Works on planted and learned targets alike; returns plain JSON.
//
//   fsr::Target t = fsr::load_target("out/target");
//   fsr::Json report = fsr::property_report(t, /*samples=*/2000);
//   double p2 = report["activity"][1]["achieved"];
#pragma once

#include <Eigen/Dense>
#include <cstdint>

#include "core/json_io.h"
#include "synth/target.h"

namespace fsr {

// Per level, over the first `samples` samples: achieved activity (fraction of active units), its
// standard error from the spread of per-sample fractions, per-channel range, mean active count
// per patch (grid position), the histogram of that count (fractions, index 0..m_l), k (the
// requested count ceil(active m_l) when the config is known, else ceil(achieved m_l)), the
// fraction of patches with at most k active, and k99 (smallest k covering 99% of patches).
Json activity_report(const Target& target, std::int64_t samples, int threads = 1);

// Off-diagonal summary of rho = A A^T after normalising rows of A: max |rho|, mean |rho|, rms.
// Exact for n_1 <= 2048 rows, estimated from 200000 fixed random pairs beyond that.
Json rho_summary(const Eigen::MatrixXd& A);

// Receptive field of patches of level l >= 2 in level l-1 and in level 1 (from the nonzero
// pattern of W), per level.
Json locality_report(const Target& target);

// Everything above plus coherence per level, the forward super-resolution check (max relative
// deviation between S_l and the local map applied to S_{l-1}; between X_l and M_l S_l), and
// down-scale closeness: rel. error and cosine between avg-pool2x2(X_{l+1}) and X_l.
Json property_report(const Target& target, std::int64_t samples, int threads = 1);

// The sparsity level k of `level` (1-based): ceil(requested activity * m_l), from the target's
// config when it has one, else from `achieved` (a learned model has no config); in [1, m_l].
int requested_k(const Target& target, int level, double achieved);

}  // namespace fsr

// The SGDA step that bench/ times against PyTorch eager (bench/pytorch_step.py) as a
// configuration of the fast engine (gda/fast/cpu_engine.h): the theory model on a target's
// architecture, all levels trained together, per-patch linear and diagonal quadratic read-outs,
// cross-scale terms, no normalisation, IPM + L2 penalty 1e-3, one D step then one G step, plain
// SGD with lr 0.01. U_l = 2 m_l decoder units, m0 = max(latent_dim of the target, n_1).
//
//   fsr::fast::ModelShape s = fsr::bench::step_shape(target);
//   fsr::fast::CpuEngine<float> e(s, fsr::bench::step_options(256));
//   fsr::bench::init_step_model(e, 1);  e.begin_stage(fsr::bench::step_stage(s));
#pragma once

#include <algorithm>
#include <cmath>
#include <string>

#include "core/rng.h"
#include "gda/fast/cpu_engine.h"
#include "synth/target.h"

namespace fsr::bench {

inline fast::ModelShape step_shape(const Target& t) {
  fast::ModelShape s;
  s.levels = t.levels;
  s.grid = t.grid;
  s.patch = t.patch;
  s.colors = t.colors;
  s.kernel = t.kernel;
  s.channels = t.channels;
  for (int m : t.channels) s.units.push_back(2 * m);
  s.latent_dim = std::max(t.latent_dim(), s.first_layer_units());
  return s;
}

inline fast::ModelOptions step_options(int batch) {
  fast::ModelOptions o;
  o.unit_norm_columns = o.unit_norm_rows = false;
  o.quadratic = fast::Quadratic::kDiag;
  o.cubic = false;
  o.quartic = false;
  o.cross_scale = true;
  o.readout = fast::Readout::kLearned;
  o.loss = fast::Loss::kIpm;
  o.penalty_weight = 1e-3;
  o.batch = batch;
  o.d_steps = 1;
  o.optimizer = fast::Optimizer::kSgd;
  o.momentum = 0;
  return o;
}

inline fast::StageLevels step_stage(const fast::ModelShape& s) {
  fast::StageLevels st;
  st.trained.clear();
  for (int l = 1; l <= s.levels; ++l) st.trained.push_back(l);
  st.first = 1;
  st.last = s.levels;
  return st;
}

// Seeded random parameters (fsr::Rng): A ~ N(0, 1/m0), b_1 = 0.5 (P(active) ~ 0.31),
// W_l ~ N(0, 2 / fan-in), b_l = 0.1, M, V ~ N(0, 1/d), tau = 0.05, read-outs ~ N(0, 0.01 / (P U))
// — small random read-outs so that the generator gets a gradient at the first step.
template <typename T>
void init_step_model(fast::CpuEngine<T>& e, std::uint64_t seed) {
  const fast::ModelShape& s = e.shape();
  std::uint64_t stream = 1000;
  for (const auto& t : e.parameters()) {
    const std::string& n = t.name;
    if (n == "A_mask" || n.rfind("mask", 0) == 0) continue;
    double scale = 0, shift = 0;
    const int l = std::isdigit(static_cast<unsigned char>(n.back())) ? n.back() - '0' : 1;
    if (n == "A") scale = 1 / std::sqrt(double(s.latent_dim));
    if (n == "b1") shift = 0.5;
    if (n[0] == 'W') {
      const int mi = s.channels[l - 2];
      scale = std::sqrt(2.0 / (mi * (s.kernel / 2.0) * (s.kernel / 2.0)));
    }
    if (n.rfind("bW", 0) == 0) shift = 0.1;
    if (n[0] == 'M' || n[0] == 'V') scale = 1 / std::sqrt(double(s.patch_dim()));
    if (n.rfind("tau", 0) == 0) shift = 0.05;
    if (n.rfind("lin", 0) == 0 || n.rfind("quad", 0) == 0 || n.rfind("cross", 0) == 0)
      scale = 0.1 / std::sqrt(double(s.patches_at(l)) * s.units[l - 1]);
    Rng rng(seed, stream++);
    std::vector<double> v(t.data.size());
    for (double& x : v) x = shift + scale * rng.normal();
    e.set_parameter(n, v);
  }
}

// FLOPs of one step: 2 x the multiply-adds of its matrix products; element-wise work (ReLU,
// bias, read-outs, gathers) is not counted. Per sample, with P_l = h_l^2:
//   gen_fwd = m0 n1 + sum_{l>=2} P_{l-1} m_{l-1} k^2 m_l + sum_l P_l m_l d
//   gen_bwd = m0 n1 + 2 sum_{l>=2} P_{l-1} m_{l-1} k^2 m_l + 2 sum_l P_l m_l d   (dA; dW, dS; dM,
//   dS) d_fwd = sum_l P_l d U_l + sum_{l>=2} P_l U_l U_{l-1} d_bwd_p = sum_l P_l d U_l + 2
//   sum_{l>=2} P_l U_l U_{l-1}                     (dV; dC, du') d_bwd_x = sum_l P_l d U_l +
//   sum_{l>=2} P_l U_l U_{l-1}                       (dX; du')
// step = 2 B [ (gen_fwd + 2 d_fwd + 2 d_bwd_p)  +  (gen_fwd + d_fwd + d_bwd_x + gen_bwd) ]
//          D step: fake G(z_d), D on 2B rows            G step
inline double flops_per_step(const fast::ModelShape& s, int batch) {
  const double d = s.patch_dim(), k2 = double(s.kernel) * s.kernel;
  double conv = 0, render = 0, dec = 0, cross = 0;
  for (int l = 1; l <= s.levels; ++l) {
    const double P = s.patches_at(l), m = s.channels[l - 1], U = s.units[l - 1];
    render += P * m * d;
    dec += P * d * U;
    if (l >= 2) {
      conv += s.patches_at(l - 1) * double(s.channels[l - 2]) * k2 * m;
      cross += P * U * s.units[l - 2];
    }
  }
  const double a = double(s.latent_dim) * s.first_layer_units();
  const double gen_fwd = a + conv + render, gen_bwd = a + 2 * conv + 2 * render;
  const double d_fwd = dec + cross, d_bwd_p = dec + 2 * cross, d_bwd_x = dec + cross;
  return 2.0 * batch * (gen_fwd + 2 * d_fwd + 2 * d_bwd_p + gen_fwd + d_fwd + d_bwd_x + gen_bwd);
}

}  // namespace fsr::bench

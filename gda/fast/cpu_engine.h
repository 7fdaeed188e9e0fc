// The fast engine's CPU backend: the GDA learner's theory model (generator of any depth, theory
// discriminator) with hand-written forward and backward passes, its optimisers and its SGDA step,
// in float32 (or float64, for the equivalence checks), torch-free. It computes what
// gda/networks.h and the trainer compute with LibTorch, option by option (ModelOptions), so a run
// differs from the LibTorch learner's only by round-off and by where the latents come from.
//
//   fsr::fast::CpuEngine<float> e(shape, options);
//   e.set_parameters(initial);                     // canonical layout, e.g. from the learner's
//   init e.begin_stage({.trained = {1}, .first = 1, .last = 1}); fsr::fast::StepStats s =
//   e.step({&real}, latents, /*lr_g=*/2e-3, /*lr_d=*/2e-3);
//
// THE MODEL (the notation of docs/science.md §4 and gda/networks.h). Levels l = 1..L, h_l = h_1 2^(l-1),
// P_l = h_l^2 patches of d = r^2 c pixels, m_l generator channels, U_l decoder units, batch B.
//   Generator: S_1 = mask_1 o ReLU(z Â^T - β), Â = A o A_mask (A_mask = I for independent units),
//     β = b_1 or ||Â_u|| b_1 (relative thresholds); S_l = mask_l o ReLU(ConvT_l(S_{l-1}) - b_l),
//     stride 2, kernel k, padding k == 4; patch p of X_l is M̂_l s_p, M̂ = M or M with unit
//     columns. Channel masks (0/1) switch pruned channels off.
//   Discriminator, level l: u_p = ReLU(V̂_l x_p - τ_l) (V̂ = V or V with unit rows), then either
//     learned read-outs D_l = Σ_p lin·u_p + [quad·u_p² | u^T Q u over all patches] + cubic·u_p³
//     + quartic·u_p⁴ + (l >= 2) u_p^T C_p u'_{parent(p)}, with an IPM (+ λ||read-outs||²) or
//     non-saturating loss; or "optimal" read-outs: the relative squared distance of the batch means
//     of those features between real and fake, split-half unbiased (gda/trainer.cpp
//     moment_discrepancy).
//   One SGDA step: d_steps discriminator steps (each: a real batch, fresh latents), then the
//     generator step (fresh latents; against the updated discriminator; simultaneous: before the
//     discriminator steps, applied after them); Adam or SGD (+ momentum).
// Only the levels of the current stage take part: D levels first..last (and the parent level
// first - 1 through the cross-scale terms), generator levels 1..last, parameters of the trained
// levels move.
//
// Layout (why it is fast): activations are row-major (rows x channels) with rows (sample, patch),
// patches in quadtree order (gda/fast/layout.h); every linear map is one product over the batch;
// the transposed convolution is one product into a (rows x k^2 m_l) buffer and a fused gather +
// bias + ReLU; real and fake rows of a discriminator step share one pass; every buffer is
// allocated once, at construction.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/rng.h"
#include "gda/engine.h"
#include "gda/fast/layout.h"

namespace fsr::fast {

enum class Quadratic { kNone, kDiag, kFull };
enum class Readout { kLearned, kOptimal };
enum class Loss { kIpm, kNonSaturating };
enum class Optimizer { kAdam, kSgd };

struct ModelOptions {
  // Generator.
  bool independent_units = false;   // A_mask = I (one latent per first-layer unit)
  bool relative_threshold = false;  // β_u = ||Â_u|| b_u
  bool unit_norm_columns = true;    // M̂ = M with unit columns
  // Discriminator.
  bool unit_norm_rows = true;  // V̂ = V with unit rows
  bool learn_threshold = true;
  Quadratic quadratic = Quadratic::kFull;
  bool cubic = false;
  bool quartic = false;
  bool cross_scale = true;
  Readout readout = Readout::kLearned;
  // Loss (learned read-outs).
  Loss loss = Loss::kIpm;
  double penalty_weight = 1e-3;  // λ of the L2 penalty on the read-outs; 0: none
  // SGDA.
  int batch = 512;
  int d_steps = 1;
  bool simultaneous = false;
  Optimizer optimizer = Optimizer::kAdam;
  double beta1 = 0.5, beta2 = 0.99, eps = 1e-8;  // Adam
  double momentum = 0.0;                         // SGD
  // Threads of one step (the batch split by samples): results are deterministic for a given
  // count, and differ between counts by the order of the sums over samples.
  int threads = 1;
  // Samples per chunk of a pass (each thread walks its share of the batch chunk by chunk, so a
  // chunk's activations stay in the cache between passes); 0: about 256 kB of activations.
  int chunk_samples = 0;
};

// The stage's levels and a step's statistics are the learner's (gda/engine.h).
using StageLevels = fsr::EngineStage;
using StepStats = fsr::StepStats;
using Generated = fsr::Generated;

// A tensor in the canonical layout: name, shape, C-order values.
template <typename T>
struct NamedTensor {
  std::string name;
  std::vector<std::int64_t> shape;
  std::vector<T> data;
};

// n N(0, 1) values by single-precision Box-Muller, one rng.next_u64() per pair (tails cut at
// 5.8 sigma): the engine's latents.
template <typename T>
void fill_normals(Rng& rng, T* out, std::size_t n);

template <typename T>
class CpuEngine {
 public:
  CpuEngine(const ModelShape& shape, const ModelOptions& options);
  ~CpuEngine();
  CpuEngine(const CpuEngine&) = delete;
  CpuEngine& operator=(const CpuEngine&) = delete;

  const ModelShape& shape() const { return shape_; }
  const ModelOptions& options() const { return options_; }
  // The engine's team of options.threads threads, for the work around a step (its real batches'
  // drawing and conversion) to run on the same threads as the step.
  ThreadPool& pool();

  // Parameters and buffers in the canonical layout of gda/networks.h: generator A (n_1, m0) with
  // row c h_1^2 + y h_1 + x, A_mask (buffer, same shape), b1 (n_1), then per level M<l> (d, m_l),
  // mask<l> (buffer, m_l), W<l> (m_{l-1}, m_l, k, k) and bW<l> (m_l) for l >= 2; discriminator per
  // level V<l> (U_l, d), tau<l> (U_l), lin<l> (P_l, U_l), quad<l> ((P_l, U_l) diagonal or
  // (P_l U_l, P_l U_l) full; absent for none), cubic<l> (P_l, U_l; when cubic), quartic<l>
  // (P_l, U_l; when quartic), cross<l> (P_l, U_l, U_{l-1}; l >= 2 with cross_scale). Patch rows in
  // raster order. Values as doubles: exact both ways for T = float, so a checkpoint round trip is
  // bit-identical.
  std::vector<NamedTensor<double>> parameters() const;
  NamedTensor<double> parameter(const std::string& name) const;
  // Throws InputError naming the tensor on an unknown name or a wrong size.
  void set_parameter(const std::string& name, const std::vector<double>& values);
  void set_parameters(const std::vector<NamedTensor<double>>& tensors);  // any subset

  // Starts a stage: which levels take part; the optimiser states start afresh.
  void begin_stage(const StageLevels& stage);
  const StageLevels& stage() const { return stage_; }

  // One SGDA step (see the header comment). real[k], k < d_steps: the discriminator steps' real
  // batches (layout.h, every level up to the stage's last); the generator step reads
  // real[d_steps - 1] with optimal read-outs. latents: (d_steps + 1) x B x m0, row-major: the D
  // steps' then the G step's.
  StepStats step(const std::vector<const RealBatch<T>*>& real, const T* latents, double lr_g,
                 double lr_d);

  // Optimiser states in the canonical layout: for every parameter with a state, "<name>.step"
  // (one value) and Adam's "<name>.exp_avg", "<name>.exp_avg_sq" or SGD's
  // "<name>.momentum_buffer". set_optimizer_state replaces all states.
  std::vector<NamedTensor<double>> optimizer_state() const;
  void set_optimizer_state(const std::vector<NamedTensor<double>>& state);
  // Zeroes the optimiser moments of the canonical entries of `name` marked in `entries` (a unit
  // re-seeded by the trainer starts without the old unit's history); the step count stays.
  void reset_optimizer_entries(const std::string& name, const std::vector<bool>& entries);

  // The generator on given latents (N x m0, any N), levels 1..levels: per level the patches
  // ((N P_l) x d, rows (sample, raster patch)), the codes S_l (N x (m_l h_l^2), (channel, y, x))
  // and, for l >= 2, the pre-activations ConvT_l(S_{l-1}) before bias, ReLU and mask (same
  // layout). Parameters unchanged.
  Generated generate(const RowMatrix& z, int levels, bool with_codes = true,
                     bool with_patches = true);

  // The effective parameters as the step uses them (computed in T), canonical layout: M̂_l
  // (d x m_l), V̂_l (U_l x d), Â = A o A_mask (n_1 x m0) with rows in canonical unit order, and
  // the thresholds β (n_1).
  Eigen::MatrixXd dictionary(int level) const;
  Eigen::MatrixXd decoder(int level) const;
  Eigen::MatrixXd code_matrix() const;
  Eigen::VectorXd thresholds() const;

  // For checks: the stage's losses at the current parameters, and their gradients in the
  // canonical layout (every parameter, zero where the loss does not depend on it): L_D on
  // (real, latents z) and L_G on latents z (and real, for optimal read-outs). No update.
  double d_loss(const RealBatch<T>& real, const T* z);
  double g_loss(const RealBatch<T>& real, const T* z);
  std::vector<NamedTensor<double>> d_gradient(const RealBatch<T>& real, const T* z);
  std::vector<NamedTensor<double>> g_gradient(const RealBatch<T>& real, const T* z);
  // The optimal read-out's scales ||mean real feature||^2 are constants of the gradient (torch:
  // detached); frozen, the losses reuse the last ones, so central differences see the same
  // function the gradient is of.
  void freeze_optimal_scales(bool frozen);

  // For another backend of this engine (gda/cuda/), which keeps a copy of the state on its device
  // in the same internal layout: the block table (offsets into the flat vectors) and the flat
  // vectors themselves — raw(0) parameters and buffers, raw(1) Adam's exp_avg or SGD's momentum,
  // raw(2) Adam's exp_avg_sq. After writing raw(0), raw_refresh() recomputes the effective
  // parameters; set_raw_state() takes back the blocks' optimiser bookkeeping (by index).
  struct RawBlock {
    std::string name;
    char role = 'g';  // 'g' generator parameter, 'b' buffer, 'd' decoder (V, tau), 'r' read-out
    int level = 1;
    std::size_t offset = 0, size = 0;
    bool has_state = false;
    std::int64_t step = 0;
  };
  std::vector<RawBlock> raw_blocks() const;
  std::vector<T>& raw(int which);
  void raw_refresh();
  void set_raw_state(const std::vector<RawBlock>& blocks);

 private:
  struct Impl;
  Impl* impl_;
  ModelShape shape_;
  ModelOptions options_;
  StageLevels stage_;
};

extern template class CpuEngine<float>;
extern template class CpuEngine<double>;

}  // namespace fsr::fast

// The engine of the GDA learner: what computes the model, its losses and the SGDA step, behind
// one torch-free interface, so that the trainer (its loop, warm starts, unit maintenance,
// evaluation, checkpoints) is the same whichever engine runs. Two engines implement it:
// "torch" (gda/torch_engine.h: the LibTorch networks of gda/networks.h; every discriminator
// family, float64 by default, the oracle) and "fast" (gda/fast/fast_engine.h: the hand-written
// float32 theory model of gda/fast; a CUDA backend of it belongs beside the CPU one). Buffers are
// the engine's: everything crosses this interface as host values, in the canonical layout below.
//
//   std::unique_ptr<fsr::Engine> e = fsr::make_engine(shape, config, "auto");
//   e->begin_stage({.trained = {1}, .first = 1, .last = 1});
//   fsr::StepStats s = e->step({.real = {&batch.x}, .latent_seeds = {s0, s1}, .lr_g = 2e-3, .lr_d =
//   2e-3}); fsr::NpyArray M1 = e->tensor("M1");     // canonical layout, values as doubles
//
// CANONICAL TENSORS: the names and shapes of gda/networks.h's modules. Generator: A (n_1, m0)
// with row c h_1^2 + y h_1 + x (the target's unit order), A_mask (buffer, same shape: identity
// for independent units), b1 (n_1), per level M<l> (d, m_l), mask<l> (buffer, m_l: 1 kept, 0
// pruned), and for l >= 2 W<l> (m_{l-1}, m_l, k, k) (ConvTranspose2d's weight) and bW<l> (m_l).
// Theory discriminator, per level: V<l> (U_l, d), tau<l> (U_l), lin<l> (P_l, U_l), quad<l>
// ((P_l, U_l) diagonal or (P_l U_l, P_l U_l) full; absent for none), cubic<l> (P_l, U_l; when
// cubic), quartic<l> (P_l, U_l; when quartic), cross<l> (P_l, U_l, U_{l-1}; l >= 2 with
// cross-scale terms); patches in raster order.
// Optimiser states: "<tensor>.step" (1 value), "<tensor>.exp_avg", "<tensor>.exp_avg_sq" (Adam)
// or "<tensor>.momentum_buffer" (SGD with momentum), for every tensor that has a state.
#pragma once

#include <Eigen/Dense>
#include <cstdint>
#include <string>
#include <vector>

#include "core/npz.h"
#include "synth/sample.h"

namespace fsr {

// The levels one stage trains: generator parameters of `trained` move; the discriminator's
// read-outs are on levels first..last (cross-scale terms also read level first - 1).
struct EngineStage {
  std::vector<int> trained = {1};
  int first = 1, last = 1;
};

// What one generator step consumes: sgda.d_steps real batches (images of levels 1..last, the
// rows of synth::sample's SampleBatch::x), the discriminator steps' and the generator step's
// latents — either given ((d_steps + 1) B rows of m0, in that order) or drawn by the engine
// from one seed each (Engine::latents) — and the step sizes.
struct StepInputs {
  std::vector<const std::vector<RowMatrix>*> real;
  const RowMatrix* latents = nullptr;
  std::vector<std::uint64_t> latent_seeds;
  double lr_g = 0, lr_d = 0;
};

struct StepStats {
  double loss_d = 0;       // L_D of the last discriminator step, before its update
  double loss_g = 0;       // L_G before the generator update
  double grad_norm_d = 0;  // ||grad L_D|| of the last discriminator step
  double grad_norm_g = 0;
  bool finite = true;  // losses, gradient norms and the trained generator parameters
};

// The generator on given latents: per level the patches ((N P_l) x d, rows (sample, raster
// patch)), and when asked the codes S_l and, for l >= 2, the pre-activations ConvT_l(S_{l-1})
// before bias, ReLU and mask (N x (m_l h_l^2), (channel, y, x) — synth's hidden layout).
struct Generated {
  std::vector<RowMatrix> patches, codes, pre;
};

class Engine {
 public:
  virtual ~Engine() = default;

  virtual std::string name() const = 0;       // "fast" | "torch"
  virtual std::string device() const = 0;     // "cpu", "cuda:0", ...
  virtual std::string precision() const = 0;  // "float32" | "float64"

  // Canonical tensors (header comment), parameters and buffers, values as doubles and dtype the
  // engine's precision: exact both ways, so a checkpoint round trip is bit-identical.
  virtual std::vector<std::string> tensor_names() const = 0;
  virtual NpyArray tensor(const std::string& name) const = 0;
  // Throws InputError naming the tensor for an unknown name or a wrong number of values.
  virtual void set_tensor(const std::string& name, const std::vector<double>& values) = 0;

  // The model as the engine uses it, in float64 on the host: the effective dictionary M̂_l
  // (d x m_l; unit columns when generator.unit_norm_columns), the decoder V̂_l (U_l x d; unit rows
  // when discriminator.unit_norm_rows; 0 x 0 for a discriminator without one), the first layer's
  // code matrix Â = A o A_mask (n_1 x m0) and thresholds β (n_1; ||Â_u|| b_u when relative).
  virtual Eigen::MatrixXd dictionary(int level) const = 0;
  virtual Eigen::MatrixXd decoder(int level) const = 0;
  virtual Eigen::MatrixXd code_matrix() const = 0;
  virtual Eigen::VectorXd thresholds() const = 0;

  // Starts a stage: which levels take part; the optimiser states start afresh.
  virtual void begin_stage(const EngineStage& stage) = 0;
  // One SGDA step of the learner (gda/trainer.h): d_steps discriminator steps, each on its real
  // batch and fresh latents, then the generator step (simultaneous: its gradient before the
  // discriminator steps, applied after them) on fresh latents and, with optimal read-outs, the
  // last real batch.
  virtual StepStats step(const StepInputs& inputs) = 0;

  virtual NamedArrays optimizer_state() const = 0;
  virtual void set_optimizer_state(const NamedArrays& state) = 0;
  // Zeroes the optimiser moments of the canonical entries of `name` marked in `entries` (a
  // re-seeded unit starts without the old one's history); step counts stay.
  virtual void reset_optimizer_entries(const std::string& name,
                                       const std::vector<bool>& entries) = 0;

  virtual Generated generate(const RowMatrix& z, int levels, bool with_codes = false) = 0;
  // N(0, 1) latents (rows x m0) from `seed`, as this engine draws them for a step: the random
  // stream is the engine's (torch: a CPU generator; fast: fsr::Rng with Box-Muller).
  virtual RowMatrix latents(std::uint64_t seed, std::int64_t rows) const = 0;

  // The engine's own team of threads (`threads` of the config), on which the trainer draws the
  // real batches so that a run never runs more threads than it was given; null for an engine
  // without one (torch: its own intra-op threads), where the sampler starts its own.
  virtual ThreadPool* pool() { return nullptr; }
};

}  // namespace fsr

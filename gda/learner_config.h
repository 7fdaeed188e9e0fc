// The configuration of a GDA learner (SPEC §4): generator widths and initialisation, the
// discriminator family, the loss, SGDA (step sizes, n_D, optimiser, schedule), the data source,
// the training schedule over levels and the unit-maintenance heuristics that make recovery
// reliable. Parsed and validated once, at the boundary: an unknown key, a wrong type or a value
// that breaks a rule is an fsr::InputError naming the field ("sgda.d_steps = 0: must be >= 1").
// Keys and defaults: docs/learner.md. No LibTorch here, so the CLI and tests parse cheaply.
//
//   fsr::LearnerConfig c =
//   fsr::parse_learner_config(fsr::read_json("experiments/learners/level1.json")); fsr::Json
//   normalized = fsr::to_json(c);                 // every default filled in auto changes =
//   fsr::config_differences(saved, normalized);  // {"sgda.batch: 512 -> 256"}
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/json_io.h"

namespace fsr {

struct LearnerConfig {
  std::string comment;  // free text: the target settings this config is meant for
  std::uint64_t seed = 1;
  // What computes the model and the step (gda/engine.h): "fast" (the hand-written float32 theory
  // model, gda/fast) or "torch" (LibTorch; every option, the conv discriminator and the gradient
  // penalty only there). A config one engine does not support is refused naming the field.
  std::string engine = "fast";
  int threads =
      1;  // threads of one run (torch: intra-op; fast: the batch split); results depend on it
  // "auto": the engine's own, float32 for fast and float64 for torch; or "float32" | "float64".
  std::string dtype = "auto";

  struct Generator {
    double width = 1.0;               // m_hat_l = ceil(width * m_l) channels per level
    int latent_dim = 0;               // m0_hat; 0 = max(target m0, n_hat_1)
    std::string init = "orthogonal";  // rows of A_hat: "orthogonal" | "gaussian"
    // Level-1 columns of M_hat: "random", or "patch_kmeans": spherical k-means (|cos|) of the
    // training patches (a data-driven warm start; GDA then learns codes and refines columns).
    std::string columns_init = "random";
    int kmeans_restarts = 1;  // patch_kmeans: restarts, the best k-means objective wins
    // "learned": A_hat free (rho learned); "independent": A_hat diagonal (one latent per unit).
    std::string correlation = "learned";
    double init_code_scale = 1.0;   // initial norm of the rows of A_hat
    double init_active = 0.1;       // initial P(unit active): b = scale * Q^{-1}(init_active)
    bool unit_norm_columns = true;  // M_hat used through its column-normalised version
    // "absolute": S_1 = ReLU(A_hat z - b); "relative": S_1 = ReLU(A_hat z - ||A_hat_u|| t), i.e.
    // the unit's threshold t = beta/alpha is the parameter (decouples sparsity from scale).
    std::string threshold = "absolute";
    // Levels >= 2, at the start of the level's stage: "calibrate" keeps the random W_l and sets
    // b_l and the channel scales to the target's activity and patch energy; "regression" fits
    // W_l, b_l by ReLU regression (gda/code_regression.h) of the level's codes on its parent's
    // codes, both decoded from real images through the generator's current dictionaries.
    std::string up_init = "calibrate";
    // up_init = regression: MOD rounds that polish the level's k-means columns (written to the
    // generator) and a copy of the parent level's columns (used only to decode the parent codes).
    int mod_rounds = 100;
    // Level 1, at the start of its stage: "fixed" starts every unit at alpha = init_code_scale
    // and activity init_active; "moments" polishes the k-means columns by MOD (mod_rounds),
    // decodes the codes of real patches through them and starts each unit at its censored-normal
    // ML estimate (alpha, beta) (theory/first_layer.h) — a start that does not presume the
    // target's scale or sparsity. Correlations (rho) are not warm-started.
    std::string first_layer_init = "fixed";
    // Real samples the data-driven warm starts read (first_layer_init = moments, up_init =
    // regression, the scale calibration): stream samples of their own, or with a fixed training
    // set its first min(N, this). They are held as float64 images of every learned level while
    // training runs: 20 000 samples of a 32 x 32 x 3 finest level are ~0.5 GB.
    int warm_start_samples = 20000;
  } generator;

  struct Discriminator {
    std::string kind = "theory";  // "theory" | "conv"
    double width = 2.0;           // theory: decoder units per level = ceil(width * m_l)
    bool unit_norm_rows = true;   // V used through its row-normalised version
    double threshold_init = 0.0;  // initial tau of the threshold ReLU
    bool learn_threshold = true;
    std::string quadratic = "full";  // "full" | "diag" | "none"
    bool cubic = false;              // per-unit u^3 read-out
    bool cross_scale = true;         // levels >= 2: child-parent code products
    int conv_channels = 32;          // conv: hidden channels
    // theory: "learned" read-out weights trained by SGDA, or "optimal": the read-outs solved in
    // closed form (IPM with L2 penalty: weights = moment differences), so the game is over V, tau
    // only and G minimises sum_k ||E_real phi_k(u) - E_fake phi_k(u)||^2 / ||E_real phi_k(u)||^2.
    std::string readout = "learned";
  } discriminator;

  struct Loss {
    std::string kind = "ipm";    // "ipm" | "nonsaturating"
    std::string penalty = "l2";  // "l2" | "gradient" | "none"
    double penalty_weight = 1e-3;
  } loss;

  struct Sgda {
    int d_steps = 3;                   // n_D discriminator steps per generator step
    std::string mode = "alternating";  // "alternating" | "simultaneous"
    int batch = 512;
    std::string optimizer = "adam";  // "adam" | "sgd"
    double lr_g = 2e-3, lr_d = 2e-3;
    double beta1 = 0.5, beta2 = 0.99;    // Adam
    double momentum = 0.0;               // SGD
    std::string lr_schedule = "cosine";  // "cosine" | "constant"
    double lr_min_factor = 0.01;         // cosine decays to lr * lr_min_factor at the stage's end
  } sgda;

  struct Data {
    std::string source = "stream";   // "stream" (sample i used once) | "fixed" (first N, epochs)
    std::int64_t train_samples = 0;  // N for source = fixed
  } data;

  struct Schedule {
    std::string kind =
        "layerwise";  // "layerwise" | "random_lower" | "joint" | "layerwise_finetune"
    int levels = 0;   // levels to learn; 0 = all levels of the target
    std::vector<int> steps = {3000};  // generator steps per stage (one value: every stage)
    int finetune_steps = 0;           // layerwise_finetune: joint steps after the stages
  } schedule;

  // Unit maintenance (generator channels of the level being trained).
  struct Units {
    int reinit_every = 0;            // 0 = never; re-seed dead / duplicate channels
    double reinit_until = 0.5;       // ... during the first fraction of each stage
    double dead_activity = 0.002;    // max over positions of P(active) below this: dead
    double duplicate_cosine = 0.95;  // |cos| of columns above this: duplicates
    double prune_at = 0.0;           // fraction of the stage at which to prune
    // "strongest": keep the m_l (the target's width) most energetic channels with distinct
    // columns. "clusters": uses only the learner's state, not the target's width: greedy clusters
    // of columns with |cos| > cluster_cosine in order of channel energy (mean code^2 x column
    // norm^2), a cluster's weight = sum over members of energy x cos^2(member, head); the clusters
    // of weight >= cluster_floor x the heaviest are kept. With cluster_merge, each kept head takes
    // over, per position, the code row of its cluster's strongest member there, scaled so that
    // its energy is the cluster's energy along the head (level 1).
    std::string prune_rule = "strongest";
    double cluster_cosine = 0.9;
    double cluster_floor = 0.2;
    bool cluster_merge = false;
  } units;

  struct Log {
    int every = 100;             // metrics.jsonl every K generator steps
    int checkpoint_every = 500;  // generator steps between checkpoints (0: only at the end)
    int eval_samples = 4000;     // samples for moment mismatch
  } log;

  int steps_for_stage(int stage) const {  // stage 0-based
    return schedule.steps.size() == 1 ? schedule.steps[0] : schedule.steps[stage];
  }
};

LearnerConfig parse_learner_config(const Json& json);
Json to_json(const LearnerConfig& config);

// Fields whose normalised values differ, as "path: old -> new", for refusing a resume.
std::vector<std::string> config_differences(const Json& before, const Json& after);

}  // namespace fsr

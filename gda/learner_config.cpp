#include "gda/learner_config.h"

#include "core/json_read.h"
#include "core/validate.h"
#include "synth/architecture.h"

namespace fsr {

const FieldTable<LearnerConfig>& learner_fields() {
  using C = LearnerConfig;
  using R = NumberRule;
  static const FieldTable<C> table = [] {
    FieldTable<C> t;
    t.text(FSR_FIELD(C, comment), "free text: the target settings this config is meant for")
        .count(FSR_FIELD(C, seed), "every random draw of the run derives from it")
        .choice(FSR_FIELD(C, engine),
                "what computes the model and the step (gda/engine.h): fast, the hand-written "
                "theory model (gda/fast), or torch (LibTorch: every option; the conv "
                "discriminator and the gradient penalty only there); a config an engine does not "
                "support is refused naming the field")
        .integer(FSR_FIELD(C, threads), 1, 256,
                 "threads of one run (torch: intra-op and OpenBLAS; fast: the batch split); "
                 "results depend on it")
        .choice(FSR_FIELD(C, dtype),
                "precision of the model: auto is the engine's own (float32 for fast, float64 for "
                "torch)");

    t.number(FSR_FIELD(C, generator.width), R::in(1.0, 64.0, true, true),
             "generator channels per level: m_hat_l = ceil(width m_l)")
        .integer(FSR_FIELD(C, generator.latent_dim), 0, 1 << 16,
                 "m0_hat; 0 = max(the target's m0, n_hat_1)")
        .choice(FSR_FIELD(C, generator.init), "initial rows of A_hat")
        .choice(FSR_FIELD(C, generator.columns_init),
                "level-1 columns of M_hat: random, or spherical k-means (|cos|) of the training "
                "patches (a data-driven warm start; GDA then learns codes and refines columns)")
        .integer(FSR_FIELD(C, generator.kmeans_restarts), 1, 1000,
                 "patch_kmeans: restarts, the best k-means objective wins")
        .choice(FSR_FIELD(C, generator.correlation),
                "learned: A_hat free (rho learned); independent: A_hat diagonal (one latent per "
                "unit)")
        .number(FSR_FIELD(C, generator.init_code_scale), R::positive(),
                "initial norm of the rows of A_hat")
        .number(FSR_FIELD(C, generator.init_active), R::in(0.0, 1.0),
                "initial P(unit active): b = scale Q^-1(init_active)")
        .boolean(FSR_FIELD(C, generator.unit_norm_columns),
                 "M_hat used through its column-normalised version")
        .choice(FSR_FIELD(C, generator.threshold),
                "absolute: S_1 = ReLU(A_hat z - b); relative: S_1 = ReLU(A_hat z - ||A_hat_u|| t), "
                "the threshold t = beta / alpha is the parameter (decouples sparsity from scale)")
        .choice(FSR_FIELD(C, generator.up_init),
                "levels >= 2, at the start of the level's stage: calibrate keeps the random W_l "
                "and sets b_l and the channel scales to the target's activity and patch energy; "
                "regression fits W_l, b_l by ReLU regression (gda/code_regression.h) of the "
                "level's codes on its parent's, both decoded from real images")
        .integer(FSR_FIELD(C, generator.mod_rounds), 0, 1000,
                 "up_init = regression and first_layer_init = moments: MOD rounds that polish the "
                 "k-means columns (and a copy of the parent level's, used only to decode)")
        .choice(FSR_FIELD(C, generator.first_layer_init),
                "level 1, at the start of its stage: fixed starts every unit at alpha = "
                "init_code_scale and activity init_active; moments polishes the k-means columns "
                "by MOD, decodes real patches through them and starts each unit at its "
                "censored-normal ML estimate (alpha, beta) (theory/first_layer.h); rho is not "
                "warm-started")
        .integer(FSR_FIELD(C, generator.warm_start_samples), 100, 10000000,
                 "real samples the data-driven warm starts read: stream samples of their own, or "
                 "with a fixed training set its first min(N, this); held as float64 images of "
                 "every learned level while training runs (20 000 of a 32 x 32 x 3 level: "
                 "~0.5 GB)")
        .integer(FSR_FIELD(C, generator.kernel), 0, 4,
                 "the learner's super-resolution kernel (levels >= 2): 2 (a child reads its "
                 "parent) or 4 (a 2 x 2 block of parents); 0 = the target's (a data-set target "
                 "has none: required there). A learner narrower than its target has its W_l "
                 "scored as not comparable, and starts that copy the target's W_l (oracle_init) "
                 "are refused")
        .check([](const C& c) {
          if (c.generator.kernel != 0) require_kernel("generator.kernel", c.generator.kernel);
        })
        .integer_list(FSR_FIELD(C, generator.channels), 1, kMaxChannels,
                      "a data-set target (an image pyramid, no planted generator) only, where it "
                      "is required: m_l per level (one value: every level), which "
                      "generator.width then scales as it scales a target's m_l; refused with a "
                      "planted target, whose m_l it is; [] = absent",
                      /*allow_empty=*/true);

    t.choice(FSR_FIELD(C, discriminator.kind),
             "theory: patch decoder, threshold ReLU and read-outs; conv: two convolutions")
        .number(FSR_FIELD(C, discriminator.width), R::in(0.0, 64.0, false, true),
                "theory: decoder units per level = ceil(width m_l)")
        .boolean(FSR_FIELD(C, discriminator.unit_norm_rows),
                 "V used through its row-normalised version")
        .number(FSR_FIELD(C, discriminator.threshold_init), R::finite(),
                "initial tau of the threshold ReLU")
        .boolean(FSR_FIELD(C, discriminator.learn_threshold), "tau is trained")
        .choice(FSR_FIELD(C, discriminator.quadratic), "quadratic read-out of the codes")
        .boolean(FSR_FIELD(C, discriminator.cubic), "per-unit u^3 read-out")
        .boolean(FSR_FIELD(C, discriminator.quartic), "per-unit u^4 read-out")
        .boolean(FSR_FIELD(C, discriminator.cross_scale), "levels >= 2: child-parent code products")
        .integer(FSR_FIELD(C, discriminator.conv_channels), 1, 4096, "conv: hidden channels")
        .choice(FSR_FIELD(C, discriminator.readout),
                "theory: learned read-out weights trained by SGDA, or optimal: the read-outs "
                "solved in closed form (IPM with L2 penalty: weights = moment differences), so "
                "the game is over V, tau only and G minimises sum_k ||E_real phi_k(u) - E_fake "
                "phi_k(u)||^2 / ||E_real phi_k(u)||^2")
        .check([](const C& c) {
          if (c.discriminator.readout == Readout::kOptimal &&
              c.discriminator.kind != DiscriminatorKind::kTheory)
            fail_field("discriminator.readout", "optimal", "needs discriminator.kind = theory");
        });

    t.choice(FSR_FIELD(C, loss.kind), "IPM or the non-saturating GAN loss")
        .choice(FSR_FIELD(C, loss.penalty), "the discriminator's penalty")
        .number(FSR_FIELD(C, loss.penalty_weight), R::nonnegative(), "its weight");

    t.integer(FSR_FIELD(C, sgda.d_steps), 1, 100, "n_D discriminator steps per generator step")
        .choice(FSR_FIELD(C, sgda.mode),
                "the generator's step after the discriminator's (alternating) or on the same "
                "discriminator (simultaneous)")
        .integer(FSR_FIELD(C, sgda.batch), 1, 1 << 20, "samples per step, real and generated")
        .choice(FSR_FIELD(C, sgda.optimizer), "the optimiser of both players")
        .number(FSR_FIELD(C, sgda.lr_g), R::positive(), "generator step size")
        .number(FSR_FIELD(C, sgda.lr_d), R::positive(), "discriminator step size")
        .number(FSR_FIELD(C, sgda.beta1), R::in(0.0, 1.0, true, false), "Adam beta1")
        .number(FSR_FIELD(C, sgda.beta2), R::in(0.0, 1.0, true, false), "Adam beta2")
        .number(FSR_FIELD(C, sgda.momentum), R::in(0.0, 1.0, true, false), "SGD momentum")
        .choice(FSR_FIELD(C, sgda.lr_schedule), "step sizes over each stage")
        .number(FSR_FIELD(C, sgda.lr_min_factor), R::in(0.0, 1.0, true, true),
                "cosine decays to lr lr_min_factor at the stage's end")
        .number(FSR_FIELD(C, sgda.lr_d_late_at), R::in(0.0, 1.0, true, true),
                "from this fraction of each stage on, D's step size is multiplied by "
                "lr_d_late_factor (two time scales)")
        .number(FSR_FIELD(C, sgda.lr_d_late_factor), R::in(0.0, 1.0, false, true),
                "D's step-size factor after lr_d_late_at; 1 = the same schedule as G");

    t.choice(FSR_FIELD(C, data.source),
             "stream: sample i of the target used once; fixed: the first train_samples, in "
             "seeded epochs")
        .count(FSR_FIELD(C, data.train_samples), "N for source = fixed")
        .choice(FSR_FIELD(C, data.normals),
                "source = stream, the Gaussian draws (latents z, output noise) of each step's "
                "real batch: exact, the target's stream (sample i exactly as fsr synth makes it); "
                "fast, fresh draws of the fast engine's float32 Box-Muller from (seed, batch "
                "index), through the same level maps: the same distribution (tails cut at 5.8 "
                "sigma) but not the stream's samples, faster per step. Warm starts, held-out "
                "metrics and the k-means start stay exact")
        .check([](const C& c) {
          if (c.data.source == DataSource::kFixed && c.data.train_samples < c.sgda.batch) {
            fail_field("data.train_samples", c.data.train_samples,
                       "must be >= sgda.batch = " + std::to_string(c.sgda.batch) +
                           " with data.source = fixed");
          }
          if (c.data.normals == DataNormals::kFast && c.data.source != DataSource::kStream) {
            fail_field("data.normals", "fast",
                       "needs data.source = stream (a fixed training set is the target's first "
                       "train_samples, drawn once)");
          }
        });

    t.choice(FSR_FIELD(C, schedule.kind), "which levels each stage trains")
        .integer(FSR_FIELD(C, schedule.levels), 0, 8, "levels to learn; 0 = all the target's")
        .integer_list(FSR_FIELD(C, schedule.steps), 1, 100000000,
                      "generator steps per stage (one value: every stage)")
        .integer(FSR_FIELD(C, schedule.finetune_steps), 0, 100000000,
                 "layerwise_finetune: joint steps after the stages");

    t.integer(FSR_FIELD(C, units.reinit_every), 0, 100000000,
              "re-seed dead and duplicate generator channels every this many steps; 0 = never")
        .number(FSR_FIELD(C, units.reinit_until), R::in(0.0, 1.0, true, true),
                "... during this first fraction of each stage")
        .number(FSR_FIELD(C, units.dead_activity), R::in(0.0, 1.0, true, false),
                "a channel whose largest P(active) over positions is below this is dead")
        .number(FSR_FIELD(C, units.duplicate_cosine), R::in(0.0, 1.0, false, true),
                "columns with |cos| above this are duplicates")
        .number(FSR_FIELD(C, units.prune_at), R::in(0.0, 1.0, true, false),
                "fraction of the stage at which to prune; 0 = never")
        .choice(FSR_FIELD(C, units.prune_rule),
                "strongest: keep the m_l (the target's width) most energetic channels with distinct "
                "columns; clusters: only the learner's own state - greedy clusters of columns with "
                "|cos| > cluster_cosine in order of channel energy (mean code^2 x column norm^2), a "
                "cluster's weight = sum over members of energy x cos^2(member, head), the clusters "
                "of weight >= cluster_floor x the heaviest kept (their heads)")
        .number(FSR_FIELD(C, units.cluster_cosine), R::in(0.0, 1.0, false, false),
                "clusters: |cos| above which columns join a cluster")
        .number(FSR_FIELD(C, units.cluster_floor), R::in(0.0, 1.0, true, false),
                "clusters: a cluster is kept when its weight is >= this x the heaviest's")
        .boolean(FSR_FIELD(C, units.cluster_merge),
                 "clusters, level 1: each kept head takes over, per position, the code row of its "
                 "cluster's strongest member there, scaled to the cluster's energy along the head");

    t.integer(FSR_FIELD(C, log.every), 1, 100000000, "metrics.jsonl every this many steps")
        .integer(FSR_FIELD(C, log.checkpoint_every), 0, 100000000,
                 "steps between checkpoints (0: only at the end)")
        .integer(FSR_FIELD(C, log.eval_samples), 16, 10000000,
                 "samples of the moment mismatch in the metrics");
    return t;
  }();
  return table;
}

LearnerConfig parse_learner_config(const Json& json) { return learner_fields().parse(json); }

Json to_json(const LearnerConfig& config) { return learner_fields().to_json(config); }

namespace {
// `defaults` with the keys of `saved` set, recursively into objects.
Json with_defaults(Json defaults, const Json& saved) {
  if (!defaults.is_object() || !saved.is_object()) return saved;
  for (auto it = saved.begin(); it != saved.end(); ++it) {
    defaults[it.key()] =
        defaults.contains(it.key()) ? with_defaults(defaults[it.key()], it.value()) : it.value();
  }
  return defaults;
}
}  // namespace

std::vector<std::string> config_differences(const Json& before, const Json& after) {
  return json_differences(with_defaults(to_json(LearnerConfig{}), before), after);
}

}  // namespace fsr

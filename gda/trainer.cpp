#include "gda/trainer.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <numeric>
#include <sstream>
#include <utility>

#include "core/atomic_file.h"
#include "core/memory_budget.h"
#include "core/npy.h"
#include "core/rng.h"
#include "core/validate.h"
#include "gda/checkpoint.h"
#include "gda/engines.h"
#include "gda/training_data.h"
#include "gda/units.h"
#include "gda/warm_start.h"
#include "theory/moment_tools.h"

namespace fsr {
namespace {

namespace fs = std::filesystem;

constexpr std::uint64_t kStreamEval = 403;
constexpr std::uint64_t kStreamChance = 404;
constexpr const char* kNoPlantedTruth =
    "no planted truth: the target is a data set (columns, alpha/beta, W are not scored)";

struct Stage {
  std::vector<int> trained;  // levels whose generator parameters move
  int first = 1, last = 1;   // discriminator levels
  std::int64_t steps = 0;
  std::string name;
};

std::vector<Stage> make_stages(const LearnerConfig& c, int levels) {
  std::vector<Stage> st;
  const auto& s = c.schedule;
  auto layerwise = [&] {
    for (int l = 1; l <= levels; ++l) {
      st.push_back({{l}, l, l, c.steps_for_stage(l - 1), "level" + std::to_string(l)});
    }
  };
  std::vector<int> all(levels);
  std::iota(all.begin(), all.end(), 1);
  if (s.kind == ScheduleKind::kLayerwise) layerwise();
  if (s.kind == ScheduleKind::kRandomLower)
    st.push_back({{levels}, levels, levels, c.steps_for_stage(0), "top_only"});
  if (s.kind == ScheduleKind::kJoint) st.push_back({all, 1, levels, c.steps_for_stage(0), "joint"});
  if (s.kind == ScheduleKind::kLayerwiseFinetune) {
    layerwise();
    if (s.finetune_steps > 0) st.push_back({all, 1, levels, s.finetune_steps, "finetune"});
  }
  return st;
}

// The matched mean |cos| (one-to-one, as v_cosine) of `truth`'s columns against `units` random
// directions of its dimension: what a decoder that learned nothing scores. Mean of 32 draws from
// a fixed seed.
double chance_alignment(const Eigen::MatrixXd& truth, Eigen::Index units) {
  Rng rng(kStreamChance);
  double sum = 0;
  constexpr int kDraws = 32;
  for (int t = 0; t < kDraws; ++t) {
    Eigen::MatrixXd v(truth.rows(), units);
    for (Eigen::Index i = 0; i < v.size(); ++i) v.data()[i] = rng.normal();
    sum += match_columns(truth, v).mean_cosine;
  }
  return sum / kDraws;
}

double lr_at(double lr, const LearnerConfig& c, std::int64_t step, std::int64_t steps) {
  if (c.sgda.lr_schedule == LrSchedule::kConstant) return lr;
  const double f = c.sgda.lr_min_factor;
  const double progress = steps > 1 ? double(step) / double(steps - 1) : 1.0;
  return lr * (f + (1.0 - f) * 0.5 * (1.0 + std::cos(M_PI * progress)));
}

// D's step size: the common schedule, times sgda.lr_d_late_factor from the step
// sgda.lr_d_late_at names on (two time scales; the factor 1 leaves it unchanged, and the default
// fraction 1 names no step of the stage).
double lr_d_at(const LearnerConfig& c, std::int64_t step, std::int64_t steps) {
  const double lr = lr_at(c.sgda.lr_d, c, step, steps);
  return step >= step_at_fraction(c.sgda.lr_d_late_at, steps) ? lr * c.sgda.lr_d_late_factor : lr;
}

// The seed of the latents of generator step `step`, draw k (k < d_steps: the discriminator
// steps; k = d_steps: the generator step).
std::uint64_t latent_seed(const LearnerConfig& c, std::int64_t step, int k) {
  return mix64(c.seed ^ mix64(std::uint64_t(step) * 131 + std::uint64_t(k) + 0x6c61u));
}

class Trainer {
 public:
  // `data`: a data-set run, `truth` then only its architecture (data_set_architecture).
  Trainer(const Target& truth, const LearnerConfig& config, const TrainOptions& options,
          const DataSet* data = nullptr)
      : truth_(truth), c_(config), o_(options), data_set_(data) {}
  TrainResult run();

 private:
  void build();
  void start_stage(const Stage& st, bool warm_start);
  std::int64_t open_run_dir(int& stage0, std::int64_t& start_in_stage);
  StepStats step(const Stage& st, std::int64_t step, std::int64_t global);
  Json evaluate(const Stage& st);
  double chance(int level, Eigen::Index units);
  void log_metrics(const Json& m);
  void progress(const Stage& st, const Json& m, std::int64_t global, std::int64_t total);
  void save(std::int64_t global, int stage);
  void finish(TrainResult& result, std::int64_t global);
  void refine(TrainResult& result, std::int64_t& global);

  const Target& truth_;
  LearnerConfig c_;
  TrainOptions o_;
  const DataSet* data_set_ = nullptr;  // a data-set run: no planted truth to score against
  std::uint64_t target_fingerprint_ = 0;
  bool planted() const { return data_set_ == nullptr; }
  int levels_ = 1;
  NetworkShape shape_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<TrainingData> data_;
  std::unique_ptr<RunContext> run_;
  std::vector<Stage> stages_;
  std::vector<std::vector<bool>> identified_;  // identified W_l entries (l >= 2), once
  // chance_alignment per level: fixed by the shapes and a fixed seed, so computed once per run
  // (32 assignments each), not at every metrics record.
  std::map<int, double> chance_;
  RowMatrix eval_z_;
  Stopwatch clock_;
  std::int64_t resumed_at_ = -1;  // the checkpoint just loaded is not written again
};

void Trainer::build() {
  levels_ = c_.schedule.levels > 0 ? c_.schedule.levels : truth_.levels;
  if (levels_ > truth_.levels) {
    fail_field("schedule.levels", levels_,
               "must be <= the target's levels = " + std::to_string(truth_.levels));
  }
  if (c_.schedule.steps.size() != 1) {
    const int needed = c_.schedule.kind == ScheduleKind::kLayerwise ||
                               c_.schedule.kind == ScheduleKind::kLayerwiseFinetune
                           ? levels_
                           : 1;
    if (static_cast<int>(c_.schedule.steps.size()) != needed) {
      fail_field("schedule.steps", c_.schedule.steps.size(),
                 "must list one value or " + std::to_string(needed) + " (one per stage)");
    }
  }
  if (c_.data.source == DataSource::kFixed) {
    // The set is held twice for a moment (samples, then tensors): refused before either exists.
    require_memory("data.train_samples", std::to_string(c_.data.train_samples),
                   2 * sample_bytes(truth_, c_.data.train_samples), "the fixed training set");
  }
  Target arch = truth_;
  arch.levels = levels_;
  arch.channels.resize(levels_);
  shape_ = planted() ? network_shape(arch, c_)
                     : network_shape(static_cast<const Architecture&>(arch), c_);
  target_fingerprint_ = planted() ? fingerprint(truth_) : fingerprint(*data_set_);
  if (o_.oracle_init && !planted()) {
    fail_field("oracle_init", "true",
               "needs a planted target to start at; " + data_set_->source +
                   " is a data set (no planted truth)");
  }
  engine_ = make_engine(c_.engine, shape_, c_, o_.device);
  data_ = std::make_unique<TrainingData>(truth_, c_, levels_, engine_->precision() == "float32",
                                         data_set_, engine_->pool());
  eval_z_ = engine_->latents(mix64(c_.seed ^ kStreamEval), c_.log.eval_samples);
  run_ = std::make_unique<RunContext>(RunContext{truth_, c_, shape_, *engine_, *data_, eval_z_});
  if (o_.oracle_init) {
    if (shape_.channels != truth_.channels || shape_.latent_dim != truth_.latent_dim()) {
      fail_field("oracle_init", "true", "needs generator.width = 1 and the target's latent_dim");
    }
    if (levels_ >= 2 && shape_.kernel != truth_.kernel) {
      // The start copies the target's W_l, whose shape and parents are its kernel's.
      fail_field("generator.kernel", shape_.kernel,
                 "must be the target's kernel " + std::to_string(truth_.kernel) +
                     " (or 0) with oracle_init, which copies the target's W_l");
    }
    if (!o_.oracle_columns_only && truth_.first_layer_noise != FirstLayerNoise::kGaussian) {
      // The generator draws Gaussian latents: with the target's parameters it is not the target.
      fail_field("oracle_init", "true",
                 "starts the generator at the target, which needs Gaussian latents, and the target "
                 "has first_layer.noise = " +
                     to_string(truth_.first_layer_noise) +
                     " (oracle_columns_only, which copies only M_l and W_l, is allowed)");
    }
    const NpyArray a0 = engine_->tensor("A"), b0 = engine_->tensor("b1");
    const bool m_only = o_.oracle_columns_only;
    Eigen::MatrixXd a = truth_.A;
    for (Eigen::Index u = 0; u < a.rows(); ++u) a.row(u) *= truth_.alpha(u);
    engine_->set_tensor("A", row_major(a));
    const Eigen::VectorXd b = c_.generator.threshold == ThresholdForm::kRelative
                                  ? Eigen::VectorXd(truth_.beta.cwiseQuotient(truth_.alpha))
                                  : truth_.beta;
    engine_->set_tensor("b1", std::vector<double>(b.data(), b.data() + b.size()));
    for (int l = 1; l <= levels_; ++l)
      engine_->set_tensor("M" + std::to_string(l), row_major(truth_.M[l - 1]));
    for (int l = 2; l <= levels_; ++l) {
      const auto& up = truth_.up[l - 2];
      engine_->set_tensor("W" + std::to_string(l), up.weight);
      engine_->set_tensor("bW" + std::to_string(l),
                          std::vector<double>(up.bias.data(), up.bias.data() + up.bias.size()));
    }
    if (m_only) {
      engine_->set_tensor("A", a0.data);
      engine_->set_tensor("b1", b0.data);
    }
  }
  if (c_.generator.columns_init == ColumnsInit::kPatchKmeans && !o_.oracle_init)
    for (int l = 1; l <= levels_; ++l) init_columns_kmeans(*run_, l);
  stages_ = make_stages(c_, levels_);
  if (planted())
    for (int l = 2; l <= levels_; ++l) identified_.push_back(identified_weights(truth_, l));
}

// Warm starts from data (level 1 by moments, levels >= 2 by scale calibration or regression;
// an oracle start keeps the target's), then fresh optimiser states.
void Trainer::start_stage(const Stage& st, bool warm_start) {
  if (warm_start && st.name != "finetune" && !o_.oracle_init) warm_start_stage(*run_, st.trained);
  engine_->begin_stage({st.trained, st.first, st.last});
}

StepStats Trainer::step(const Stage& st, std::int64_t step, std::int64_t global) {
  const int nd = c_.sgda.d_steps;
  // Batch indices global nd + k; with d_steps 1 the generator step's (optimal read-outs) is the
  // discriminator step's, read once. Each batch stays alive while the step runs.
  std::vector<std::vector<RowMatrix>> real(nd);
  StepInputs in;
  for (int k = 0; k < nd; ++k) {
    if (k + 1 == nd) {
      in.real.push_back(&data_->batch(global * nd + k));
    } else {
      real[k] = data_->batch(global * nd + k);
      in.real.push_back(&real[k]);
    }
  }
  for (int k = 0; k <= nd; ++k) in.latent_seeds.push_back(latent_seed(c_, global, k));
  in.lr_g = lr_at(c_.sgda.lr_g, c_, step, st.steps);
  in.lr_d = lr_d_at(c_, step, st.steps);
  return engine_->step(in);
}

double Trainer::chance(int level, Eigen::Index units) {
  const auto it = chance_.find(level);
  if (it != chance_.end()) return it->second;
  return chance_[level] = chance_alignment(truth_.M[level - 1], units);
}

// A metrics record's moment mismatch of level l: the real evaluation patches (a data set: its
// held-out samples) against the generated ones, orders 1..4 (64 directions, seed 7).
Json moment_record(const TrainingData& data, const Generated& fake, int l) {
  const MomentMismatch mm = moment_mismatch(data.eval_patches(l), fake.patches[l - 1], 4, 64, 7);
  return {{"level", l}, {"per_order", mm.per_order}};
}

Json Trainer::evaluate(const Stage& st) {
  Json m;
  if (!planted()) {  // the held-out moment mismatch only
    Json moments = Json::array();
    const Generated fake = engine_->generate(eval_z_, st.last, false);
    for (int l = 1; l <= st.last; ++l) moments.push_back(moment_record(*data_, fake, l));
    m["recovery"] = nullptr;
    m["no_planted_truth"] = kNoPlantedTruth;
    m["moment_mismatch"] = moments;
    return m;
  }
  const Target learned = learned_target(*engine_, shape_, c_.seed);
  const Recovery r = evaluate_recovery(truth_, learned, {.levels = st.last}, identified_);
  Json rec = Json::array();
  for (const auto& lr : r.levels) rec.push_back(summary_json(lr));
  m["recovery"] = rec;
  m["meets_bar"] = r.meets_bar();
  Json vcos = Json::array(), vhat = Json::array(), moments = Json::array();
  const Generated fake = engine_->generate(eval_z_, st.last, false);
  for (int l = 1; l <= st.last; ++l) {
    const Eigen::MatrixXd v = engine_->decoder(l);
    if (v.size() > 0 && v.rows() >= truth_.channels[l - 1]) {
      const Eigen::MatrixXd vt = v.transpose();
      const ColumnMatch vm = match_columns(truth_.M[l - 1], vt);
      vcos.push_back({{"level", l},
                      {"mean_cosine", vm.mean_cosine},
                      {"min_cosine", vm.min_cosine},
                      {"chance_mean_cosine", chance(l, vt.cols())}});
      // D's decoder against G's own columns (the paper's Fig. 7 compares these two).
      const Eigen::MatrixXd mh = learned.M[l - 1];
      if (vt.cols() >= mh.cols()) {
        const ColumnMatch hm = match_columns(mh, vt);
        vhat.push_back(
            {{"level", l}, {"mean_cosine", hm.mean_cosine}, {"min_cosine", hm.min_cosine}});
      }
    }
    moments.push_back(moment_record(*data_, fake, l));
  }
  m["v_cosine"] = vcos;
  m["v_hat_cosine"] = vhat;
  m["moment_mismatch"] = moments;
  return m;
}

void Trainer::log_metrics(const Json& m) {
  if (o_.on_metrics) o_.on_metrics(m);
  if (o_.out.empty()) return;
  append_metrics(o_.out / "metrics.jsonl", m);
}

void Trainer::progress(const Stage& st, const Json& m, std::int64_t global, std::int64_t total) {
  if (!o_.progress) return;
  const bool tty = isatty(2);
  // Steps taken by this process (a resumed run's clock starts at the resume).
  const double rate =
      double(global - std::max<std::int64_t>(resumed_at_, 0)) / std::max(clock_.seconds(), 1e-9);
  const double eta = (total - global) / std::max(rate, 1e-9);
  if (!planted()) {
    std::fprintf(stderr, "%s[%s] step %lld/%lld  %.0f steps/s  ETA %.0fs%s", tty ? "\r" : "",
                 st.name.c_str(), static_cast<long long>(global), static_cast<long long>(total),
                 rate, eta, tty ? "" : "\n");
    return;
  }
  const auto& r1 = m["recovery"][0];
  std::fprintf(stderr, "%s[%s] step %lld/%lld  %.0f steps/s  ETA %.0fs  cos %.3f/%.3f%s",
               tty ? "\r" : "", st.name.c_str(), static_cast<long long>(global),
               static_cast<long long>(total), rate, eta, r1["mean_cosine"].get<double>(),
               r1["min_cosine"].get<double>(), tty ? "" : "\n");
}

void Trainer::save(std::int64_t global, int stage) {
  if (o_.out.empty()) return;
  save_checkpoint(o_.out, *engine_, to_json(c_), target_fingerprint_, global, stage);
}

// A fresh run directory, or the checkpoint of --resume: returns the global step to start at.
std::int64_t Trainer::open_run_dir(int& stage0, std::int64_t& start_in_stage) {
  stage0 = 0;
  start_in_stage = 0;
  if (o_.out.empty()) return 0;
  if (!o_.resume) {
    if (fs::exists(o_.out) && !fs::is_empty(o_.out)) {
      fail_field("--out", o_.out.string(),
                 "already exists and is not empty (use --resume to continue it)");
    }
    fs::create_directories(o_.out);
    write_json_atomic(o_.out / "config.json", to_json(c_));
    return 0;
  }
  // Verified, validated, metrics cut back (gda/checkpoint_files.h); a run killed before its first
  // checkpoint restarts at step 0.
  std::vector<std::int64_t> stage_steps;
  for (const Stage& st : stages_) stage_steps.push_back(st.steps);
  const ResumePoint resume =
      open_run_for_resume(o_.out, to_json(c_), target_fingerprint_, stage_steps);
  if (!resume.state) return 0;
  stage0 = resume.state->stage;
  start_stage(stages_[stage0], /*warm_start=*/false);  // the checkpoint holds the model
  load_checkpoint_state(resume, o_.out, *engine_);
  std::int64_t before = 0;
  for (int i = 0; i < stage0; ++i) before += stages_[i].steps;
  start_in_stage = resume.state->global_step - before;
  resumed_at_ = resume.state->global_step;
  return resume.state->global_step;
}

void Trainer::finish(TrainResult& result, std::int64_t global) {
  if (o_.progress && isatty(2)) std::fprintf(stderr, "\n");
  if (result.status.empty()) {
    result.status = "completed";
    result.steps = global;
  }
  result.seconds = clock_.seconds();
  if (result.status == "completed") {
    result.model = learned_target(*engine_, shape_, c_.seed);
    if (planted())
      result.recovery =
          evaluate_recovery(truth_, result.model, {.levels = stages_.back().last}, identified_);
    else
      result.no_planted_truth = kNoPlantedTruth;
  }
  if (o_.out.empty()) return;
  if (result.status == "completed") {
    save(global, static_cast<int>(stages_.size()) - 1);
    save_target(o_.out / "model", result.model, "--out");
    for (int l = 1; l <= levels_; ++l) {
      const Eigen::MatrixXd v = engine_->decoder(l);
      // Stored d x units (columns are the decoders), the orientation of M_l.
      if (v.size() > 0)
        write_npy(o_.out / ("V_" + std::to_string(l) + ".npy"), Eigen::MatrixXd(v.transpose()));
    }
  }
  RunInfo info{.seed = c_.seed,
               .threads = c_.threads,
               .device = result.device,
               .config = to_json(c_),
               .wall_seconds = result.seconds};
  write_json_atomic(o_.out / "result.json", make_document("train", to_json(result), info));
}

// The diagnostic refine stage of TrainOptions (research/gda_sweep --refine).
void Trainer::refine(TrainResult& result, std::int64_t& global) {
  Json cj = to_json(c_);
  cj.merge_patch(o_.refine_patch);
  const LearnerConfig c2 = parse_learner_config(cj);
  std::unique_ptr<Engine> e2 = make_engine(c2.engine, shape_, c2, o_.device);
  const auto names2 = e2->tensor_names();
  auto generator_tensor = [](const std::string& n) {
    return n == "A" || n == "A_mask" || n == "b1" || n.rfind("M", 0) == 0 ||
           n.rfind("mask", 0) == 0 || n.rfind("W", 0) == 0 || n.rfind("bW", 0) == 0;
  };
  for (const std::string& n : engine_->tensor_names())
    if (generator_tensor(n) && std::find(names2.begin(), names2.end(), n) != names2.end())
      e2->set_tensor(n, engine_->tensor(n).data);
  c_ = c2;
  engine_ = std::move(e2);
  data_ = std::make_unique<TrainingData>(truth_, c_, levels_, engine_->precision() == "float32",
                                         data_set_, engine_->pool());
  run_ = std::make_unique<RunContext>(RunContext{truth_, c_, shape_, *engine_, *data_, eval_z_});
  if (o_.tie_decoder) {
    const Eigen::MatrixXd mh = engine_->dictionary(1);  // d x m_hat
    NpyArray v = engine_->tensor("V1");
    if (v.size() == 0) fail_field("--refine", "tie_decoder", "needs a theory discriminator");
    const std::int64_t rows = v.shape[0], d = v.shape[1];
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t i = 0; i < d; ++i) v.data[r * d + i] = mh(i, r % mh.cols());
    engine_->set_tensor("V1", v.data);
    if (!o_.tie_taus.empty()) {
      std::vector<double> tau(rows);
      for (std::int64_t r = 0; r < rows; ++r)
        tau[r] = o_.tie_taus[(r / mh.cols()) % o_.tie_taus.size()];
      engine_->set_tensor("tau1", tau);
    }
  }
  Stage st = stages_.back();
  st.name = "refine";
  st.steps = o_.refine_steps;
  engine_->begin_stage({st.trained, st.first, st.last});
  // Batches and latents from indices the schedule never reached.
  const std::int64_t g0 = global + (std::int64_t(1) << 32);
  for (std::int64_t step = 0; step < st.steps; ++step, ++global) {
    const NpyArray columns = engine_->tensor("M1");
    const StepStats s = this->step(st, step, g0 + step);
    if (o_.freeze_columns) engine_->set_tensor("M1", columns.data);
    if (!s.finite) {
      result.status = "diverged";
      result.message = "non-finite value in the refine stage at step " + std::to_string(step);
      result.steps = global + 1;
      return;
    }
    if ((step + 1) % c_.log.every == 0 || step + 1 == st.steps) {
      Json m{{"step", global + 1}, {"stage", st.name},   {"stage_step", step + 1},
             {"loss_d", s.loss_d}, {"loss_g", s.loss_g}, {"seconds", clock_.seconds()}};
      m.update(evaluate(st));
      log_metrics(m);
      result.last_metrics = m;
    }
  }
  result.total_steps += st.steps;
}

TrainResult Trainer::run() {
  build();
  TrainResult result;
  result.device = engine_->device();
  for (const auto& s : stages_) result.total_steps += s.steps;
  int stage0 = 0;
  std::int64_t start_in_stage = 0;
  std::int64_t global = open_run_dir(stage0, start_in_stage);
  Json pruned = Json::array();  // prune reports, attached to the next metrics record
  for (int si = stage0; si < static_cast<int>(stages_.size()); ++si) {
    const Stage& st = stages_[si];
    if (!(resumed_at_ >= 0 && si == stage0)) start_stage(st, /*warm_start=*/true);
    const std::int64_t first = si == stage0 ? start_in_stage : 0;
    // The state every later record is measured from (after the stage's warm start, if any), so
    // that steps-to-epsilon counts from the true start; a resumed run already has it.
    if (global == 0 && resumed_at_ < 0) {
      Json m{{"step", 0}, {"stage", st.name}, {"stage_step", 0}, {"seconds", clock_.seconds()}};
      m.update(evaluate(st));
      log_metrics(m);
      result.last_metrics = m;
    }
    for (std::int64_t step = first; step < st.steps; ++step, ++global) {
      if ((o_.stop_after >= 0 && global >= o_.stop_after) ||
          (o_.stop_requested && o_.stop_requested())) {
        save(global, si);
        result.status = "interrupted";
        result.steps = global;
        result.seconds = clock_.seconds();
        return result;
      }
      if (c_.log.checkpoint_every > 0 && global > 0 && global % c_.log.checkpoint_every == 0 &&
          global != resumed_at_) {
        save(global, si);
      }
      for (const Json& r :
           maintain_units(*run_, st.trained, st.steps, st.name == "finetune", step, global)) {
        pruned.push_back(r);
        pruned.back()["step"] = global;
      }
      const StepStats s = this->step(st, step, global);
      if (!s.finite) {
        result.status = "diverged";
        std::ostringstream msg;
        msg << "non-finite value at step " << global << " (stage " << st.name
            << "): loss_d = " << s.loss_d << ", loss_g = " << s.loss_g
            << ", |grad_d| = " << s.grad_norm_d << ", |grad_g| = " << s.grad_norm_g;
        result.message = msg.str();
        result.steps = global + 1;
        break;
      }
      if ((global + 1) % c_.log.every == 0 || step + 1 == st.steps) {
        Json m{{"step", global + 1},
               {"stage", st.name},
               {"stage_step", step + 1},
               {"lr_g", lr_at(c_.sgda.lr_g, c_, step, st.steps)},
               {"lr_d", lr_d_at(c_, step, st.steps)},
               {"loss_d", s.loss_d},
               {"loss_g", s.loss_g},
               {"grad_norm_g", s.grad_norm_g},
               {"grad_norm_d", s.grad_norm_d},
               {"seconds", clock_.seconds()}};
        m.update(evaluate(st));
        if (!pruned.empty()) m["pruned"] = std::exchange(pruned, Json::array());
        log_metrics(m);
        result.last_metrics = m;
        progress(st, m, global + 1, result.total_steps);
      }
    }
    if (result.status == "diverged") break;
  }
  if (o_.refine_steps > 0 && result.status.empty()) refine(result, global);
  finish(result, global);
  return result;
}

}  // namespace

TrainResult train(const Target& truth, const LearnerConfig& config, const TrainOptions& options) {
  Trainer t(truth, config, options);
  return t.run();
}

TrainResult train(const DataSet& data, const LearnerConfig& config, const TrainOptions& options) {
  check_data_set_run(data, config);
  Target arch;  // the architecture only: no parameters, nothing samples it
  static_cast<Architecture&>(arch) = data_set_architecture(data.geometry, config);
  Trainer t(arch, config, options, &data);
  TrainResult r = t.run();
  if (r.status != "completed") r.no_planted_truth = kNoPlantedTruth;
  return r;
}

Json to_json(const TrainResult& r) {
  Json j{{"status", r.status},
         {"message", r.message},
         {"steps", r.steps},
         {"total_steps", r.total_steps},
         {"device", r.device},
         {"seconds", r.seconds},
         {"last_metrics", r.last_metrics}};
  if (!r.no_planted_truth.empty()) {
    j["recovery"] = nullptr;
    j["no_planted_truth"] = r.no_planted_truth;
  }
  if (r.status == "completed") {
    if (r.no_planted_truth.empty()) j["recovery"] = to_json(r.recovery);
    j["model"] = "model";
    j["channels"] = r.model.channels;
  }
  return j;
}

}  // namespace fsr

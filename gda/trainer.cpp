#include "gda/trainer.h"

#include <ATen/CPUGeneratorImpl.h>
#include <dlfcn.h>
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iostream>
#include <numeric>
#include <sstream>

#include "core/atomic_file.h"
#include "core/npy.h"
#include "core/rng.h"
#include "core/validate.h"
#include "gda/code_regression.h"
#include "gda/networks.h"
#include "synth/sample.h"
#include "theory/first_layer.h"
#include "theory/moment_tools.h"
#include "theory/relu_moments.h"

namespace fsr {
namespace {

namespace fs = std::filesystem;

constexpr std::int64_t kEvalFirstIndex = std::int64_t{1} << 40;  // held-out samples for metrics
constexpr std::int64_t kWarmStartFirstIndex = std::int64_t{1} << 41;  // warm starts (stream data)
constexpr std::uint64_t kStreamData = 401, kStreamReinit = 402, kStreamEval = 403;

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
  if (s.kind == "layerwise") layerwise();
  if (s.kind == "random_lower")
    st.push_back({{levels}, levels, levels, c.steps_for_stage(0), "top_only"});
  if (s.kind == "joint") st.push_back({all, 1, levels, c.steps_for_stage(0), "joint"});
  if (s.kind == "layerwise_finetune") {
    layerwise();
    if (s.finetune_steps > 0) st.push_back({all, 1, levels, s.finetune_steps, "finetune"});
  }
  return st;
}

torch::Tensor rows_to_images(const RowMatrix& rows, int c, int side, torch::TensorOptions opts) {
  torch::Tensor t = torch::from_blob(const_cast<double*>(rows.data()), {rows.rows(), c, side, side},
                                     torch::kFloat64)
                        .clone();
  return t.to(opts);
}

Eigen::MatrixXd patches_matrix(const torch::Tensor& x, const NetworkShape& s, int level) {
  const torch::Tensor p = images_to_patches(x.detach(), s.grid_at(level), s.patch, s.colors)
                              .reshape({-1, s.patch_dim()})
                              .to(torch::kCPU, torch::kFloat64)
                              .contiguous();
  return Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
      p.data_ptr<double>(), p.size(0), p.size(1));
}

double lr_at(double lr, const LearnerConfig& c, std::int64_t step, std::int64_t steps) {
  if (c.sgda.lr_schedule == "constant") return lr;
  const double f = c.sgda.lr_min_factor;
  const double progress = steps > 1 ? double(step) / double(steps - 1) : 1.0;
  return lr * (f + (1.0 - f) * 0.5 * (1.0 + std::cos(M_PI * progress)));
}

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const std::vector<torch::Tensor>& params,
                                                        const LearnerConfig& c, double lr) {
  if (c.sgda.optimizer == "adam") {
    return std::make_unique<torch::optim::Adam>(
        params, torch::optim::AdamOptions(lr).betas({c.sgda.beta1, c.sgda.beta2}));
  }
  return std::make_unique<torch::optim::SGD>(
      params, torch::optim::SGDOptions(lr).momentum(c.sgda.momentum));
}

void set_lr(torch::optim::Optimizer& opt, double lr) {
  for (auto& g : opt.param_groups()) g.options().set_lr(lr);
}

double grad_norm(const std::vector<torch::Tensor>& params) {
  double s = 0;
  for (const auto& p : params)
    if (p.grad().defined()) s += p.grad().pow(2).sum().item<double>();
  return std::sqrt(s);
}

// Zeroes the Adam moments of the entries of `param` selected by `index_mask` (same shape, bool).
void reset_optimizer_entries(torch::optim::Optimizer& opt, const torch::Tensor& param,
                             const torch::Tensor& index_mask) {
  auto& state = opt.state();
  auto it = state.find(c10::guts::to_string(param.unsafeGetTensorImpl()));
  if (it == state.end()) return;
  if (auto* adam = dynamic_cast<torch::optim::AdamParamState*>(it->second.get())) {
    adam->exp_avg().masked_fill_(index_mask, 0.0);
    adam->exp_avg_sq().masked_fill_(index_mask, 0.0);
  } else if (auto* sgd = dynamic_cast<torch::optim::SGDParamState*>(it->second.get())) {
    if (sgd->momentum_buffer().defined()) sgd->momentum_buffer().masked_fill_(index_mask, 0.0);
  }
}

class Trainer {
 public:
  Trainer(const Target& truth, const LearnerConfig& config, const TrainOptions& options)
      : truth_(truth), c_(config), o_(options) {}
  TrainResult run();

 private:
  void build();
  std::vector<torch::Tensor> real_batch(std::int64_t batch_index);
  torch::Tensor latent(std::int64_t step, int k, std::int64_t count) const;
  torch::Tensor d_loss(const std::vector<torch::Tensor>& real,
                       const std::vector<torch::Tensor>& fake, const Stage& st);
  Json evaluate(const Stage& st, std::int64_t global_step);
  void maintain_units(const Stage& st, std::int64_t step_in_stage, std::int64_t global_step);
  void reinit_level1(std::int64_t global_step);
  void init_columns_kmeans(int level);
  void calibrate_bias(int level);
  void fit_up_layer(int level);
  void fit_first_layer_start();
  const Eigen::MatrixXd& warm_start_patches(int level) const;
  void prune(int level);
  void save_checkpoint(std::int64_t global_step, int stage);
  std::pair<std::int64_t, int> load_checkpoint();
  void start_stage(const Stage& st);
  void log_metrics(const Json& m);

  const Target& truth_;
  LearnerConfig c_;
  TrainOptions o_;
  int levels_ = 1;
  torch::Device device_ = torch::kCPU;
  torch::TensorOptions opts_;
  NetworkShape shape_;
  Generator g_{nullptr};
  std::shared_ptr<DiscriminatorImpl> d_;
  std::unique_ptr<torch::optim::Optimizer> opt_g_, opt_d_;
  std::vector<torch::Tensor> g_params_, d_params_;
  std::vector<Stage> stages_;
  std::vector<torch::Tensor> fixed_;  // data.source = fixed: the first N samples per level (CPU)
  std::int64_t cached_epoch_ = -1;
  std::vector<std::int64_t> epoch_order_;
  std::vector<Eigen::MatrixXd> eval_real_;          // patches per level for moment mismatch
  std::vector<std::vector<bool>> exercised_;        // identified W_l entries (l >= 2), once
  mutable std::vector<Eigen::MatrixXd> warm_real_;  // warm-start patches per level (stream data)
  torch::Tensor eval_z_;
};

torch::Tensor Trainer::latent(std::int64_t step, int k, std::int64_t count) const {
  auto gen = at::detail::createCPUGenerator(
      mix64(c_.seed ^ mix64(std::uint64_t(step) * 131 + std::uint64_t(k) + 0x6c61u)));
  return torch::randn({count, shape_.latent_dim}, gen,
                      torch::TensorOptions().dtype(torch::kFloat64))
      .to(opts_);
}

std::vector<torch::Tensor> Trainer::real_batch(std::int64_t batch_index) {
  const std::int64_t B = c_.sgda.batch;
  std::vector<torch::Tensor> xs;
  if (c_.data.source == "stream") {
    const SampleBatch b = sample(truth_, batch_index * B, B);
    for (int l = 1; l <= levels_; ++l)
      xs.push_back(rows_to_images(b.x[l - 1], truth_.colors, truth_.side_at(l), opts_));
    return xs;
  }
  const std::int64_t N = c_.data.train_samples;
  std::vector<std::int64_t> idx(B);
  for (std::int64_t n = 0; n < B; ++n) {
    const std::int64_t pos = batch_index * B + n, epoch = pos / N;
    if (epoch != cached_epoch_) {  // seeded Fisher–Yates permutation of the epoch
      epoch_order_.resize(N);
      std::iota(epoch_order_.begin(), epoch_order_.end(), 0);
      Rng rng(c_.seed ^ kStreamData, std::uint64_t(epoch));
      for (std::int64_t i = N - 1; i > 0; --i)
        std::swap(epoch_order_[i], epoch_order_[rng.uniform_int(i + 1)]);
      cached_epoch_ = epoch;
    }
    idx[n] = epoch_order_[pos % N];
  }
  const torch::Tensor index = torch::tensor(idx, torch::kLong);
  for (int l = 1; l <= levels_; ++l) xs.push_back(fixed_[l - 1].index_select(0, index).to(opts_));
  return xs;
}

void Trainer::build() {
  levels_ = c_.schedule.levels > 0 ? c_.schedule.levels : truth_.levels;
  if (levels_ > truth_.levels) {
    fail_field("schedule.levels", levels_,
               "must be <= the target's levels = " + std::to_string(truth_.levels));
  }
  if (c_.schedule.steps.size() != 1) {
    const int needed =
        c_.schedule.kind == "layerwise" || c_.schedule.kind == "layerwise_finetune" ? levels_ : 1;
    if (static_cast<int>(c_.schedule.steps.size()) != needed) {
      fail_field("schedule.steps", c_.schedule.steps.size(),
                 "must list one value or " + std::to_string(needed) + " (one per stage)");
    }
  }
  if (o_.device == "auto") {
    device_ =
        torch::cuda::is_available() ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
  } else if (o_.device == "cuda") {
    if (!torch::cuda::is_available())
      fail_field("--device", "cuda", "no CUDA device is available in this build or machine");
    device_ = torch::Device(torch::kCUDA);
  } else if (o_.device == "cpu") {
    device_ = torch::Device(torch::kCPU);
  } else {
    fail_field("--device", o_.device, "must be auto, cpu or cuda");
  }
  torch::set_num_threads(c_.threads);
  // OpenBLAS keeps its own pool, which torch's setting does not reach; idle spinning of its
  // threads costs more than the small GEMMs here gain.
  if (auto* f = reinterpret_cast<void (*)(int)>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads")))
    f(c_.threads);
  opts_ = torch::TensorOptions()
              .dtype(c_.dtype == "float64" ? torch::kFloat64 : torch::kFloat32)
              .device(device_);
  Target arch = truth_;
  arch.levels = levels_;
  arch.channels.resize(levels_);
  shape_ = network_shape(arch, c_);
  g_ = Generator(shape_, c_, opts_);
  d_ = make_discriminator(shape_, c_, opts_);
  if (o_.oracle_init) {
    if (shape_.channels != truth_.channels || shape_.latent_dim != truth_.latent_dim()) {
      fail_field("oracle_init", "true", "needs generator.width = 1 and the target's latent_dim");
    }
    torch::NoGradGuard no_grad;
    Eigen::MatrixXd a = truth_.A;
    for (Eigen::Index u = 0; u < a.rows(); ++u) a.row(u) *= truth_.alpha(u);
    assign(g_->A, a);
    assign(g_->b1, g_->relative_threshold ? Eigen::VectorXd(truth_.beta.cwiseQuotient(truth_.alpha))
                                          : truth_.beta);
    for (int l = 1; l <= levels_; ++l) assign(g_->M[l - 1], truth_.M[l - 1]);
    for (int l = 2; l <= levels_; ++l) {
      const auto& up = truth_.up[l - 2];
      assign(g_->W[l - 2], up.weight);
      assign(g_->bW[l - 2], up.bias);
    }
  }
  if (c_.generator.columns_init == "patch_kmeans" && !o_.oracle_init)
    for (int l = 1; l <= levels_; ++l) init_columns_kmeans(l);
  stages_ = make_stages(c_, levels_);
  if (c_.data.source == "fixed") {
    const SampleBatch b = sample(truth_, 0, c_.data.train_samples, SampleOptions{.threads = 1});
    for (int l = 1; l <= levels_; ++l)
      fixed_.push_back(rows_to_images(b.x[l - 1], truth_.colors, truth_.side_at(l),
                                      torch::TensorOptions().dtype(opts_.dtype())));
  }
  const SampleBatch ev = sample(truth_, kEvalFirstIndex, c_.log.eval_samples);
  for (int l = 1; l <= levels_; ++l) {
    eval_real_.push_back(
        patches_matrix(rows_to_images(ev.x[l - 1], truth_.colors, truth_.side_at(l),
                                      torch::TensorOptions().dtype(torch::kFloat64)),
                       shape_, l));
  }
  for (int l = 2; l <= levels_; ++l) exercised_.push_back(exercised_weights(truth_, l));
  auto gen = at::detail::createCPUGenerator(mix64(c_.seed ^ kStreamEval));
  eval_z_ = torch::randn({c_.log.eval_samples, shape_.latent_dim}, gen,
                         torch::TensorOptions().dtype(torch::kFloat64))
                .to(opts_);
}

// Sets b_l (l >= 2) so that each channel is active with probability generator.init_active under
// the current lower levels (quantile of the pre-activations over held-out latents): with sparse
// parents the pre-activation is far from Gaussian, so the closed-form threshold of level 1 is
// off by a large factor (the target's biases are calibrated the same way, by Monte Carlo).
void Trainer::calibrate_bias(int level) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> hidden;
  g_->forward(eval_z_, level - 1, &hidden);
  const torch::Tensor pre = torch::conv_transpose2d(hidden[level - 2], g_->W[level - 2], {}, 2,
                                                    shape_.kernel == 4 ? 1 : 0);
  const torch::Tensor per_channel =
      pre.transpose(0, 1).reshape({pre.size(1), -1}).to(torch::kCPU, torch::kFloat64);
  const torch::Tensor q = std::get<0>(per_channel.sort(1));
  const std::int64_t k = std::min<std::int64_t>(
      q.size(1) - 1, static_cast<std::int64_t>((1.0 - c_.generator.init_active) * q.size(1)));
  const torch::Tensor b = q.select(1, k).clamp_min(1e-6);
  // Scale: every channel gets the same E[s^2] (as the target's construction does), and the
  // common factor makes the generated level's mean patch energy E||x_p||^2 that of the real
  // patches. ReLU(c (u - b)) = c ReLU(u - b): activity is unchanged. Without it the random W
  // starts at the wrong scale (docs/learner.md "Level 2").
  const torch::Tensor s2 = (per_channel - b.unsqueeze(1)).clamp_min(0).pow(2).mean(1);
  torch::Tensor c = (s2.mean() / s2.clamp_min(1e-30)).sqrt();
  g_->W[level - 2].mul_(c.to(opts_).view({1, -1, 1, 1}));
  g_->bW[level - 2].copy_((b * c).to(opts_));
  hidden.clear();
  const auto fake = g_->forward(eval_z_, level, &hidden);
  const double e_fake =
      patches_matrix(fake[level - 1], shape_, level).rowwise().squaredNorm().mean();
  const double e_real = warm_start_patches(level).rowwise().squaredNorm().mean();
  if (e_fake > 0) {
    const double f = std::sqrt(e_real / e_fake);
    g_->W[level - 2].mul_(f);
    g_->bW[level - 2].mul_(f);
  }
}

// The real patches a warm start may read (generator.warm_start_samples of them): with a fixed
// training set, its first samples — a sample-complexity run must not see more than its N — else
// stream samples of their own index range. Built once, on first use, for every level.
const Eigen::MatrixXd& Trainer::warm_start_patches(int level) const {
  if (warm_real_.empty()) {
    const std::int64_t want = c_.generator.warm_start_samples;
    if (c_.data.source == "fixed") {
      for (int l = 1; l <= levels_; ++l) {
        const torch::Tensor& x = fixed_[l - 1];
        warm_real_.push_back(
            patches_matrix(x.narrow(0, 0, std::min<std::int64_t>(x.size(0), want)), shape_, l));
      }
    } else {
      const SampleBatch b =
          sample(truth_, kWarmStartFirstIndex, want, SampleOptions{.threads = c_.threads});
      for (int l = 1; l <= levels_; ++l)
        warm_real_.push_back(
            patches_matrix(rows_to_images(b.x[l - 1], truth_.colors, truth_.side_at(l),
                                          torch::TensorOptions().dtype(torch::kFloat64)),
                           shape_, l));
    }
  }
  return warm_real_[level - 1];
}

// Sets M_l, W_l, b_l (l >= 2) from real images (warm_start_patches): the level's k-means columns
// polished by MOD (generator.mod_rounds) and written to the generator; the parent level's columns
// polished the same way into a copy (level l-1 is frozen: the copy only decodes); codes of both
// levels decoded through those columns; then W_l, b_l by ReLU regression of the child codes on
// the parent codes (gda/code_regression.h).
void Trainer::fit_up_layer(int level) {
  torch::NoGradGuard no_grad;
  const int rounds = c_.generator.mod_rounds;
  const Eigen::MatrixXd child_columns =
      refine_dictionary(warm_start_patches(level), to_eigen(g_->dictionary(level)), rounds);
  assign(g_->M[level - 1], child_columns);
  auto codes = [&](int l, const Eigen::MatrixXd& columns) {
    const Eigen::MatrixXd s = decode_codes(warm_start_patches(l), columns);
    // rows (sample, position) -> one row per sample in (channel, y, x) order
    const Eigen::Index hh = shape_.grid_at(l) * shape_.grid_at(l), n = s.rows() / hh;
    Eigen::MatrixXd out(n, s.cols() * hh);
    for (Eigen::Index a = 0; a < n; ++a)
      for (Eigen::Index j = 0; j < s.cols(); ++j)
        for (Eigen::Index p = 0; p < hh; ++p) out(a, j * hh + p) = s(a * hh + p, j);
    return out;
  };
  const Eigen::MatrixXd parent_columns =
      refine_dictionary(warm_start_patches(level - 1), to_eigen(g_->dictionary(level - 1)), rounds);
  const UpFit fit =
      fit_super_resolution(codes(level - 1, parent_columns), codes(level, child_columns),
                           {.in = shape_.channels[level - 2],
                            .out = shape_.channels[level - 1],
                            .kernel = shape_.kernel,
                            .child_grid = shape_.grid_at(level)});
  assign(g_->W[level - 2], fit.weight);
  assign(g_->bW[level - 2], fit.bias);
}

// generator.first_layer_init = "moments": M_1 <- MOD-polished columns, then per unit (channel j,
// position p) the censored-normal ML fit of its decoded codes sets ||A_u|| = alpha_u and the
// threshold (beta_u, or t_u = beta_u / alpha_u with relative thresholds). Units whose fit fails
// (too few active samples) keep their initial values.
void Trainer::fit_first_layer_start() {
  torch::NoGradGuard no_grad;
  const Eigen::MatrixXd& patches = warm_start_patches(1);
  const Eigen::MatrixXd columns =
      refine_dictionary(patches, to_eigen(g_->dictionary(1)), c_.generator.mod_rounds);
  assign(g_->M[0], columns);
  // Rows (sample, position). Decoding leaves round-off (and, with imperfect columns, leakage)
  // where a unit is off; the ML fit would count those as active samples and come out far too
  // dense and too small, so values below 1% of the channel's RMS count as 0. True values that
  // small have probability ~phi(t) 0.01 RMS / alpha (< 0.1% here).
  const Eigen::MatrixXd s = decode_codes(patches, columns, 0.01);
  const Eigen::Index hh = shape_.grid_at(1) * shape_.grid_at(1), n = s.rows() / hh;
  Eigen::MatrixXd a = to_eigen(g_->A);
  const Eigen::MatrixXd code = to_eigen(g_->code_matrix());
  Eigen::VectorXd b = to_eigen(g_->b1).col(0);
  Eigen::VectorXd v(n);
  for (Eigen::Index j = 0; j < s.cols(); ++j)
    for (Eigen::Index p = 0; p < hh; ++p) {
      for (Eigen::Index r = 0; r < n; ++r) v(r) = s(r * hh + p, j);
      const UnitFit f = fit_unit_mle(v, /*min_active=*/20);
      if (!f.ok) continue;
      const Eigen::Index u = j * hh + p;
      const double norm = code.row(u).norm();
      if (norm > 0) a.row(u) *= f.alpha / norm;
      b(u) = g_->relative_threshold ? f.beta / f.alpha : f.beta;
    }
  assign(g_->A, a);
  assign(g_->b1, b);
}

void Trainer::start_stage(const Stage& st) {
  // Warm starts from data (level 1 by moments, levels >= 2 by scale calibration or regression);
  // an oracle start keeps the target's.
  if (st.name != "finetune" && !o_.oracle_init)
    for (int l : st.trained) {
      if (l == 1 && c_.generator.first_layer_init == "moments") fit_first_layer_start();
      if (l >= 2) c_.generator.up_init == "regression" ? fit_up_layer(l) : calibrate_bias(l);
    }
  for (auto& p : g_->parameters()) p.set_requires_grad(false);
  g_params_.clear();
  for (int l : st.trained)
    for (auto& p : g_->level_parameters(l)) {
      p.set_requires_grad(true);
      g_params_.push_back(p);
    }
  d_params_ = d_->parameters();
  opt_g_ = make_optimizer(g_params_, c_, c_.sgda.lr_g);
  opt_d_ = make_optimizer(d_params_, c_, c_.sgda.lr_d);
}

// Closed-form read-outs: the relative squared distance of the feature means (see LearnerConfig),
// estimated without bias: each batch is split in halves A, B and the loss is
// <m_real^A - m_fake^A, m_real^B - m_fake^B> / ||m_real||^2, whose expectation is the squared
// distance of the expectations. (||m_real - m_fake||^2 would add Var(m_fake), and its gradient
// would push the generator toward low-variance — too small, too sparse — codes.)
torch::Tensor moment_discrepancy(TheoryDiscriminator& d, const std::vector<torch::Tensor>& real,
                                 const std::vector<torch::Tensor>& fake, int first, int last) {
  auto half = [](const std::vector<torch::Tensor>& x, int which) {
    std::vector<torch::Tensor> out;
    for (const auto& t : x) {
      const auto n = t.size(0) / 2;
      out.push_back(t.narrow(0, which * n, n));
    }
    return out;
  };
  const auto ra = d.feature_means(half(real, 0), first, last);
  const auto rb = d.feature_means(half(real, 1), first, last);
  const auto fa = d.feature_means(half(fake, 0), first, last);
  const auto fb = d.feature_means(half(fake, 1), first, last);
  torch::Tensor total;
  for (std::size_t k = 0; k < ra.size(); ++k) {
    const torch::Tensor scale = (0.5 * (ra[k] + rb[k])).detach().pow(2).sum() + 1e-8;
    const torch::Tensor term = ((ra[k] - fa[k]) * (rb[k] - fb[k])).sum() / scale;
    total = total.defined() ? total + term : term;
  }
  return total;
}

torch::Tensor Trainer::d_loss(const std::vector<torch::Tensor>& real,
                              const std::vector<torch::Tensor>& fake, const Stage& st) {
  if (c_.discriminator.readout == "optimal") {
    return -moment_discrepancy(static_cast<TheoryDiscriminator&>(*d_), real, fake, st.first,
                               st.last);
  }
  const torch::Tensor fr = d_->forward(real, st.first, st.last);
  const torch::Tensor ff = d_->forward(fake, st.first, st.last);
  torch::Tensor loss = c_.loss.kind == "ipm"
                           ? ff.mean() - fr.mean()
                           : torch::softplus(-fr).mean() + torch::softplus(ff).mean();
  if (c_.loss.penalty == "l2" && c_.loss.penalty_weight > 0) {
    torch::Tensor pen = torch::zeros({}, opts_);
    for (const auto& p : d_->penalised_parameters()) pen = pen + p.pow(2).sum();
    loss = loss + c_.loss.penalty_weight * pen;
  } else if (c_.loss.penalty == "gradient" && c_.loss.penalty_weight > 0) {
    const auto n = real[0].size(0);
    std::vector<torch::Tensor> mix;
    auto gen =
        at::detail::createCPUGenerator(mix64(c_.seed ^ 0x67705eedu ^ std::uint64_t(fr.size(0))));
    const torch::Tensor eps =
        torch::rand({n, 1, 1, 1}, gen, torch::TensorOptions().dtype(torch::kFloat64)).to(opts_);
    for (int l = 1; l <= st.last; ++l)
      mix.push_back((eps * real[l - 1] + (1 - eps) * fake[l - 1]).detach().requires_grad_(true));
    const torch::Tensor f = d_->forward(mix, st.first, st.last);
    const auto grads = torch::autograd::grad({f.sum()}, mix, {}, true, true, true);
    torch::Tensor sq = torch::zeros({n}, opts_);
    for (const auto& g : grads)
      if (g.defined()) sq = sq + g.pow(2).reshape({n, -1}).sum(1);
    loss = loss + c_.loss.penalty_weight * (torch::sqrt(sq + 1e-12) - 1).pow(2).mean();
  }
  return loss;
}

Json Trainer::evaluate(const Stage& st, std::int64_t global_step) {
  torch::NoGradGuard no_grad;
  Json m;
  const Target learned = g_->to_target(c_.seed);
  const Recovery r = evaluate_recovery(truth_, learned, st.last, exercised_);
  Json rec = Json::array();
  for (const auto& lr : r.levels) {
    Json e{{"level", lr.level},
           {"mean_cosine", lr.columns.mean_cosine},
           {"min_cosine", lr.columns.min_cosine},
           {"mean_best_cosine", lr.columns.mean_best_cosine},
           {"min_best_cosine", lr.columns.min_best_cosine},
           {"channels", learned.channels[lr.level - 1]}};
    if (lr.level == 1) {
      e["alpha_max_relative"] = lr.alpha_max_relative;
      e["beta_max_relative"] = lr.beta_max_relative;
      e["rho_max_absolute"] = lr.rho_max_absolute;
      e["active_duplicates"] = lr.active_duplicates;
      e["active_unmatched"] = lr.active_unmatched;
    } else {
      e["w_relative"] = lr.w_relative;
      e["w_identified_relative"] = lr.w_identified_relative;
      e["bias_relative"] = lr.bias_relative;
    }
    e["meets_bar"] = lr.meets_bar();
    rec.push_back(e);
  }
  m["recovery"] = rec;
  m["meets_bar"] = r.meets_bar();
  Json vcos = Json::array(), vhat = Json::array(), moments = Json::array();
  const auto fake = g_->forward(eval_z_, st.last);
  for (int l = 1; l <= st.last; ++l) {
    const torch::Tensor v = d_->decoder(l);
    if (v.defined() && v.size(0) >= truth_.channels[l - 1]) {
      const Eigen::MatrixXd vt = to_eigen(v).transpose();
      const ColumnMatch vm = match_columns(truth_.M[l - 1], vt);
      vcos.push_back(
          {{"level", l}, {"mean_cosine", vm.mean_cosine}, {"min_cosine", vm.min_cosine}});
      // D's decoder against G's own columns (the paper's Fig. 7 compares these two).
      const Eigen::MatrixXd mh = learned.M[l - 1];
      if (vt.cols() >= mh.cols()) {
        const ColumnMatch hm = match_columns(mh, vt);
        vhat.push_back(
            {{"level", l}, {"mean_cosine", hm.mean_cosine}, {"min_cosine", hm.min_cosine}});
      }
    }
    const MomentMismatch mm =
        moment_mismatch(eval_real_[l - 1], patches_matrix(fake[l - 1], shape_, l), 4, 64, 7);
    moments.push_back({{"level", l}, {"per_order", mm.per_order}});
  }
  m["v_cosine"] = vcos;
  m["v_hat_cosine"] = vhat;
  m["moment_mismatch"] = moments;
  (void)global_step;
  return m;
}

// Re-seeds level-1 channels that are dead (never active) or duplicate a stronger channel's
// column: the new column is a decoder row of D that no live generator column explains (what D
// sees that G lacks), else a random direction; the new rows of A_hat are orthogonal to all others.
void Trainer::reinit_level1(std::int64_t global_step) {
  torch::NoGradGuard no_grad;
  const int h2 = shape_.grid * shape_.grid;
  const int m = shape_.channels[0];
  std::vector<torch::Tensor> hidden;
  g_->forward(eval_z_.narrow(0, 0, std::min<std::int64_t>(2048, eval_z_.size(0))), 1, &hidden);
  const torch::Tensor s = hidden[0].to(torch::kCPU, torch::kFloat64);  // (N, m, h, h)
  const torch::Tensor activity = (s > 0).to(torch::kFloat64).mean(0).reshape({m, h2}).amax(1);
  const torch::Tensor energy = s.pow(2).mean({0, 2, 3});
  const std::vector<int> kept = g_->kept_channels(1);
  Eigen::MatrixXd cols = to_eigen(g_->dictionary(1));
  cols.colwise().normalize();
  std::vector<bool> bad(m, false);
  for (int j : kept) {
    if (activity[j].item<double>() < c_.units.dead_activity) bad[j] = true;
  }
  for (int a : kept)
    for (int b : kept) {
      if (a >= b || bad[a] || bad[b]) continue;
      if (std::abs(cols.col(a).dot(cols.col(b))) > c_.units.duplicate_cosine) {
        bad[energy[a].item<double>() < energy[b].item<double>() ? a : b] = true;
      }
    }
  std::vector<int> targets;
  for (int j : kept)
    if (bad[j]) targets.push_back(j);
  if (targets.empty()) return;

  // Candidate directions: decoder rows far from every live column, strongest read-out first.
  std::vector<Eigen::VectorXd> candidates;
  const torch::Tensor v = d_->decoder(1);
  if (v.defined()) {
    const Eigen::MatrixXd vm = to_eigen(v);
    auto* td = dynamic_cast<TheoryDiscriminator*>(d_.get());
    std::vector<std::pair<double, int>> order;
    for (int k = 0; k < vm.rows(); ++k) {
      Eigen::VectorXd dir = vm.row(k).transpose().normalized();
      double best = 0;
      for (int j : kept)
        if (!bad[j]) best = std::max(best, std::abs(cols.col(j).dot(dir)));
      if (best >= 0.9) continue;
      const double weight = td ? td->lin[0].detach().abs().sum(0)[k].item<double>() : 0.0;
      order.push_back({-weight, k});
    }
    std::sort(order.begin(), order.end());
    for (const auto& [w, k] : order) candidates.push_back(vm.row(k).transpose().normalized());
  }
  Eigen::MatrixXd a = to_eigen(g_->A);
  Eigen::VectorXd b = to_eigen(g_->b1).col(0);
  std::vector<double> norms;
  for (int j : kept)
    if (!bad[j])
      for (int p = 0; p < h2; ++p) norms.push_back(a.row(j * h2 + p).norm());
  std::sort(norms.begin(), norms.end());
  const double row_norm = norms.empty() ? c_.generator.init_code_scale : norms[norms.size() / 2];
  const double t0 = normal_q_inverse(c_.generator.init_active);
  Rng rng(c_.seed ^ kStreamReinit, std::uint64_t(global_step));
  Eigen::MatrixXd mcols = to_eigen(g_->M[0]);
  const double col_norm = mcols.colwise().norm().mean();
  torch::Tensor row_mask = torch::zeros({a.rows()}, torch::kBool);
  torch::Tensor col_mask = torch::zeros({m}, torch::kBool);
  std::size_t next = 0;
  for (int j : targets) {
    Eigen::VectorXd dir(cols.rows());
    if (next < candidates.size()) {
      dir = candidates[next++];
    } else {
      for (Eigen::Index i = 0; i < dir.size(); ++i) dir(i) = rng.normal();
      dir.normalize();
    }
    mcols.col(j) = dir * col_norm;
    for (int p = 0; p < h2; ++p) {
      const int u = j * h2 + p;
      Eigen::VectorXd row(a.cols());
      for (Eigen::Index i = 0; i < row.size(); ++i) row(i) = rng.normal();
      // Orthogonal to every other row when there is room (Gram–Schmidt against their span).
      if (c_.generator.correlation == "independent") {
        row.setZero();
        row(u) = 1.0;
      } else if (a.rows() <= a.cols()) {
        Eigen::MatrixXd others(a.rows() - 1, a.cols());
        for (Eigen::Index r = 0, k = 0; r < a.rows(); ++r)
          if (r != u) others.row(k++) = a.row(r);
        Eigen::HouseholderQR<Eigen::MatrixXd> qr(others.transpose());
        const Eigen::MatrixXd q =
            qr.householderQ() * Eigen::MatrixXd::Identity(a.cols(), others.rows());
        row -= q * (q.transpose() * row);
      }
      a.row(u) = row.transpose().normalized() * row_norm;
      b(u) = g_->relative_threshold ? t0 : row_norm * t0;
      row_mask[u] = true;
    }
    col_mask[j] = true;
  }
  assign(g_->A, a);
  assign(g_->b1, b);
  assign(g_->M[0], mcols);
  if (opt_g_) {
    reset_optimizer_entries(*opt_g_, g_->A, row_mask.view({-1, 1}).expand_as(g_->A).to(device_));
    reset_optimizer_entries(*opt_g_, g_->b1, row_mask.to(device_));
    reset_optimizer_entries(*opt_g_, g_->M[0],
                            col_mask.view({1, -1}).expand_as(g_->M[0]).to(device_));
  }
}

// Spherical k-means on |cos| of the level-l training patches (non-zero ones), k = m_hat_l,
// k-means++ seeding from the learner's seed; signs chosen so that the patches project >= 0.
void Trainer::init_columns_kmeans(int level) {
  const std::int64_t budget = 80000 / (shape_.grid_at(level) * shape_.grid_at(level));  // patches
  const std::int64_t n =
      c_.data.source == "fixed" ? std::min<std::int64_t>(c_.data.train_samples, budget) : budget;
  const SampleBatch b = sample(truth_, 0, n);
  const Eigen::MatrixXd all =
      patches_matrix(rows_to_images(b.x[level - 1], truth_.colors, truth_.side_at(level),
                                    torch::TensorOptions().dtype(torch::kFloat64)),
                     shape_, level);
  std::vector<Eigen::VectorXd> pts;
  for (Eigen::Index i = 0; i < all.rows(); ++i) {
    const double nr = all.row(i).norm();
    if (nr > 1e-9) pts.push_back(all.row(i).transpose() / nr);
  }
  const int k = shape_.channels[level - 1];
  const int d = shape_.patch_dim();
  if (static_cast<int>(pts.size()) < k)
    fail_field("generator.columns_init", "patch_kmeans", "too few non-zero patches");
  // Restarts (generator.kmeans_restarts) share one RNG stream; the one with the largest
  // sum over patches of max_j |cos(patch, centre_j)| wins (restart 0 alone is the old start).
  Rng rng(c_.seed ^ 0x6b6du, std::uint64_t(level - 1));
  Eigen::MatrixXd centres(d, k), best;
  double best_score = -1.0;
  std::vector<double> dist(pts.size());
  for (int restart = 0; restart < c_.generator.kmeans_restarts; ++restart) {
    std::fill(dist.begin(), dist.end(), 1.0);
    centres.col(0) = pts[rng.uniform_int(pts.size())];
    for (int j = 1; j < k; ++j) {  // k-means++ on 1 - |cos|
      double total = 0;
      for (std::size_t i = 0; i < pts.size(); ++i) {
        dist[i] = std::min(dist[i], 1.0 - std::abs(pts[i].dot(centres.col(j - 1))));
        total += dist[i] * dist[i];
      }
      double u = rng.uniform() * total;
      std::size_t pick = 0;
      for (; pick + 1 < pts.size(); ++pick) {
        u -= dist[pick] * dist[pick];
        if (u <= 0) break;
      }
      centres.col(j) = pts[pick];
    }
    double score = 0.0;
    for (int it = 0; it <= 30; ++it) {
      Eigen::MatrixXd sum = Eigen::MatrixXd::Zero(d, k);
      score = 0.0;
      for (const auto& p : pts) {
        const Eigen::VectorXd c = centres.transpose() * p;
        Eigen::Index j;
        score += c.cwiseAbs().maxCoeff(&j);
        sum.col(j) += (c(j) >= 0 ? 1.0 : -1.0) * p;
      }
      if (it == 30) break;  // the last pass only scores
      for (int j = 0; j < k; ++j)
        if (sum.col(j).norm() > 0) centres.col(j) = sum.col(j).normalized();
    }
    if (score > best_score) {
      best_score = score;
      best = centres;
    }
  }
  centres = best;
  torch::NoGradGuard no_grad;
  assign(g_->M[level - 1], centres);
}

// Keeps the m_l strongest channels with distinct columns (the target's width), masks the rest.
void Trainer::prune(int level) {
  torch::NoGradGuard no_grad;
  const int m = shape_.channels[level - 1], want = shape_.target_channels[level - 1];
  std::vector<torch::Tensor> hidden;
  g_->forward(eval_z_.narrow(0, 0, std::min<std::int64_t>(2048, eval_z_.size(0))), level, &hidden);
  const torch::Tensor energy =
      hidden[level - 1].to(torch::kCPU, torch::kFloat64).pow(2).mean({0, 2, 3});
  Eigen::MatrixXd cols = to_eigen(g_->dictionary(level));
  const Eigen::VectorXd cn = cols.colwise().norm().transpose();
  cols.colwise().normalize();
  std::vector<int> order = g_->kept_channels(level);
  std::vector<double> e(m);
  for (int j = 0; j < m; ++j) e[j] = energy[j].item<double>() * cn(j) * cn(j);
  std::sort(order.begin(), order.end(), [&](int a, int b) { return e[a] > e[b]; });
  std::vector<int> keep, rest;
  for (int j : order) {
    bool dup = false;
    for (int k : keep)
      dup = dup || std::abs(cols.col(j).dot(cols.col(k))) > c_.units.duplicate_cosine;
    (dup || static_cast<int>(keep.size()) >= want ? rest : keep).push_back(j);
  }
  for (int j : rest)
    if (static_cast<int>(keep.size()) < want) keep.push_back(j);
  torch::Tensor mask = torch::zeros({m}, torch::kFloat64);
  for (int j : keep) mask[j] = 1.0;
  g_->mask[level - 1].copy_(mask.to(opts_));
}

void Trainer::maintain_units(const Stage& st, std::int64_t step, std::int64_t global_step) {
  const bool trains_level1 = std::find(st.trained.begin(), st.trained.end(), 1) != st.trained.end();
  if (trains_level1 && c_.units.reinit_every > 0 && step > 0 && step % c_.units.reinit_every == 0 &&
      step < static_cast<std::int64_t>(c_.units.reinit_until * st.steps)) {
    reinit_level1(global_step);
  }
  if (c_.units.prune_at > 0 && step == static_cast<std::int64_t>(c_.units.prune_at * st.steps)) {
    for (int l : st.trained)
      if (shape_.channels[l - 1] > shape_.target_channels[l - 1] && st.name != "finetune") prune(l);
  }
}

void Trainer::save_checkpoint(std::int64_t global_step, int stage) {
  if (o_.out.empty()) return;
  const fs::path dir = o_.out / "checkpoint";
  fs::create_directories(dir);
  torch::serialize::OutputArchive archive;
  for (const auto& p : g_->named_parameters()) archive.write("G." + p.key(), p.value());
  for (const auto& p : g_->named_buffers()) archive.write("G." + p.key(), p.value(), true);
  for (const auto& p : d_->named_parameters()) archive.write("D." + p.key(), p.value());
  torch::serialize::OutputArchive og, od;
  opt_g_->save(og);
  opt_d_->save(od);
  archive.write("opt_g", og);
  archive.write("opt_d", od);
  std::ostringstream bytes;
  archive.save_to(bytes);
  write_file_atomic(dir / "state.pt", bytes.str());
  write_json_atomic(dir / "state.json", Json{{"schema_version", kSchemaVersion},
                                             {"global_step", global_step},
                                             {"stage", stage},
                                             {"config", to_json(c_)},
                                             {"target_fingerprint", fingerprint(truth_)}});
}

std::pair<std::int64_t, int> Trainer::load_checkpoint() {
  const fs::path dir = o_.out / "checkpoint";
  if (!fs::exists(dir / "state.json") || !fs::exists(dir / "state.pt")) {
    fail_field("--resume", o_.out.string(),
               "has no checkpoint (checkpoint/state.json) to resume from");
  }
  const Json state = read_json(dir / "state.json");
  const auto changes = config_differences(state["config"], to_json(c_));
  if (!changes.empty()) {
    std::string list;
    for (const auto& ch : changes) list += (list.empty() ? "" : "; ") + ch;
    fail_field("--resume", o_.out.string(), "the config differs from the checkpoint's: " + list);
  }
  if (state["target_fingerprint"].get<std::uint64_t>() != fingerprint(truth_)) {
    fail_field("--resume", o_.out.string(), "the checkpoint was trained on a different target");
  }
  const std::int64_t global_step = state["global_step"].get<std::int64_t>();
  const int stage = state["stage"].get<int>();
  start_stage(stages_[stage]);
  torch::serialize::InputArchive archive;
  std::istringstream bytes(read_file(dir / "state.pt"));
  archive.load_from(bytes, device_);
  torch::NoGradGuard no_grad;
  for (auto& p : g_->named_parameters()) {
    torch::Tensor t;
    archive.read("G." + p.key(), t);
    p.value().copy_(t);
  }
  for (auto& p : g_->named_buffers()) {
    torch::Tensor t;
    archive.read("G." + p.key(), t, true);
    p.value().copy_(t);
  }
  for (auto& p : d_->named_parameters()) {
    torch::Tensor t;
    archive.read("D." + p.key(), t);
    p.value().copy_(t);
  }
  torch::serialize::InputArchive og, od;
  archive.read("opt_g", og);
  archive.read("opt_d", od);
  opt_g_->load(og);
  opt_d_->load(od);
  return {global_step, stage};
}

void Trainer::log_metrics(const Json& m) {
  if (o_.on_metrics) o_.on_metrics(m);
  if (o_.out.empty()) return;
  std::ofstream f(o_.out / "metrics.jsonl", std::ios::app);
  f << m.dump() << "\n";
}

TrainResult Trainer::run() {
  Stopwatch clock;
  build();
  TrainResult result;
  result.device = device_.str();
  for (const auto& s : stages_) result.total_steps += s.steps;
  std::int64_t global = 0;
  int stage0 = 0;
  std::int64_t start_in_stage = 0;
  std::int64_t resumed_at = -1;  // the checkpoint just loaded is not written again
  if (!o_.out.empty()) {
    if (o_.resume) {
      std::tie(global, stage0) = load_checkpoint();
      resumed_at = global;
      std::int64_t before = 0;
      for (int i = 0; i < stage0; ++i) before += stages_[i].steps;
      start_in_stage = global - before;
      // Keep the metrics written up to the checkpoint; later lines are redone.
      if (fs::exists(o_.out / "metrics.jsonl")) {
        std::ifstream in(o_.out / "metrics.jsonl");
        std::string line, kept;
        while (std::getline(in, line)) {
          if (!line.empty() && Json::parse(line).value("step", std::int64_t{0}) <= global)
            kept += line + "\n";
        }
        write_file_atomic(o_.out / "metrics.jsonl", kept);
      }
    } else {
      if (fs::exists(o_.out) && !fs::is_empty(o_.out)) {
        fail_field("--out", o_.out.string(),
                   "already exists and is not empty (use --resume to continue it)");
      }
      fs::create_directories(o_.out);
      write_json_atomic(o_.out / "config.json", to_json(c_));
    }
  }
  const bool tty = isatty(2);
  const int nd = c_.sgda.d_steps;
  for (int si = stage0; si < static_cast<int>(stages_.size()); ++si) {
    const Stage& st = stages_[si];
    if (!(o_.resume && si == stage0 && !o_.out.empty())) start_stage(st);
    const std::int64_t first = si == stage0 ? start_in_stage : 0;
    for (std::int64_t step = first; step < st.steps; ++step, ++global) {
      if ((o_.stop_after >= 0 && global >= o_.stop_after) ||
          (o_.stop_requested && o_.stop_requested())) {
        save_checkpoint(global, si);
        result.status = "interrupted";
        result.steps = global;
        result.seconds = clock.seconds();
        return result;
      }
      if (c_.log.checkpoint_every > 0 && global > 0 && global % c_.log.checkpoint_every == 0 &&
          global != resumed_at) {
        save_checkpoint(global, si);
      }
      maintain_units(st, step, global);
      const double lr_g = lr_at(c_.sgda.lr_g, c_, step, st.steps);
      const double lr_d = lr_at(c_.sgda.lr_d, c_, step, st.steps);
      set_lr(*opt_g_, lr_g);
      set_lr(*opt_d_, lr_d);
      // Generator loss on the discriminator before its steps (simultaneous) or after (alternating).
      auto g_backward = [&]() {
        opt_g_->zero_grad();
        const auto fake = g_->forward(latent(global, nd, c_.sgda.batch), st.last);
        torch::Tensor loss;
        if (c_.discriminator.readout == "optimal") {
          // Against a real batch of its own (index past the discriminator's batches of the step).
          loss = moment_discrepancy(static_cast<TheoryDiscriminator&>(*d_),
                                    real_batch(global * nd + nd - 1), fake, st.first, st.last);
        } else {
          const torch::Tensor f = d_->forward(fake, st.first, st.last);
          loss = c_.loss.kind == "ipm" ? -f.mean() : torch::softplus(-f).mean();
        }
        loss.backward();
        return loss.item<double>();
      };
      double loss_g = 0, loss_d = 0, gn_d = 0;
      if (c_.sgda.mode == "simultaneous") loss_g = g_backward();
      for (int k = 0; k < nd; ++k) {
        const auto real = real_batch(global * nd + k);
        std::vector<torch::Tensor> fake;
        {
          torch::NoGradGuard no_grad;
          fake = g_->forward(latent(global, k, c_.sgda.batch), st.last);
        }
        opt_d_->zero_grad();
        const torch::Tensor loss = d_loss(real, fake, st);
        loss.backward();
        loss_d = loss.item<double>();
        gn_d = grad_norm(d_params_);
        opt_d_->step();
      }
      if (c_.sgda.mode == "alternating") loss_g = g_backward();
      const double gn_g = grad_norm(g_params_);
      opt_g_->step();
      bool finite = std::isfinite(loss_g) && std::isfinite(loss_d) && std::isfinite(gn_g) &&
                    std::isfinite(gn_d);
      if (finite) {
        torch::NoGradGuard no_grad;
        for (const auto& p : g_params_) finite = finite && torch::isfinite(p).all().item<bool>();
      }
      if (!finite) {
        result.status = "diverged";
        std::ostringstream msg;
        msg << "non-finite value at step " << global << " (stage " << st.name
            << "): loss_d = " << loss_d << ", loss_g = " << loss_g << ", |grad_d| = " << gn_d
            << ", |grad_g| = " << gn_g;
        result.message = msg.str();
        result.steps = global + 1;
        break;
      }
      const bool last = step + 1 == st.steps;
      if ((global + 1) % c_.log.every == 0 || last) {
        Json m{{"step", global + 1},     {"stage", st.name},
               {"stage_step", step + 1}, {"lr_g", lr_g},
               {"lr_d", lr_d},           {"loss_d", loss_d},
               {"loss_g", loss_g},       {"grad_norm_g", gn_g},
               {"grad_norm_d", gn_d},    {"seconds", clock.seconds()}};
        m.update(evaluate(st, global + 1));
        log_metrics(m);
        result.last_metrics = m;
        if (o_.progress) {
          // Steps taken by this process (a resumed run's clock starts at the resume).
          const double rate = double(global + 1 - std::max<std::int64_t>(resumed_at, 0)) /
                              std::max(clock.seconds(), 1e-9);
          const double eta = (result.total_steps - global - 1) / std::max(rate, 1e-9);
          const auto& r1 = m["recovery"][0];
          std::fprintf(stderr, "%s[%s] step %lld/%lld  %.0f steps/s  ETA %.0fs  cos %.3f/%.3f%s",
                       tty ? "\r" : "", st.name.c_str(), static_cast<long long>(global + 1),
                       static_cast<long long>(result.total_steps), rate, eta,
                       r1["mean_cosine"].get<double>(), r1["min_cosine"].get<double>(),
                       tty ? "" : "\n");
        }
      }
    }
    if (result.status == "diverged") break;
  }
  if (o_.progress && tty) std::fprintf(stderr, "\n");
  if (result.status.empty()) {
    result.status = "completed";
    result.steps = global;
  }
  result.seconds = clock.seconds();
  if (result.status == "completed") {
    result.model = g_->to_target(c_.seed);
    const Stage& st = stages_.back();
    result.recovery = evaluate_recovery(truth_, result.model, st.last, exercised_);
  }
  if (!o_.out.empty()) {
    if (result.status == "completed") {
      save_checkpoint(global, static_cast<int>(stages_.size()) - 1);
      save_target(o_.out / "model", result.model, "--out");
      for (int l = 1; l <= levels_; ++l) {
        const torch::Tensor v = d_->decoder(l);
        // Stored d x units (columns are the decoders), the orientation of M_l.
        if (v.defined()) {
          write_npy(o_.out / ("V_" + std::to_string(l) + ".npy"),
                    Eigen::MatrixXd(to_eigen(v).transpose()));
        }
      }
    }
    RunInfo run{.seed = c_.seed,
                .threads = c_.threads,
                .device = result.device,
                .config = to_json(c_),
                .wall_seconds = result.seconds};
    write_json_atomic(o_.out / "result.json", make_document("train", to_json(result), run));
  }
  return result;
}

}  // namespace

TrainResult train(const Target& truth, const LearnerConfig& config, const TrainOptions& options) {
  Trainer t(truth, config, options);
  return t.run();
}

Json to_json(const TrainResult& r) {
  Json j{{"status", r.status},
         {"message", r.message},
         {"steps", r.steps},
         {"total_steps", r.total_steps},
         {"device", r.device},
         {"seconds", r.seconds},
         {"last_metrics", r.last_metrics}};
  if (r.status == "completed") {
    j["recovery"] = to_json(r.recovery);
    j["model"] = "model";
    j["channels"] = r.model.channels;
  }
  return j;
}

}  // namespace fsr

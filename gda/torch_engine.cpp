#include "gda/torch_engine.h"

#include <ATen/CPUGeneratorImpl.h>
#include <dlfcn.h>
#include <torch/torch.h>

#include <cmath>
#include <map>

#include "core/rng.h"
#include "core/validate.h"

namespace fsr {
namespace {

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const std::vector<torch::Tensor>& params,
                                                        const LearnerConfig& c, double lr) {
  if (c.sgda.optimizer == OptimizerKind::kAdam) {
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

std::string state_key(const torch::Tensor& p) {
  return c10::guts::to_string(p.unsafeGetTensorImpl());
}

// Images of levels 1..n (rows of synth::sample) as (N, c, side, side) tensors.
std::vector<torch::Tensor> images(const std::vector<RowMatrix>& rows, const NetworkShape& s,
                                  int levels, torch::TensorOptions opts) {
  std::vector<torch::Tensor> xs;
  for (int l = 1; l <= levels; ++l) {
    const RowMatrix& r = rows.at(l - 1);
    const int side = s.side_at(l);
    xs.push_back(torch::from_blob(const_cast<double*>(r.data()), {r.rows(), s.colors, side, side},
                                  torch::kFloat64)
                     .clone()
                     .to(opts));
  }
  return xs;
}

RowMatrix row_matrix(const torch::Tensor& t) {  // any tensor, flattened per first dimension
  const torch::Tensor c = t.detach().to(torch::kCPU, torch::kFloat64).contiguous();
  RowMatrix m(c.size(0), c.numel() / std::max<std::int64_t>(c.size(0), 1));
  std::copy_n(c.data_ptr<double>(), c.numel(), m.data());
  return m;
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

}  // namespace

struct TorchEngine::State {
  NetworkShape shape;
  LearnerConfig c;
  torch::Device device = torch::kCPU;
  torch::TensorOptions opts;
  Generator g{nullptr};
  std::shared_ptr<DiscriminatorImpl> d;
  std::unique_ptr<torch::optim::Optimizer> opt_g, opt_d;
  std::vector<torch::Tensor> g_params, d_params;
  EngineStage stage;

  torch::Tensor latent(std::uint64_t seed, std::int64_t count) const {
    auto gen = at::detail::createCPUGenerator(seed);
    return torch::randn({count, shape.latent_dim}, gen,
                        torch::TensorOptions().dtype(torch::kFloat64))
        .to(opts);
  }

  // The tensor of a canonical name: generator parameter or buffer, else discriminator parameter.
  torch::Tensor find(const std::string& name) const {
    for (const auto& p : g->named_parameters())
      if (p.key() == name) return p.value();
    for (const auto& p : g->named_buffers())
      if (p.key() == name) return p.value();
    for (const auto& p : d->named_parameters())
      if (p.key() == name) return p.value();
    fail_field("tensor", name, "is not a tensor of this model");
  }

  // The canonical name of a parameter tensor (for optimiser states).
  std::map<std::string, std::string> names_by_key() const {
    std::map<std::string, std::string> out;
    for (const auto& p : g->named_parameters()) out[state_key(p.value())] = p.key();
    for (const auto& p : d->named_parameters()) out[state_key(p.value())] = p.key();
    return out;
  }

  torch::Tensor d_loss(const std::vector<torch::Tensor>& real,
                       const std::vector<torch::Tensor>& fake) {
    const int first = stage.first, last = stage.last;
    if (c.discriminator.readout == Readout::kOptimal) {
      return -moment_discrepancy(static_cast<TheoryDiscriminator&>(*d), real, fake, first, last);
    }
    const torch::Tensor fr = d->forward(real, first, last);
    const torch::Tensor ff = d->forward(fake, first, last);
    torch::Tensor loss = c.loss.kind == LossKind::kIpm
                             ? ff.mean() - fr.mean()
                             : torch::softplus(-fr).mean() + torch::softplus(ff).mean();
    if (c.loss.penalty == Penalty::kL2 && c.loss.penalty_weight > 0) {
      torch::Tensor pen = torch::zeros({}, opts);
      for (const auto& p : d->penalised_parameters()) pen = pen + p.pow(2).sum();
      loss = loss + c.loss.penalty_weight * pen;
    } else if (c.loss.penalty == Penalty::kGradient && c.loss.penalty_weight > 0) {
      const auto n = real[0].size(0);
      std::vector<torch::Tensor> mix;
      auto gen =
          at::detail::createCPUGenerator(mix64(c.seed ^ 0x67705eedu ^ std::uint64_t(fr.size(0))));
      const torch::Tensor eps =
          torch::rand({n, 1, 1, 1}, gen, torch::TensorOptions().dtype(torch::kFloat64)).to(opts);
      for (int l = 1; l <= last; ++l)
        mix.push_back((eps * real[l - 1] + (1 - eps) * fake[l - 1]).detach().requires_grad_(true));
      const torch::Tensor f = d->forward(mix, first, last);
      const auto grads = torch::autograd::grad({f.sum()}, mix, {}, true, true, true);
      torch::Tensor sq = torch::zeros({n}, opts);
      for (const auto& gr : grads)
        if (gr.defined()) sq = sq + gr.pow(2).reshape({n, -1}).sum(1);
      loss = loss + c.loss.penalty_weight * (torch::sqrt(sq + 1e-12) - 1).pow(2).mean();
    }
    return loss;
  }
};

TorchEngine::TorchEngine(const NetworkShape& shape, const LearnerConfig& config,
                         const std::string& device)
    : s_(std::make_unique<State>()) {
  State& s = *s_;
  s.shape = shape;
  s.c = config;
  if (device == "auto") {
    s.device =
        torch::cuda::is_available() ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
  } else if (device == "cuda") {
    if (!torch::cuda::is_available())
      fail_field("--device", "cuda", "no CUDA device is available in this build or machine");
    s.device = torch::Device(torch::kCUDA);
  } else if (device == "cpu") {
    s.device = torch::Device(torch::kCPU);
  } else {
    fail_field("--device", device, "must be auto, cpu or cuda");
  }
  torch::set_num_threads(config.threads);
  // OpenBLAS keeps its own pool, which torch's setting does not reach; idle spinning of its
  // threads costs more than the small GEMMs here gain.
  if (auto* f = reinterpret_cast<void (*)(int)>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads")))
    f(config.threads);
  s.opts = torch::TensorOptions()
               .dtype(config.dtype == Precision::kFloat32 ? torch::kFloat32 : torch::kFloat64)
               .device(s.device);
  s.g = Generator(shape, config, s.opts);
  s.d = make_discriminator(shape, config, s.opts);
  begin_stage(s.stage);
}

TorchEngine::~TorchEngine() = default;

std::string TorchEngine::device() const { return s_->device.str(); }

std::string TorchEngine::precision() const {
  return s_->opts.dtype() == torch::kFloat32 ? "float32" : "float64";
}

std::vector<std::string> TorchEngine::tensor_names() const {
  std::vector<std::string> out;
  for (const auto& p : s_->g->named_parameters()) out.push_back(p.key());
  for (const auto& p : s_->g->named_buffers()) out.push_back(p.key());
  for (const auto& p : s_->d->named_parameters()) out.push_back(p.key());
  return out;
}

NpyArray TorchEngine::tensor(const std::string& name) const {
  const torch::Tensor t = s_->find(name).detach().to(torch::kCPU, torch::kFloat64).contiguous();
  NpyArray a;
  a.shape.assign(t.sizes().begin(), t.sizes().end());
  a.dtype = s_->opts.dtype() == torch::kFloat32 ? DType::kFloat32 : DType::kFloat64;
  a.data.assign(t.data_ptr<double>(), t.data_ptr<double>() + t.numel());
  return a;
}

void TorchEngine::set_tensor(const std::string& name, const std::vector<double>& values) {
  torch::Tensor t = s_->find(name);
  if (std::int64_t(values.size()) != t.numel())
    fail_field(name + ".size", values.size(), "must be " + std::to_string(t.numel()));
  torch::NoGradGuard no_grad;
  assign(t, values);
}

Eigen::MatrixXd TorchEngine::dictionary(int level) const {
  torch::NoGradGuard no_grad;
  return to_eigen(s_->g->dictionary(level));
}

Eigen::MatrixXd TorchEngine::decoder(int level) const {
  torch::NoGradGuard no_grad;
  const torch::Tensor v = s_->d->decoder(level);
  return v.defined() ? to_eigen(v) : Eigen::MatrixXd();
}

Eigen::MatrixXd TorchEngine::code_matrix() const {
  torch::NoGradGuard no_grad;
  return to_eigen(s_->g->code_matrix());
}

Eigen::VectorXd TorchEngine::thresholds() const {
  torch::NoGradGuard no_grad;
  return to_eigen(s_->g->thresholds().view({-1, 1})).col(0);
}

void TorchEngine::begin_stage(const EngineStage& stage) {
  State& s = *s_;
  s.stage = stage;
  for (auto& p : s.g->parameters()) p.set_requires_grad(false);
  s.g_params.clear();
  for (int l : stage.trained)
    for (auto& p : s.g->level_parameters(l)) {
      p.set_requires_grad(true);
      s.g_params.push_back(p);
    }
  s.d_params = s.d->parameters();
  s.opt_g = make_optimizer(s.g_params, s.c, s.c.sgda.lr_g);
  s.opt_d = make_optimizer(s.d_params, s.c, s.c.sgda.lr_d);
}

StepStats TorchEngine::step(const StepInputs& in) {
  State& s = *s_;
  const int nd = s.c.sgda.d_steps, B = s.c.sgda.batch, last = s.stage.last;
  if (int(in.real.size()) != nd)
    fail_field("step.real", in.real.size(), "must hold sgda.d_steps = " + std::to_string(nd));
  auto latent = [&](int k) {
    if (in.latents)
      return torch::from_blob(
                 const_cast<double*>(in.latents->data()) + std::int64_t(k) * B * s.shape.latent_dim,
                 {B, s.shape.latent_dim}, torch::kFloat64)
          .clone()
          .to(s.opts);
    return s.latent(in.latent_seeds.at(k), B);
  };
  std::vector<std::vector<torch::Tensor>> real(nd);
  for (int k = 0; k < nd; ++k)
    real[k] = k > 0 && in.real[k] == in.real[k - 1] ? real[k - 1]
                                                    : images(*in.real[k], s.shape, last, s.opts);
  set_lr(*s.opt_g, in.lr_g);
  set_lr(*s.opt_d, in.lr_d);
  // Generator loss on the discriminator before its steps (simultaneous) or after (alternating).
  auto g_backward = [&]() {
    s.opt_g->zero_grad();
    const auto fake = s.g->forward(latent(nd), last);
    torch::Tensor loss;
    if (s.c.discriminator.readout == Readout::kOptimal) {
      // Against a real batch of its own: the last discriminator step's.
      loss = moment_discrepancy(static_cast<TheoryDiscriminator&>(*s.d), real[nd - 1], fake,
                                s.stage.first, last);
    } else {
      const torch::Tensor f = s.d->forward(fake, s.stage.first, last);
      loss = s.c.loss.kind == LossKind::kIpm ? -f.mean() : torch::softplus(-f).mean();
    }
    loss.backward();
    return loss.item<double>();
  };
  StepStats st;
  if (s.c.sgda.mode == SgdaMode::kSimultaneous) st.loss_g = g_backward();
  for (int k = 0; k < nd; ++k) {
    std::vector<torch::Tensor> fake;
    {
      torch::NoGradGuard no_grad;
      fake = s.g->forward(latent(k), last);
    }
    s.opt_d->zero_grad();
    const torch::Tensor loss = s.d_loss(real[k], fake);
    loss.backward();
    st.loss_d = loss.item<double>();
    st.grad_norm_d = grad_norm(s.d_params);
    s.opt_d->step();
  }
  if (s.c.sgda.mode == SgdaMode::kAlternating) st.loss_g = g_backward();
  st.grad_norm_g = grad_norm(s.g_params);
  s.opt_g->step();
  st.finite = std::isfinite(st.loss_g) && std::isfinite(st.loss_d) &&
              std::isfinite(st.grad_norm_g) && std::isfinite(st.grad_norm_d);
  if (st.finite) {
    torch::NoGradGuard no_grad;
    for (const auto& p : s.g_params) st.finite = st.finite && torch::isfinite(p).all().item<bool>();
  }
  return st;
}

NamedArrays TorchEngine::optimizer_state() const {
  const State& s = *s_;
  const auto names = s.names_by_key();
  const DType dt = s.opts.dtype() == torch::kFloat32 ? DType::kFloat32 : DType::kFloat64;
  auto array = [&](const torch::Tensor& t) {
    const torch::Tensor c = t.detach().to(torch::kCPU, torch::kFloat64).contiguous();
    return NpyArray{std::vector<std::int64_t>(c.sizes().begin(), c.sizes().end()), dt,
                    std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel())};
  };
  NamedArrays out;
  for (auto* opt : {s.opt_g.get(), s.opt_d.get()})
    for (const auto& [key, state] : opt->state()) {
      const auto it = names.find(key);
      if (it == names.end()) continue;
      const std::string& n = it->second;
      if (auto* adam = dynamic_cast<torch::optim::AdamParamState*>(state.get())) {
        out.emplace_back(n + ".step", NpyArray{{1}, DType::kFloat64, {double(adam->step())}});
        out.emplace_back(n + ".exp_avg", array(adam->exp_avg()));
        out.emplace_back(n + ".exp_avg_sq", array(adam->exp_avg_sq()));
      } else if (auto* sgd = dynamic_cast<torch::optim::SGDParamState*>(state.get())) {
        if (sgd->momentum_buffer().defined())
          out.emplace_back(n + ".momentum_buffer", array(sgd->momentum_buffer()));
      }
    }
  return out;
}

void TorchEngine::set_optimizer_state(const NamedArrays& state) {
  State& s = *s_;
  std::map<std::string, std::map<std::string, const NpyArray*>> by_param;
  for (const auto& [name, a] : state) {
    const auto dot = name.rfind('.');
    if (dot == std::string::npos) fail_field("optimizer_state", name, "must be <param>.<field>");
    by_param[name.substr(0, dot)][name.substr(dot + 1)] = &a;
  }
  auto tensor_like = [&](const torch::Tensor& p, const NpyArray& a) {
    if (std::int64_t(a.data.size()) != p.numel())
      fail_field("optimizer_state.size", a.data.size(), "must be " + std::to_string(p.numel()));
    return torch::from_blob(const_cast<double*>(a.data.data()), p.sizes(), torch::kFloat64)
        .clone()
        .to(p.options());
  };
  const bool adam = s.c.sgda.optimizer == OptimizerKind::kAdam;
  for (auto* opt : {s.opt_g.get(), s.opt_d.get()}) {
    opt->state().clear();
    for (const auto& group : opt->param_groups())
      for (const auto& p : group.params()) {
        std::string name;
        for (const auto& [key, n] : s.names_by_key())
          if (key == state_key(p)) name = n;
        const auto it = by_param.find(name);
        if (it == by_param.end()) continue;
        const auto& f = it->second;
        if (adam) {
          if (!f.count("step") || !f.count("exp_avg") || !f.count("exp_avg_sq"))
            fail_field("optimizer_state", name, "needs step, exp_avg and exp_avg_sq for Adam");
          auto st = std::make_unique<torch::optim::AdamParamState>();
          st->step(std::int64_t(f.at("step")->data.at(0)));
          st->exp_avg(tensor_like(p, *f.at("exp_avg")));
          st->exp_avg_sq(tensor_like(p, *f.at("exp_avg_sq")));
          opt->state()[state_key(p)] = std::move(st);
        } else if (f.count("momentum_buffer")) {
          auto st = std::make_unique<torch::optim::SGDParamState>();
          st->momentum_buffer(tensor_like(p, *f.at("momentum_buffer")));
          opt->state()[state_key(p)] = std::move(st);
        }
      }
  }
}

void TorchEngine::reset_optimizer_entries(const std::string& name,
                                          const std::vector<bool>& entries) {
  State& s = *s_;
  const torch::Tensor p = s.find(name);
  if (std::int64_t(entries.size()) != p.numel())
    fail_field(name + ".entries", entries.size(), "must be " + std::to_string(p.numel()));
  torch::Tensor mask = torch::zeros({p.numel()}, torch::kBool);
  for (std::size_t i = 0; i < entries.size(); ++i)
    if (entries[i]) mask[std::int64_t(i)] = true;
  mask = mask.view(p.sizes()).to(s.device);
  for (auto* opt : {s.opt_g.get(), s.opt_d.get()}) {
    auto& state = opt->state();
    auto it = state.find(state_key(p));
    if (it == state.end()) continue;
    if (auto* adam = dynamic_cast<torch::optim::AdamParamState*>(it->second.get())) {
      adam->exp_avg().masked_fill_(mask, 0.0);
      adam->exp_avg_sq().masked_fill_(mask, 0.0);
    } else if (auto* sgd = dynamic_cast<torch::optim::SGDParamState*>(it->second.get())) {
      if (sgd->momentum_buffer().defined()) sgd->momentum_buffer().masked_fill_(mask, 0.0);
    }
  }
}

Generated TorchEngine::generate(const RowMatrix& z, int levels, bool with_codes) {
  State& s = *s_;
  torch::NoGradGuard no_grad;
  const torch::Tensor zt =
      torch::from_blob(const_cast<double*>(z.data()), {z.rows(), z.cols()}, torch::kFloat64)
          .clone()
          .to(s.opts);
  std::vector<torch::Tensor> hidden;
  const auto xs = s.g->forward(zt, levels, &hidden);
  Generated out;
  for (int l = 1; l <= levels; ++l) {
    out.patches.push_back(
        row_matrix(images_to_patches(xs[l - 1], s.shape.grid_at(l), s.shape.patch, s.shape.colors)
                       .reshape({-1, s.shape.patch_dim()})));
    if (!with_codes) continue;
    out.codes.push_back(row_matrix(hidden[l - 1]));
    out.pre.push_back(l >= 2 ? row_matrix(torch::conv_transpose2d(hidden[l - 2], s.g->W[l - 2], {},
                                                                  2, s.shape.kernel == 4 ? 1 : 0))
                             : RowMatrix());
  }
  return out;
}

RowMatrix TorchEngine::latents(std::uint64_t seed, std::int64_t rows) const {
  auto gen = at::detail::createCPUGenerator(seed);
  return row_matrix(torch::randn({rows, s_->shape.latent_dim}, gen,
                                 torch::TensorOptions().dtype(torch::kFloat64)));
}

}  // namespace fsr

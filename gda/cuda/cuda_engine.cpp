#include "gda/cuda/cuda_engine.h"

#include <map>
#include <stdexcept>

#include "core/rng.h"
#include "core/validate.h"
#include "gda/fast/fast_engine.h"

namespace fsr::cuda {
namespace {

template <typename T>
NpyArray to_npy(const fast::NamedTensor<double>& t) {
  return NpyArray{t.shape, sizeof(T) == 4 ? DType::kFloat32 : DType::kFloat64, t.data};
}

}  // namespace

template <typename T>
StepLayout step_layout(const fast::CpuEngine<T>& cpu, const fast::ModelShape& s,
                       const fast::ModelOptions& o) {
  StepLayout ly;
  ly.levels = s.levels;
  ly.d = s.patch_dim();
  ly.kernel = s.kernel;
  ly.padding = s.padding();
  ly.n1 = s.first_layer_units();
  ly.m0 = s.latent_dim;
  StepOptions& so = ly.o;
  so.relative_threshold = o.relative_threshold;
  so.unit_norm_columns = o.unit_norm_columns;
  so.unit_norm_rows = o.unit_norm_rows;
  so.learn_threshold = o.learn_threshold;
  so.cubic = o.cubic;
  so.quartic = o.quartic;
  so.cross_scale = o.cross_scale;
  so.quadratic = o.quadratic == fast::Quadratic::kNone   ? 0
                 : o.quadratic == fast::Quadratic::kDiag ? 1
                                                         : 2;
  so.optimal = o.readout == fast::Readout::kOptimal;
  so.nonsaturating = o.loss == fast::Loss::kNonSaturating;
  so.penalty_weight = o.penalty_weight;
  so.batch = o.batch;
  so.d_steps = o.d_steps;
  so.simultaneous = o.simultaneous;
  so.adam = o.optimizer == fast::Optimizer::kAdam;
  so.beta1 = o.beta1;
  so.beta2 = o.beta2;
  so.eps = o.eps;
  so.momentum = o.momentum;

  std::map<std::string, const typename fast::CpuEngine<T>::RawBlock*> by_name;
  const auto raw = cpu.raw_blocks();
  for (const auto& b : raw) {
    StepBlock sb;
    sb.role = b.role;
    sb.decoder_weight = b.role == 'd' && b.name[0] == 'V';
    sb.level = b.level;
    sb.offset = b.offset;
    sb.size = b.size;
    sb.has_state = b.has_state;
    sb.step = b.step;
    ly.blocks.push_back(sb);
    ly.size = std::max(ly.size, b.offset + b.size);
    by_name[b.name] = &b;
  }
  auto at = [&](const std::string& name) -> const typename fast::CpuEngine<T>::RawBlock* {
    auto it = by_name.find(name);
    return it == by_name.end() ? nullptr : it->second;
  };
  ly.A = at("A")->offset;
  ly.A_mask = at("A_mask")->offset;
  ly.b1 = at("b1")->offset;
  for (int l = 1; l <= s.levels; ++l) {
    const std::string n = std::to_string(l);
    StepLevel sl;
    sl.P = s.patches_at(l);
    sl.m = s.channels[l - 1];
    sl.U = s.units[l - 1];
    sl.grid = s.grid_at(l);
    sl.order = fast::patch_order(s, l);
    if (l >= 2) {
      sl.Up = s.units[l - 2];
      sl.mi = s.channels[l - 2];
      const fast::ConvTaps taps = fast::conv_taps(s.grid_at(l - 1), s.kernel);
      sl.taps_in = taps.in;
      sl.taps_k = taps.k;
      sl.taps_count = taps.count;
      sl.W = at("W" + n)->offset;
      sl.bW = at("bW" + n)->offset;
    }
    sl.M = at("M" + n)->offset;
    sl.mask = at("mask" + n)->offset;
    sl.V = at("V" + n)->offset;
    sl.tau = at("tau" + n)->offset;
    const auto* lin = at("lin" + n);
    sl.readout = lin->offset;
    sl.n_lin = lin->size;
    std::size_t end = lin->offset + lin->size;
    if (const auto* q = at("quad" + n)) {
      sl.ro_quad = q->offset - sl.readout;
      sl.n_quad = q->size;
      end = std::max(end, q->offset + q->size);
    }
    if (const auto* c = at("cubic" + n)) {
      sl.ro_cubic = c->offset - sl.readout;
      sl.n_cubic = c->size;
      end = std::max(end, c->offset + c->size);
    }
    if (const auto* c = at("quartic" + n)) {
      sl.ro_quartic = c->offset - sl.readout;
      sl.n_quartic = c->size;
      end = std::max(end, c->offset + c->size);
    }
    if (const auto* c = at("cross" + n)) {
      sl.ro_cross = c->offset - sl.readout;
      sl.n_cross = c->size;
      end = std::max(end, c->offset + c->size);
    }
    sl.ro_size = end - sl.readout;
    ly.L.push_back(std::move(sl));
  }
  return ly;
}

template <typename T>
DeviceEngine<T>::DeviceEngine(const fast::ModelShape& shape, const fast::ModelOptions& options,
                              Backend backend)
    : cpu_(shape, options) {
  layout_ = step_layout(cpu_, shape, options);
  if (backend != Backend::kCuda) {
    stepper_ = make_host_stepper<T>(layout_, backend == Backend::kHostCublas);
  } else {
    if (!cuda_built())
      fail_field(
          "--device", "cuda",
          "this build has no CUDA (nvcc was not found at configure time, or -DFSR_CUDA=OFF); "
          "use --device cpu or auto");
    std::string why;
    if (cuda_device_count(&why) == 0)
      fail_field("--device", "cuda",
                 "no CUDA device is usable (" + why + "); use --device cpu or auto");
    try {
      stepper_ = make_cuda_stepper<T>(layout_);
    } catch (const std::runtime_error& e) {
      fail_field("--device", "cuda", std::string("the CUDA engine could not start: ") + e.what());
    }
  }
  device_ = stepper_->device();
  for (const auto& t : cpu_.parameters()) names_.push_back(t.name);
  z_.resize(std::size_t(options.d_steps + 1) * options.batch * shape.latent_dim);
  real_.resize(options.d_steps);
}

template <typename T>
void DeviceEngine<T>::sync_host() const {
  if (!host_stale_) return;
  std::vector<StepBlock> blocks;
  stepper_->save(cpu_.raw(0).data(), cpu_.raw(1).data(), cpu_.raw(2).data(), blocks);
  auto raw = cpu_.raw_blocks();
  for (std::size_t i = 0; i < raw.size(); ++i) {
    raw[i].has_state = blocks[i].has_state;
    raw[i].step = blocks[i].step;
  }
  cpu_.set_raw_state(raw);
  cpu_.raw_refresh();
  host_stale_ = false;
}

template <typename T>
void DeviceEngine<T>::sync_device() {
  if (!device_stale_) return;
  std::vector<StepBlock> blocks = layout_.blocks;
  const auto raw = cpu_.raw_blocks();
  for (std::size_t i = 0; i < raw.size(); ++i) {
    blocks[i].has_state = raw[i].has_state;
    blocks[i].step = raw[i].step;
  }
  const EngineStage& st = cpu_.stage();
  stepper_->load(cpu_.raw(0).data(), cpu_.raw(1).data(), cpu_.raw(2).data(), blocks,
                 StepStage{st.trained, st.first, st.last});
  device_stale_ = false;
}

template <typename T>
NpyArray DeviceEngine<T>::tensor(const std::string& name) const {
  sync_host();
  return to_npy<T>(cpu_.parameter(name));
}

template <typename T>
void DeviceEngine<T>::set_tensor(const std::string& name, const std::vector<double>& values) {
  sync_host();
  cpu_.set_parameter(name, values);
  device_stale_ = true;
}

template <typename T>
Eigen::MatrixXd DeviceEngine<T>::dictionary(int level) const {
  sync_host();
  return cpu_.dictionary(level);
}
template <typename T>
Eigen::MatrixXd DeviceEngine<T>::decoder(int level) const {
  sync_host();
  return cpu_.decoder(level);
}
template <typename T>
Eigen::MatrixXd DeviceEngine<T>::code_matrix() const {
  sync_host();
  return cpu_.code_matrix();
}
template <typename T>
Eigen::VectorXd DeviceEngine<T>::thresholds() const {
  sync_host();
  return cpu_.thresholds();
}

template <typename T>
void DeviceEngine<T>::begin_stage(const EngineStage& stage) {
  sync_host();
  cpu_.begin_stage(stage);
  device_stale_ = true;
}

template <typename T>
StepStats DeviceEngine<T>::step(const StepInputs& in) {
  const std::vector<const RealLevels<T>*> real =
      fast::step_inputs<T>(cpu_.shape(), cpu_.options(), in, real_, z_, &cpu_.pool());
  sync_device();
  const StepOutput out = stepper_->step(real, z_.data(), in.lr_g, in.lr_d);
  host_stale_ = true;
  StepStats st;
  st.loss_d = out.loss_d;
  st.loss_g = out.loss_g;
  st.grad_norm_d = out.grad_norm_d;
  st.grad_norm_g = out.grad_norm_g;
  st.finite = out.finite;
  return st;
}

template <typename T>
NamedArrays DeviceEngine<T>::optimizer_state() const {
  sync_host();
  NamedArrays out;
  for (const auto& t : cpu_.optimizer_state()) out.emplace_back(t.name, to_npy<T>(t));
  return out;
}

template <typename T>
void DeviceEngine<T>::set_optimizer_state(const NamedArrays& state) {
  sync_host();
  std::vector<fast::NamedTensor<double>> in;
  for (const auto& [name, a] : state) in.push_back({name, a.shape, a.data});
  cpu_.set_optimizer_state(in);
  device_stale_ = true;
}

template <typename T>
void DeviceEngine<T>::reset_optimizer_entries(const std::string& name,
                                              const std::vector<bool>& entries) {
  sync_host();
  cpu_.reset_optimizer_entries(name, entries);
  device_stale_ = true;
}

template <typename T>
Generated DeviceEngine<T>::generate(const RowMatrix& z, int levels, bool with_codes) {
  sync_host();
  return cpu_.generate(z, levels, with_codes, true);
}

template <typename T>
RowMatrix DeviceEngine<T>::latents(std::uint64_t seed, std::int64_t rows) const {
  RowMatrix z(rows, cpu_.shape().latent_dim);
  Rng rng(seed);
  fast::fill_normals(rng, z.data(), std::size_t(z.size()));
  return z;
}

template StepLayout step_layout<float>(const fast::CpuEngine<float>&, const fast::ModelShape&,
                                       const fast::ModelOptions&);
template StepLayout step_layout<double>(const fast::CpuEngine<double>&, const fast::ModelShape&,
                                        const fast::ModelOptions&);
template class DeviceEngine<float>;
template class DeviceEngine<double>;

}  // namespace fsr::cuda

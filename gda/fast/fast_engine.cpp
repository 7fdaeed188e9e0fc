#include "gda/fast/fast_engine.h"

#include "core/thread_pool.h"
#include "core/validate.h"

namespace fsr::fast {
namespace {

template <typename T>
NpyArray to_npy(const NamedTensor<double>& t) {
  return NpyArray{t.shape, sizeof(T) == 4 ? DType::kFloat32 : DType::kFloat64, t.data};
}

}  // namespace

template <typename T>
FastEngine<T>::FastEngine(const ModelShape& shape, const ModelOptions& options)
    : engine_(shape, options) {
  for (const auto& t : engine_.parameters()) names_.push_back(t.name);
  z_.resize(std::size_t(options.d_steps + 1) * options.batch * shape.latent_dim);
  real_.resize(options.d_steps);
}

template <typename T>
std::vector<std::string> FastEngine<T>::tensor_names() const {
  return names_;
}

template <typename T>
NpyArray FastEngine<T>::tensor(const std::string& name) const {
  return to_npy<T>(engine_.parameter(name));
}

template <typename T>
void FastEngine<T>::set_tensor(const std::string& name, const std::vector<double>& values) {
  engine_.set_parameter(name, values);
}

template <typename T>
void FastEngine<T>::begin_stage(const EngineStage& stage) {
  engine_.begin_stage(stage);
}

template <typename T>
std::vector<const RealBatch<T>*> step_inputs(const ModelShape& s, const ModelOptions& o,
                                             const StepInputs& in, std::vector<RealBatch<T>>& store,
                                             std::vector<T>& z, ThreadPool* pool) {
  const int nd = o.d_steps, B = o.batch, m0 = s.latent_dim;
  if (int(in.real.size()) != nd)
    fail_field("step.real", in.real.size(), "must hold sgda.d_steps = " + std::to_string(nd));
  std::vector<const RealBatch<T>*> real(nd);
  store.resize(nd);
  for (int k = 0; k < nd; ++k) {
    // The same images for several steps (d_steps 1 with optimal read-outs reuses the D batch)
    // are converted once.
    if (k > 0 && in.real[k] == in.real[k - 1]) {
      real[k] = real[k - 1];
      continue;
    }
    real_patches_into<T>(s, *in.real[k], store[k], pool);  // reuses the previous step's arrays
    real[k] = &store[k];
  }
  const std::size_t zs = std::size_t(B) * m0;
  z.resize((nd + 1) * zs);
  if (in.latents) {
    if (in.latents->rows() != std::int64_t(nd + 1) * B || in.latents->cols() != m0)
      fail_field("step.latents", matrix_shape(*in.latents),
                 "must be ((d_steps + 1) B, m0) = (" + std::to_string((nd + 1) * B) + ", " +
                     std::to_string(m0) + ")");
    for (std::size_t i = 0; i < z.size(); ++i) z[i] = T(in.latents->data()[i]);
  } else {
    if (int(in.latent_seeds.size()) != nd + 1)
      fail_field("step.latent_seeds", in.latent_seeds.size(),
                 "must hold d_steps + 1 = " + std::to_string(nd + 1) + " seeds");
    const int T_ = pool ? pool->size() : 1;  // stream k on thread k mod T_
    const auto streams = [&](int t) {
      for (int k = t; k <= nd; k += T_) {
        Rng rng(in.latent_seeds[k]);
        fill_normals(rng, z.data() + k * zs, zs);
      }
    };
    if (T_ > 1) {
      pool->run(streams);
    } else {
      streams(0);
    }
  }
  return real;
}

template <typename T>
StepStats FastEngine<T>::step(const StepInputs& in) {
  const std::vector<const RealBatch<T>*> real =
      step_inputs<T>(engine_.shape(), engine_.options(), in, real_, z_, &engine_.pool());
  return engine_.step(real, z_.data(), in.lr_g, in.lr_d);
}

template <typename T>
NamedArrays FastEngine<T>::optimizer_state() const {
  NamedArrays out;
  for (const auto& t : engine_.optimizer_state()) out.emplace_back(t.name, to_npy<T>(t));
  return out;
}

template <typename T>
void FastEngine<T>::set_optimizer_state(const NamedArrays& state) {
  std::vector<NamedTensor<double>> in;
  for (const auto& [name, a] : state) in.push_back({name, a.shape, a.data});
  engine_.set_optimizer_state(in);
}

template <typename T>
Generated FastEngine<T>::generate(const RowMatrix& z, int levels, bool with_codes) {
  return engine_.generate(z, levels, with_codes, true);
}

template <typename T>
RowMatrix FastEngine<T>::latents(std::uint64_t seed, std::int64_t rows) const {
  RowMatrix z(rows, engine_.shape().latent_dim);
  Rng rng(seed);
  fill_normals(rng, z.data(), std::size_t(z.size()));
  return z;
}

template std::vector<const RealBatch<float>*> step_inputs<float>(const ModelShape&,
                                                                 const ModelOptions&,
                                                                 const StepInputs&,
                                                                 std::vector<RealBatch<float>>&,
                                                                 std::vector<float>&, ThreadPool*);
template std::vector<const RealBatch<double>*> step_inputs<double>(
    const ModelShape&, const ModelOptions&, const StepInputs&, std::vector<RealBatch<double>>&,
    std::vector<double>&, ThreadPool*);
template class FastEngine<float>;
template class FastEngine<double>;

}  // namespace fsr::fast

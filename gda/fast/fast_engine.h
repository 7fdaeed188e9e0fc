// The fast engine behind the learner's engine interface (gda/engine.h): CpuEngine<float> (or
// <double>, the reference for the equivalence checks) with the learner's latents and real
// batches in the canonical layout. Latents are drawn with fsr::Rng and single-precision
// Box-Muller (fill_normals), one stream per seed the trainer hands over.
//
//   auto e = std::make_unique<fsr::fast::FastEngine<float>>(shape, options);
//   e->set_tensor("M1", columns);  e->begin_stage({.trained = {1}});  e->step(inputs);
#pragma once

#include "gda/engine.h"
#include "gda/fast/cpu_engine.h"

namespace fsr::fast {

template <typename T>
class FastEngine : public Engine {
 public:
  FastEngine(const ModelShape& shape, const ModelOptions& options);

  std::string name() const override { return "fast"; }
  std::string device() const override { return "cpu"; }
  std::string precision() const override { return sizeof(T) == 4 ? "float32" : "float64"; }

  std::vector<std::string> tensor_names() const override;
  NpyArray tensor(const std::string& name) const override;
  void set_tensor(const std::string& name, const std::vector<double>& values) override;

  Eigen::MatrixXd dictionary(int level) const override { return engine_.dictionary(level); }
  Eigen::MatrixXd decoder(int level) const override { return engine_.decoder(level); }
  Eigen::MatrixXd code_matrix() const override { return engine_.code_matrix(); }
  Eigen::VectorXd thresholds() const override { return engine_.thresholds(); }

  void begin_stage(const EngineStage& stage) override;
  StepStats step(const StepInputs& inputs) override;

  NamedArrays optimizer_state() const override;
  void set_optimizer_state(const NamedArrays& state) override;
  void reset_optimizer_entries(const std::string& name, const std::vector<bool>& entries) override {
    engine_.reset_optimizer_entries(name, entries);
  }

  Generated generate(const RowMatrix& z, int levels, bool with_codes) override;
  RowMatrix latents(std::uint64_t seed, std::int64_t rows) const override;

  ThreadPool* pool() override { return &engine_.pool(); }
  CpuEngine<T>& cpu() { return engine_; }

 private:
  CpuEngine<T> engine_;
  std::vector<std::string> names_;
  std::vector<T> z_;
  std::vector<RealBatch<T>> real_;
};

// What every backend of the fast engine's step consumes, from the learner's StepInputs checked
// against the shape: the real batches as patches (one conversion per distinct batch: d_steps 1
// with optimal read-outs hands the same images twice), kept in `store`, and the (d_steps + 1) B
// latents in `z` (given, or drawn from one seed each with fill_normals). Throws InputError naming
// step.real / step.latents / step.latent_seeds. With a pool, the conversion and the latent
// streams are split over its threads (the same values: samples and streams are independent).
template <typename T>
std::vector<const RealBatch<T>*> step_inputs(const ModelShape& shape, const ModelOptions& options,
                                             const StepInputs& in, std::vector<RealBatch<T>>& store,
                                             std::vector<T>& z, ThreadPool* pool = nullptr);

extern template class FastEngine<float>;
extern template class FastEngine<double>;

}  // namespace fsr::fast

// The fast engine on a CUDA GPU: the learner's engine interface (gda/engine.h) with the SGDA step
// on the device (gda/cuda/step.h) and everything else — the canonical tensors and optimiser
// states, checkpoints, the effective parameters, generate() for the evaluation — on a CPU engine
// of the same options that mirrors the device state in the same internal layout. The state moves
// between them only when one side needs what the other changed (a step after set_tensor uploads
// it; tensor() after a step downloads it), so a run's checkpoints are the CPU engine's, bit for
// bit, and a run can move between CPU and GPU and resume.
//
//   auto e = std::make_unique<fsr::cuda::DeviceEngine<float>>(shape, options, fsr::cuda::Backend::kCuda);
//   e->set_tensor("M1", columns);  e->begin_stage({.trained = {1}});  e->step(inputs);
//
// The latents are the CPU engine's (fsr::Rng and Box-Muller on the host, uploaded), so the same
// seeds give the same latents on both devices; real batches are converted to the patch layout on
// the host and uploaded. Every option of ModelOptions is computed; `threads` and `chunk_samples`
// only concern the CPU mirror (the device step takes the whole batch at once).
#pragma once

#include <memory>

#include "gda/cuda/step.h"
#include "gda/engine.h"
#include "gda/fast/cpu_engine.h"

namespace fsr::cuda {

// kCuda: the GPU. kHost, kHostCublas: the device step's code on the CPU (the checks' stand-in
// for a GPU), the latter with the products mapped and checked as cuBLAS gets them.
enum class Backend { kCuda, kHost, kHostCublas };

// The device step's layout for a CPU engine (its block table and level sizes).
template <typename T>
StepLayout step_layout(const fast::CpuEngine<T>& cpu, const fast::ModelShape& shape,
                       const fast::ModelOptions& options);

template <typename T>
class DeviceEngine : public Engine {
 public:
  // kCuda throws InputError naming --device when no CUDA device is usable; kHost runs the device
  // step's code on the CPU (the checks' stand-in for a GPU).
  DeviceEngine(const fast::ModelShape& shape, const fast::ModelOptions& options, Backend backend);

  std::string name() const override { return "fast"; }
  std::string device() const override { return device_; }
  std::string precision() const override { return sizeof(T) == 4 ? "float32" : "float64"; }

  std::vector<std::string> tensor_names() const override { return names_; }
  NpyArray tensor(const std::string& name) const override;
  void set_tensor(const std::string& name, const std::vector<double>& values) override;

  Eigen::MatrixXd dictionary(int level) const override;
  Eigen::MatrixXd decoder(int level) const override;
  Eigen::MatrixXd code_matrix() const override;
  Eigen::VectorXd thresholds() const override;

  void begin_stage(const EngineStage& stage) override;
  StepStats step(const StepInputs& inputs) override;

  NamedArrays optimizer_state() const override;
  void set_optimizer_state(const NamedArrays& state) override;
  void reset_optimizer_entries(const std::string& name, const std::vector<bool>& entries) override;

  Generated generate(const RowMatrix& z, int levels, bool with_codes) override;
  RowMatrix latents(std::uint64_t seed, std::int64_t rows) const override;
  // The host engine's threads: the real batches are drawn and converted on them.
  ThreadPool* pool() override { return &cpu_.pool(); }

 private:
  // The mirror up to date (device -> host after steps); the device up to date before a step.
  void sync_host() const;
  void sync_device();

  mutable fast::CpuEngine<T> cpu_;
  std::unique_ptr<Stepper<T>> stepper_;
  StepLayout layout_;
  std::string device_;
  std::vector<std::string> names_;
  std::vector<T> z_;
  std::vector<fast::RealBatch<T>> real_;
  mutable bool host_stale_ = false;  // the device has steps the mirror lacks
  bool device_stale_ = true;         // the mirror has changes the device lacks
};

extern template class DeviceEngine<float>;
extern template class DeviceEngine<double>;

}  // namespace fsr::cuda

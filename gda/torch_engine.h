// The LibTorch engine of the learner (gda/engine.h): the networks of gda/networks.h — generator,
// theory or convolutional discriminator — with autograd, torch.optim's Adam or SGD, float64 by
// default, on the CPU or a CUDA device. It serves every learner option (the conv discriminator
// and the gradient penalty only here) and is the oracle the fast engine is checked against.
// Latents come from a torch CPU generator seeded per draw (torch::randn), as they always have.
//
//   fsr::TorchEngine e(shape, config, "cpu");
//   e.begin_stage({.trained = {1}});  fsr::StepStats s = e.step(inputs);
#pragma once

#include <memory>
#include <string>

#include "gda/engine.h"
#include "gda/learner_config.h"
#include "gda/networks.h"

namespace fsr {

class TorchEngine : public Engine {
 public:
  // device: "auto" (CUDA when available), "cpu" or "cuda"; InputError naming --device otherwise
  // or when CUDA is asked for and absent. Sets torch's (and OpenBLAS's) thread count to
  // config.threads.
  TorchEngine(const NetworkShape& shape, const LearnerConfig& config, const std::string& device);
  ~TorchEngine() override;

  std::string name() const override { return "torch"; }
  std::string device() const override;
  std::string precision() const override;

  std::vector<std::string> tensor_names() const override;
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

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace fsr

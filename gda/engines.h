// Choosing and starting the learner's engine (gda/engine.h) for a config: the fast engine's view
// of the learner options (and the refusal, naming the field, of what it does not compute), and
// the seeded initial tensors both engines start from.
//
//   std::unique_ptr<fsr::Engine> e = fsr::make_engine(fsr::EngineKind::kFast, shape, config, "cpu");
//   fsr::NamedArrays init = fsr::initial_tensors(shape, config);   // what e starts from
#pragma once

#include <memory>
#include <string>

#include "gda/engine.h"
#include "gda/fast/cpu_engine.h"
#include "gda/learner_config.h"
#include "gda/networks.h"
#include "synth/target.h"

namespace fsr {

// The fast engine's sizes and options for a learner config. Throws InputError naming the first
// field the fast engine does not support (the convolutional discriminator, the gradient
// penalty), with the engine that does.
fast::ModelShape fast_shape(const NetworkShape& shape);
fast::ModelOptions fast_options(const LearnerConfig& config);

// The seeded initial values of every canonical tensor of the theory model (gda/engine.h),
// exactly those gda/networks.h's modules are built with: rows of A orthogonal (or Gaussian,
// or the identity for independent units) of norm init_code_scale, b_1 from init_active, unit
// random columns M_l, W_l scaled to the parents' fan-in, unit random decoder rows V_l, read-outs
// zero, masks one.
NamedArrays initial_tensors(const NetworkShape& shape, const LearnerConfig& config);

// The channels of a level the generator keeps (mask<l> = 1), in order.
std::vector<int> kept_channels(const Engine& engine, int level);

// The learned generator's unmasked channels in the target layout (synth/target.h), canonical form
// (unit columns; scales in alpha, beta, W, b): what training writes as model/.
Target learned_target(const Engine& engine, const NetworkShape& shape, std::uint64_t sample_seed);

// A matrix as C-order values (set_tensor's layout).
std::vector<double> row_major(const Eigen::MatrixXd& m);

// engine: "fast" or "torch"; device: "auto" | "cpu" | "cuda" (the fast engine: "cuda" runs its
// step on the GPU, gda/cuda/cuda_engine.h, and is refused, naming --device, by a build without
// CUDA or a machine without a GPU; "auto" is CUDA where a device is usable, else the CPU). The
// engine starts at initial_tensors.
std::unique_ptr<Engine> make_engine(EngineKind engine, const NetworkShape& shape,
                                    const LearnerConfig& config, const std::string& device);

}  // namespace fsr

// What the parts of a training run share (gda/trainer.cpp's loop, gda/warm_start.h, gda/units.h):
// the target, the learner config, the network sizes, the engine, the real data and the held-out
// latents. The parts read the model through the engine (canonical tensors) and write it back.
#pragma once

#include "gda/engine.h"
#include "gda/learner_config.h"
#include "gda/networks.h"
#include "gda/training_data.h"
#include "synth/target.h"

namespace fsr {

struct RunContext {
  const Target& truth;
  const LearnerConfig& config;
  const NetworkShape& shape;
  Engine& engine;
  TrainingData& data;
  const RowMatrix& eval_z;  // log.eval_samples held-out latents (the engine's stream)
};

}  // namespace fsr

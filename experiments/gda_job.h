// The "gda" job kind: train the GDA learner (gda/) on a suite's target and score it. Built only
// when LibTorch is found; apps/main.cpp registers it before parsing the command line so that
// `fsr run`, its `fsr run-job` workers and `fsr complexity` all see it.
//
//   fsr::register_gda_job_kind();   // then suites may say {"kind": "gda", "config": "level1.json"}
//
// Config: a learner config (gda/learner_config.h, docs/learner.md), inline or a path, plus
//   "reseed_target" (default true): build the target with the job's seed, so that "seed k" means
//   a new target and a new learner, as the recovery claims of docs/learner.md are stated;
//   "analyze" (default true): run experiments/analysis.h on the trained model;
//   "samples" (optional): train on a fixed set of that many samples (sets data.source = "fixed"
//   and data.train_samples), the key the first_layer_baseline kind uses for N, so one
//   sample-complexity suite (samples_key "samples") can hold both kinds.
// Result: "status", "train" (gda/trainer.h to_json), "analysis"; "errors" (level 1, lower is
// better, named as the first_layer_baseline kind names them: alpha_max_relative, ...,
// columns_one_minus_min_cosine) and "trajectory" ({error name: [{"step", "error"}]}, one entry
// per metrics record) for the sample-complexity search and its steps-to-eps hook.
// An image-pyramid target (synth/image_pyramid.h PyramidTarget, no planted generator): the
//   pyramid is built with the job's seed into the job's target/ folder, the learner trains on its
//   first train_samples (data.source = fixed) with generator.channels = its channels, and the
//   analysis measures X_l against its held-out samples; no "errors" or "trajectory" (no planted
//   truth).
// The job's seed is the learner's seed. The learner keeps its checkpoints in the job directory,
// so an interrupted job resumes where it stopped.
#pragma once

namespace fsr {

void register_gda_job_kind();

}  // namespace fsr

// SGDA training of the GDA learner against a planted target (docs/science.md §4): stages over
// levels (layer-wise, random-lower, joint, layer-wise then joint fine-tune), n_D discriminator
// steps per generator step, IPM or non-saturating loss, unit maintenance, metrics, checkpoints.
//
//   fsr::TrainResult r = fsr::train(truth, fsr::parse_learner_config(j), {.out = "runs/a"});
//   if (r.status == "completed" && r.recovery.meets_bar()) ...
//
// Determinism: every random draw is a function of (seed, step, sub-step) — latents from a torch
// generator seeded per step, real samples by index from the target's stream (synth/sample.h) or
// by a per-epoch seeded permutation of the fixed training set — so a checkpoint needs only the
// parameters, the optimiser states, the channel masks and the step counter, and a resumed CPU
// run is bit-identical to an uninterrupted one (same thread count).
//
// Run directory (`out`): config.json (normalised learner config), metrics.jsonl, checkpoint/
// (state.npz + state.json), and when the run ends: model/ (the learned generator in the target
// layout, canonical form, read by load_target), V_<l>.npy (d x units: columns are the decoders, as
// in M_l) and result.json. This header does not include LibTorch.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "core/json_io.h"
#include "gda/learner_config.h"
#include "score/recovery.h"
#include "synth/target.h"

namespace fsr {

struct DataSet;  // gda/training_data.h

struct TrainOptions {
  std::filesystem::path out;     // run directory; empty: write nothing (sweeps, tests)
  std::string device = "auto";   // "auto" | "cpu" | "cuda"
  bool resume = false;           // continue from out/checkpoint
  std::int64_t stop_after = -1;  // stop with status "interrupted" after this many generator steps
  bool progress = true;          // progress lines on stderr
  bool oracle_init = false;      // diagnostic: start the generator at the target (width 1 only)
  // Diagnostic, with oracle_init: only the columns M_l (and W_l) come from the target; the first
  // layer keeps the config's fixed start (init_code_scale, init_active).
  bool oracle_columns_only = false;
  // Diagnostic refine stage after the schedule (research/gda_sweep --refine): the generator's
  // tensors are carried into a fresh engine built from the config merged with `refine_patch`
  // (its own D, step sizes, batch), trained for refine_steps on the last stage's levels.
  // tie_decoder: D's level-1 decoder rows start at the generator's columns (cycled), with
  // thresholds tie_taus[r / m_hat] per block of rows; freeze_columns: M_1 is restored after every
  // step (the columns stay where the schedule left them).
  std::int64_t refine_steps = 0;
  Json refine_patch = Json::object();
  bool tie_decoder = false;
  std::vector<double> tie_taus;
  bool freeze_columns = false;
  std::function<void(const Json&)> on_metrics;  // called with every metrics record
  // Polled once per generator step; true stops the run as stop_after does (a checkpoint, status
  // "interrupted"), so a caller can stop it cleanly (Ctrl-C in the Python module).
  std::function<bool()> stop_requested;
};

struct TrainResult {
  std::string status;            // "completed" | "diverged" | "interrupted"
  std::string message;           // why, for diverged runs
  std::int64_t steps = 0;        // generator steps done (all stages)
  std::int64_t total_steps = 0;  // planned
  std::string device;
  Target model;       // learned generator, canonical form (empty when diverged)
  Recovery recovery;  // vs the target, levels trained so far
  Json last_metrics;
  double seconds = 0.0;
  // A data-set run (no planted target): why `recovery` is empty ("no planted truth: ..."); the
  // JSON then has "recovery": null and this as "no_planted_truth". Empty for a planted target.
  std::string no_planted_truth;
};

TrainResult train(const Target& truth, const LearnerConfig& config, const TrainOptions& options);
// A fixed data set with no planted generator (an image pyramid, gda/training_data.h DataSet): the
// architecture from the data and generator.channels / generator.kernel, the batches from its first
// data.train_samples, the metrics' moment mismatch on its held-out samples; no recovery scores.
// Refused (InputError naming the field) as check_data_set_run and data_set_architecture say, and
// for oracle_init (there is no target to start at).
TrainResult train(const DataSet& data, const LearnerConfig& config, const TrainOptions& options);

Json to_json(const TrainResult& result);

}  // namespace fsr

// The real data a training run reads (gda/trainer.h), by index, so that every draw is a function
// of (seed, step) and a resumed run reads what an uninterrupted one would: the step's real
// batches (the target's stream, sample i once; or a fixed training set in seeded per-epoch
// permutations), the warm starts' patches (stream samples of their own, or the fixed set's
// first), held-out patches for the metrics.
//
//   fsr::TrainingData data(truth, config, /*levels=*/2, /*float32=*/false);
//   const std::vector<fsr::RowMatrix>& x = data.batch(7);   // batch 7: images of levels 1..2
//   const Eigen::MatrixXd& p = data.warm_start_patches(2);   // (samples P_2) x d
#pragma once

#include <Eigen/Dense>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "gda/learner_config.h"
#include "synth/image_pyramid.h"
#include "synth/sample.h"
#include "synth/target.h"

namespace fsr {

// Samples a data-set run holds out at the least: the metrics' two disjoint halves.
inline constexpr std::int64_t kMinHeldOut = 4;
// The refusals of a run on a data set, each an InputError naming the field, the value and the
// rule: data.source = stream (a data set has no generator to stream from), data.train_samples
// above S - kMinHeldOut, schedule.levels above the data set's levels.
void check_data_set_run(const DataSet& data, const LearnerConfig& config);
// The held-out rows [data.train_samples, S) of a level: rows [first, first + count) of them.
RowMatrix held_out(const DataSet& data, const LearnerConfig& config, int level, std::int64_t first,
                   std::int64_t count);

// Patches of images (count x (c, side, side)) of a level: rows (sample, raster patch) x d, the
// patch vector in (colour, dy, dx) order.
Eigen::MatrixXd image_patches(const RowMatrix& images, const Target& arch, int level);

// data.normals = fast: the standard normals of real batch `index` (count samples, levels
// 1..levels) — z (latent_dim x count), then, when the target has output noise, count x
// output_size(l) per level — drawn by the fast engine's float32 Box-Muller (fast::fill_normals,
// widened to float64) from Rng(seed ^ 405, index) alone: a function of (seed, index), so a batch
// needs no state to checkpoint and does not depend on the thread count. The same vector kernel
// runs on one machine; another instruction set may differ in the last bits (gda/fast/kernels.h).
void fast_batch_normals(const Target& truth, std::uint64_t seed, std::int64_t index,
                        std::int64_t count, int levels, Eigen::MatrixXd& z,
                        std::vector<RowMatrix>& noise, std::vector<float>* scratch = nullptr);

class TrainingData {
 public:
  // float32: the fixed training set is held as float32 values (what a float32 engine reads).
  // `data` (a data-set run, check_data_set_run passed): the fixed set is its first
  // data.train_samples, the held-out metrics read its held-out part, and `truth` only gives the
  // geometry (it has no parameters). `pool` (the engine's, Engine::pool): stream batches are drawn
  // on its threads instead of threads started per batch (the same values either way).
  TrainingData(const Target& truth, const LearnerConfig& config, int levels, bool float32,
               const DataSet* data = nullptr, ThreadPool* pool = nullptr);

  // Real batch `index` (sgda.batch samples): images of levels 1..levels. The last batch is kept,
  // so asking for it again (the generator step of optimal read-outs) costs nothing. Stream data:
  // samples index B .. index B + B - 1 of the target, or with data.normals = fast the target's
  // level maps on fast_batch_normals(truth, seed, index, ...).
  const std::vector<RowMatrix>& batch(std::int64_t index);
  // generator.warm_start_samples real samples' patches of a level (built once, every level).
  const Eigen::MatrixXd& warm_start_patches(int level);
  // log.eval_samples held-out samples' patches of a level (moment mismatch).
  const Eigen::MatrixXd& eval_patches(int level) const { return eval_[level - 1]; }
  // The first n samples of the stream's (or the fixed set's first) patches of a level: the
  // k-means column start.
  Eigen::MatrixXd first_patches(int level, std::int64_t n) const;

 private:
  const Target& truth_;
  const LearnerConfig& c_;
  int levels_;
  const DataSet* data_set_ = nullptr;
  ThreadPool* pool_ = nullptr;
  std::vector<RowMatrix> fixed_;  // data.source = fixed: the first N samples per level
  std::int64_t cached_epoch_ = -1, cached_batch_ = -1;
  std::vector<std::int64_t> epoch_order_;
  std::vector<RowMatrix> batch_;
  SampleBatch stream_;      // data.source = stream: what sample_into draws batch_ into
  Eigen::MatrixXd fast_z_;  // data.normals = fast: the batch's latents and output noise
  std::vector<RowMatrix> fast_noise_;
  std::vector<float> fast_scratch_;  // their float32 draws, reused (no allocation per step)
  std::vector<Eigen::MatrixXd> eval_, warm_;
};

}  // namespace fsr

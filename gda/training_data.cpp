#include "gda/training_data.h"

#include <algorithm>
#include <numeric>

#include "core/rng.h"
#include "core/validate.h"
#include "gda/fast/cpu_engine.h"
#include "gda/fast/layout.h"

namespace fsr {
namespace {

constexpr std::int64_t kEvalFirstIndex = std::int64_t{1} << 40;  // held-out samples for metrics
constexpr std::int64_t kWarmStartFirstIndex = std::int64_t{1} << 41;  // warm starts (stream data)
constexpr std::uint64_t kStreamData = 401;
constexpr std::uint64_t kStreamNormals = 405;  // data.normals = fast (401..404 are taken)

// n normals of fast::fill_normals (float32) into `out`, widened.
void fill_fast(Rng& rng, double* out, std::int64_t n, std::vector<float>& buffer) {
  buffer.resize(static_cast<std::size_t>(n));
  fast::fill_normals(rng, buffer.data(), buffer.size());
  std::copy(buffer.begin(), buffer.end(), out);
}

}  // namespace

void check_data_set_run(const DataSet& data, const LearnerConfig& c) {
  if (c.data.source != DataSource::kFixed) {
    fail_field("data.source", enum_name(c.data.source),
               "must be fixed with a data-set target (" + data.source +
                   "): it has no generator to stream from; its first data.train_samples are the "
                   "training set");
  }
  const std::int64_t S = data.samples(), N = c.data.train_samples;
  if (N > S - kMinHeldOut) {
    fail_field("data.train_samples", N,
               "must be <= " + std::to_string(S - kMinHeldOut) + ": the data set " + data.source +
                   " holds " + std::to_string(S) + " samples and at least " +
                   std::to_string(kMinHeldOut) +
                   " are held out for the metrics (two disjoint halves)");
  }
  if (c.schedule.levels > data.geometry.levels) {
    fail_field("schedule.levels", c.schedule.levels,
               "must be <= the data set's levels = " + std::to_string(data.geometry.levels));
  }
}

RowMatrix held_out(const DataSet& data, const LearnerConfig& c, int level, std::int64_t first,
                   std::int64_t count) {
  return data.x[level - 1].middleRows(c.data.train_samples + first, count);
}

Eigen::MatrixXd image_patches(const RowMatrix& images, const Target& t, int level) {
  const std::vector<double> p =
      fast::images_to_patches<double>(images, t.grid_at(level), t.patch, t.colors);
  const int d = t.patch_dim();
  return Eigen::Map<const RowMatrix>(p.data(), Eigen::Index(p.size() / d), d);
}

void fast_batch_normals(const Target& truth, std::uint64_t seed, std::int64_t index,
                        std::int64_t count, int levels, Eigen::MatrixXd& z,
                        std::vector<RowMatrix>& noise, std::vector<float>* scratch) {
  Rng rng(seed ^ kStreamNormals, static_cast<std::uint64_t>(index));
  std::vector<float> own;
  std::vector<float>& buffer = scratch ? *scratch : own;
  z.resize(truth.latent_dim(), count);
  fill_fast(rng, z.data(), z.size(), buffer);
  noise.resize(truth.noise > 0 ? levels : 0);
  for (std::size_t l = 1; l <= noise.size(); ++l) {
    noise[l - 1].resize(count, truth.output_size(int(l)));
    fill_fast(rng, noise[l - 1].data(), noise[l - 1].size(), buffer);
  }
}

TrainingData::TrainingData(const Target& truth, const LearnerConfig& config, int levels,
                           bool float32, const DataSet* data, ThreadPool* pool)
    : truth_(truth), c_(config), levels_(levels), data_set_(data), pool_(pool) {
  if (data_set_) {
    check_data_set_run(*data_set_, c_);
    const std::int64_t N = c_.data.train_samples;
    const std::int64_t eval = std::min<std::int64_t>(c_.log.eval_samples, data_set_->samples() - N);
    for (int l = 1; l <= levels_; ++l) {
      RowMatrix x = data_set_->x[l - 1].topRows(N);
      if (float32) x = x.cast<float>().cast<double>();
      fixed_.push_back(std::move(x));
      eval_.push_back(image_patches(held_out(*data_set_, c_, l, 0, eval), truth_, l));
    }
    return;
  }
  if (c_.data.normals == DataNormals::kFast &&
      truth_.first_layer_noise != FirstLayerNoise::kGaussian) {
    // fast_batch_normals draws the target's latents as standard normals.
    fail_field("data.normals", "fast",
               "draws the target's latents as Gaussian, and the target has first_layer.noise = " +
                   to_string(truth_.first_layer_noise) + "; use data.normals = exact");
  }
  if (c_.data.source == DataSource::kFixed) {
    const SampleBatch b =
        sample(truth_, 0, c_.data.train_samples, SampleOptions{.threads = 1, .levels = levels_});
    for (int l = 1; l <= levels_; ++l) {
      RowMatrix x = b.x[l - 1];
      if (float32) x = x.cast<float>().cast<double>();
      fixed_.push_back(std::move(x));
    }
  }
  const SampleBatch ev =
      sample(truth_, kEvalFirstIndex, c_.log.eval_samples, SampleOptions{.levels = levels_});
  for (int l = 1; l <= levels_; ++l) eval_.push_back(image_patches(ev.x[l - 1], truth_, l));
}

const std::vector<RowMatrix>& TrainingData::batch(std::int64_t index) {
  if (index == cached_batch_) return batch_;
  const std::int64_t B = c_.sgda.batch;
  if (c_.data.source == DataSource::kStream) {
    // Into the previous batch's arrays (no allocation per step), only the learner's levels.
    stream_.x = std::move(batch_);
    SampleOptions opt{.threads = c_.threads, .pool = pool_, .levels = levels_};
    GivenNormals given;
    if (c_.data.normals == DataNormals::kFast) {
      fast_batch_normals(truth_, c_.seed, index, B, levels_, fast_z_, fast_noise_, &fast_scratch_);
      given = {.z = &fast_z_, .noise = &fast_noise_};
      opt.normals = &given;
    }
    sample_into(truth_, index * B, B, opt, stream_);
    batch_ = std::move(stream_.x);
  } else {
    batch_.resize(levels_);
    const std::int64_t N = c_.data.train_samples;
    std::vector<std::int64_t> idx(B);
    for (std::int64_t n = 0; n < B; ++n) {
      const std::int64_t pos = index * B + n, epoch = pos / N;
      if (epoch != cached_epoch_) {  // seeded Fisher–Yates permutation of the epoch
        epoch_order_.resize(N);
        std::iota(epoch_order_.begin(), epoch_order_.end(), 0);
        Rng rng(c_.seed ^ kStreamData, std::uint64_t(epoch));
        for (std::int64_t i = N - 1; i > 0; --i)
          std::swap(epoch_order_[i], epoch_order_[rng.uniform_int(i + 1)]);
        cached_epoch_ = epoch;
      }
      idx[n] = epoch_order_[pos % N];
    }
    for (int l = 1; l <= levels_; ++l) {
      RowMatrix& x = batch_[l - 1];
      x.resize(B, fixed_[l - 1].cols());
      for (std::int64_t n = 0; n < B; ++n) x.row(n) = fixed_[l - 1].row(idx[n]);
    }
  }
  cached_batch_ = index;
  return batch_;
}

// With a fixed training set, its first samples — a sample-complexity run must not see more than
// its N — else stream samples of their own index range.
const Eigen::MatrixXd& TrainingData::warm_start_patches(int level) {
  if (warm_.empty()) {
    const std::int64_t want = c_.generator.warm_start_samples;
    if (c_.data.source == DataSource::kFixed) {
      for (int l = 1; l <= levels_; ++l) {
        const RowMatrix& x = fixed_[l - 1];
        warm_.push_back(
            image_patches(x.topRows(std::min<std::int64_t>(x.rows(), want)), truth_, l));
      }
    } else {
      const SampleBatch b = sample(truth_, kWarmStartFirstIndex, want,
                                   SampleOptions{.threads = c_.threads, .levels = levels_});
      for (int l = 1; l <= levels_; ++l) warm_.push_back(image_patches(b.x[l - 1], truth_, l));
    }
  }
  return warm_[level - 1];
}

Eigen::MatrixXd TrainingData::first_patches(int level, std::int64_t n) const {
  if (data_set_) return image_patches(data_set_->x[level - 1].topRows(n), truth_, level);
  const SampleBatch b = sample(truth_, 0, n, SampleOptions{.levels = level});
  return image_patches(b.x[level - 1], truth_, level);
}

}  // namespace fsr

// The sampler as it was before the per-step batch was made cheap (synth/sample.cpp at commit
// 964678d, verbatim but for the class name and one thread): a GEMM for A z on every target, one
// Rng::normal() call per latent, fresh zeroed arrays per call, every level. The tests check that
// sample() and sample_into() give exactly its values (==, not a tolerance): training results in
// docs/learner.md were measured with it and must stay reproducible.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "core/rng.h"
#include "core/validate.h"
#include "synth/config.h"
#include "synth/sample.h"
#include "synth/target.h"

namespace fsr {
namespace {

// W_l restacked for one GEMM: rows (ky * k + kx) * m_l + j, columns i (input channel).
Eigen::MatrixXd stack_weights(const SuperResolutionLayer& layer) {
  const int k = layer.kernel, mo = layer.out_channels;
  Eigen::MatrixXd W(k * k * mo, layer.in_channels);
  for (int i = 0; i < layer.in_channels; ++i) {
    for (int j = 0; j < mo; ++j) {
      for (int ky = 0; ky < k; ++ky) {
        for (int kx = 0; kx < k; ++kx) W((ky * k + kx) * mo + j, i) = layer.w(i, j, ky, kx);
      }
    }
  }
  return W;
}

// Per-thread scratch. Hidden codes of level l live as m_l x (h_l^2 * kSampleBlock), column
// b * h_l^2 + y * h_l + x, so one GEMM covers every position of every sample in the block.
struct Workspace {
  Eigen::MatrixXd Z, G, P, Y;
  std::vector<Eigen::MatrixXd> S;
  std::vector<Rng> rngs;
};

class ReferenceSampler {
 public:
  ReferenceSampler(const Target& t, const SampleOptions& opt, std::int64_t first,
                   std::int64_t count, SampleBatch& out)
      : t_(t), opt_(opt), first_(first), count_(count), out_(out) {
    for (const auto& layer : t.up) stacked_.push_back(stack_weights(layer));
  }

  void run_blocks(std::int64_t block_begin, std::int64_t block_end) {
    Workspace ws;
    ws.S.resize(t_.levels);
    for (std::int64_t blk = block_begin; blk < block_end; ++blk) run_block(blk, ws);
  }

 private:
  void run_block(std::int64_t block, Workspace& ws) {
    constexpr int B = kSampleBlock;
    const std::int64_t base = block * B;
    const int m0 = t_.latent_dim();
    const int r = t_.patch, c = t_.colors;

    ws.rngs.clear();
    ws.Z.resize(m0, B);
    for (int b = 0; b < B; ++b) {
      ws.rngs.emplace_back(t_.sample_seed, static_cast<std::uint64_t>(base + b));
      Rng& rng = ws.rngs.back();
      for (int i = 0; i < m0; ++i) ws.Z(i, b) = rng.normal();
    }
    ws.G.noalias() = t_.A * ws.Z;  // n_1 x B

    for (int l = 1; l <= t_.levels; ++l) {
      const int h = t_.grid_at(l), hh = h * h, m = t_.channels[l - 1];
      Eigen::MatrixXd& S = ws.S[l - 1];
      S.resize(m, std::int64_t{hh} * B);
      if (l == 1) {
        for (int b = 0; b < B; ++b) {
          for (int i = 0; i < m; ++i) {
            for (int p = 0; p < hh; ++p) {
              const int n = i * hh + p;
              S(i, b * hh + p) = std::max(t_.alpha[n] * ws.G(n, b) - t_.beta[n], 0.0);
            }
          }
        }
      } else {
        super_resolve_block(l, ws);
      }
      if (opt_.with_hidden) copy_hidden(l, base, S);
      if (opt_.with_outputs) {
        ws.Y.noalias() = t_.M[l - 1] * S;  // d x (h^2 B)
        const int side = r * h;
        for (int b = 0; b < B; ++b) {
          const std::int64_t row = base + b - first_;
          if (row < 0 || row >= count_) continue;
          double* x = out_.x[l - 1].row(row).data();
          for (int p = 0; p < hh; ++p) {
            const int y = p / h, xx = p % h;
            const double* col = ws.Y.col(std::int64_t{b} * hh + p).data();
            for (int ch = 0; ch < c; ++ch) {
              for (int dy = 0; dy < r; ++dy) {
                double* dst = x + (std::int64_t{ch} * side + r * y + dy) * side + r * xx;
                const double* src = col + (ch * r + dy) * r;
                for (int dx = 0; dx < r; ++dx) dst[dx] = src[dx];
              }
            }
          }
        }
      }
    }
    // Output noise comes after z in each sample's stream, level by level, in (colour, y, x)
    // order, so it never changes z or the hidden codes.
    if (opt_.with_outputs && t_.noise > 0) {
      for (int b = 0; b < B; ++b) {
        const std::int64_t row = base + b - first_;
        if (row < 0 || row >= count_) continue;
        Rng& rng = ws.rngs[b];
        for (int l = 1; l <= t_.levels; ++l) {
          double* x = out_.x[l - 1].row(row).data();
          const std::int64_t n = t_.output_size(l);
          for (std::int64_t q = 0; q < n; ++q) x[q] += t_.noise * rng.normal();
        }
      }
    }
  }

  void super_resolve_block(int l, Workspace& ws) {
    constexpr int B = kSampleBlock;
    const SuperResolutionLayer& layer = t_.up[l - 2];
    const int h = t_.grid_at(l - 1), hh = h * h, H = 2 * h, HH = H * H;
    const int k = layer.kernel, pad = layer.padding(), mo = layer.out_channels;
    ws.P.noalias() = stacked_[l - 2] * ws.S[l - 2];  // (k^2 m_l) x (h^2 B)
    Eigen::MatrixXd& U = ws.S[l - 1];
    U.setZero();
    for (int b = 0; b < B; ++b) {
      for (int iy = 0; iy < h; ++iy) {
        for (int ix = 0; ix < h; ++ix) {
          const std::int64_t col = std::int64_t{b} * hh + iy * h + ix;
          for (int ky = 0; ky < k; ++ky) {
            const int oy = 2 * iy - pad + ky;
            if (oy < 0 || oy >= H) continue;
            for (int kx = 0; kx < k; ++kx) {
              const int ox = 2 * ix - pad + kx;
              if (ox < 0 || ox >= H) continue;
              U.col(std::int64_t{b} * HH + oy * H + ox) +=
                  ws.P.col(col).segment((ky * k + kx) * mo, mo);
            }
          }
        }
      }
    }
    const Eigen::ArrayXd bias = layer.bias.array();
    for (std::int64_t q = 0; q < U.cols(); ++q) {
      U.col(q) = (U.col(q).array() - bias).cwiseMax(0.0).matrix();
    }
  }

  void copy_hidden(int l, std::int64_t base, const Eigen::MatrixXd& S) {
    const int h = t_.grid_at(l), hh = h * h, m = t_.channels[l - 1];
    for (int b = 0; b < kSampleBlock; ++b) {
      const std::int64_t row = base + b - first_;
      if (row < 0 || row >= count_) continue;
      double* s = out_.s[l - 1].row(row).data();
      for (int p = 0; p < hh; ++p) {
        const double* src = S.col(std::int64_t{b} * hh + p).data();
        for (int i = 0; i < m; ++i) s[i * hh + p] = src[i];
      }
    }
  }

  const Target& t_;
  const SampleOptions& opt_;
  std::int64_t first_, count_;
  SampleBatch& out_;
  std::vector<Eigen::MatrixXd> stacked_;
};

SampleBatch reference_sample(const Target& target, std::int64_t first_index, std::int64_t count,
                             const SampleOptions& options) {
  SampleBatch out;
  out.first_index = first_index;
  out.count = count;
  for (int l = 1; l <= target.levels; ++l) {
    if (options.with_outputs) out.x.emplace_back(RowMatrix::Zero(count, target.output_size(l)));
    if (options.with_hidden) out.s.emplace_back(RowMatrix::Zero(count, target.hidden_size(l)));
  }
  if (count == 0) return out;
  ReferenceSampler sampler(target, options, first_index, count, out);
  const std::int64_t b0 = first_index / kSampleBlock;
  const std::int64_t b1 = (first_index + count - 1) / kSampleBlock + 1;
  sampler.run_blocks(b0, b1);
  return out;
}

Target make(const Json& j) { return build_target(parse_target_config(j)); }

// Targets that take every branch of the sampler: A = I (independent units) and a dense A
// (latent correlation), kernels 2 and 4, 1 to 4 levels, with and without output noise.
struct Case {
  const char* name;
  Json config;
};

std::vector<Case> cases() {
  const Json indep = {{"correlation", "independent"}, {"alpha", 1.0}};
  std::vector<Case> all = {
      {"level1_alpha1",  // experiments/learners/target_level1_alpha1.json
       {{"levels", 1},
        {"grid", 2},
        {"channels", {8}},
        {"patch", 2},
        {"colors", 3},
        {"kernel", 2},
        {"active", {0.1}},
        {"first_layer", indep},
        {"dictionary", {{"kind", "orthonormal"}, {"coherence", 0.1}}},
        {"noise", 0.0},
        {"seed", 1}}},
      {"level2_noise",  // target_level2.json with output noise
       {{"levels", 2},
        {"grid", 2},
        {"channels", {8, 8}},
        {"patch", 2},
        {"colors", 3},
        {"kernel", 2},
        {"active", {0.1, 0.1}},
        {"first_layer", indep},
        {"dictionary", {{"kind", "orthonormal"}, {"coherence", 0.1}}},
        {"noise", 0.03},
        {"seed", 1},
        {"calibration_samples", 500}}},
      {"four_level_latent",
       {{"levels", 4},
        {"grid", 2},
        {"channels", {8, 12, 16, 16}},
        {"patch", 2},
        {"colors", 3},
        {"kernel", 4},
        {"active", {0.15, 0.1, 0.1, 0.1}},
        {"first_layer", {{"correlation", "latent"}, {"latent_dim", 10}, {"alpha", {0.5, 2.0}}}},
        {"dictionary", {{"kind", "incoherent"}, {"coherence", 0.6}}},
        {"noise", 0.05},
        {"seed", 3},
        {"calibration_samples", 500}}},
      {"three_level_independent_grid3",
       {{"levels", 3},
        {"grid", 3},
        {"channels", {6, 8, 8}},
        {"patch", 3},
        {"colors", 1},
        {"kernel", 2},
        {"active", {0.3, 0.2, 0.2}},
        {"first_layer", {{"correlation", "independent"}, {"alpha", {0.5, 2.0}}}},
        {"noise", 0.0},
        {"seed", 7},
        {"calibration_samples", 500}}},
  };
  // level2_noise with first_layer.noise given as its default: the same samples bit for bit.
  Json explicit_gaussian = all[1].config;
  explicit_gaussian["first_layer"]["noise"] = "gaussian";
  all.insert(all.begin() + 2, {"level2_noise_explicit_gaussian", explicit_gaussian});
  return all;
}

// Exactly equal (==): the same draws and the same float64 arithmetic. On failure, the first
// differing entry.
void expect_identical(const RowMatrix& want, const RowMatrix& got, const std::string& what) {
  ASSERT_EQ(want.rows(), got.rows()) << what;
  ASSERT_EQ(want.cols(), got.cols()) << what;
  for (Eigen::Index i = 0; i < want.rows(); ++i)
    for (Eigen::Index j = 0; j < want.cols(); ++j)
      if (!(want(i, j) == got(i, j)) || std::signbit(want(i, j)) != std::signbit(got(i, j))) {
        ADD_FAILURE() << what << ": entry (" << i << ", " << j << ") was " << want(i, j) << ", is "
                      << got(i, j);
        return;
      }
}

void expect_identical(const SampleBatch& want, const SampleBatch& got, int levels,
                      const std::string& what) {
  ASSERT_EQ(got.x.size(), want.x.empty() ? 0u : std::size_t(levels)) << what;
  ASSERT_EQ(got.s.size(), want.s.empty() ? 0u : std::size_t(levels)) << what;
  EXPECT_EQ(got.first_index, want.first_index) << what;
  EXPECT_EQ(got.count, want.count) << what;
  for (int l = 0; l < levels; ++l) {
    if (!want.x.empty())
      expect_identical(want.x[l], got.x[l], what + ": X_" + std::to_string(l + 1));
    if (!want.s.empty())
      expect_identical(want.s[l], got.s[l], what + ": S_" + std::to_string(l + 1));
  }
}

class Reference : public ::testing::TestWithParam<Case> {};

// sample() against the previous sampler: aligned and unaligned first indices, partial blocks,
// hidden codes on and off, one and three threads.
TEST_P(Reference, SampleIsBitIdentical) {
  const Target t = make(GetParam().config);
  for (const auto& [first, count] : {std::pair<std::int64_t, std::int64_t>{0, 64},
                                     {5, 100},
                                     {1000003, 37},
                                     {std::int64_t{1} << 40, 33}}) {
    for (const bool hidden : {false, true}) {
      const SampleOptions o{.with_hidden = hidden};
      const std::string what = "samples " + std::to_string(first) + "+" + std::to_string(count) +
                               (hidden ? " with hidden" : "");
      const SampleBatch want = reference_sample(t, first, count, o);
      expect_identical(want, sample(t, first, count, o), t.levels, what);
      expect_identical(want,
                       sample(t, first, count, SampleOptions{.with_hidden = hidden, .threads = 3}),
                       t.levels, what + ", 3 threads");
    }
  }
}

// sample_into() reusing one batch, as the trainer does step after step: arrays left from a
// previous draw (of another size, poisoned with NaN) never leak into the next one.
TEST_P(Reference, SampleIntoReusedBatchIsBitIdentical) {
  const Target t = make(GetParam().config);
  SampleBatch reused;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  std::int64_t first = 0;
  for (const std::int64_t count : {64, 64, 96, 10, 64, 0, 64}) {
    for (RowMatrix& x : reused.x) x.setConstant(nan);
    sample_into(t, first, count, SampleOptions{}, reused);
    expect_identical(
        reference_sample(t, first, count, {}), reused, t.levels,
        "reused batch, samples " + std::to_string(first) + "+" + std::to_string(count));
    first += count;
  }
  // Outputs and hidden codes, then hidden codes only, into the same batch.
  sample_into(t, 7, 40, SampleOptions{.with_hidden = true}, reused);
  expect_identical(reference_sample(t, 7, 40, {.with_hidden = true}), reused, t.levels,
                   "reused batch with hidden codes");
  sample_into(t, 7, 40, SampleOptions{.with_hidden = true, .with_outputs = false}, reused);
  expect_identical(reference_sample(t, 7, 40, {.with_hidden = true, .with_outputs = false}), reused,
                   t.levels, "reused batch, hidden codes only");
}

// SampleOptions::levels: levels 1..k are those of a full draw (each level's noise is drawn before
// the levels above it), the higher levels are not returned.
TEST_P(Reference, FewerLevelsAreTheFullDrawsLowerLevels) {
  const Target t = make(GetParam().config);
  const SampleBatch full = reference_sample(t, 3, 50, {.with_hidden = true});
  for (int k = 1; k <= t.levels; ++k) {
    const SampleBatch b = sample(t, 3, 50, SampleOptions{.with_hidden = true, .levels = k});
    SampleBatch want = full;
    want.x.resize(k);
    want.s.resize(k);
    expect_identical(want, b, k, "levels = " + std::to_string(k));
  }
}

INSTANTIATE_TEST_SUITE_P(Targets, Reference, ::testing::ValuesIn(cases()),
                         [](const auto& info) { return std::string(info.param.name); });

// first_layer.noise = gaussian, given or not, is the target every config built before the key
// existed: the same parameters (fingerprint), the same stored documents (no new key in the
// architecture or the normalised config, so suite plans are unchanged) and, through
// SampleIsBitIdentical above, the previous sampler's samples bit for bit.
TEST(FirstLayerNoise, ExplicitGaussianIsTheDefaultTarget) {
  const Target plain = make(cases()[1].config), given = make(cases()[2].config);
  ASSERT_EQ(cases()[2].config["first_layer"]["noise"], "gaussian");
  EXPECT_EQ(fingerprint(plain), fingerprint(given));
  EXPECT_EQ(architecture_json(plain), architecture_json(given));
  EXPECT_FALSE(architecture_json(given).contains("first_layer_noise"));
  EXPECT_EQ(plain.config, given.config);
  EXPECT_FALSE(given.config["first_layer"].contains("noise"));
  EXPECT_EQ(plain.achieved, given.achieved);
  EXPECT_FALSE(given.achieved["first_layer"].contains("noise"));
}

TEST(SampleOptions, LevelsOutOfRangeNamesTheField) {
  const Target t = make(cases()[1].config);  // 2 levels
  for (const int levels : {-1, 3}) {
    try {
      sample(t, 0, 4, SampleOptions{.levels = levels});
      ADD_FAILURE() << "levels = " << levels << " accepted";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("levels"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace fsr

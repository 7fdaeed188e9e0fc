#include "synth/sample.h"

#include <algorithm>
#include <thread>

#include "core/memory_budget.h"
#include "core/rng.h"
#include "core/thread_pool.h"
#include "core/validate.h"
#include "synth/latent.h"

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

class Sampler {
 public:
  Sampler(const Target& t, const SampleOptions& opt, std::int64_t first, std::int64_t count,
          SampleBatch& out)
      : t_(t),
        opt_(opt),
        first_(first),
        count_(count),
        out_(out),
        levels_(opt.levels > 0 ? opt.levels : t.levels) {
    for (int l = 2; l <= levels_; ++l) stacked_.push_back(stack_weights(t.up[l - 2]));
    // Independent first-layer units have A = I (g = z): the product is skipped. It is exact
    // either way (every other term is a signed zero), so the values do not change.
    a_identity_ = t.A.rows() == t.A.cols() &&
                  (t.A.array() == Eigen::MatrixXd::Identity(t.A.rows(), t.A.cols()).array()).all();
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
    if (opt_.normals != nullptr) {
      // The caller's z; the block's samples outside the batch are computed but not kept.
      const Eigen::MatrixXd& z = *opt_.normals->z;
      for (int b = 0; b < B; ++b) {
        const std::int64_t row = base + b - first_;
        if (row < 0 || row >= count_) {
          ws.Z.col(b).setZero();
        } else {
          ws.Z.col(b) = z.col(row);
        }
      }
    } else {
      for (int b = 0; b < B; ++b) {
        ws.rngs.emplace_back(t_.sample_seed, static_cast<std::uint64_t>(base + b));
        // Column b: sample b's z (Gaussian: fill_normal, the draws every target made before
        // first_layer.noise existed).
        fill_latents(ws.rngs.back(), t_.first_layer_noise, ws.Z.col(b).data(), m0);
      }
    }
    if (!a_identity_) ws.G.noalias() = t_.A * ws.Z;  // n_1 x B
    const Eigen::MatrixXd& G = a_identity_ ? ws.Z : ws.G;

    for (int l = 1; l <= levels_; ++l) {
      const int h = t_.grid_at(l), hh = h * h, m = t_.channels[l - 1];
      Eigen::MatrixXd& S = ws.S[l - 1];
      S.resize(m, std::int64_t{hh} * B);
      if (l == 1) {
        for (int b = 0; b < B; ++b) {
          for (int i = 0; i < m; ++i) {
            for (int p = 0; p < hh; ++p) {
              const int n = i * hh + p;
              S(i, b * hh + p) = std::max(t_.alpha[n] * G(n, b) - t_.beta[n], 0.0);
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
        if (opt_.normals != nullptr) {
          for (int l = 1; l <= levels_; ++l) {
            double* x = out_.x[l - 1].row(row).data();
            const double* g = (*opt_.normals->noise)[l - 1].row(row).data();
            const std::int64_t n = t_.output_size(l);
            for (std::int64_t q = 0; q < n; ++q) x[q] += t_.noise * g[q];
          }
          continue;
        }
        Rng& rng = ws.rngs[b];
        for (int l = 1; l <= levels_; ++l) {
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
  int levels_;
  bool a_identity_ = false;
  std::vector<Eigen::MatrixXd> stacked_;
};

}  // namespace

double sample_bytes(const Target& target, std::int64_t count, const SampleOptions& options) {
  double per_sample = 0;
  const int levels = options.levels > 0 ? std::min(options.levels, target.levels) : target.levels;
  for (int l = 1; l <= levels; ++l) {
    if (options.with_outputs) per_sample += static_cast<double>(target.output_size(l));
    if (options.with_hidden) per_sample += static_cast<double>(target.hidden_size(l));
  }
  return 8.0 * per_sample * static_cast<double>(count);
}

SampleBatch sample(const Target& target, std::int64_t first_index, std::int64_t count,
                   const SampleOptions& options) {
  SampleBatch out;
  sample_into(target, first_index, count, options, out);
  return out;
}

void sample_into(const Target& target, std::int64_t first_index, std::int64_t count,
                 const SampleOptions& options, SampleBatch& out) {
  if (first_index < 0) fail_field("first_index", first_index, "must be >= 0");
  if (count < 0) fail_field("count", count, "must be >= 0");
  require_int_in_range("threads", options.threads, 1, 1024);
  require_int_in_range("levels", options.levels, 0, target.levels);
  require_memory("count", std::to_string(count), sample_bytes(target, count, options),
                 "the sample batch");
  const int levels = options.levels > 0 ? options.levels : target.levels;
  if (options.normals != nullptr) {
    if (target.first_layer_noise != FirstLayerNoise::kGaussian) {
      // Given normals are Gaussian latents: they cannot stand for this target's z.
      fail_field("normals", "given",
                 "the target's first_layer.noise = " + to_string(target.first_layer_noise) +
                     " draws non-Gaussian latents; sample it from its own streams");
    }
    const Eigen::MatrixXd* z = options.normals->z;
    if (z == nullptr || z->rows() != target.latent_dim() || z->cols() != count) {
      fail_field(
          "normals.z",
          z == nullptr ? "null" : std::to_string(z->rows()) + " x " + std::to_string(z->cols()),
          "must be latent_dim x count = " + std::to_string(target.latent_dim()) + " x " +
              std::to_string(count));
    }
    if (options.with_outputs && target.noise > 0) {
      const std::vector<RowMatrix>* noise = options.normals->noise;
      if (noise == nullptr || std::ssize(*noise) < levels)
        fail_field("normals.noise",
                   noise == nullptr ? "null" : std::to_string(noise->size()) + " levels",
                   "must hold the output noise of levels 1.." + std::to_string(levels) +
                       " (the target has output noise)");
      for (int l = 1; l <= levels; ++l) {
        const RowMatrix& g = (*noise)[l - 1];
        if (g.rows() != count || g.cols() != target.output_size(l))
          fail_field("normals.noise", std::to_string(g.rows()) + " x " + std::to_string(g.cols()),
                     "level " + std::to_string(l) + " must be count x output_size = " +
                         std::to_string(count) + " x " + std::to_string(target.output_size(l)));
      }
    }
  }
  out.first_index = first_index;
  out.count = count;
  // Every entry of every row is written below, so reused (or fresh) arrays need no zeroing.
  // resize() keeps the storage when the shape is unchanged.
  out.x.resize(options.with_outputs ? levels : 0);
  out.s.resize(options.with_hidden ? levels : 0);
  for (int l = 1; l <= levels; ++l) {
    if (options.with_outputs) out.x[l - 1].resize(count, target.output_size(l));
    if (options.with_hidden) out.s[l - 1].resize(count, target.hidden_size(l));
  }
  if (count == 0) return;
  Sampler sampler(target, options, first_index, count, out);
  const std::int64_t b0 = first_index / kSampleBlock;
  const std::int64_t b1 = (first_index + count - 1) / kSampleBlock + 1;
  const std::int64_t blocks = b1 - b0;
  const int threads = static_cast<int>(
      std::min<std::int64_t>(options.pool ? options.pool->size() : options.threads, blocks));
  if (threads <= 1) {
    sampler.run_blocks(b0, b1);
  } else if (options.pool) {
    const int T = options.pool->size();  // threads beyond the blocks get an empty range
    options.pool->run([&](int tid) {
      const std::int64_t lo = b0 + blocks * tid / T, hi = b0 + blocks * (tid + 1) / T;
      sampler.run_blocks(lo, hi);
    });
  } else {
    std::vector<std::thread> pool;
    for (int tid = 0; tid < threads; ++tid) {
      const std::int64_t lo = b0 + blocks * tid / threads, hi = b0 + blocks * (tid + 1) / threads;
      pool.emplace_back([&sampler, lo, hi] { sampler.run_blocks(lo, hi); });
    }
    for (auto& th : pool) th.join();
  }
}

RowMatrix super_resolve(const SuperResolutionLayer& layer, const RowMatrix& s_prev, int h,
                        bool activate) {
  const int hh = h * h, H = 2 * h, HH = H * H, k = layer.kernel, pad = layer.padding();
  const int mi = layer.in_channels, mo = layer.out_channels;
  if (s_prev.cols() != std::int64_t{mi} * hh) {
    fail_field("s_prev.cols", s_prev.cols(), "must be m_{l-1} * h^2 = " + std::to_string(mi * hh));
  }
  RowMatrix out = RowMatrix::Zero(s_prev.rows(), std::int64_t{mo} * HH);
  for (std::int64_t n = 0; n < s_prev.rows(); ++n) {
    double* o = out.row(n).data();
    const double* s = s_prev.row(n).data();
    for (int i = 0; i < mi; ++i) {
      for (int iy = 0; iy < h; ++iy) {
        for (int ix = 0; ix < h; ++ix) {
          const double v = s[i * hh + iy * h + ix];
          if (v == 0.0) continue;  // codes are sparse
          for (int j = 0; j < mo; ++j) {
            for (int ky = 0; ky < k; ++ky) {
              const int oy = 2 * iy - pad + ky;
              if (oy < 0 || oy >= H) continue;
              for (int kx = 0; kx < k; ++kx) {
                const int ox = 2 * ix - pad + kx;
                if (ox < 0 || ox >= H) continue;
                o[j * HH + oy * H + ox] += v * layer.w(i, j, ky, kx);
              }
            }
          }
        }
      }
    }
    if (activate) {
      for (int j = 0; j < mo; ++j) {
        for (int q = 0; q < HH; ++q) o[j * HH + q] = std::max(o[j * HH + q] - layer.bias[j], 0.0);
      }
    }
  }
  return out;
}

RowMatrix render(const Eigen::MatrixXd& M, const RowMatrix& s, int h, int patch, int colors) {
  const int hh = h * h, r = patch, side = r * h, m = static_cast<int>(M.cols());
  if (M.rows() != std::int64_t{r} * r * colors) {
    fail_field("M.rows", M.rows(), "must be patch^2 * colors = " + std::to_string(r * r * colors));
  }
  if (s.cols() != std::int64_t{m} * hh) {
    fail_field("s.cols", s.cols(), "must be m * h^2 = " + std::to_string(m * hh));
  }
  RowMatrix out = RowMatrix::Zero(s.rows(), std::int64_t{colors} * side * side);
  for (std::int64_t n = 0; n < s.rows(); ++n) {
    double* o = out.row(n).data();
    for (int j = 0; j < m; ++j) {
      for (int y = 0; y < h; ++y) {
        for (int x = 0; x < h; ++x) {
          const double v = s(n, j * hh + y * h + x);
          if (v == 0.0) continue;
          for (int ch = 0; ch < colors; ++ch) {
            for (int dy = 0; dy < r; ++dy) {
              for (int dx = 0; dx < r; ++dx) {
                o[(ch * side + r * y + dy) * side + r * x + dx] += M((ch * r + dy) * r + dx, j) * v;
              }
            }
          }
        }
      }
    }
  }
  return out;
}

}  // namespace fsr

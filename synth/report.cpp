#include "synth/report.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <utility>

#include "core/rng.h"
#include "core/validate.h"
#include "synth/dictionary.h"
#include "synth/sample.h"

namespace fsr {
namespace {

constexpr std::int64_t kChunk = 256;

struct LevelCounts {
  std::vector<double> sample_fraction;       // per sample: active units / units
  std::vector<std::int64_t> channel_active;  // per channel
  std::vector<std::int64_t> histogram;       // patches with j active, j = 0..m
};

}  // namespace

int requested_k(const Target& t, int level, double achieved) {
  const int m = t.channels[level - 1];
  double p = achieved;
  if (t.config.is_object() && t.config.contains("active") && t.config["active"].is_array() &&
      static_cast<int>(t.config["active"].size()) == t.levels) {
    p = t.config["active"][level - 1].get<double>();
  }
  return std::clamp(static_cast<int>(std::ceil(p * m - 1e-9)), 1, m);
}

Json activity_report(const Target& t, std::int64_t samples, int threads) {
  if (samples < 2) fail_field("samples", samples, "must be >= 2");
  std::vector<LevelCounts> counts(t.levels);
  for (int l = 1; l <= t.levels; ++l) {
    counts[l - 1].channel_active.assign(t.channels[l - 1], 0);
    counts[l - 1].histogram.assign(t.channels[l - 1] + 1, 0);
  }
  for (std::int64_t first = 0; first < samples; first += kChunk) {
    const std::int64_t count = std::min(kChunk, samples - first);
    SampleBatch b =
        sample(t, first, count,
               SampleOptions{.with_hidden = true, .with_outputs = false, .threads = threads});
    for (int l = 1; l <= t.levels; ++l) {
      const int m = t.channels[l - 1], hh = t.grid_at(l) * t.grid_at(l);
      LevelCounts& c = counts[l - 1];
      std::vector<int> per_patch(hh);
      for (std::int64_t n = 0; n < count; ++n) {
        const double* s = b.s[l - 1].row(n).data();
        std::fill(per_patch.begin(), per_patch.end(), 0);
        std::int64_t total = 0;
        for (int i = 0; i < m; ++i) {
          for (int p = 0; p < hh; ++p) {
            if (s[i * hh + p] > 0) {
              ++per_patch[p];
              ++c.channel_active[i];
              ++total;
            }
          }
        }
        for (int p = 0; p < hh; ++p) ++c.histogram[per_patch[p]];
        c.sample_fraction.push_back(double(total) / (double(m) * hh));
      }
    }
  }
  Json out = Json::array();
  for (int l = 1; l <= t.levels; ++l) {
    const LevelCounts& c = counts[l - 1];
    const int m = t.channels[l - 1], hh = t.grid_at(l) * t.grid_at(l);
    const double n = static_cast<double>(c.sample_fraction.size());
    double mean = 0, var = 0;
    for (double f : c.sample_fraction) mean += f;
    mean /= n;
    for (double f : c.sample_fraction) var += (f - mean) * (f - mean);
    var /= (n - 1);
    double ch_min = 1, ch_max = 0;
    for (auto a : c.channel_active) {
      const double f = double(a) / (n * hh);
      ch_min = std::min(ch_min, f);
      ch_max = std::max(ch_max, f);
    }
    const double patches = n * hh;
    Json hist = Json::array();
    for (auto h : c.histogram) hist.push_back(double(h) / patches);
    const int k = requested_k(t, l, mean);
    double at_most_k = 0, cdf = 0;
    int k99 = m;
    for (int j = 0; j <= m; ++j) {
      cdf += double(c.histogram[j]) / patches;
      if (j <= k) at_most_k = cdf;
      if (cdf >= 0.99 && k99 == m) k99 = j;
    }
    Json entry{{"level", l},
               {"channels", m},
               {"samples", static_cast<std::int64_t>(n)},
               {"achieved", mean},
               {"stderr", std::sqrt(var / n)},
               {"channel_min", ch_min},
               {"channel_max", ch_max},
               {"mean_active_per_patch", mean * m},
               {"k", k},
               {"fraction_patches_at_most_k", at_most_k},
               {"k99", k99},
               {"active_count_histogram", hist}};
    if (t.config.is_object() && t.config.contains("active") && t.config["active"].is_array() &&
        static_cast<int>(t.config["active"].size()) == t.levels) {
      entry["requested"] = t.config["active"][l - 1];
    }
    out.push_back(entry);
  }
  return out;
}

Json rho_summary(const Eigen::MatrixXd& A_in) {
  Eigen::MatrixXd A = A_in;
  for (int n = 0; n < A.rows(); ++n) {
    const double norm = A.row(n).norm();
    if (norm > 0) A.row(n) /= norm;
  }
  const std::int64_t n1 = A.rows();
  double max_abs = 0, sum_abs = 0, sum_sq = 0;
  std::int64_t pairs = 0;
  bool exact = n1 <= 2048;
  if (n1 < 2)
    return Json{{"units", n1},     {"pairs", 0}, {"max_abs", 0.0},
                {"mean_abs", 0.0}, {"rms", 0.0}, {"exact", true}};
  auto add = [&](double r) {
    max_abs = std::max(max_abs, std::abs(r));
    sum_abs += std::abs(r);
    sum_sq += r * r;
    ++pairs;
  };
  if (exact) {
    const Eigen::MatrixXd rho = A * A.transpose();
    for (std::int64_t j = 0; j < n1; ++j) {
      for (std::int64_t i = j + 1; i < n1; ++i) add(rho(i, j));
    }
  } else {
    Rng rng(0x72686f, 0);
    for (int q = 0; q < 200000; ++q) {
      const auto i = static_cast<std::int64_t>(rng.uniform_int(n1));
      auto j = static_cast<std::int64_t>(rng.uniform_int(n1 - 1));
      if (j >= i) ++j;
      add(A.row(i).dot(A.row(j)));
    }
  }
  return Json{{"units", n1},
              {"latent_dim", A.cols()},
              {"pairs", pairs},
              {"exact", exact},
              {"max_abs", max_abs},
              {"mean_abs", sum_abs / pairs},
              {"rms", std::sqrt(sum_sq / pairs)}};
}

Json locality_report(const Target& t) {
  Json out = Json::array();
  using Cell = std::pair<int, int>;
  // used[level - 2][ky][kx]: the kernel offset carries a nonzero weight at that level.
  std::vector<std::vector<std::vector<bool>>> used;
  for (int level = 2; level <= t.levels; ++level) {
    const SuperResolutionLayer& u = t.up[level - 2];
    const int k = u.kernel;
    std::vector<std::vector<bool>> uo(k, std::vector<bool>(k, false));
    for (int i = 0; i < u.in_channels; ++i) {
      for (int j = 0; j < u.out_channels; ++j) {
        for (int ky = 0; ky < k; ++ky) {
          for (int kx = 0; kx < k; ++kx) uo[ky][kx] = uo[ky][kx] || u.w(i, j, ky, kx) != 0.0;
        }
      }
    }
    used.push_back(std::move(uo));
  }
  for (int l = 2; l <= t.levels; ++l) {
    const int k = t.up[l - 2].kernel;
    auto parents_of = [&](int level, Cell child) {
      // Level `level` child -> parents in level - 1 (weights of t.up[level - 2]).
      const SuperResolutionLayer& v = t.up[level - 2];
      const int hp = t.grid_at(level - 1), kk = v.kernel, pp = v.padding();
      std::set<Cell> ps;
      for (int iy = 0; iy < hp; ++iy) {
        const int ky = child.first - 2 * iy + pp;
        if (ky < 0 || ky >= kk) continue;
        for (int ix = 0; ix < hp; ++ix) {
          const int kx = child.second - 2 * ix + pp;
          if (kx < 0 || kx >= kk) continue;
          if (used[level - 2][ky][kx]) ps.insert({iy, ix});
        }
      }
      return ps;
    };
    const int H = t.grid_at(l);
    std::size_t max_parents = 0;
    double mean_parents = 0;
    for (int y = 0; y < H; ++y) {
      for (int x = 0; x < H; ++x) {
        const auto ps = parents_of(l, {y, x});
        max_parents = std::max(max_parents, ps.size());
        mean_parents += ps.size();
      }
    }
    mean_parents /= double(H) * H;
    // Receptive field in level 1 of every patch of level l: the largest box and patch count.
    int box_y = 0, box_x = 0;
    std::size_t field_max = 0;
    const int stride = H > 64 ? H / 64 : 1;  // coarse scan on very large grids
    for (int py = 0; py < H; py += stride) {
      for (int px = 0; px < H; px += stride) {
        std::set<Cell> field{{py, px}};
        for (int level = l; level >= 2; --level) {
          std::set<Cell> next;
          for (const Cell& c : field) {
            for (const Cell& p : parents_of(level, c)) next.insert(p);
          }
          field = std::move(next);
        }
        int y0 = INT32_MAX, y1 = -1, x0 = INT32_MAX, x1 = -1;
        for (const Cell& c : field) {
          y0 = std::min(y0, c.first), y1 = std::max(y1, c.first);
          x0 = std::min(x0, c.second), x1 = std::max(x1, c.second);
        }
        field_max = std::max(field_max, field.size());
        box_y = std::max(box_y, y1 - y0 + 1);
        box_x = std::max(box_x, x1 - x0 + 1);
      }
    }
    out.push_back(Json{{"level", l},
                       {"kernel", k},
                       {"parents_per_patch_max", max_parents},
                       {"parents_per_patch_mean", mean_parents},
                       {"level1_receptive_field_patches_max", field_max},
                       {"level1_receptive_field_box_max", {box_y, box_x}},
                       {"level1_grid", t.grid}});
  }
  return out;
}

Json property_report(const Target& t, std::int64_t samples, int threads) {
  validate_target(t);
  Json coh = Json::array();
  for (int l = 1; l <= t.levels; ++l) {
    const Eigen::VectorXd norms = t.M[l - 1].colwise().norm();
    coh.push_back(Json{{"level", l},
                       {"coherence", coherence(t.M[l - 1])},
                       {"welch_bound", welch_bound(t.patch_dim(), t.channels[l - 1])},
                       {"column_norm_min", norms.minCoeff()},
                       {"column_norm_max", norms.maxCoeff()}});
  }
  // Forward super-resolution and sparse-coding checks, down-scale closeness.
  std::vector<double> fsr_dev(t.levels, 0.0), fsr_scale(t.levels, 0.0);
  std::vector<double> out_sq(t.levels, 0.0), out_norm(t.levels, 0.0);
  std::vector<double> down_err(t.levels, 0.0), down_dot(t.levels, 0.0), down_nd(t.levels, 0.0),
      down_nx(t.levels, 0.0);
  for (std::int64_t first = 0; first < samples; first += kChunk) {
    const std::int64_t count = std::min(kChunk, samples - first);
    SampleBatch b = sample(t, first, count, SampleOptions{.with_hidden = true, .threads = threads});
    for (int l = 1; l <= t.levels; ++l) {
      if (l >= 2) {
        const RowMatrix s = super_resolve(t.up[l - 2], b.s[l - 2], t.grid_at(l - 1));
        fsr_dev[l - 1] = std::max(fsr_dev[l - 1], (s - b.s[l - 1]).cwiseAbs().maxCoeff());
        fsr_scale[l - 1] = std::max(fsr_scale[l - 1], b.s[l - 1].cwiseAbs().maxCoeff());
      }
      const RowMatrix x = render(t.M[l - 1], b.s[l - 1], t.grid_at(l), t.patch, t.colors);
      out_sq[l - 1] += (x - b.x[l - 1]).squaredNorm();
      out_norm[l - 1] += b.x[l - 1].squaredNorm();
      if (l < t.levels) {
        const int s = t.side_at(l), S = 2 * s;
        const RowMatrix& fine = b.x[l];
        const RowMatrix& coarse = b.x[l - 1];
        for (std::int64_t n = 0; n < count; ++n) {
          for (int c = 0; c < t.colors; ++c) {
            for (int y = 0; y < s; ++y) {
              for (int x = 0; x < s; ++x) {
                const double* f = fine.row(n).data() + std::int64_t{c} * S * S;
                const double down =
                    0.25 * (f[(2 * y) * S + 2 * x] + f[(2 * y) * S + 2 * x + 1] +
                            f[(2 * y + 1) * S + 2 * x] + f[(2 * y + 1) * S + 2 * x + 1]);
                const double v = coarse(n, (std::int64_t{c} * s + y) * s + x);
                down_err[l - 1] += (down - v) * (down - v);
                down_dot[l - 1] += down * v;
                down_nd[l - 1] += down * down;
                down_nx[l - 1] += v * v;
              }
            }
          }
        }
      }
    }
  }
  Json fsr_json = Json::array(), down_json = Json::array();
  for (int l = 1; l <= t.levels; ++l) {
    Json e{{"level", l},
           {"output_residual_rms_over_rms",
            out_norm[l - 1] > 0 ? std::sqrt(out_sq[l - 1] / out_norm[l - 1]) : 0.0},
           {"noise", t.noise}};
    if (l >= 2) {
      e["hidden_max_abs_deviation"] = fsr_dev[l - 1];
      e["hidden_max_abs"] = fsr_scale[l - 1];
    }
    fsr_json.push_back(e);
    if (l < t.levels) {
      down_json.push_back(
          Json{{"coarse_level", l},
               {"fine_level", l + 1},
               {"relative_error",
                down_nx[l - 1] > 0 ? std::sqrt(down_err[l - 1] / down_nx[l - 1]) : 0.0},
               {"cosine", down_nd[l - 1] > 0 && down_nx[l - 1] > 0
                              ? down_dot[l - 1] / std::sqrt(down_nd[l - 1] * down_nx[l - 1])
                              : 0.0}});
    }
  }
  return Json{
      {"architecture", architecture_json(t)},
      {"samples", samples},
      {"activity", activity_report(t, samples, threads)},
      {"coherence", coh},
      {"rho", rho_summary(t.A)},
      {"locality", locality_report(t)},
      {"forward_super_resolution", fsr_json},
      {"downscale", down_json},
      {"notes",
       {{"forward_super_resolution",
         "S_l recomputed from S_{l-1} by the local map (max abs deviation: rounding only) "
         "and X_l from M_l S_l (residual: rounding, or the output noise)"},
        {"downscale", "avg-pool 2x2 of X_{l+1} against X_l: a diagnostic, not a requirement"}}}};
}

}  // namespace fsr

#include "experiments/image_structure.h"

#include <Eigen/Eigenvalues>
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "core/image_io.h"
#include "core/json_read.h"
#include "core/npy.h"
#include "core/rng.h"
#include "core/validate.h"
#include "synth/config.h"
#include "synth/image_pyramid.h"
#include "synth/sample.h"
#include "synth/target.h"
#include "theory/match_columns.h"
#include "theory/sparse_coding.h"

namespace fsr {
namespace fs = std::filesystem;

namespace {

const std::vector<std::string> kKeys = {"sources",       "images",
                                        "image_scale",   "samples",
                                        "patches",       "atoms",
                                        "iterations",    "learn_max_atoms",
                                        "tolerance",     "tolerances",
                                        "center",        "whiten",
                                        "whiten_floor",  "locality_sizes",
                                        "locality_rows", "locality_max_features",
                                        "ridges",        "save_dictionaries"};
const std::vector<std::string> kSources = {"images", "target"};

constexpr std::uint64_t kTagLearn = 0x6c6561726e00ULL;
constexpr std::uint64_t kTagNoise = 0x6e6f69736500ULL;
constexpr std::uint64_t kTagNoiseEval = 0x6e6f69736565ULL;
constexpr std::uint64_t kTagRows = 0x726f777300ULL;
constexpr std::uint64_t kTagImages = 0x696d6700ULL;
constexpr std::uint64_t kTagTarget = 0x74677400ULL;

Json double_list(const Json& c, const std::string& key, const std::string& field,
                 const std::vector<double>& fallback, double lo, double hi) {
  if (!c.contains(key)) return fallback;
  const Json& v = c[key];
  if (!v.is_array() || v.empty())
    fail_field(field + "." + key, v.dump(), "must be a non-empty list");
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (!v[i].is_number()) fail_field(field + "." + key, v.dump(), "must hold numbers");
    require_in_range(field + "." + key + "[" + std::to_string(i) + "]", v[i].get<double>(), lo, hi);
  }
  return v;
}

// ---- Patches ----------------------------------------------------------------------------------

// Patches of samples [first, first + count) of one level, every grid position: row
// (n - first) h^2 + y h + x, entry colour r^2 + dy r + dx (the order of M_l's rows).
Eigen::MatrixXd level_patches(const RowMatrix& x, std::int64_t first, std::int64_t count, int h,
                              int r, int c) {
  const int side = h * r, d = r * r * c;
  Eigen::MatrixXd p(count * h * h, d);
  for (std::int64_t n = 0; n < count; ++n) {
    const double* img = x.row(first + n).data();
    for (int y = 0; y < h; ++y)
      for (int xx = 0; xx < h; ++xx) {
        const std::int64_t row = n * h * h + y * h + xx;
        for (int ch = 0; ch < c; ++ch)
          for (int dy = 0; dy < r; ++dy)
            for (int dx = 0; dx < r; ++dx)
              p(row, (ch * r + dy) * r + dx) =
                  img[(std::size_t(ch) * side + r * y + dy) * side + r * xx + dx];
      }
  }
  return p;
}

// `count` distinct rows of [0, n) (all of them when count >= n), sorted; seeded.
std::vector<Eigen::Index> pick_rows(Eigen::Index n, Eigen::Index count, std::uint64_t seed) {
  std::vector<Eigen::Index> rows(n);
  std::iota(rows.begin(), rows.end(), Eigen::Index{0});
  if (count >= n) return rows;
  Rng rng(seed, 0);
  for (Eigen::Index k = 0; k < count; ++k)
    std::swap(rows[k], rows[k + static_cast<Eigen::Index>(rng.uniform_int(n - k))]);
  rows.resize(count);
  std::sort(rows.begin(), rows.end());
  return rows;
}

Eigen::MatrixXd take_rows(const Eigen::MatrixXd& m, const std::vector<Eigen::Index>& rows) {
  Eigen::MatrixXd out(static_cast<Eigen::Index>(rows.size()), m.cols());
  for (std::size_t i = 0; i < rows.size(); ++i) out.row(i) = m.row(rows[i]);
  return out;
}

double rms_norm(const Eigen::MatrixXd& p) {
  return std::sqrt(p.squaredNorm() / double(std::max<Eigen::Index>(1, p.rows())));
}

Json histogram_json(const Eigen::VectorXi& counts, int max_count) {
  std::vector<double> h(max_count + 1, 0.0);
  for (Eigen::Index i = 0; i < counts.size(); ++i) h[std::min(counts(i), max_count)] += 1.0;
  for (double& v : h) v /= double(std::max<Eigen::Index>(1, counts.size()));
  return h;
}

// Sparsity of `eval` over `dictionary` at each tolerance (absolute): histogram at the main one.
Json sparsity_json(const Eigen::MatrixXd& dictionary, const Eigen::MatrixXd& eval, double tol_abs,
                   const std::vector<double>& tolerances, double rms, int threads) {
  const int cap = static_cast<int>(std::min(dictionary.rows(), dictionary.cols()));
  const SparseCodes c = omp(dictionary, eval, {.tolerance = tol_abs, .threads = threads});
  Json curve = Json::array();
  for (double t : tolerances) {
    const SparseCodes ct = omp(dictionary, eval, {.tolerance = t * rms, .threads = threads});
    curve.push_back({{"tolerance", t}, {"mean_atoms", ct.counts.cast<double>().mean()}});
  }
  double rel = 0;
  for (Eigen::Index i = 0; i < eval.rows(); ++i) rel += c.residuals(i) * c.residuals(i);
  return Json{
      {"mean_atoms", c.counts.cast<double>().mean()},
      {"histogram", histogram_json(c.counts, cap)},
      {"fraction_at_cap", double((c.counts.array() >= cap).count()) / double(c.counts.size())},
      {"relative_residual", std::sqrt(rel / std::max(1e-300, eval.squaredNorm()))},
      {"curve", curve}};
}

Json coherence_json(const Eigen::MatrixXd& d) {
  const CoherenceStats s = coherence_stats(d);
  return Json{{"max", s.max}, {"mean_max", s.mean_max}};
}

// ---- Locality ---------------------------------------------------------------------------------

// Child codes (samples h^2 rows, mc) predicted by ridge regression from the parent codes
// (samples (h/2)^2 rows, mp) in an n x n block of parents — for even n on the child's side
// (n = 2 is kernel 4's block), for odd n centred on the parent (n = 1 is kernel 2's parent) —
// with separate weights per child parity (y mod 2, x mod 2), as a stride-2 transposed
// convolution has. Parents outside the grid read 0. The ridge (relative to the mean diagonal of
// the normal equations) is picked from `ridges` on a validation fifth of the training samples,
// so a large neighbourhood is not charged for overfitting. Returns the fraction of variance of
// the held-out child codes left unexplained (FVU), summed over the four parities.
struct LocalityFit {
  double fvu = 0.0;
  std::int64_t features = 0, train_rows = 0, eval_rows = 0;
  std::vector<double> ridges;  // the ridge chosen per parity (relative to the mean diagonal)
};

LocalityFit fit_locality(const Eigen::MatrixXd& parent_train, const Eigen::MatrixXd& child_train,
                         const Eigen::MatrixXd& parent_eval, const Eigen::MatrixXd& child_eval,
                         int h, int n, const std::vector<double>& ridges, std::int64_t max_rows) {
  const int hp = h / 2, mp = static_cast<int>(parent_train.cols());
  const int mc = static_cast<int>(child_train.cols());
  const int f = n * n * mp;  // + intercept at index f
  LocalityFit out;
  out.features = f;
  // Sparse feature rows of child (sample, y, x).
  auto features = [&](const Eigen::MatrixXd& parent, std::int64_t sample, int y, int x,
                      std::vector<std::pair<int, double>>& row) {
    row.clear();
    const int py = y / 2, px = x / 2, sy = y % 2, sx = x % 2;
    const int y0 = py - n / 2 + (n % 2 == 0 ? sy : 0), x0 = px - n / 2 + (n % 2 == 0 ? sx : 0);
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j) {
        const int yy = y0 + i, xx = x0 + j;
        if (yy < 0 || yy >= hp || xx < 0 || xx >= hp) continue;
        const auto prow = parent.row(sample * hp * hp + yy * hp + xx);
        for (int ch = 0; ch < mp; ++ch)
          if (prow(ch) != 0) row.emplace_back((i * n + j) * mp + ch, prow(ch));
      }
    row.emplace_back(f, 1.0);
  };
  const std::int64_t n_train = parent_train.rows() / (hp * hp);
  const std::int64_t n_eval = parent_eval.rows() / (hp * hp);
  const std::int64_t per_sample = std::int64_t{hp} * hp;  // children of one parity per sample
  const std::int64_t use_train =
      std::min(n_train, std::max<std::int64_t>(1, max_rows / per_sample));
  const std::int64_t use_eval = std::min(n_eval, std::max<std::int64_t>(1, max_rows / per_sample));
  double sse = 0, sst = 0;
  std::vector<std::pair<int, double>> row;
  for (int sy = 0; sy < 2; ++sy)
    for (int sx = 0; sx < 2; ++sx) {
      // Normal equations of the fitting rows (the first 80 % of the training samples used) and
      // of all of them; the ridge is chosen on the remaining 20 % (validation), then the fit
      // is redone on every training row with it.
      const std::int64_t fit_samples = std::max<std::int64_t>(1, (4 * use_train) / 5);
      Eigen::MatrixXd g_fit = Eigen::MatrixXd::Zero(f + 1, f + 1), g_all = g_fit;
      Eigen::MatrixXd xty_fit = Eigen::MatrixXd::Zero(f + 1, mc), xty_all = xty_fit;
      auto accumulate = [&](Eigen::MatrixXd& g, Eigen::MatrixXd& xty, std::int64_t s0,
                            std::int64_t s1) {
        for (std::int64_t s = s0; s < s1; ++s)
          for (int y = sy; y < h; y += 2)
            for (int x = sx; x < h; x += 2) {
              features(parent_train, s, y, x, row);
              const auto child = child_train.row(s * h * h + y * h + x);
              for (std::size_t a = 0; a < row.size(); ++a) {
                const auto [ia, va] = row[a];
                for (std::size_t b = a; b < row.size(); ++b)
                  g(ia, row[b].first) += va * row[b].second;
                xty.row(ia) += va * child;
              }
            }
        // Indices rise within a row, so only g(a, b) with a <= b was filled.
        g.triangularView<Eigen::StrictlyLower>() = g.transpose();
      };
      accumulate(g_fit, xty_fit, 0, fit_samples);
      accumulate(g_all, xty_all, 0, use_train);
      out.train_rows += use_train * per_sample;
      auto solve = [&](const Eigen::MatrixXd& g0, const Eigen::MatrixXd& xty, double rel) {
        Eigen::MatrixXd g = g0;
        g.diagonal().head(f).array() += rel * std::max(1e-300, g0.diagonal().head(f).mean());
        return Eigen::MatrixXd(g.ldlt().solve(xty));
      };
      auto sse_of = [&](const Eigen::MatrixXd& w, const Eigen::MatrixXd& parent,
                        const Eigen::MatrixXd& child_codes, std::int64_t s0, std::int64_t s1) {
        double e = 0;
        for (std::int64_t s = s0; s < s1; ++s)
          for (int y = sy; y < h; y += 2)
            for (int x = sx; x < h; x += 2) {
              features(parent, s, y, x, row);
              Eigen::RowVectorXd pred = Eigen::RowVectorXd::Zero(mc);
              for (const auto& [i, v] : row) pred += v * w.row(i);
              e += (pred - child_codes.row(s * h * h + y * h + x)).squaredNorm();
            }
        return e;
      };
      double best_ridge = ridges.front(), best = std::numeric_limits<double>::infinity();
      if (fit_samples < use_train)
        for (double rel : ridges) {
          const double e =
              sse_of(solve(g_fit, xty_fit, rel), parent_train, child_train, fit_samples, use_train);
          if (e < best) best = e, best_ridge = rel;
        }
      out.ridges.push_back(best_ridge);
      const Eigen::MatrixXd w = solve(g_all, xty_all, best_ridge);  // (f + 1, mc)
      // Held-out FVU: residual energy over the energy around the held-out mean, per parity.
      Eigen::RowVectorXd mean = Eigen::RowVectorXd::Zero(mc);
      std::int64_t count = 0;
      for (std::int64_t s = 0; s < use_eval; ++s)
        for (int y = sy; y < h; y += 2)
          for (int x = sx; x < h; x += 2) mean += child_eval.row(s * h * h + y * h + x), ++count;
      mean /= double(std::max<std::int64_t>(1, count));
      for (std::int64_t s = 0; s < use_eval; ++s)
        for (int y = sy; y < h; y += 2)
          for (int x = sx; x < h; x += 2) {
            features(parent_eval, s, y, x, row);
            Eigen::RowVectorXd pred = Eigen::RowVectorXd::Zero(mc);
            for (const auto& [i, v] : row) pred += v * w.row(i);
            const auto child = child_eval.row(s * h * h + y * h + x);
            sse += (pred - child).squaredNorm();
            sst += (child - mean).squaredNorm();
            ++out.eval_rows;
          }
    }
  out.fvu = sst > 0 ? sse / sst : 0.0;
  return out;
}

// ---- One source -------------------------------------------------------------------------------

struct SourceData {
  std::vector<RowMatrix> x;            // X_l, samples x (c side^2)
  std::vector<RowMatrix> hidden;       // S_l of a planted target (empty for images)
  std::vector<Eigen::MatrixXd> truth;  // M_l of a planted target
};

Json analyse_source(const std::string& name, const SourceData& data, const PyramidGeometry& g,
                    const Json& c, std::uint64_t seed, const JobContext& ctx) {
  const std::int64_t n = data.x[0].rows(), train = n / 2, eval = n - train;
  const int r = g.patch, colors = g.colors, d = r * r * colors;
  const int atoms = c["atoms"].get<int>() > 0 ? c["atoms"].get<int>() : 2 * d;
  const std::int64_t max_patches = c["patches"].get<std::int64_t>();
  const double tol = c["tolerance"].get<double>();
  const std::vector<double> tols = c["tolerances"].get<std::vector<double>>();
  const bool centre = c["center"].get<std::string>() == "patch_mean";
  const std::vector<double> ridges = c["ridges"].get<std::vector<double>>();
  const std::int64_t loc_rows = c["locality_rows"].get<std::int64_t>();
  const std::int64_t max_features = c["locality_max_features"].get<std::int64_t>();
  std::vector<int> sizes = c["locality_sizes"].get<std::vector<int>>();
  // The learning budget (theory/sparse_coding.h: without one MOD has nothing to improve);
  // default a quarter of the patch dimension, the same for every source and its control.
  const int learn_cap = c["learn_max_atoms"].get<int>() > 0 ? c["learn_max_atoms"].get<int>()
                                                            : std::max(1, (d + 3) / 4);

  Json levels = Json::array();
  Eigen::MatrixXd prev_train_codes, prev_eval_codes;
  for (int l = 1; l <= g.levels; ++l) {
    const int h = g.grid << (l - 1);
    Eigen::MatrixXd tr = level_patches(data.x[l - 1], 0, train, h, r, colors);
    Eigen::MatrixXd ev = level_patches(data.x[l - 1], train, eval, h, r, colors);
    const double raw_energy = tr.squaredNorm();
    const double centred_energy_fraction = [&] {
      if (!centre) return 1.0;
      // The patch mean is one "flat" direction every patch has; without removing it, a single
      // atom would absorb most of the energy of real images and the question would be moot.
      tr.colwise() -= tr.rowwise().mean();
      ev.colwise() -= ev.rowwise().mean();
      return tr.squaredNorm() / std::max(1e-300, raw_energy);
    }();
    const std::uint64_t lseed = mix64(seed ^ (std::uint64_t(l) << 40));
    const std::vector<Eigen::Index> learn_rows =
        pick_rows(tr.rows(), max_patches, mix64(lseed ^ kTagRows));
    double floor_eigen = 0.0;
    Eigen::MatrixXd whitening = Eigen::MatrixXd::Identity(d, d);
    if (c["whiten"].get<bool>()) {
      // Whitening by the patches' second-moment matrix (not centred, so a zero patch stays
      // zero and a k-sparse code over M stays k-sparse over W M): x -> W x with
      // W = V (Lambda + floor mean(Lambda))^-1/2 V^T. After it every Gaussian control is
      // isotropic, so what is left to make the data sparse is structure beyond second moments.
      const Eigen::MatrixXd sub = take_rows(tr, learn_rows);
      const Eigen::MatrixXd second =
          sub.transpose() * sub / double(std::max<Eigen::Index>(1, sub.rows()));
      const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(second);
      floor_eigen = c["whiten_floor"].get<double>() * eig.eigenvalues().mean();
      const Eigen::MatrixXd w =
          eig.eigenvectors() *
          (eig.eigenvalues().array().max(0.0) + floor_eigen).rsqrt().matrix().asDiagonal() *
          eig.eigenvectors().transpose();
      whitening = w;
      tr = tr * w;  // w is symmetric: rows x -> (W x)^T
      ev = ev * w;
    }
    const Eigen::MatrixXd learn = take_rows(tr, learn_rows);
    const Eigen::MatrixXd test =
        take_rows(ev, pick_rows(ev.rows(), max_patches, mix64(lseed ^ kTagRows ^ 1)));
    const double rms = rms_norm(learn);
    const double tol_abs = tol * rms;
    const DictionaryOptions dopt{.atoms = atoms,
                                 .iterations = c["iterations"].get<int>(),
                                 .tolerance = tol_abs,
                                 .max_atoms = learn_cap,
                                 .seed = mix64(lseed ^ kTagLearn),
                                 .threads = ctx.threads};
    const DictionaryFit fit = learn_dictionary(learn, dopt);
    Json level{{"level", l},
               {"grid", h},
               {"patch_dim", d},
               {"atoms", atoms},
               {"learn_max_atoms", learn_cap},
               {"learn_patches", learn.rows()},
               {"eval_patches", test.rows()},
               {"rms_norm", rms},
               {"tolerance_abs", tol_abs},
               {"whitened", c["whiten"].get<bool>()},
               {"energy_removed_by_centering", 1.0 - centred_energy_fraction}};
    level["data"] = sparsity_json(fit.dictionary, test, tol_abs, tols, rms, ctx.threads);
    level["data"]["coherence"] = coherence_json(fit.dictionary);
    level["data"]["history"] = {{"mean_atoms", fit.mean_atoms},
                                {"rms_residual", fit.rms_residual},
                                {"replaced", fit.replaced}};
    // The control: Gaussian with the learning patches' mean and covariance, its own dictionary
    // learned the same way, coded at the same absolute error.
    const Eigen::MatrixXd noise_learn =
        gaussian_like(learn, learn.rows(), mix64(lseed ^ kTagNoise));
    const Eigen::MatrixXd noise_test =
        gaussian_like(learn, test.rows(), mix64(lseed ^ kTagNoiseEval));
    DictionaryOptions nopt = dopt;
    nopt.seed = mix64(dopt.seed ^ kTagNoise);
    const DictionaryFit nfit = learn_dictionary(noise_learn, nopt);
    level["noise"] = sparsity_json(nfit.dictionary, noise_test, tol_abs, tols, rms, ctx.threads);
    level["noise"]["coherence"] = coherence_json(nfit.dictionary);

    if (c["save_dictionaries"].get<bool>()) {
      const std::string stem = name + "_" + std::to_string(l) + ".npy";
      write_npy(ctx.dir / ("D_" + stem), fit.dictionary);
      write_npy(ctx.dir / ("D_noise_" + stem), nfit.dictionary);
      write_npy(ctx.dir / ("whitening_" + stem), whitening);
      level["whitening_file"] = "whitening_" + stem;
      level["dictionary_file"] = "D_" + stem;
      level["noise_dictionary_file"] = "D_noise_" + stem;
    }

    if (!data.hidden.empty()) {
      // Planted: the configured sparsity (true active channels per patch, held-out samples),
      // the codes over the true (centred) M_l at the same error, and learned vs true atoms.
      const RowMatrix& s = data.hidden[l - 1];
      const int m = static_cast<int>(data.truth[l - 1].cols());
      Eigen::VectorXi active(eval * h * h);
      for (std::int64_t a = 0; a < eval; ++a)
        for (int p = 0; p < h * h; ++p) {
          int k = 0;
          for (int j = 0; j < m; ++j) k += s(train + a, std::int64_t{j} * h * h + p) > 0;
          active(a * h * h + p) = k;
        }
      Eigen::MatrixXd truth = data.truth[l - 1];
      if (centre) truth.rowwise() -= truth.colwise().mean();
      truth = whitening * truth;
      Json planted{{"channels", m},
                   {"mean_active", active.cast<double>().mean()},
                   {"active_histogram", histogram_json(active, m)}};
      planted["oracle"] = sparsity_json(truth, test, tol_abs, tols, rms, ctx.threads);
      if (atoms >= m) {
        const ColumnMatch match = match_columns(truth, fit.dictionary, 0.99);
        planted["match"] = {{"mean_cosine", match.mean_cosine},
                            {"min_cosine", match.min_cosine},
                            {"fraction_above_0.99", match.fraction_above}};
      }
      planted["coherence"] = coherence_json(data.truth[l - 1]);
      level["planted"] = planted;
    }

    // Locality: codes of every position of both halves over the learned dictionary.
    const Eigen::MatrixXd train_codes =
        omp(fit.dictionary, tr, {.tolerance = tol_abs, .threads = ctx.threads}).codes;
    const Eigen::MatrixXd eval_codes =
        omp(fit.dictionary, ev, {.tolerance = tol_abs, .threads = ctx.threads}).codes;
    if (l >= 2) {
      const int hp = h / 2, whole = 2 * hp - 1;
      std::vector<int> ns;
      for (int s : sizes)
        if (s < whole) ns.push_back(s);
      ns.push_back(whole);
      Json curve = Json::array();
      for (int s : ns) {
        Json point{{"size", s}, {"whole", s == whole}, {"features", std::int64_t{s} * s * atoms}};
        if (std::int64_t{s} * s * atoms > max_features) {
          point["fvu"] = nullptr;
          point["skipped"] = "features above locality_max_features";
        } else {
          const LocalityFit lf = fit_locality(prev_train_codes, train_codes, prev_eval_codes,
                                              eval_codes, h, s, ridges, loc_rows);
          point["fvu"] = lf.fvu;
          point["train_rows"] = lf.train_rows;
          point["eval_rows"] = lf.eval_rows;
          point["ridges"] = lf.ridges;
        }
        curve.push_back(point);
      }
      level["locality"] = curve;
    }
    prev_train_codes = train_codes;
    prev_eval_codes = eval_codes;
    levels.push_back(level);
  }
  return Json{{"samples", n}, {"train_samples", train}, {"eval_samples", eval}, {"levels", levels}};
}

}  // namespace

Json normalize_image_structure(const Json& c, const std::string& field, const fs::path& base_dir) {
  require_known_keys(c, field, kKeys);
  Json sources = c.value("sources", Json(kSources));
  if (!sources.is_array() || sources.empty())
    fail_field(field + ".sources", sources.dump(), "must be a non-empty list of images, target");
  for (const Json& s : sources)
    if (!s.is_string() ||
        std::find(kSources.begin(), kSources.end(), s.get<std::string>()) == kSources.end())
      fail_field(field + ".sources", sources.dump(), "must hold only images, target");
  Json images = Json::array();
  const bool want_images =
      std::find(sources.begin(), sources.end(), Json("images")) != sources.end();
  if (want_images) {
    if (!c.contains("images") || !c["images"].is_array() || c["images"].empty())
      fail_field(field + ".images", c.contains("images") ? c["images"].dump() : "(missing)",
                 "must be a non-empty list of image files or folders");
    for (std::size_t i = 0; i < c["images"].size(); ++i) {
      const std::string f = field + ".images[" + std::to_string(i) + "]";
      if (!c["images"][i].is_string()) fail_field(f, c["images"][i].dump(), "must be a path");
      fs::path p = c["images"][i].get<std::string>();
      if (p.is_relative() && !base_dir.empty()) p = fs::absolute(base_dir / p);
      if (!fs::exists(p))
        fail_field(f, p.string(),
                   "does not exist (the shipped suites read photographs installed by Debian's "
                   "python3-skimage and python3-matplotlib: run scripts/setup.sh)");
      images.push_back(p.lexically_normal().string());
    }
  }
  const double tolerance = read_number(c, "tolerance", field, 0.3);
  require_in_range(field + ".tolerance", tolerance, 0.0, 1.0);
  const double whiten_floor = read_number(c, "whiten_floor", field, 0.01);
  require_in_range(field + ".whiten_floor", whiten_floor, 0.0, 1.0, false, true);
  Json sizes = c.value("locality_sizes", Json{1, 2, 3, 4, 5});
  if (!sizes.is_array() || sizes.empty())
    fail_field(field + ".locality_sizes", sizes.dump(), "must be a non-empty list of integers");
  for (const Json& s : sizes)
    if (!s.is_number_integer() || s.get<int>() < 1 || s.get<int>() > 64)
      fail_field(field + ".locality_sizes", sizes.dump(), "must hold integers in [1, 64]");
  return Json{
      {"sources", sources},
      {"images", images},
      {"image_scale", read_int(c, "image_scale", field, 1, 1, 64)},
      {"samples", read_int(c, "samples", field, 1000, 4, std::int64_t{1} << 24)},
      {"patches", read_int(c, "patches", field, 20000, 16, std::int64_t{1} << 26)},
      {"atoms", read_int(c, "atoms", field, 0, 0, 4096)},
      {"iterations", read_int(c, "iterations", field, 30, 0, 10000)},
      {"learn_max_atoms", read_int(c, "learn_max_atoms", field, 0, 0, 4096)},
      {"tolerance", tolerance},
      {"tolerances", double_list(c, "tolerances", field, {0.1, 0.2, 0.3, 0.5}, 0.0, 1.0)},
      {"center", read_choice(c, "center", field, "patch_mean", {"patch_mean", "none"})},
      {"whiten", read_bool(c, "whiten", field, true)},
      {"whiten_floor", whiten_floor},
      {"locality_sizes", sizes},
      {"locality_rows", read_int(c, "locality_rows", field, 20000, 16, std::int64_t{1} << 26)},
      {"locality_max_features",
       read_int(c, "locality_max_features", field, 6000, 1, std::int64_t{1} << 20)},
      {"ridges", double_list(c, "ridges", field, {1e-3, 1e-2, 1e-1, 1.0, 10.0}, 0.0, 1e6)},
      {"save_dictionaries", read_bool(c, "save_dictionaries", field, true)}};
}

Json image_structure(const JobSpec& spec, const JobContext& ctx) {
  const Stopwatch clock;
  const Json& c = spec.config;
  Json target_json = spec.target;
  target_json["seed"] = spec.seed;
  const TargetConfig tc = parse_target_config(target_json);
  const PyramidGeometry g{
      .levels = tc.levels, .grid = tc.grid, .patch = tc.patch, .colors = tc.colors};
  const std::int64_t n = c["samples"].get<std::int64_t>();
  fs::create_directories(ctx.dir);
  Json sources = Json::object();
  for (const Json& s : c["sources"]) {
    const std::string name = s.get<std::string>();
    SourceData data;
    Json about;
    if (name == "images") {
      std::vector<fs::path> files;
      for (const Json& p : c["images"]) {
        const auto found = find_images(p.get<std::string>(), "images");
        files.insert(files.end(), found.begin(), found.end());
      }
      const ImagePyramid pyr = build_image_pyramid(g, {.images = files,
                                                       .samples = n,
                                                       .image_scale = c["image_scale"].get<int>(),
                                                       .seed = spec.seed});
      data.x = pyr.x;
      about = {{"images", pyr.images}, {"image_scale", pyr.image_scale}};
    } else {
      const Target t = build_target(tc);
      const SampleBatch b =
          sample(t, 0, n, SampleOptions{.with_hidden = true, .threads = ctx.threads});
      data.x = b.x;
      data.hidden = b.s;
      data.truth = t.M;
      about = {{"target_seed", spec.seed}, {"channels", tc.channels}, {"active", tc.active}};
    }
    const std::uint64_t tag = name == "images" ? kTagImages : kTagTarget;
    Json result = analyse_source(name, data, g, c, mix64(spec.seed ^ tag), ctx);
    result["about"] = about;
    sources[name] = result;
  }
  Json payload{{"status", "ok"},
               {"geometry",
                {{"levels", g.levels}, {"grid", g.grid}, {"patch", g.patch}, {"colors", g.colors}}},
               {"target_name", spec.target_name},
               {"config", c},
               {"sources", sources},
               {"seconds", clock.seconds()}};
  write_json_atomic(ctx.dir / "structure.json",
                    make_document("image-structure", payload,
                                  RunInfo{.seed = spec.seed, .threads = ctx.threads, .config = c}));
  return payload;
}

JobKind image_structure_job_kind() {
  return JobKind{.name = "image_structure",
                 .description =
                     "per-level sparse coding (learned dictionary, sparsity at a fixed "
                     "error, coherence, Gaussian control) and locality of "
                     "super-resolution, on real image pyramids and planted targets",
                 .normalize = normalize_image_structure,
                 .run = image_structure};
}

}  // namespace fsr

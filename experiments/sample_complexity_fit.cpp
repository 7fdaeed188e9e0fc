// The fits of sample_complexity.h: error-vs-N slopes with seed-bootstrap intervals, N*(d, eps)
// polynomial against exponential with the reference bounds, and the verdict per job.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>

#include "core/json_read.h"
#include "core/rng.h"
#include "core/validate.h"
#include "experiments/sample_complexity.h"
#include "experiments/sample_complexity_detail.h"

namespace fsr {

namespace sample_complexity_detail {

Json interval_json(const Interval& i) {
  return Json::array({finite_or_null(i.lo), finite_or_null(i.hi)});
}

double quantile(std::vector<double> v, double q) {
  if (v.empty()) return kNaN;
  std::sort(v.begin(), v.end());
  const double h = q * double(v.size() - 1);
  const std::size_t lo = static_cast<std::size_t>(std::floor(h));
  const std::size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (h - double(lo)) * (v[hi] - v[lo]);
}


}  // namespace sample_complexity_detail

namespace {

using sample_complexity_detail::interval_json;
using sample_complexity_detail::kNaN;
using sample_complexity_detail::quantile;

bool inside(const Interval& i, double v) {
  return std::isfinite(i.lo) && std::isfinite(i.hi) && i.lo <= v && v <= i.hi;
}

// ---- Fits ---------------------------------------------------------------------------------------

Json bound_fit_json(const BoundFit& f) {
  Json notes = f.notes;
  return Json{{"model", f.model},
              {"d_coefficient", finite_or_null(f.d_coefficient)},
              {"eps_exponent", finite_or_null(f.eps_exponent)},
              {"log_constant", finite_or_null(f.log_constant)},
              {"d_coefficient_interval", interval_json(f.d_coefficient_interval)},
              {"eps_exponent_interval", interval_json(f.eps_exponent_interval)},
              {"log_constant_interval", interval_json(f.log_constant_interval)},
              {"level", f.level},
              {"bootstrap_used", f.bootstrap_used},
              {"bootstrap_rejected", f.bootstrap_rejected},
              {"n_points", f.n_points},
              {"n_parameters", f.n_parameters},
              {"rss", f.rss},
              {"aic", f.aic},
              {"residuals", f.residuals},
              {"notes", notes}};
}

std::string fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

std::optional<std::pair<double, double>> ols(const std::vector<double>& x,
                                             const std::vector<double>& y) {
  const double n = static_cast<double>(x.size());
  if (x.size() < 2) return std::nullopt;
  double mx = 0, my = 0;
  for (std::size_t i = 0; i < x.size(); ++i) mx += x[i], my += y[i];
  mx /= n, my /= n;
  double sxx = 0, sxy = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    sxx += (x[i] - mx) * (x[i] - mx);
    sxy += (x[i] - mx) * (y[i] - my);
  }
  if (sxx <= 1e-12 * std::max(1.0, mx * mx)) return std::nullopt;
  const double slope = sxy / sxx;
  return std::make_pair(slope, my - slope * mx);
}

}  // namespace

std::optional<SlopeFit> fit_error_slope(const std::vector<CurveTrial>& trials,
                                        const BoundFitOptions& options) {
  std::map<std::uint64_t, std::vector<std::pair<double, double>>> by_seed;
  std::set<std::int64_t> sizes;
  std::vector<double> x, y;
  for (const CurveTrial& t : trials) {
    if (!(t.error > 0.0) || !std::isfinite(t.error) || t.n <= 0) continue;
    by_seed[t.seed].emplace_back(std::log(double(t.n)), std::log(t.error));
    x.push_back(std::log(double(t.n)));
    y.push_back(std::log(t.error));
    sizes.insert(t.n);
  }
  const auto fit = ols(x, y);
  if (!fit) return std::nullopt;
  SlopeFit out;
  out.slope = fit->first;
  out.intercept = fit->second;
  out.n_trials = static_cast<int>(x.size());
  out.n_sizes = static_cast<int>(sizes.size());
  out.slope_interval = {kNaN, kNaN};
  // Cluster bootstrap over seeds: a seed's trials share one sample stream (nested samples), so
  // they are not independent of each other.
  std::vector<std::uint64_t> seeds;
  for (const auto& [s, v] : by_seed) seeds.push_back(s);
  if (options.bootstrap_resamples > 0 && seeds.size() >= 2) {
    std::vector<double> slopes;
    for (int b = 0; b < options.bootstrap_resamples; ++b) {
      Rng rng(options.seed, static_cast<std::uint64_t>(b));
      std::vector<double> bx, by;
      for (std::size_t i = 0; i < seeds.size(); ++i) {
        for (const auto& [lx, ly] : by_seed[seeds[rng.uniform_int(seeds.size())]]) {
          bx.push_back(lx);
          by.push_back(ly);
        }
      }
      if (const auto f = ols(bx, by)) slopes.push_back(f->first);
    }
    const double tail = (1.0 - options.level) / 2.0;
    out.slope_interval = {quantile(slopes, tail), quantile(slopes, 1.0 - tail)};
  }
  return out;
}

Json fit_and_verdict(const std::vector<SampleComplexityPoint>& rows,
                     const std::vector<std::vector<ReferenceAtPoint>>& references_per_row,
                     const BoundFitOptions& options) {
  BoundComparison c;
  try {
    c = compare_bound_models(rows, options);
  } catch (const InputError& e) {
    return Json{{"points_used", rows.size()},
                {"fit", nullptr},
                {"reason", std::string("cannot fit: ") + e.what()}};
  }
  const BoundFit& p = c.polynomial;

  // Reference bounds: exponents against the fitted intervals, and log(N* / bound) per row (a
  // constant ratio means the same shape; its level is the constant the reference leaves open).
  Json refs = Json::array();
  std::vector<std::string> consistent;
  if (!references_per_row.empty()) {
    for (std::size_t r = 0; r < references_per_row.front().size(); ++r) {
      const ReferenceBound& b0 = references_per_row.front()[r].bound;
      const std::string name = references_per_row.front()[r].name;
      std::vector<double> log_ratio;
      for (std::size_t i = 0; i < rows.size(); ++i) {
        log_ratio.push_back(std::log(rows[i].n_star) -
                            references_per_row[i][r].bound.log_value(rows[i].d, rows[i].eps));
      }
      const bool d_in = inside(p.d_coefficient_interval, b0.d_exponent);
      const bool e_in = inside(p.eps_exponent_interval, b0.eps_exponent);
      if (d_in && e_in) consistent.push_back(name);
      const auto [mn, mx] = std::minmax_element(log_ratio.begin(), log_ratio.end());
      refs.push_back({{"name", name},
                      {"d_exponent", b0.d_exponent},
                      {"eps_exponent", b0.eps_exponent},
                      {"d_exponent_in_interval", d_in},
                      {"eps_exponent_in_interval", e_in},
                      {"log_ratio_median", quantile(log_ratio, 0.5)},
                      {"log_ratio_min", *mn},
                      {"log_ratio_max", *mx}});
    }
  }

  std::string summary =
      "N* ~ d^" + fmt("%.3g", p.d_coefficient) + " [" + fmt("%.3g", p.d_coefficient_interval.lo) +
      ", " + fmt("%.3g", p.d_coefficient_interval.hi) + "] * eps^-" + fmt("%.3g", p.eps_exponent) +
      " [" + fmt("%.3g", p.eps_exponent_interval.lo) + ", " +
      fmt("%.3g", p.eps_exponent_interval.hi) + "] (" + fmt("%.0f", 100 * options.level) +
      "% bootstrap intervals, " + std::to_string(rows.size()) + " N* values); ";
  if (c.preferred == "undecided") {
    summary += "polynomial vs exponential undecided (" + c.reason + ")";
  } else {
    summary += c.preferred + " growth in d preferred, delta AIC = " + fmt("%.3g", c.delta_aic) +
               " (" + c.evidence + ")";
  }
  summary += consistent.empty() ? "; no reference bound inside both intervals"
                                : "; consistent with " + join_names(consistent);

  return Json{{"points_used", rows.size()},
              {"polynomial", bound_fit_json(c.polynomial)},
              {"exponential", bound_fit_json(c.exponential)},
              {"preferred", c.preferred},
              {"delta_aic", finite_or_null(c.delta_aic)},
              {"polynomial_weight", finite_or_null(c.polynomial_weight)},
              {"evidence", c.evidence},
              {"bootstrap_polynomial_fraction", finite_or_null(c.bootstrap_polynomial_fraction)},
              {"comparison_reason", c.reason},
              {"references", refs},
              {"verdict",
               {{"d_exponent", finite_or_null(p.d_coefficient)},
                {"d_exponent_interval", interval_json(p.d_coefficient_interval)},
                {"eps_exponent", finite_or_null(p.eps_exponent)},
                {"eps_exponent_interval", interval_json(p.eps_exponent_interval)},
                {"level", options.level},
                {"preferred", c.preferred},
                {"polynomial_better", c.delta_aic > 0.0},
                {"delta_aic", finite_or_null(c.delta_aic)},
                {"evidence", c.evidence},
                {"consistent_with", consistent},
                {"summary", summary}}}};
}

}  // namespace fsr

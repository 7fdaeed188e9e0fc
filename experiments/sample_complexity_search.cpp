// The N* search of sample_complexity.h: the log grid, the success rule, doubling then bisection.
#include <cmath>
#include <map>

#include "experiments/sample_complexity.h"

namespace fsr {

std::int64_t ComplexitySearch::grid_n(int k) const {
  return std::llround(double(n_min) * std::exp2(double(k) / steps_per_doubling));
}

int ComplexitySearch::grid_last() const {
  int k = 0;
  while (grid_n(k + 1) <= n_max) ++k;
  return k;
}

bool meets(const std::vector<std::optional<double>>& errors, double eps, double fraction) {
  if (errors.empty()) return false;
  std::size_t ok = 0;
  for (const auto& e : errors) ok += (e && *e <= eps) ? 1 : 0;
  // ok / n >= fraction, with a little slack so that 4/5 meets 0.8 exactly.
  return double(ok) >= fraction * double(errors.size()) - 1e-9;
}

std::vector<NStarSearch> search_n_star(const ComplexitySearch& search,
                                       const std::vector<double>& eps_in,
                                       const ErrorsAtN& errors_at) {
  std::vector<double> eps = eps_in;
  std::sort(eps.begin(), eps.end(), std::greater<>());
  std::map<int, std::vector<std::optional<double>>> cache;  // grid index -> errors per seed
  const int last = search.grid_last();
  const int r = search.steps_per_doubling;
  std::vector<NStarSearch> out;
  for (double e : eps) {
    NStarSearch s;
    s.eps = e;
    const auto check = [&](int k, const char* phase) {
      auto it = cache.find(k);
      if (it == cache.end()) it = cache.emplace(k, errors_at(search.grid_n(k))).first;
      const bool ok = meets(it->second, e, search.success_fraction);
      int successes = 0;
      for (const auto& x : it->second) successes += (x && *x <= e) ? 1 : 0;
      s.steps.push_back({.n = search.grid_n(k),
                         .phase = phase,
                         .successes = successes,
                         .seeds = static_cast<int>(it->second.size()),
                         .success = ok});
      return ok;
    };
    // Doubling: k = 0, R, 2R, ..., then the last grid size <= n_max.
    int lo = -1, hi = -1;
    for (int k = 0;;) {
      if (check(k, "doubling")) {
        hi = k;
        break;
      }
      lo = k;
      if (k == last) break;
      k = std::min(k + r, last);
    }
    if (hi < 0) {
      s.status = "not_reached";
      s.n_below = search.grid_n(lo);
      out.push_back(std::move(s));
      continue;
    }
    if (hi == 0) {
      s.status = "at_minimum";
      s.n_star = search.grid_n(0);
      out.push_back(std::move(s));
      continue;
    }
    // Narrow the bracket with what other ε already measured (free), then bisect on k.
    for (const auto& [k, errors] : cache) {
      if (k > lo && k < hi && meets(errors, e, search.success_fraction)) {
        hi = k;
        check(k, "cached");
        break;
      }
    }
    for (auto it = cache.rbegin(); it != cache.rend(); ++it) {
      if (it->first > lo && it->first < hi && !meets(it->second, e, search.success_fraction)) {
        lo = it->first;
        check(lo, "cached");
        break;
      }
    }
    while (hi - lo > 1) {
      const int mid = lo + (hi - lo) / 2;
      if (check(mid, "bisection")) {
        hi = mid;
      } else {
        lo = mid;
      }
    }
    s.status = "reached";
    s.n_star = search.grid_n(hi);
    s.n_below = search.grid_n(lo);
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace fsr

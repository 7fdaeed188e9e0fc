// match_columns on m x m square problems (m_hat = m), d = 64 fixed (an overcomplete dictionary
// once m > 64, as the random incoherent dictionaries of docs/science.md). Two inputs:
//   Random:  truth and estimate independent Gaussian — no structure, the assignment's hard case;
//   Planted: estimate = permuted truth + 10% noise — what a recovered generator looks like.
// The time includes validation, normalisation, the m x m_hat cosine GEMM and the O(m^3)
// assignment.
//
//   build/theory/match_columns_bench --benchmark_filter=Random
#include <benchmark/benchmark.h>

#include <numeric>
#include <utility>
#include <vector>

#include "core/rng.h"
#include "theory/match_columns.h"

namespace {

constexpr int kDim = 64;

Eigen::MatrixXd gaussian(int rows, int cols, fsr::Rng& rng) {
  Eigen::MatrixXd a(rows, cols);
  for (int j = 0; j < cols; ++j) {
    for (int i = 0; i < rows; ++i) a(i, j) = rng.normal();
  }
  return a;
}

void BM_MatchColumnsRandom(benchmark::State& state) {
  const int m = static_cast<int>(state.range(0));
  fsr::Rng rng(1);
  const Eigen::MatrixXd truth = gaussian(kDim, m, rng);
  const Eigen::MatrixXd estimate = gaussian(kDim, m, rng);
  for (auto _ : state) {
    fsr::ColumnMatch r = fsr::match_columns(truth, estimate);
    benchmark::DoNotOptimize(r.total_cosine);
  }
  state.counters["m"] = m;
  state.counters["d"] = kDim;
}

void BM_MatchColumnsPlanted(benchmark::State& state) {
  const int m = static_cast<int>(state.range(0));
  fsr::Rng rng(2);
  const Eigen::MatrixXd truth = gaussian(kDim, m, rng);
  std::vector<int> perm(m);
  std::iota(perm.begin(), perm.end(), 0);
  for (int i = m - 1; i > 0; --i) std::swap(perm[i], perm[rng.uniform_int(i + 1)]);
  Eigen::MatrixXd estimate(kDim, m);
  for (int i = 0; i < m; ++i) estimate.col(perm[i]) = truth.col(i);
  estimate += 0.1 * gaussian(kDim, m, rng);
  for (auto _ : state) {
    fsr::ColumnMatch r = fsr::match_columns(truth, estimate);
    benchmark::DoNotOptimize(r.total_cosine);
  }
  state.counters["m"] = m;
  state.counters["d"] = kDim;
}

// m = 2000 takes a few hundred ms per call on one core: the default 0.5 s minimum time gives a
// handful of iterations, so the whole program runs in seconds.
BENCHMARK(BM_MatchColumnsRandom)->Arg(100)->Arg(500)->Arg(2000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MatchColumnsPlanted)->Arg(100)->Arg(500)->Arg(2000)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();

// Sampling throughput of a 4-level 32x32 target (experiments/targets/four_level_32x32.json,
// noise off) per level, next to the single-core Eigen SGEMM/DGEMM rate measured in the same
// binary. Sampling runs in float64 on one thread; FLOP/s counts 2 x multiply-adds of the model
// (A z, the transposed convolutions, the output dictionaries), not the scatter or ReLU work.
//
//   build/synth/synth_bench --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>

#include <Eigen/Dense>

#include "synth/config.h"
#include "synth/sample.h"
#include "synth/target.h"

namespace fsr {
namespace {

const Target& bench_target() {
  static const Target t = [] {
    const Json j{
        {"levels", 4},
        {"grid", 2},
        {"channels", {8, 16, 24, 32}},
        {"patch", 2},
        {"colors", 3},
        {"kernel", 4},
        {"active", {0.15, 0.1, 0.1, 0.1}},
        {"first_layer", {{"correlation", "latent"}, {"latent_dim", 16}, {"alpha", {0.5, 2.0}}}},
        {"dictionary", {{"kind", "incoherent"}, {"coherence", 0.5}}},
        {"noise", 0.0},
        {"seed", 7}};
    return build_target(parse_target_config(j));
  }();
  return t;
}

// Levels 1..L of the target (a prefix is itself a target): the time of level L is the
// difference between consecutive rows.
void BM_SampleLevels(benchmark::State& state) {
  Target t = bench_target();
  const int levels = static_cast<int>(state.range(0));
  t.levels = levels;
  t.channels.resize(levels);
  t.up.resize(levels - 1);
  t.M.resize(levels);
  const std::int64_t batch = state.range(1);
  double flops = 0;
  for (int l = 1; l <= levels; ++l) flops += t.flops_per_sample(l);
  std::int64_t first = 0;
  for (auto _ : state) {
    SampleBatch b = sample(t, first, batch);
    benchmark::DoNotOptimize(b.x.back().data());
    first += batch;
  }
  const double n = double(state.iterations()) * batch;
  state.counters["samples/s"] = benchmark::Counter(n, benchmark::Counter::kIsRate);
  state.counters["FLOP/s"] = benchmark::Counter(n * flops, benchmark::Counter::kIsRate);
  state.counters["MFLOP/sample"] = flops / 1e6;
}
BENCHMARK(BM_SampleLevels)
    ->ArgNames({"levels", "batch"})
    ->Args({1, 256})
    ->Args({2, 256})
    ->Args({3, 256})
    ->Args({4, 256})
    ->Args({4, 32})
    ->Args({4, 1024})
    ->Unit(benchmark::kMillisecond);

// Same, returning the hidden codes too.
void BM_SampleWithHidden(benchmark::State& state) {
  const Target& t = bench_target();
  const std::int64_t batch = state.range(0);
  double flops = 0;
  for (int l = 1; l <= t.levels; ++l) flops += t.flops_per_sample(l);
  std::int64_t first = 0;
  for (auto _ : state) {
    SampleBatch b = sample(t, first, batch, true);
    benchmark::DoNotOptimize(b.s.back().data());
    first += batch;
  }
  const double n = double(state.iterations()) * batch;
  state.counters["samples/s"] = benchmark::Counter(n, benchmark::Counter::kIsRate);
  state.counters["FLOP/s"] = benchmark::Counter(n * flops, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_SampleWithHidden)->Arg(256)->Unit(benchmark::kMillisecond);

// Reference GEMMs: the shape of the level 3 -> 4 product of a sampling block
// ((k^2 m_4) x m_3 times m_3 x (h_3^2 * 32) = 512 x 24 x 2048), and a square 512^3.
template <typename Scalar>
void BM_Gemm(benchmark::State& state) {
  using Mat = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;
  const int m = static_cast<int>(state.range(0)), k = static_cast<int>(state.range(1)),
            n = static_cast<int>(state.range(2));
  const Mat a = Mat::Random(m, k), b = Mat::Random(k, n);
  Mat c(m, n);
  for (auto _ : state) {
    c.noalias() = a * b;
    benchmark::DoNotOptimize(c.data());
    benchmark::ClobberMemory();
  }
  state.counters["FLOP/s"] =
      benchmark::Counter(2.0 * m * k * n * double(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Gemm<float>)
    ->Name("BM_SGEMM")
    ->ArgNames({"m", "k", "n"})
    ->Args({512, 24, 2048})
    ->Args({512, 512, 512})
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Gemm<double>)
    ->Name("BM_DGEMM")
    ->ArgNames({"m", "k", "n"})
    ->Args({512, 24, 2048})
    ->Args({512, 512, 512})
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace fsr

BENCHMARK_MAIN();

// Sampling throughput of a 4-level 32x32 target (experiments/targets/four_level_32x32.json,
// noise off) per level, next to the single-core Eigen SGEMM/DGEMM rate measured in the same
// binary. Sampling runs in float64 on one thread; FLOP/s counts 2 x multiply-adds of the model
// (A z, the transposed convolutions, the output dictionaries), not the scatter or ReLU work.
// Also the per-step real batch of `fsr train` on the learners' targets (fresh against reused
// arrays) and its floor, the float64 Box-Muller latents alone.
//
//   build/synth/synth_bench --benchmark_counters_tabular=true
//   build/synth/synth_bench --benchmark_filter='TrainingBatch|LatentNormals'
#include <benchmark/benchmark.h>

#include <Eigen/Dense>
#include <vector>

#include "core/rng.h"
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

// The real batch `fsr train` draws every step (gda/training_data.cpp) on the learners' target
// families: experiments/learners/target_level1_alpha1.json at level1.json's batch 2048 and
// target_level2.json at level2.json's batch 512. reused = 1: sample_into() into the previous
// batch's arrays (what the trainer does); 0: sample(), fresh arrays every call.
const Target& learner_target(int levels) {
  static const auto make = [](int L) {
    Json j{{"levels", L},
           {"grid", 2},
           {"channels", std::vector<int>(L, 8)},
           {"patch", 2},
           {"colors", 3},
           {"kernel", 2},
           {"active", std::vector<double>(L, 0.1)},
           {"first_layer", {{"correlation", "independent"}, {"alpha", 1.0}}},
           {"dictionary", {{"kind", "orthonormal"}, {"coherence", 0.1}}},
           {"noise", 0.0},
           {"seed", 1}};
    return build_target(parse_target_config(j));
  };
  static const Target t1 = make(1), t2 = make(2);
  return levels == 1 ? t1 : t2;
}

void BM_TrainingBatch(benchmark::State& state) {
  const Target& t = learner_target(static_cast<int>(state.range(0)));
  const std::int64_t batch = state.range(1);
  const bool reused = state.range(2) != 0;
  SampleBatch b;
  std::int64_t first = 0;
  for (auto _ : state) {
    if (reused) {
      sample_into(t, first, batch, SampleOptions{}, b);
    } else {
      b = sample(t, first, batch);
    }
    benchmark::DoNotOptimize(b.x.back().data());
    first += batch;
  }
  state.counters["samples/s"] =
      benchmark::Counter(double(state.iterations()) * batch, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_TrainingBatch)
    ->ArgNames({"levels", "batch", "reused"})
    ->Args({1, 2048, 0})
    ->Args({1, 2048, 1})
    ->Args({2, 512, 0})
    ->Args({2, 512, 1})
    ->Unit(benchmark::kMillisecond);

// The floor of those batches: the latents alone, m0 = 32 float64 Box-Muller normals from each
// sample's stream (Rng(seed, i), as sample() draws them), for `batch` samples.
void BM_LatentNormals(benchmark::State& state) {
  const std::int64_t batch = state.range(0);
  const int m0 = learner_target(1).latent_dim();
  std::vector<double> z(m0);
  std::int64_t first = 0;
  for (auto _ : state) {
    for (std::int64_t i = 0; i < batch; ++i) {
      Rng rng(1, std::uint64_t(first + i));
      rng.fill_normal(z.data(), z.size());
      benchmark::DoNotOptimize(z.data());
    }
    first += batch;
  }
  state.counters["normals/s"] =
      benchmark::Counter(double(state.iterations()) * batch * m0, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_LatentNormals)
    ->ArgNames({"batch"})
    ->Arg(2048)
    ->Arg(512)
    ->Unit(benchmark::kMillisecond);

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

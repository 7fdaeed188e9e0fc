// One SGDA step of the theory model (bench/step_model.h on the fast engine: one D step on a real
// + a fake batch, then one G step, plain SGD, float32, one thread) at the two sizes of the step
// benchmark (docs/performance.md), next to the single-core SGEMM rates measured in the same binary:
// Eigen's (same compiler flags) and, where the system has it, OpenBLAS's (libopenblas.so.0, loaded
// at run time, one thread: the best SGEMM this CPU reaches with a BLAS built for it — AVX-512 or
// AVX2 kernels chosen by OpenBLAS at run time; unset OPENBLAS_CORETYPE for it). FLOP/s counts 2 x
// the multiply-adds of the step's matrix products (fsr::bench::flops_per_step; formula in
// docs/performance.md). The real batch is drawn once from synth's sampler before the timed loop;
// z_d and z_g are drawn inside it (fsr::Rng normals).
//
//   build-perf/bench/step_bench --benchmark_counters_tabular=true
// Compare with PyTorch eager: bench/compare_step.sh.
#include <benchmark/benchmark.h>
#include <dlfcn.h>

#include <Eigen/Dense>
#include <memory>
#include <string>
#include <vector>

#include "bench/step_model.h"
#include "core/json_io.h"
#include "core/rng.h"
#include "synth/config.h"
#include "synth/sample.h"

namespace fsr::fast {
namespace {

struct Case {
  const char* name;
  const char* file;
  int batch;
};
constexpr Case kCases[] = {{"quickstart_b256", "quickstart.json", 256},
                           {"four_level_32x32_b64", "four_level_32x32.json", 64}};

// Built on first use, so a filtered run (--benchmark_filter) builds only its target.
const Target& case_target(int i) {
  static std::unique_ptr<Target> targets[2];
  if (!targets[i]) {
    const std::string dir = std::string(FSR_SOURCE_DIR) + "/experiments/targets";
    targets[i] = std::make_unique<Target>(
        build_target(parse_target_config(read_json(dir + "/" + kCases[i].file), dir)));
  }
  return *targets[i];
}

void BM_Step(benchmark::State& state) {
  const int i = static_cast<int>(state.range(0));
  const Target& t = case_target(i);
  const int B = kCases[i].batch;
  const ModelShape s = bench::step_shape(t);
  CpuEngine<float> engine(s, bench::step_options(B));
  bench::init_step_model(engine, 1);
  engine.begin_stage(bench::step_stage(s));
  const RealBatch<float> real = real_patches<float>(s, sample(t, 0, B).x);
  std::vector<float> z(2 * std::size_t(B) * s.latent_dim);
  Rng rng(1, 99);
  for (auto _ : state) {
    fill_normals(rng, z.data(), z.size());
    StepStats stats = engine.step({&real}, z.data(), 1e-2, 1e-2);
    benchmark::DoNotOptimize(stats);
  }
  const double flops = bench::flops_per_step(s, B);
  state.SetLabel(kCases[i].name);
  state.counters["steps/s"] =
      benchmark::Counter(double(state.iterations()), benchmark::Counter::kIsRate);
  state.counters["FLOP/s"] =
      benchmark::Counter(flops * double(state.iterations()), benchmark::Counter::kIsRate);
  state.counters["MFLOP/step"] = flops / 1e6;
}
BENCHMARK(BM_Step)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();

// Single-core SGEMM C = A B (row-major, Eigen, no OpenMP): 512^3, and the shapes of the 32x32
// step's largest products (the level-4 transposed convolution: forward 4096 x 24 x 512, weight
// gradient 24 x 4096 x 512; the level-4 decoder 32768 x 12 x 64).
// The timed loop of an SGEMM benchmark: product() computes C into c; FLOP/s of 2 m k n per call.
template <typename Product>
void time_sgemm(benchmark::State& state, const float* c, Product product) {
  for (auto _ : state) {
    product();
    benchmark::DoNotOptimize(c);
    benchmark::ClobberMemory();
  }
  const double mkn = double(state.range(0)) * double(state.range(1)) * double(state.range(2));
  state.counters["FLOP/s"] =
      benchmark::Counter(2.0 * mkn * double(state.iterations()), benchmark::Counter::kIsRate);
}

void sgemm_shapes(benchmark::internal::Benchmark* b) {
  b->Args({512, 512, 512})
      ->Args({4096, 24, 512})
      ->Args({24, 4096, 512})
      ->Args({32768, 12, 64})
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
}

void BM_Sgemm(benchmark::State& state) {
  using M = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const Eigen::Index m = state.range(0), k = state.range(1), n = state.range(2);
  const M a = M::Random(m, k), b = M::Random(k, n);
  M c(m, n);
  time_sgemm(state, c.data(), [&] { c.noalias() = a * b; });
}
BENCHMARK(BM_Sgemm)->Apply(sgemm_shapes);

// The same products by OpenBLAS's cblas_sgemm on one thread, loaded with dlopen so that the build
// needs no BLAS (Debian: libopenblas0-pthread); skipped with a message where it is absent.
struct OpenBlas {
  using Sgemm = void (*)(int, int, int, int, int, int, float, const float*, int, const float*, int,
                         float, float*, int);
  Sgemm sgemm = nullptr;
  OpenBlas() {
    void* h = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL);
    if (!h) return;
    if (auto set = reinterpret_cast<void (*)(int)>(dlsym(h, "openblas_set_num_threads"))) set(1);
    sgemm = reinterpret_cast<Sgemm>(dlsym(h, "cblas_sgemm"));
  }
};

void BM_SgemmOpenBlas(benchmark::State& state) {
  static const OpenBlas blas;
  if (!blas.sgemm) {
    state.SkipWithError("libopenblas.so.0 not found (Debian package libopenblas0-pthread)");
    return;
  }
  const int m = int(state.range(0)), k = int(state.range(1)), n = int(state.range(2));
  std::vector<float> a(std::size_t(m) * k), b(std::size_t(k) * n), c(std::size_t(m) * n);
  Rng rng(3);
  for (float& v : a) v = float(rng.uniform() - 0.5);
  for (float& v : b) v = float(rng.uniform() - 0.5);
  constexpr int kRowMajor = 101, kNoTrans = 111;
  time_sgemm(state, c.data(), [&] {
    blas.sgemm(kRowMajor, kNoTrans, kNoTrans, m, n, k, 1.0f, a.data(), k, b.data(), n, 0.0f,
               c.data(), n);
  });
}
BENCHMARK(BM_SgemmOpenBlas)->Apply(sgemm_shapes);

}  // namespace
}  // namespace fsr::fast

BENCHMARK_MAIN();

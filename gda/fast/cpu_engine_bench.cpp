// The fast engine's SGDA step at the shapes and options of the shipped learner configs
// (experiments/learners/level1.json: 1 level, grid 2, m 8, d 12, U 16, batch 2048, optimal
// diagonal + cubic read-outs, independent units, relative thresholds, Adam; level2.json's stage 2:
// 2 levels, batch 512, cross-scale terms, level 1 frozen), float32, one thread. Parameters and the
// real batch are random (the step's cost does not depend on them beyond ReLU sparsity).
//
//   build/gda/fast/cpu_engine_bench --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>

#include <memory>
#include <string>

#include "core/rng.h"
#include "gda/fast/cpu_engine.h"

namespace fsr::fast {
namespace {

struct Case {
  const char* name;
  int levels, batch;
  StageLevels stage;
};
const Case kCases[] = {{"level1_b2048", 1, 2048, {{1}, 1, 1}},
                       {"level2_stage2_b512", 2, 512, {{2}, 2, 2}},
                       {"level2_stage2_b2048", 2, 2048, {{2}, 2, 2}}};

void BM_LearnerStep(benchmark::State& state) {
  const Case& c = kCases[state.range(0)];
  const int threads = int(state.range(1));
  ModelShape s;
  s.levels = c.levels;
  s.grid = 2;
  s.patch = 2;
  s.colors = 3;
  s.kernel = 2;
  s.channels.assign(c.levels, 8);
  s.units.assign(c.levels, 16);
  s.latent_dim = s.first_layer_units();
  ModelOptions o;
  o.independent_units = true;
  o.relative_threshold = c.levels == 1;
  o.readout = Readout::kOptimal;
  o.quadratic = Quadratic::kDiag;
  o.cubic = true;
  o.batch = c.batch;
  o.d_steps = 1;
  o.threads = threads;
  CpuEngine<float> e(s, o);
  std::uint64_t stream = 1;
  for (const auto& t : e.parameters()) {
    if (t.name.find("mask") != std::string::npos) continue;
    Rng rng(7, stream++);
    std::vector<double> v(t.data.size());
    const bool bias = t.name == "b1" || t.name.rfind("bW", 0) == 0 || t.name.rfind("tau", 0) == 0;
    for (double& x : v) x = bias ? 0.3 + 0.1 * rng.normal() : 0.5 * rng.normal();
    e.set_parameter(t.name, v);
  }
  e.begin_stage(c.stage);
  RealBatch<float> real;
  Rng rr(3, 1);
  for (int l = 1; l <= s.levels; ++l) {
    std::vector<float> x(std::size_t(c.batch) * s.patches_at(l) * s.patch_dim());
    fill_normals(rr, x.data(), x.size());
    for (float& v : x) v = std::max(v, 0.0f);
    real.push_back(x);
  }
  std::vector<float> z(2 * std::size_t(c.batch) * s.latent_dim);
  Rng rng(1, 99);
  for (auto _ : state) {
    fill_normals(rng, z.data(), z.size());
    StepStats st = e.step({&real}, z.data(), 1e-3, 1e-3);
    benchmark::DoNotOptimize(st);
  }
  state.SetLabel(std::string(c.name) + " threads " + std::to_string(threads));
  state.counters["steps/s"] =
      benchmark::Counter(double(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_LearnerStep)
    ->Args({0, 1})
    ->Args({1, 1})
    ->Args({2, 1})
    ->Args({2, 2})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace fsr::fast

BENCHMARK_MAIN();

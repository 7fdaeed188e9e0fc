// The cost of scoring a model against its target (score/recovery.h) on the family of
// experiments/learners/target_level2.json (the target itself: the cost does not depend on the
// model): evaluate_recovery with and without the identified-entries masks given, and the masks
// alone (a sampling pass of 20 000 draws). The trainer computes the masks once per run because of
// the ratio between the first two (docs/performance.md).
//
//   build/score/recovery_bench --benchmark_filter='Evaluate|Identified'
#include <benchmark/benchmark.h>

#include "score/recovery.h"
#include "synth/config.h"

namespace fsr {
namespace {

const Target& level2_target() {
  static const Target t = build_target(
      parse_target_config(Json{{"levels", 2},
                               {"grid", 2},
                               {"channels", {8, 8}},
                               {"patch", 2},
                               {"colors", 3},
                               {"kernel", 2},
                               {"active", {0.1, 0.1}},
                               {"first_layer", {{"correlation", "independent"}, {"alpha", 1.0}}},
                               {"dictionary", {{"kind", "orthonormal"}}},
                               {"seed", 1}}));
  return t;
}
void BM_EvaluateRecovery(benchmark::State& state) {
  const Target& t = level2_target();
  std::vector<std::vector<bool>> mask;
  if (state.range(0) == 1) mask.push_back(identified_weights(t, 2));
  for (auto _ : state) benchmark::DoNotOptimize(evaluate_recovery(t, t, {}, mask).levels.size());
}
BENCHMARK(BM_EvaluateRecovery)
    ->ArgName("mask_given")
    ->Arg(0)
    ->Arg(1)
    ->Unit(benchmark::kMillisecond);
void BM_IdentifiedWeights(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(identified_weights(level2_target(), 2).size());
}
BENCHMARK(BM_IdentifiedWeights)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace fsr

BENCHMARK_MAIN();

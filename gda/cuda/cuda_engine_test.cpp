// The device engine (gda/cuda/cuda_engine.h) computes what the CPU engine computes: from the same
// state, the same real batches and the same latents, one step and 50 steps agree with
// fsr::fast::FastEngine, for every option (ModelOptions) and stage kind, kernels 2 and 4.
//
// One program, three backends (--backend=host | host-cublas | cuda; ctest entries
// cuda_engine_host, cuda_engine_cublas_layout and cuda_engine_gpu): "host" runs the device
// step's code (gda/cuda/step_impl.h: its buffers, its sequence of products and passes, its index
// arithmetic) on the CPU and runs everywhere; "host-cublas" likewise with every product passed
// through the CUDA backend's row-major to column-major mapping, cuBLAS's argument checks and a
// column-major reference gemm (gda/cuda/blas_map.h); "cuda" runs it on the GPU with cuBLAS and
// exits 77 (ctest: skipped) without one.
// Tolerances, as in gda/engine_equivalence_test.cpp:
//  * float64 device vs float64 CPU: 1e-9 relative per tensor (max |a - b| <= 1e-9 max |b|), the
//    losses and gradient norms likewise. The same formulas summed in another order (cuBLAS or
//    Eigen blocking, tree reductions in double): rounding ~1e-15 per step, which 50 steps of
//    these small games amplify by orders of magnitude, not by 1e6.
//  * float32 device vs float32 CPU: per tensor max |a - b| <= 2e-2 max |theta_t - theta_0| plus
//    the float32 representation of the values (2^-23 max |theta|); statistics 1e-3 after one
//    step, 1e-2 after 50. Both sides carry ~1e-5 relative rounding into a gradient entry (sums of
//    float32 products in different orders), which Adam's m / sqrt(v) passes on at that size —
//    except for an entry whose gradient is itself rounding-sized (a cancellation, |g| near
//    eps = 1e-8), which Adam's first step moves by an amount the rounding decides: measured
//    4e-3 of the change after one step (cross3, non-saturating diagonal, kernel 4, joint stage;
//    the float32 CPU engine against its float64 self goes to 7e-3 on the cases here). A wrong
//    pass is off by the whole change; the float64 comparison above is the sharp one.
//  * Moving the state to the device and back is exact (bit for bit), so checkpoints move between
//    devices; a run resumed on the CPU from the device's state continues as on the device.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <iostream>
#include <map>
#include <string>

#include "core/rng.h"
#include "core/validate.h"
#include "gda/cuda/cuda_engine.h"
#include "gda/fast/fast_engine.h"

namespace fsr::cuda {
namespace {

Backend g_backend = Backend::kHost;

struct OptionCase {
  const char* name;
  fast::ModelOptions o;
  bool prune = false;
};

fast::ModelOptions base() {
  fast::ModelOptions o;
  o.threads = 1;
  return o;
}

// The option sets: the shipped configs' (optimal diagonal + cubic read-outs with independent
// units and relative thresholds; learned full quadratic, IPM + L2, 3 D steps) and every other
// option at least once.
std::vector<OptionCase> option_cases() {
  std::vector<OptionCase> v;
  {
    fast::ModelOptions o = base();
    o.readout = fast::Readout::kOptimal;
    o.quadratic = fast::Quadratic::kDiag;
    o.cubic = true;
    o.independent_units = true;
    o.relative_threshold = true;
    o.batch = 8;
    v.push_back({"optimal_diag_cubic_independent_relative_adam", o});
  }
  {
    fast::ModelOptions o = base();
    o.readout = fast::Readout::kLearned;
    o.quadratic = fast::Quadratic::kFull;
    o.loss = fast::Loss::kIpm;
    o.penalty_weight = 1e-2;
    o.d_steps = 3;
    o.beta2 = 0.9;
    o.batch = 6;
    v.push_back({"learned_ipm_l2_full_adam_3dsteps", o});
  }
  {
    fast::ModelOptions o = base();
    o.readout = fast::Readout::kLearned;
    o.quadratic = fast::Quadratic::kFull;
    o.cubic = true;
    o.loss = fast::Loss::kNonSaturating;
    o.penalty_weight = 0;
    o.optimizer = fast::Optimizer::kSgd;
    o.momentum = 0.9;
    o.simultaneous = true;
    o.relative_threshold = true;
    o.independent_units = true;
    o.unit_norm_columns = false;
    o.batch = 5;
    v.push_back({"learned_nonsat_full_cubic_sgd_momentum_simultaneous", o});
  }
  {
    fast::ModelOptions o = base();
    o.readout = fast::Readout::kOptimal;
    o.quadratic = fast::Quadratic::kFull;
    o.cross_scale = false;
    o.learn_threshold = false;
    o.unit_norm_rows = false;
    o.optimizer = fast::Optimizer::kSgd;
    o.batch = 7;
    v.push_back({"optimal_full_nocross_fixed_threshold_rows_free_oddbatch_sgd", o});
  }
  {
    fast::ModelOptions o = base();
    o.readout = fast::Readout::kLearned;
    o.quadratic = fast::Quadratic::kNone;
    o.cubic = true;
    o.penalty_weight = 1e-3;
    o.d_steps = 2;
    o.batch = 6;
    v.push_back({"learned_ipm_noquad_cubic_pruned_2dsteps", o, true});
  }
  {
    fast::ModelOptions o = base();
    o.readout = fast::Readout::kLearned;
    o.quadratic = fast::Quadratic::kDiag;
    o.loss = fast::Loss::kNonSaturating;
    o.penalty_weight = 1e-3;
    o.batch = 6;
    v.push_back({"learned_nonsat_l2_diag_adam", o});
  }
  {
    fast::ModelOptions o = base();
    o.readout = fast::Readout::kLearned;
    o.quadratic = fast::Quadratic::kDiag;
    o.cubic = true;
    o.quartic = true;
    o.loss = fast::Loss::kIpm;
    o.penalty_weight = 1e-2;
    o.batch = 6;
    v.push_back({"learned_ipm_l2_diag_cubic_quartic_adam", o});
  }
  {
    fast::ModelOptions o = base();
    o.readout = fast::Readout::kOptimal;
    o.quadratic = fast::Quadratic::kDiag;
    o.quartic = true;
    o.independent_units = true;
    o.relative_threshold = true;
    o.batch = 8;
    v.push_back({"optimal_diag_quartic_independent_relative_adam", o});
  }
  return v;
}

struct StageCase {
  const char* name;
  EngineStage stage;
};
const StageCase kStages[] = {
    {"joint", {{1, 2, 3}, 1, 3}}, {"level3", {{3}, 3, 3}}, {"level2", {{2}, 2, 2}}};

fast::ModelShape tiny_shape(int kernel) {
  fast::ModelShape s;
  s.levels = 3;
  s.grid = 2;
  s.patch = 2;
  s.colors = 2;
  s.kernel = kernel;
  s.channels = {3, 4, 2};
  s.units = {4, 5, 3};
  s.latent_dim = 13;  // >= n1 = 12 (independent units), a dense non-square A otherwise
  return s;
}

// Random values for every tensor (masks and A_mask kept, one pruned channel when asked),
// read-outs non-zero so that the generator has a gradient from the first step.
void randomise(Engine& e, std::uint64_t seed, bool prune) {
  std::uint64_t stream = 1;
  for (const std::string& n : e.tensor_names()) {
    NpyArray t = e.tensor(n);
    Rng rng(seed, stream++);
    if (n == "A_mask") continue;
    if (n.rfind("mask", 0) == 0) {
      if (prune && n == "mask2") t.data[1] = 0.0;
    } else if (n == "A") {
      const NpyArray mask = e.tensor("A_mask");
      for (std::size_t i = 0; i < t.data.size(); ++i) t.data[i] = mask.data[i] * 0.6 * rng.normal();
    } else {
      const bool bias = n == "b1" || n.rfind("bW", 0) == 0 || n.rfind("tau", 0) == 0;
      for (double& v : t.data) v = bias ? 0.2 + 0.1 * rng.normal() : 0.4 * rng.normal();
    }
    e.set_tensor(n, t.data);
  }
}

void copy_state(const Engine& from, Engine& to) {
  for (const std::string& n : from.tensor_names()) to.set_tensor(n, from.tensor(n).data);
}

void expect_close(const Engine& a, const Engine& ref, double tol, const std::string& what,
                  const Engine* start = nullptr) {
  for (const std::string& n : ref.tensor_names()) {
    const NpyArray x = a.tensor(n), y = ref.tensor(n);
    ASSERT_EQ(x.shape, y.shape) << n;
    double err = 0, scale = 0;
    const NpyArray z0 = start ? start->tensor(n) : NpyArray{};
    for (std::size_t i = 0; i < y.data.size(); ++i) {
      err = std::max(err, std::abs(x.data[i] - y.data[i]));
      scale = std::max(scale, std::abs(start ? y.data[i] - z0.data[i] : y.data[i]));
    }
    double floor = 1e-14;
    if (start)
      for (double v : y.data) floor = std::max(floor, 0x1p-23 * std::abs(v));
    EXPECT_LE(err, tol * scale + floor) << what << ": " << n << " (scale " << scale << ")";
  }
}

void expect_stats(const StepStats& a, const StepStats& b, double tol, const std::string& what) {
  EXPECT_TRUE(a.finite && b.finite) << what;
  EXPECT_NEAR(a.loss_d, b.loss_d, tol * (std::abs(b.loss_d) + std::abs(b.loss_g))) << what;
  EXPECT_NEAR(a.loss_g, b.loss_g, tol * (std::abs(b.loss_g) + 1e-12)) << what;
  EXPECT_NEAR(a.grad_norm_d, b.grad_norm_d, tol * b.grad_norm_d + 1e-14) << what;
  EXPECT_NEAR(a.grad_norm_g, b.grad_norm_g, tol * b.grad_norm_g + 1e-14) << what;
}

void expect_same_optimizer_state(const Engine& a, const Engine& ref, double tol,
                                 const std::string& what) {
  const NamedArrays oa = a.optimizer_state(), orf = ref.optimizer_state();
  ASSERT_EQ(oa.size(), orf.size()) << what;
  for (std::size_t i = 0; i < orf.size(); ++i) {
    ASSERT_EQ(oa[i].first, orf[i].first) << what;
    double err = 0, scale = 0;
    for (std::size_t j = 0; j < orf[i].second.data.size(); ++j) {
      err = std::max(err, std::abs(oa[i].second.data[j] - orf[i].second.data[j]));
      scale = std::max(scale, std::abs(orf[i].second.data[j]));
    }
    EXPECT_LE(err, tol * scale + 1e-20) << what << ": " << orf[i].first;
  }
}

struct Batches {
  std::vector<std::vector<RowMatrix>> real;
  RowMatrix z;
  StepInputs in;
};
Batches make_batches(Rng& rng, const fast::ModelShape& s, const fast::ModelOptions& o) {
  Batches b;
  b.real.resize(o.d_steps);
  for (auto& batch : b.real)
    for (int l = 1; l <= s.levels; ++l) {
      RowMatrix x(o.batch, s.colors * s.side_at(l) * s.side_at(l));
      for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = std::max(0.0, rng.normal());
      batch.push_back(std::move(x));
    }
  b.z.resize((o.d_steps + 1) * o.batch, s.latent_dim);
  for (Eigen::Index i = 0; i < b.z.size(); ++i) b.z.data()[i] = rng.normal();
  for (const auto& r : b.real) b.in.real.push_back(&r);
  b.in.latents = &b.z;
  b.in.lr_g = 2e-3;  // the shipped configs' step sizes
  b.in.lr_d = 3e-3;
  return b;
}

struct Param {
  int option, stage, kernel;
};

std::string param_name(const ::testing::TestParamInfo<Param>& i) {
  return std::string(option_cases()[i.param.option].name) + "_" + kStages[i.param.stage].name +
         "_k" + std::to_string(i.param.kernel);
}

class DeviceMatchesCpu : public ::testing::TestWithParam<Param> {};

TEST_P(DeviceMatchesCpu, OneAndFiftySteps) {
  const Param& p = GetParam();
  const OptionCase oc = option_cases()[p.option];
  const fast::ModelShape s = tiny_shape(p.kernel);
  const EngineStage& stage = kStages[p.stage].stage;
  fast::FastEngine<double> c64(s, oc.o), start(s, oc.o);
  fast::FastEngine<float> c32(s, oc.o);
  DeviceEngine<double> d64(s, oc.o, g_backend);
  DeviceEngine<float> d32(s, oc.o, g_backend);
  randomise(c64, 10 + p.option, oc.prune);
  for (Engine* e : {static_cast<Engine*>(&start), static_cast<Engine*>(&c32),
                    static_cast<Engine*>(&d64), static_cast<Engine*>(&d32)})
    copy_state(c64, *e);
  for (Engine* e : {static_cast<Engine*>(&c64), static_cast<Engine*>(&c32),
                    static_cast<Engine*>(&d64), static_cast<Engine*>(&d32)})
    e->begin_stage(stage);
  Rng rng(77, p.option);
  for (int step = 1; step <= 50; ++step) {
    const Batches b = make_batches(rng, s, oc.o);
    const StepStats sc64 = c64.step(b.in), sd64 = d64.step(b.in);
    const StepStats sc32 = c32.step(b.in), sd32 = d32.step(b.in);
    if (step == 1 || step == 50) {
      const std::string at = "step " + std::to_string(step);
      expect_stats(sd64, sc64, 1e-9, "float64 " + at);
      expect_close(d64, c64, 1e-9, "float64 " + at);
      expect_close(d32, c32, 2e-2, "float32 " + at, &start);
      expect_stats(sd32, sc32, step == 1 ? 1e-3 : 1e-2, "float32 " + at);
    }
  }
  expect_same_optimizer_state(d64, c64, 1e-9, "float64 optimiser state");
}

std::vector<Param> all_params() {
  std::vector<Param> v;
  const int n = int(option_cases().size());
  for (int o = 0; o < n; ++o)
    for (int st = 0; st < int(std::size(kStages)); ++st)
      for (int k : {2, 4}) v.push_back({o, st, k});
  return v;
}

INSTANTIATE_TEST_SUITE_P(Options, DeviceMatchesCpu, ::testing::ValuesIn(all_params()), param_name);

// The state crosses to the device and back bit for bit, and a run moved between devices
// continues: device steps, then its checkpoint (tensors and optimiser state) on the CPU engine,
// agree with the CPU engine's own run; and the CPU engine's state on the device likewise.
TEST(DeviceState, MovesBetweenDevicesExactlyAndResumes) {
  const fast::ModelShape s = tiny_shape(4);
  const OptionCase oc = option_cases()[1];
  fast::FastEngine<float> cpu(s, oc.o), moved(s, oc.o);
  DeviceEngine<float> dev(s, oc.o, g_backend);
  randomise(cpu, 3, false);
  copy_state(cpu, dev);
  const EngineStage stage{{1, 2, 3}, 1, 3};
  cpu.begin_stage(stage);
  dev.begin_stage(stage);
  Rng rng(5, 0);
  // A step with zero step sizes uploads and downloads the state: unchanged, bit for bit.
  {
    Batches b = make_batches(rng, s, oc.o);
    b.in.lr_g = b.in.lr_d = 0;
    fast::FastEngine<float> before(s, oc.o);
    copy_state(dev, before);
    dev.step(b.in);
    for (const std::string& n : dev.tensor_names())
      EXPECT_EQ(dev.tensor(n).data, before.tensor(n).data) << n << " changed through the device";
    cpu.step(b.in);
  }
  for (int step = 0; step < 5; ++step) {
    const Batches b = make_batches(rng, s, oc.o);
    cpu.step(b.in);
    dev.step(b.in);
  }
  // The device's checkpoint onto a CPU engine: same tensors and optimiser state, bit for bit.
  copy_state(dev, moved);
  moved.set_optimizer_state(dev.optimizer_state());
  for (const std::string& n : dev.tensor_names())
    EXPECT_EQ(moved.tensor(n).data, dev.tensor(n).data) << n;
  const NamedArrays od = dev.optimizer_state(), om = moved.optimizer_state();
  ASSERT_EQ(od.size(), om.size());
  for (std::size_t i = 0; i < od.size(); ++i) EXPECT_EQ(od[i].second.data, om[i].second.data);
  // ... and back: the CPU engine's state onto the device, then both continue alike.
  copy_state(cpu, dev);
  dev.set_optimizer_state(cpu.optimizer_state());
  fast::FastEngine<float> start(s, oc.o);
  copy_state(cpu, start);
  for (int step = 0; step < 5; ++step) {
    const Batches b = make_batches(rng, s, oc.o);
    cpu.step(b.in);
    dev.step(b.in);
  }
  expect_close(dev, cpu, 2e-2, "resumed on the device", &start);
  // Re-seeding a unit's optimiser entries on the device engine reaches the device.
  std::vector<bool> entries(dev.tensor("M1").data.size(), false);
  entries[0] = true;
  dev.reset_optimizer_entries("M1", entries);
  cpu.reset_optimizer_entries("M1", entries);
  for (const auto& [n, a] : dev.optimizer_state()) {
    if (n == "M1.exp_avg") {
      EXPECT_EQ(a.data[0], 0.0);
    }
  }
  const Batches b = make_batches(rng, s, oc.o);
  cpu.step(b.in);
  dev.step(b.in);
  expect_close(dev, cpu, 2e-2, "after a reset of optimiser entries", &start);
}

TEST(DeviceState, ReportsItsDeviceAndPrecision) {
  const fast::ModelShape s = tiny_shape(2);
  DeviceEngine<float> e(s, base(), g_backend);
  EXPECT_EQ(e.name(), "fast");
  EXPECT_EQ(e.precision(), "float32");
  EXPECT_EQ(e.device(), g_backend == Backend::kHost         ? "host"
                        : g_backend == Backend::kHostCublas ? "host-cublas"
                                                            : "cuda:0");
}

}  // namespace
}  // namespace fsr::cuda

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  std::string backend = "host";
  for (int i = 1; i < argc; ++i)
    if (std::strncmp(argv[i], "--backend=", 10) == 0) backend = argv[i] + 10;
  if (backend == "cuda") {
    std::string why;
    if (!fsr::cuda::cuda_built()) {
      std::cout << "cuda_engine_test: SKIPPED - this build has no CUDA\n";
      return 77;
    }
    if (fsr::cuda::cuda_device_count(&why) == 0) {
      std::cout << "cuda_engine_test: SKIPPED - no CUDA device (" << why << ")\n";
      return 77;
    }
    fsr::cuda::g_backend = fsr::cuda::Backend::kCuda;
  } else if (backend == "host-cublas") {
    fsr::cuda::g_backend = fsr::cuda::Backend::kHostCublas;
  } else if (backend != "host") {
    std::cerr << "cuda_engine_test: --backend must be host, host-cublas or cuda\n";
    return 2;
  }
  return RUN_ALL_TESTS();
}

// The two engines of the learner (gda/engine.h) compute the same thing: from the same state (every
// canonical tensor), the same real batches and the same latents, one step and 50 steps of the
// fast engine agree with the LibTorch engine, for every option the fast engine supports.
//  * float64 fast vs float64 torch: 1e-9 relative per tensor (max |a - b| <= 1e-9 max |b|), the
//    losses and gradient norms likewise. The same formulas in another order: rounding is ~1e-15
//    per step; 50 steps of a stable game amplify it by orders of magnitude, not by 1e6.
//  * float32 fast vs float64 fast: per tensor max |a - b| <= 1e-3 max |theta_t - theta_0| (plus
//    the float32 representation of the values, 2^-23 max |theta|). float32 sums of <= 1e4
//    products carry ~1e-5 relative error into a gradient entry; Adam's update m / sqrt(v) passes
//    it on at the same relative size (measured 1e-5 after one step, 1e-6 to 6e-6 after 50 on a
//    level-2 model; the tiny fast-moving games here reach 4e-4 after 50 steps).
//  * The engines start from the same seeded tensors (initial_tensors is what gda/networks.h
//    builds, bit for bit), and the fast engine refuses what it does not compute, naming the field.
// Option sets: learned read-outs (IPM + L2 and non-saturating, diagonal / full / cubic / quartic /
// cross-scale), optimal read-outs (split halves, odd batch, quartic), Adam and SGD (+ momentum),
// alternating and simultaneous, 2 D steps, unit-norm columns and rows on and off, relative and
// absolute thresholds, independent and learned correlation, fixed thresholds, a wider generator
// with a pruned channel; joint and layer-wise stages; kernels 2 and 4.
#include <gtest/gtest.h>

#include <cmath>

#include "core/rng.h"
#include "core/validate.h"
#include "gda/engines.h"
#include "gda/fast/fast_engine.h"
#include "gda/torch_engine.h"

namespace fsr {
namespace {

struct OptionCase {
  const char* name;
  const char* json;
};

const OptionCase kOptions[] = {
    {"learned_ipm_l2_diag_adam_2dsteps",
     R"({"discriminator": {"readout": "learned", "quadratic": "diag", "cubic": false},
         "loss": {"kind": "ipm", "penalty": "l2", "penalty_weight": 0.01},
         "sgda": {"d_steps": 2, "batch": 6, "optimizer": "adam"}})"},
    {"learned_nonsaturating_full_cubic_sgd_momentum_simultaneous_relative_independent",
     R"({"generator": {"threshold": "relative", "correlation": "independent",
                       "unit_norm_columns": false},
         "discriminator": {"readout": "learned", "quadratic": "full", "cubic": true},
         "loss": {"kind": "nonsaturating", "penalty": "none"},
         "sgda": {"batch": 5, "optimizer": "sgd", "momentum": 0.9, "mode": "simultaneous"}})"},
    {"optimal_diag_cubic_independent_relative",
     R"({"generator": {"threshold": "relative", "correlation": "independent"},
         "discriminator": {"readout": "optimal", "quadratic": "diag", "cubic": true},
         "sgda": {"batch": 8, "optimizer": "adam"}})"},
    {"optimal_full_nocross_fixed_threshold_rows_free_oddbatch_sgd",
     R"({"discriminator": {"readout": "optimal", "quadratic": "full", "cross_scale": false,
                           "learn_threshold": false, "unit_norm_rows": false,
                           "threshold_init": 0.05},
         "sgda": {"batch": 7, "optimizer": "sgd"}})"},
    {"learned_wide_pruned_gaussian_noquad",
     R"({"generator": {"width": 2, "init": "gaussian"},
         "discriminator": {"readout": "learned", "quadratic": "none", "cubic": true},
         "loss": {"penalty_weight": 0.001}, "sgda": {"batch": 6}})"},
    {"learned_ipm_l2_diag_cubic_quartic_adam",
     R"({"discriminator": {"readout": "learned", "quadratic": "diag", "cubic": true,
                           "quartic": true},
         "loss": {"kind": "ipm", "penalty": "l2", "penalty_weight": 0.01},
         "sgda": {"batch": 6, "optimizer": "adam"}})"},
    {"optimal_diag_quartic_independent_relative",
     R"({"generator": {"threshold": "relative", "correlation": "independent"},
         "discriminator": {"readout": "optimal", "quadratic": "diag", "quartic": true},
         "sgda": {"batch": 8, "optimizer": "adam"}})"},
};

struct StageCase {
  const char* name;
  EngineStage stage;
};
const StageCase kStages[] = {{"joint", {{1, 2, 3}, 1, 3}}, {"level3", {{3}, 3, 3}}};

struct Param {
  int option, stage, kernel;
};

std::string param_name(const ::testing::TestParamInfo<Param>& i) {
  return std::string(kOptions[i.param.option].name) + "_" + kStages[i.param.stage].name + "_k" +
         std::to_string(i.param.kernel);
}

NetworkShape tiny_shape(int kernel, const LearnerConfig& c) {
  NetworkShape s;
  s.levels = 3;
  s.grid = 2;
  s.patch = 2;
  s.colors = 2;
  s.kernel = kernel;
  s.target_channels = {3, 4, 2};
  for (int m : s.target_channels) {
    s.channels.push_back(int(std::ceil(c.generator.width * m - 1e-9)));
    s.decoder_units.push_back(int(std::ceil(c.discriminator.width * m - 1e-9)));
  }
  s.latent_dim = std::max(13, s.grid * s.grid * s.channels[0]);
  return s;
}

// Random values for every tensor (masks and A_mask kept, one pruned channel at level 2 for the
// wide generator), read-outs non-zero so that the generator has a gradient from the first step.
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

// max |a - b| over a tensor, against tol * max |reference| (with `start`: tol * max |change|
// since the start, plus the float32 representation of the values, 2^-23 max |reference|).
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

class EngineEquivalence : public ::testing::TestWithParam<Param> {};

TEST_P(EngineEquivalence, FastMatchesTorchOneAndFiftySteps) {
  const Param& p = GetParam();
  Json j = Json::parse(kOptions[p.option].json);
  j["seed"] = 3;
  j["dtype"] = "float64";
  const LearnerConfig c = parse_learner_config(j);
  const NetworkShape shape = tiny_shape(p.kernel, c);
  const EngineStage& stage = kStages[p.stage].stage;
  TorchEngine torch(shape, c, "cpu");
  fast::FastEngine<double> f64(fast_shape(shape), fast_options(c));
  fast::FastEngine<float> f32(fast_shape(shape), fast_options(c));
  for (const auto& [n, a] : initial_tensors(shape, c)) f64.set_tensor(n, a.data);
  randomise(torch, 10 + p.option, c.generator.width > 1);
  copy_state(torch, f64);
  fast::FastEngine<double> start(fast_shape(shape), fast_options(c));
  copy_state(torch, start);
  for (Engine* e :
       {static_cast<Engine*>(&torch), static_cast<Engine*>(&f64), static_cast<Engine*>(&f32)}) {
    if (e != &torch) copy_state(torch, *e);
    e->begin_stage(stage);
  }
  const int nd = c.sgda.d_steps, B = c.sgda.batch;
  Rng rng(77, p.option);
  for (int step = 1; step <= 50; ++step) {
    std::vector<std::vector<RowMatrix>> real(nd);
    for (auto& batch : real)
      for (int l = 1; l <= shape.levels; ++l) {
        RowMatrix x(B, shape.colors * shape.side_at(l) * shape.side_at(l));
        for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = std::max(0.0, rng.normal());
        batch.push_back(std::move(x));
      }
    RowMatrix z((nd + 1) * B, shape.latent_dim);
    for (Eigen::Index i = 0; i < z.size(); ++i) z.data()[i] = rng.normal();
    StepInputs in;
    for (const auto& b : real) in.real.push_back(&b);
    in.latents = &z;
    in.lr_g = 2e-3;  // the shipped configs' step sizes
    in.lr_d = 3e-3;
    const StepStats st = torch.step(in), s64 = f64.step(in), s32 = f32.step(in);
    if (step == 1 || step == 50) {
      const std::string at = "step " + std::to_string(step);
      expect_stats(s64, st, 1e-9, "float64 " + at);
      expect_close(f64, torch, 1e-9, "float64 " + at);
      expect_close(f32, f64, 1e-3, "float32 " + at, &start);
      // At step 50 the states differ by up to 1e-3 of their change, and a gradient norm moves
      // with the state (sensitivity up to ~10 on these tiny, fast-moving games): 1e-2.
      expect_stats(s32, s64, step == 1 ? 1e-3 : 1e-2, "float32 " + at);
    }
  }
  // Optimiser states (Adam moments, SGD momentum, step counts) agree too.
  const NamedArrays ot = torch.optimizer_state(), of = f64.optimizer_state();
  ASSERT_EQ(ot.size(), of.size());
  std::map<std::string, const NpyArray*> fm;
  for (const auto& [n, a] : of) fm[n] = &a;
  for (const auto& [n, a] : ot) {
    ASSERT_TRUE(fm.count(n)) << "fast engine lacks optimiser state " << n;
    double err = 0, scale = 0;
    for (std::size_t i = 0; i < a.data.size(); ++i) {
      err = std::max(err, std::abs(fm[n]->data[i] - a.data[i]));
      scale = std::max(scale, std::abs(a.data[i]));
    }
    EXPECT_LE(err, 1e-9 * scale + 1e-20) << n;
  }
}

std::vector<Param> all_params() {
  std::vector<Param> v;
  for (int o = 0; o < int(std::size(kOptions)); ++o)
    for (int s = 0; s < 2; ++s)
      for (int k : {2, 4}) v.push_back({o, s, k});
  return v;
}

INSTANTIATE_TEST_SUITE_P(Options, EngineEquivalence, ::testing::ValuesIn(all_params()), param_name);

TEST(EngineInit, InitialTensorsAreWhatTheTorchModulesAreBuiltWith) {
  for (const char* json : {R"({"seed": 5})",
                           R"({"seed": 6, "generator": {"correlation": "independent",
                               "threshold": "relative", "init_code_scale": 0.7}})",
                           R"({"seed": 7, "generator": {"init": "gaussian", "width": 2},
                               "discriminator": {"quadratic": "diag", "cubic": true,
                                                 "threshold_init": 0.1}})",
                           R"({"seed": 8, "discriminator": {"quartic": true}})"}) {
    const LearnerConfig c = parse_learner_config(Json::parse(json));
    for (int k : {2, 4}) {
      const NetworkShape shape = tiny_shape(k, c);
      TorchEngine torch(shape, c, "cpu");
      const NamedArrays init = initial_tensors(shape, c);
      EXPECT_EQ(init.size(), torch.tensor_names().size());
      for (const auto& [n, a] : init) {
        const NpyArray t = torch.tensor(n);
        EXPECT_EQ(t.shape, a.shape) << n;
        EXPECT_EQ(t.data, a.data) << n << " differs (bitwise) from gda/networks.h's " << json;
      }
    }
  }
}

TEST(EngineChoice, FastEngineRefusesWhatItDoesNotComputeNamingTheField) {
  auto message = [](const char* json) {
    try {
      fast_options(parse_learner_config(Json::parse(json)));
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message(R"({"discriminator": {"kind": "conv"}})").find("discriminator.kind = conv"),
            std::string::npos);
  const std::string gp = message(R"({"loss": {"penalty": "gradient"}})");
  EXPECT_NE(gp.find("loss.penalty = gradient"), std::string::npos) << gp;
  EXPECT_NE(gp.find("\"engine\": \"torch\""), std::string::npos) << gp;
  EXPECT_EQ(message(R"({"loss": {"penalty": "none"}})"), "no error");
}

}  // namespace
}  // namespace fsr

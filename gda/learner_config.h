// The configuration of a GDA learner (docs/science.md §4): generator widths and initialisation, the
// discriminator family, the loss, SGDA (step sizes, n_D, optimiser, schedule), the data source,
// the training schedule over levels and the unit-maintenance heuristics that make recovery
// reliable. Parsed and validated once, at the boundary, from one declarative table of its fields
// (learner_fields(), core/fields.h): an unknown key, a wrong type or a value that breaks a rule is
// an fsr::InputError naming the field ("sgda.d_steps = 0: must be an integer in [1, 100]"), and
// every option with a fixed set of values is an enum from here on. Keys, defaults and rules: the
// table in docs/learner.md, generated from learner_fields(). No LibTorch here, so the CLI and
// tests parse cheaply.
//
// clang-format off
//   fsr::LearnerConfig c = fsr::parse_learner_config(fsr::read_json("experiments/learners/level1.json"));
//   fsr::Json normalized = fsr::to_json(c);                        // every default filled in
//   auto changes = fsr::config_differences(saved, normalized);     // {"sgda.batch: 512 -> 256"}
//   if (c.sgda.mode == fsr::SgdaMode::kAlternating) ...
// clang-format on
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "core/fields.h"
#include "core/json_io.h"

namespace fsr {

// The options with a fixed set of values, each with its JSON spelling (core/fields.h EnumName).
enum class EngineKind { kFast, kTorch };
enum class Precision { kAuto, kFloat64, kFloat32 };
enum class GeneratorInit { kOrthogonal, kGaussian };
enum class ColumnsInit { kRandom, kPatchKmeans };
enum class UnitCorrelation { kLearned, kIndependent };
enum class ThresholdForm { kAbsolute, kRelative };
enum class UpInit { kCalibrate, kRegression };
enum class FirstLayerInit { kFixed, kMoments };
enum class DiscriminatorKind { kTheory, kConv };
enum class QuadraticReadout { kFull, kDiag, kNone };
enum class Readout { kLearned, kOptimal };
enum class LossKind { kIpm, kNonsaturating };
enum class Penalty { kL2, kGradient, kNone };
enum class SgdaMode { kAlternating, kSimultaneous };
enum class OptimizerKind { kAdam, kSgd };
enum class LrSchedule { kCosine, kConstant };
enum class DataSource { kStream, kFixed };
enum class DataNormals { kExact, kFast };
enum class PruneRule { kStrongest, kClusters };
enum class ScheduleKind { kLayerwise, kRandomLower, kJoint, kLayerwiseFinetune };

constexpr std::array<EnumName<EngineKind>, 2> enum_names(EngineKind) {
  return {{{EngineKind::kFast, "fast"}, {EngineKind::kTorch, "torch"}}};
}
constexpr std::array<EnumName<Precision>, 3> enum_names(Precision) {
  return {{{Precision::kAuto, "auto"},
           {Precision::kFloat64, "float64"},
           {Precision::kFloat32, "float32"}}};
}
constexpr std::array<EnumName<GeneratorInit>, 2> enum_names(GeneratorInit) {
  return {{{GeneratorInit::kOrthogonal, "orthogonal"}, {GeneratorInit::kGaussian, "gaussian"}}};
}
constexpr std::array<EnumName<ColumnsInit>, 2> enum_names(ColumnsInit) {
  return {{{ColumnsInit::kRandom, "random"}, {ColumnsInit::kPatchKmeans, "patch_kmeans"}}};
}
constexpr std::array<EnumName<UnitCorrelation>, 2> enum_names(UnitCorrelation) {
  return {{{UnitCorrelation::kLearned, "learned"}, {UnitCorrelation::kIndependent, "independent"}}};
}
constexpr std::array<EnumName<ThresholdForm>, 2> enum_names(ThresholdForm) {
  return {{{ThresholdForm::kAbsolute, "absolute"}, {ThresholdForm::kRelative, "relative"}}};
}
constexpr std::array<EnumName<UpInit>, 2> enum_names(UpInit) {
  return {{{UpInit::kCalibrate, "calibrate"}, {UpInit::kRegression, "regression"}}};
}
constexpr std::array<EnumName<FirstLayerInit>, 2> enum_names(FirstLayerInit) {
  return {{{FirstLayerInit::kFixed, "fixed"}, {FirstLayerInit::kMoments, "moments"}}};
}
constexpr std::array<EnumName<DiscriminatorKind>, 2> enum_names(DiscriminatorKind) {
  return {{{DiscriminatorKind::kTheory, "theory"}, {DiscriminatorKind::kConv, "conv"}}};
}
constexpr std::array<EnumName<QuadraticReadout>, 3> enum_names(QuadraticReadout) {
  return {{{QuadraticReadout::kFull, "full"},
           {QuadraticReadout::kDiag, "diag"},
           {QuadraticReadout::kNone, "none"}}};
}
constexpr std::array<EnumName<Readout>, 2> enum_names(Readout) {
  return {{{Readout::kLearned, "learned"}, {Readout::kOptimal, "optimal"}}};
}
constexpr std::array<EnumName<LossKind>, 2> enum_names(LossKind) {
  return {{{LossKind::kIpm, "ipm"}, {LossKind::kNonsaturating, "nonsaturating"}}};
}
constexpr std::array<EnumName<Penalty>, 3> enum_names(Penalty) {
  return {{{Penalty::kL2, "l2"}, {Penalty::kGradient, "gradient"}, {Penalty::kNone, "none"}}};
}
constexpr std::array<EnumName<SgdaMode>, 2> enum_names(SgdaMode) {
  return {{{SgdaMode::kAlternating, "alternating"}, {SgdaMode::kSimultaneous, "simultaneous"}}};
}
constexpr std::array<EnumName<OptimizerKind>, 2> enum_names(OptimizerKind) {
  return {{{OptimizerKind::kAdam, "adam"}, {OptimizerKind::kSgd, "sgd"}}};
}
constexpr std::array<EnumName<LrSchedule>, 2> enum_names(LrSchedule) {
  return {{{LrSchedule::kCosine, "cosine"}, {LrSchedule::kConstant, "constant"}}};
}
constexpr std::array<EnumName<DataSource>, 2> enum_names(DataSource) {
  return {{{DataSource::kStream, "stream"}, {DataSource::kFixed, "fixed"}}};
}
constexpr std::array<EnumName<DataNormals>, 2> enum_names(DataNormals) {
  return {{{DataNormals::kExact, "exact"}, {DataNormals::kFast, "fast"}}};
}
constexpr std::array<EnumName<PruneRule>, 2> enum_names(PruneRule) {
  return {{{PruneRule::kStrongest, "strongest"}, {PruneRule::kClusters, "clusters"}}};
}
constexpr std::array<EnumName<ScheduleKind>, 4> enum_names(ScheduleKind) {
  return {{{ScheduleKind::kLayerwise, "layerwise"},
           {ScheduleKind::kRandomLower, "random_lower"},
           {ScheduleKind::kJoint, "joint"},
           {ScheduleKind::kLayerwiseFinetune, "layerwise_finetune"}}};
}

// Field by field, with the meaning of each in learner_fields() (learner_config.cpp), where the
// defaults written here are also the documented ones.
struct LearnerConfig {
  std::string comment;
  std::uint64_t seed = 1;
  EngineKind engine = EngineKind::kFast;
  int threads = 1;
  Precision dtype = Precision::kAuto;

  struct Generator {
    double width = 1.0;
    int latent_dim = 0;
    GeneratorInit init = GeneratorInit::kOrthogonal;
    ColumnsInit columns_init = ColumnsInit::kRandom;
    int kmeans_restarts = 1;
    UnitCorrelation correlation = UnitCorrelation::kLearned;
    double init_code_scale = 1.0;
    double init_active = 0.1;
    bool unit_norm_columns = true;
    ThresholdForm threshold = ThresholdForm::kAbsolute;
    UpInit up_init = UpInit::kCalibrate;
    int mod_rounds = 100;
    FirstLayerInit first_layer_init = FirstLayerInit::kFixed;
    int warm_start_samples = 20000;
    int kernel = 0;             // 0: the target's
    std::vector<int> channels;  // a data-set target only: m_l per level (one value: every level)
  } generator;

  struct Discriminator {
    DiscriminatorKind kind = DiscriminatorKind::kTheory;
    double width = 2.0;
    bool unit_norm_rows = true;
    double threshold_init = 0.0;
    bool learn_threshold = true;
    QuadraticReadout quadratic = QuadraticReadout::kFull;
    bool cubic = false;
    bool quartic = false;
    bool cross_scale = true;
    int conv_channels = 32;
    Readout readout = Readout::kLearned;
  } discriminator;

  struct Loss {
    LossKind kind = LossKind::kIpm;
    Penalty penalty = Penalty::kL2;
    double penalty_weight = 1e-3;
  } loss;

  struct Sgda {
    int d_steps = 3;
    SgdaMode mode = SgdaMode::kAlternating;
    int batch = 512;
    OptimizerKind optimizer = OptimizerKind::kAdam;
    double lr_g = 2e-3, lr_d = 2e-3;
    double beta1 = 0.5, beta2 = 0.99;
    double momentum = 0.0;
    LrSchedule lr_schedule = LrSchedule::kCosine;
    double lr_min_factor = 0.01;
    // Two time scales for D: from lr_d_late_at of each stage on, D's step size is multiplied by
    // lr_d_late_factor (1 = one schedule for both players).
    double lr_d_late_at = 1.0;
    double lr_d_late_factor = 1.0;
  } sgda;

  struct Data {
    DataSource source = DataSource::kStream;
    std::int64_t train_samples = 0;
    DataNormals normals = DataNormals::kExact;
  } data;

  struct Schedule {
    ScheduleKind kind = ScheduleKind::kLayerwise;
    int levels = 0;
    std::vector<int> steps = {3000};
    int finetune_steps = 0;
  } schedule;

  struct Units {
    int reinit_every = 0;
    double reinit_until = 0.5;
    double dead_activity = 0.002;
    double duplicate_cosine = 0.95;
    double prune_at = 0.0;
    PruneRule prune_rule = PruneRule::kStrongest;
    double cluster_cosine = 0.9;
    double cluster_floor = 0.2;
    bool cluster_merge = false;
  } units;

  struct Log {
    int every = 100;
    int checkpoint_every = 500;
    int eval_samples = 4000;
  } log;

  int steps_for_stage(int stage) const {  // stage 0-based
    return schedule.steps.size() == 1 ? schedule.steps[0] : schedule.steps[stage];
  }
};

// The stage step a fraction field of the config names (units.prune_at, units.reinit_until,
// sgda.lr_d_late_at): the step floor(fraction x stage_steps), 0-based.
inline std::int64_t step_at_fraction(double fraction, std::int64_t stage_steps) {
  return static_cast<std::int64_t>(fraction * double(stage_steps));
}

// Every field: dotted key, type and rule, default, meaning. The one declaration behind parsing,
// to_json, config_differences and the options table of docs/learner.md.
const FieldTable<LearnerConfig>& learner_fields();

LearnerConfig parse_learner_config(const Json& json);
Json to_json(const LearnerConfig& config);

// Fields whose normalised values differ, as "path: old -> new", for refusing a resume. A field
// `before` lacks (a config saved before the field existed, e.g. data.normals) counts as its
// default, which is what that run used.
std::vector<std::string> config_differences(const Json& before, const Json& after);

}  // namespace fsr

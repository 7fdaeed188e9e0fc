#include "gda/learner_config.h"

#include <cmath>
#include <map>
#include <set>

#include "core/validate.h"

namespace fsr {
namespace {

std::string compact(const Json& value) {
  std::string s = value.dump();
  if (s.size() > 60) s = s.substr(0, 57) + "...";
  return s;
}

std::string join(const std::string& parent, const std::string& key) {
  return parent.empty() ? key : parent + "." + key;
}

const char* type_name(const Json& j) {
  if (j.is_boolean()) return "a boolean";
  if (j.is_number()) return "a number";
  if (j.is_string()) return "a string";
  if (j.is_array()) return "an array";
  return "an object";
}

// Overlays `user` on `base` (the defaults), refusing unknown keys and type changes, so every
// field of the result has the type of its default.
void overlay(Json& base, const Json& user, const std::string& path) {
  if (!user.is_object())
    fail_field(path.empty() ? "config" : path, compact(user), "must be an object");
  for (auto it = user.begin(); it != user.end(); ++it) {
    const std::string field = join(path, it.key());
    if (!base.contains(it.key())) {
      std::string allowed;
      for (auto b = base.begin(); b != base.end(); ++b)
        allowed += (allowed.empty() ? "" : ", ") + b.key();
      fail_field(field, compact(it.value()), "unknown key (allowed: " + allowed + ")");
    }
    Json& slot = base[it.key()];
    const Json& v = it.value();
    if (slot.is_object()) {
      overlay(slot, v, field);
    } else if (slot.is_array()) {
      if (v.is_number()) {
        slot = Json::array({v});  // one value for every stage
      } else if (v.is_array()) {
        slot = v;
      } else {
        fail_field(field, compact(v), "must be a number or an array of numbers");
      }
    } else {
      const bool same = (slot.is_number() && v.is_number()) ||
                        (slot.is_boolean() && v.is_boolean()) ||
                        (slot.is_string() && v.is_string());
      if (!same) fail_field(field, compact(v), std::string("must be ") + type_name(slot));
      slot = v;
    }
  }
}

double number(const Json& j, const std::string& field) {
  const double v = j.get<double>();
  require_finite(field, v);
  return v;
}

int integer(const Json& j, const std::string& field, std::int64_t lo, std::int64_t hi) {
  const double d = j.get<double>();
  if (!std::isfinite(d) || d != std::floor(d)) fail_field(field, compact(j), "must be an integer");
  require_int_in_range(field, static_cast<std::int64_t>(d), lo, hi);
  return static_cast<int>(d);
}

std::string one_of(const Json& j, const std::string& field,
                   std::initializer_list<const char*> options) {
  const std::string s = j.get<std::string>();
  std::string allowed;
  for (const char* o : options) {
    if (s == o) return s;
    allowed += (allowed.empty() ? "" : ", ") + std::string(o);
  }
  fail_field(field, s, "must be one of " + allowed);
}

void flatten(const Json& j, const std::string& path, std::map<std::string, Json>& out) {
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) flatten(it.value(), join(path, it.key()), out);
  } else {
    out[path] = j;
  }
}

}  // namespace

Json to_json(const LearnerConfig& c) {
  const auto& g = c.generator;
  const auto& d = c.discriminator;
  const auto& s = c.sgda;
  return Json{
      {"comment", c.comment},
      {"seed", c.seed},
      {"engine", c.engine},
      {"threads", c.threads},
      {"dtype", c.dtype},
      {"generator",
       {{"width", g.width},
        {"latent_dim", g.latent_dim},
        {"init", g.init},
        {"columns_init", g.columns_init},
        {"kmeans_restarts", g.kmeans_restarts},
        {"correlation", g.correlation},
        {"init_code_scale", g.init_code_scale},
        {"init_active", g.init_active},
        {"unit_norm_columns", g.unit_norm_columns},
        {"threshold", g.threshold},
        {"up_init", g.up_init},
        {"mod_rounds", g.mod_rounds},
        {"first_layer_init", g.first_layer_init},
        {"warm_start_samples", g.warm_start_samples}}},
      {"discriminator",
       {{"kind", d.kind},
        {"width", d.width},
        {"unit_norm_rows", d.unit_norm_rows},
        {"threshold_init", d.threshold_init},
        {"learn_threshold", d.learn_threshold},
        {"quadratic", d.quadratic},
        {"cubic", d.cubic},
        {"cross_scale", d.cross_scale},
        {"conv_channels", d.conv_channels},
        {"readout", d.readout}}},
      {"loss",
       {{"kind", c.loss.kind},
        {"penalty", c.loss.penalty},
        {"penalty_weight", c.loss.penalty_weight}}},
      {"sgda",
       {{"d_steps", s.d_steps},
        {"mode", s.mode},
        {"batch", s.batch},
        {"optimizer", s.optimizer},
        {"lr_g", s.lr_g},
        {"lr_d", s.lr_d},
        {"beta1", s.beta1},
        {"beta2", s.beta2},
        {"momentum", s.momentum},
        {"lr_schedule", s.lr_schedule},
        {"lr_min_factor", s.lr_min_factor}}},
      {"data", {{"source", c.data.source}, {"train_samples", c.data.train_samples}}},
      {"schedule",
       {{"kind", c.schedule.kind},
        {"levels", c.schedule.levels},
        {"steps", c.schedule.steps},
        {"finetune_steps", c.schedule.finetune_steps}}},
      {"units",
       {{"reinit_every", c.units.reinit_every},
        {"reinit_until", c.units.reinit_until},
        {"dead_activity", c.units.dead_activity},
        {"duplicate_cosine", c.units.duplicate_cosine},
        {"prune_at", c.units.prune_at},
        {"prune_rule", c.units.prune_rule},
        {"cluster_cosine", c.units.cluster_cosine},
        {"cluster_floor", c.units.cluster_floor},
        {"cluster_merge", c.units.cluster_merge}}},
      {"log",
       {{"every", c.log.every},
        {"checkpoint_every", c.log.checkpoint_every},
        {"eval_samples", c.log.eval_samples}}},
  };
}

LearnerConfig parse_learner_config(const Json& json) {
  Json j = to_json(LearnerConfig{});
  overlay(j, json, "");
  LearnerConfig c;
  c.comment = j["comment"].get<std::string>();
  {
    const double seed = j["seed"].get<double>();
    if (seed < 0 || seed != std::floor(seed) || seed > 9.007e15)
      fail_field("seed", compact(j["seed"]), "must be an integer >= 0");
    c.seed = j["seed"].is_number_unsigned() ? j["seed"].get<std::uint64_t>()
                                            : static_cast<std::uint64_t>(seed);
  }
  c.threads = integer(j["threads"], "threads", 1, 256);
  c.engine = one_of(j["engine"], "engine", {"fast", "torch"});
  c.dtype = one_of(j["dtype"], "dtype", {"auto", "float64", "float32"});

  const Json& g = j["generator"];
  c.generator.width = number(g["width"], "generator.width");
  require_in_range("generator.width", c.generator.width, 1.0, 64.0, true, true);
  c.generator.latent_dim = integer(g["latent_dim"], "generator.latent_dim", 0, 1 << 16);
  c.generator.init = one_of(g["init"], "generator.init", {"orthogonal", "gaussian"});
  c.generator.columns_init =
      one_of(g["columns_init"], "generator.columns_init", {"random", "patch_kmeans"});
  c.generator.kmeans_restarts = integer(g["kmeans_restarts"], "generator.kmeans_restarts", 1, 1000);
  c.generator.correlation =
      one_of(g["correlation"], "generator.correlation", {"learned", "independent"});
  c.generator.init_code_scale = number(g["init_code_scale"], "generator.init_code_scale");
  require_positive("generator.init_code_scale", c.generator.init_code_scale);
  c.generator.init_active = number(g["init_active"], "generator.init_active");
  require_in_range("generator.init_active", c.generator.init_active, 0.0, 1.0);
  c.generator.unit_norm_columns = g["unit_norm_columns"].get<bool>();
  c.generator.threshold = one_of(g["threshold"], "generator.threshold", {"absolute", "relative"});
  c.generator.up_init = one_of(g["up_init"], "generator.up_init", {"calibrate", "regression"});
  c.generator.mod_rounds = integer(g["mod_rounds"], "generator.mod_rounds", 0, 1000);
  c.generator.first_layer_init =
      one_of(g["first_layer_init"], "generator.first_layer_init", {"fixed", "moments"});
  c.generator.warm_start_samples =
      integer(g["warm_start_samples"], "generator.warm_start_samples", 100, 10000000);

  const Json& d = j["discriminator"];
  c.discriminator.kind = one_of(d["kind"], "discriminator.kind", {"theory", "conv"});
  c.discriminator.width = number(d["width"], "discriminator.width");
  require_in_range("discriminator.width", c.discriminator.width, 0.0, 64.0, false, true);
  c.discriminator.unit_norm_rows = d["unit_norm_rows"].get<bool>();
  c.discriminator.threshold_init = number(d["threshold_init"], "discriminator.threshold_init");
  c.discriminator.learn_threshold = d["learn_threshold"].get<bool>();
  c.discriminator.quadratic =
      one_of(d["quadratic"], "discriminator.quadratic", {"full", "diag", "none"});
  c.discriminator.cubic = d["cubic"].get<bool>();
  c.discriminator.cross_scale = d["cross_scale"].get<bool>();
  c.discriminator.conv_channels =
      integer(d["conv_channels"], "discriminator.conv_channels", 1, 4096);
  c.discriminator.readout = one_of(d["readout"], "discriminator.readout", {"learned", "optimal"});
  if (c.discriminator.readout == "optimal" && c.discriminator.kind != "theory") {
    fail_field("discriminator.readout", "optimal", "needs discriminator.kind = theory");
  }

  const Json& l = j["loss"];
  c.loss.kind = one_of(l["kind"], "loss.kind", {"ipm", "nonsaturating"});
  c.loss.penalty = one_of(l["penalty"], "loss.penalty", {"l2", "gradient", "none"});
  c.loss.penalty_weight = number(l["penalty_weight"], "loss.penalty_weight");
  require_nonnegative("loss.penalty_weight", c.loss.penalty_weight);

  const Json& s = j["sgda"];
  c.sgda.d_steps = integer(s["d_steps"], "sgda.d_steps", 1, 100);
  c.sgda.mode = one_of(s["mode"], "sgda.mode", {"alternating", "simultaneous"});
  c.sgda.batch = integer(s["batch"], "sgda.batch", 1, 1 << 20);
  c.sgda.optimizer = one_of(s["optimizer"], "sgda.optimizer", {"adam", "sgd"});
  c.sgda.lr_g = number(s["lr_g"], "sgda.lr_g");
  require_positive("sgda.lr_g", c.sgda.lr_g);
  c.sgda.lr_d = number(s["lr_d"], "sgda.lr_d");
  require_positive("sgda.lr_d", c.sgda.lr_d);
  c.sgda.beta1 = number(s["beta1"], "sgda.beta1");
  require_in_range("sgda.beta1", c.sgda.beta1, 0.0, 1.0, true, false);
  c.sgda.beta2 = number(s["beta2"], "sgda.beta2");
  require_in_range("sgda.beta2", c.sgda.beta2, 0.0, 1.0, true, false);
  c.sgda.momentum = number(s["momentum"], "sgda.momentum");
  require_in_range("sgda.momentum", c.sgda.momentum, 0.0, 1.0, true, false);
  c.sgda.lr_schedule = one_of(s["lr_schedule"], "sgda.lr_schedule", {"cosine", "constant"});
  c.sgda.lr_min_factor = number(s["lr_min_factor"], "sgda.lr_min_factor");
  require_in_range("sgda.lr_min_factor", c.sgda.lr_min_factor, 0.0, 1.0, true, true);

  const Json& da = j["data"];
  c.data.source = one_of(da["source"], "data.source", {"stream", "fixed"});
  {
    const double n = da["train_samples"].get<double>();
    if (n < 0 || n != std::floor(n))
      fail_field("data.train_samples", compact(da["train_samples"]), "must be an integer >= 0");
    c.data.train_samples = static_cast<std::int64_t>(n);
  }
  if (c.data.source == "fixed" && c.data.train_samples < c.sgda.batch) {
    fail_field(
        "data.train_samples", c.data.train_samples,
        "must be >= sgda.batch = " + std::to_string(c.sgda.batch) + " with data.source = fixed");
  }

  const Json& sc = j["schedule"];
  c.schedule.kind = one_of(sc["kind"], "schedule.kind",
                           {"layerwise", "random_lower", "joint", "layerwise_finetune"});
  c.schedule.levels = integer(sc["levels"], "schedule.levels", 0, 8);
  c.schedule.steps.clear();
  if (sc["steps"].empty()) fail_field("schedule.steps", "[]", "must not be empty");
  for (std::size_t i = 0; i < sc["steps"].size(); ++i) {
    const std::string f = "schedule.steps[" + std::to_string(i) + "]";
    if (!sc["steps"][i].is_number()) fail_field(f, compact(sc["steps"][i]), "must be a number");
    c.schedule.steps.push_back(integer(sc["steps"][i], f, 1, 100000000));
  }
  c.schedule.finetune_steps =
      integer(sc["finetune_steps"], "schedule.finetune_steps", 0, 100000000);

  const Json& u = j["units"];
  c.units.reinit_every = integer(u["reinit_every"], "units.reinit_every", 0, 100000000);
  c.units.reinit_until = number(u["reinit_until"], "units.reinit_until");
  require_in_range("units.reinit_until", c.units.reinit_until, 0.0, 1.0, true, true);
  c.units.dead_activity = number(u["dead_activity"], "units.dead_activity");
  require_in_range("units.dead_activity", c.units.dead_activity, 0.0, 1.0, true, false);
  c.units.duplicate_cosine = number(u["duplicate_cosine"], "units.duplicate_cosine");
  require_in_range("units.duplicate_cosine", c.units.duplicate_cosine, 0.0, 1.0, false, true);
  c.units.prune_at = number(u["prune_at"], "units.prune_at");
  require_in_range("units.prune_at", c.units.prune_at, 0.0, 1.0, true, false);
  c.units.prune_rule = one_of(u["prune_rule"], "units.prune_rule", {"strongest", "clusters"});
  c.units.cluster_cosine = number(u["cluster_cosine"], "units.cluster_cosine");
  require_in_range("units.cluster_cosine", c.units.cluster_cosine, 0.0, 1.0, false, false);
  c.units.cluster_floor = number(u["cluster_floor"], "units.cluster_floor");
  require_in_range("units.cluster_floor", c.units.cluster_floor, 0.0, 1.0, true, false);
  c.units.cluster_merge = u["cluster_merge"].get<bool>();

  const Json& lg = j["log"];
  c.log.every = integer(lg["every"], "log.every", 1, 100000000);
  c.log.checkpoint_every = integer(lg["checkpoint_every"], "log.checkpoint_every", 0, 100000000);
  c.log.eval_samples = integer(lg["eval_samples"], "log.eval_samples", 16, 10000000);
  return c;
}

std::vector<std::string> config_differences(const Json& before, const Json& after) {
  std::map<std::string, Json> a, b;
  flatten(before, "", a);
  flatten(after, "", b);
  std::set<std::string> keys;
  for (const auto& [k, v] : a) keys.insert(k);
  for (const auto& [k, v] : b) keys.insert(k);
  std::vector<std::string> out;
  for (const auto& k : keys) {
    const bool in_a = a.count(k) > 0, in_b = b.count(k) > 0;
    if (in_a && in_b && a[k] == b[k]) continue;
    out.push_back(k + ": " + (in_a ? compact(a[k]) : "(absent)") + " -> " +
                  (in_b ? compact(b[k]) : "(absent)"));
  }
  return out;
}

}  // namespace fsr

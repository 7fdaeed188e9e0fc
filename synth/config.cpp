#include "synth/config.h"

#include <algorithm>
#include <cmath>

#include "core/json_read.h"
#include "core/validate.h"

namespace fsr {
namespace {

using Keys = std::vector<std::string>;

// A per-level list: an array of exactly `levels` entries, or one value used for every level.
std::vector<Json> per_level(const Json& j, const std::string& field, int levels) {
  if (!j.is_array()) return std::vector<Json>(levels, j);
  if (static_cast<int>(j.size()) != levels) {
    fail_field(field, compact_json(j), "must have levels = " + std::to_string(levels) + " entries");
  }
  return std::vector<Json>(j.begin(), j.end());
}

std::filesystem::path resolve(const std::filesystem::path& base, const std::string& p) {
  std::filesystem::path path(p);
  if (path.is_relative() && !base.empty()) path = base / path;
  return std::filesystem::absolute(path).lexically_normal();
}

bool looks_like_npy(const std::string& s) {
  return s.size() > 4 && s.compare(s.size() - 4, 4, ".npy") == 0;
}

}  // namespace

std::string to_string(Correlation c) {
  switch (c) {
    case Correlation::kIndependent:
      return "independent";
    case Correlation::kLatent:
      return "latent";
    case Correlation::kFile:
      return "file";
  }
  return "?";
}

std::string to_string(FirstLayerNoise n) { return enum_name(n); }

std::string to_string(DictionaryKind k) {
  switch (k) {
    case DictionaryKind::kOrthonormal:
      return "orthonormal";
    case DictionaryKind::kIncoherent:
      return "incoherent";
    case DictionaryKind::kFile:
      return "file";
  }
  return "?";
}

TargetConfig parse_target_config(const Json& json, const std::filesystem::path& base_dir) {
  require_known_keys(
      json, "",
      Keys{"levels", "grid", "side", "channels", "patch", "colors", "kernel", "active",
           "first_layer", "dictionary", "noise", "seed", "calibration_samples"},
      UnknownKey::kValue);
  for (const char* key : {"levels", "channels", "patch", "colors", "active"}) {
    if (!json.contains(key)) fail_field(key, "(missing)", "is required");
  }
  if (!json.contains("grid") && !json.contains("side")) {
    fail_field("grid", "(missing)", "is required (or give side, the finest image side)");
  }

  TargetConfig c;
  c.levels = static_cast<int>(as_int(json["levels"], "levels", 1, kMaxLevels));
  c.patch = static_cast<int>(as_int(json["patch"], "patch", 1, kMaxPatch));
  c.colors = static_cast<int>(as_int(json["colors"], "colors", 1, kMaxColors));
  const std::int64_t scale = std::int64_t{c.patch} << (c.levels - 1);  // side / grid
  if (json.contains("grid")) c.grid = static_cast<int>(as_int(json["grid"], "grid", 1, kMaxGrid));
  if (json.contains("side")) {
    const std::int64_t side = as_int(json["side"], "side", 1, 1 << 16);
    if (side % scale != 0) {
      fail_field("side", side,
                 "must be divisible by patch * 2^(levels - 1) = " + std::to_string(scale));
    }
    if (json.contains("grid") && side != scale * c.grid) {
      fail_field("side", side,
                 "must equal patch * grid * 2^(levels - 1) = " + std::to_string(scale * c.grid));
    }
    c.grid = static_cast<int>(side / scale);
    require_int_in_range("grid", c.grid, 1, kMaxGrid);
  }
  if (scale * c.grid > 8192) {
    fail_field("grid", c.grid,
               "finest image side patch * grid * 2^(levels - 1) = " +
                   std::to_string(scale * c.grid) + " must be <= 8192");
  }
  {
    const auto items = per_level(json["channels"], "channels", c.levels);
    for (int l = 0; l < c.levels; ++l) {
      c.channels.push_back(static_cast<int>(
          as_int(items[l], "channels[" + std::to_string(l) + "]", 1, kMaxChannels)));
    }
  }
  if (json.contains("kernel")) {
    const auto k = as_int(json["kernel"], "kernel", 0, 1 << 20);
    require_kernel("kernel", k);
    c.kernel = static_cast<int>(k);
  }
  {
    const auto items = per_level(json["active"], "active", c.levels);
    for (int l = 0; l < c.levels; ++l) {
      const std::string f = "active[" + std::to_string(l) + "]";
      const double p = as_number(items[l], f);
      require_in_range(f, p, 0.0, 1.0);
      c.active.push_back(p);
    }
  }

  // first_layer
  c.latent_dim = c.first_layer_units();
  if (json.contains("first_layer")) {
    const Json& fl = json["first_layer"];
    require_known_keys(fl, "first_layer", Keys{"correlation", "latent_dim", "alpha", "noise"},
                       UnknownKey::kValue);
    bool latent_given = false;
    if (fl.contains("latent_dim")) {
      c.latent_dim = static_cast<int>(as_int(fl["latent_dim"], "first_layer.latent_dim", 1, 65536));
      latent_given = true;
    }
    if (fl.contains("correlation")) {
      const Json& cj = fl["correlation"];
      if (!cj.is_string())
        fail_field("first_layer.correlation", compact_json(cj), "must be a string");
      const std::string s = cj.get<std::string>();
      if (s == "independent") {
        c.correlation = Correlation::kIndependent;
      } else if (s == "latent") {
        c.correlation = Correlation::kLatent;
      } else if (looks_like_npy(s)) {
        c.correlation = Correlation::kFile;
        c.correlation_file = resolve(base_dir, s);
      } else {
        fail_field("first_layer.correlation", s,
                   "must be independent, latent or a path to an .npy of A");
      }
    }
    // Independent units: g = z, so m0 = n_1 whatever latent_dim says (documented).
    if (c.correlation == Correlation::kIndependent) c.latent_dim = c.first_layer_units();
    if (c.correlation == Correlation::kLatent && !latent_given) {
      fail_field("first_layer.latent_dim", "(missing)", "is required with correlation = latent");
    }
    if (fl.contains("noise")) {
      // The spellings are FirstLayerNoise's enum_names (core/fields.h), the message the field
      // table's: first_layer.noise = "cauchy": must be one of gaussian, laplace, mixture.
      const Json& nj = fl["noise"];
      const std::string rule = "must be one of " + join_names(enum_spellings<FirstLayerNoise>());
      if (!nj.is_string()) fail_field("first_layer.noise", compact_json(nj), rule);
      bool known = false;
      for (const auto& n : enum_names(FirstLayerNoise{})) {
        if (nj.get<std::string>() == n.name) {
          c.first_layer_noise = n.value;
          known = true;
        }
      }
      if (!known) fail_field("first_layer.noise", compact_json(nj), rule);
    }
    if (fl.contains("alpha")) {
      const Json& a = fl["alpha"];
      if (a.is_array()) {
        if (a.size() != 2)
          fail_field("first_layer.alpha", compact_json(a), "must be [min, max] or one number");
        c.alpha_min = as_number(a[0], "first_layer.alpha[0]");
        c.alpha_max = as_number(a[1], "first_layer.alpha[1]");
      } else {
        c.alpha_min = c.alpha_max = as_number(a, "first_layer.alpha");
      }
      // Beyond these the construction's products leave double range (alpha = 1e155 made W_2
      // NaN, 1e-300 too).
      require_in_range("first_layer.alpha[0]", c.alpha_min, 1e-6, 1e6, true, true);
      require_in_range("first_layer.alpha[1]", c.alpha_max, 1e-6, 1e6, true, true);
      if (c.alpha_max < c.alpha_min) {
        fail_field("first_layer.alpha[1]", c.alpha_max,
                   "must be >= first_layer.alpha[0] = " + format_value(c.alpha_min));
      }
    }
  }

  // dictionary
  const int d = c.patch_dim();
  if (json.contains("dictionary")) {
    const Json& dj = json["dictionary"];
    require_known_keys(dj, "dictionary", Keys{"kind", "coherence"}, UnknownKey::kValue);
    if (dj.contains("kind")) {
      const Json& kj = dj["kind"];
      if (!kj.is_string()) fail_field("dictionary.kind", compact_json(kj), "must be a string");
      const std::string s = kj.get<std::string>();
      if (s == "orthonormal") {
        c.dictionary = DictionaryKind::kOrthonormal;
      } else if (s == "incoherent") {
        c.dictionary = DictionaryKind::kIncoherent;
      } else if (looks_like_npy(s)) {
        c.dictionary = DictionaryKind::kFile;
        c.dictionary_file = resolve(base_dir, s).string();
      } else {
        fail_field("dictionary.kind", s, "must be orthonormal, incoherent or a path to an .npy");
      }
    }
    if (dj.contains("coherence")) {
      c.coherence = as_number(dj["coherence"], "dictionary.coherence");
      require_in_range("dictionary.coherence", c.coherence, 0.0, 1.0, true, true);
    }
  }
  if (c.dictionary == DictionaryKind::kOrthonormal) {
    for (int l = 0; l < c.levels; ++l) {
      if (c.channels[l] > d) {
        fail_field("channels[" + std::to_string(l) + "]", c.channels[l],
                   "must be <= d = patch^2 * colors = " + std::to_string(d) +
                       " for dictionary.kind = orthonormal (use incoherent)");
      }
    }
  }
  if (c.dictionary == DictionaryKind::kIncoherent) {
    if (!(c.coherence > 0.0 && c.coherence < 1.0)) {
      fail_field("dictionary.coherence", c.coherence, "must be in (0, 1) for kind = incoherent");
    }
    for (int l = 0; l < c.levels; ++l) {
      const double m = c.channels[l];
      if (m <= d) continue;
      // Welch bound: no m unit vectors in R^d have coherence below it.
      const double welch = std::sqrt((m - d) / (d * (m - 1.0)));
      if (c.coherence < welch * 1.02) {
        fail_field("dictionary.coherence", c.coherence,
                   "must be above the Welch bound " + format_value(welch) +
                       " (with 2% slack) for m = " + std::to_string(c.channels[l]) +
                       " columns in d = " + std::to_string(d) + " (level " + std::to_string(l + 1) +
                       ")");
      }
    }
  }

  if (json.contains("noise")) {
    c.noise = as_number(json["noise"], "noise");
    require_in_range("noise", c.noise, 0.0, 1e6, true, true);  // 1.7e308 gave infinite samples
  }
  if (json.contains("seed")) {
    const Json& s = json["seed"];
    if (s.is_number_unsigned()) {
      c.seed = s.get<std::uint64_t>();
    } else {
      c.seed = static_cast<std::uint64_t>(as_int(s, "seed", 0, INT64_MAX));
    }
  }
  if (json.contains("calibration_samples")) {
    c.calibration_samples =
        static_cast<int>(as_int(json["calibration_samples"], "calibration_samples", 100, 10000000));
  }
  // Keep the construction in memory bounds: A is n_1 x m0 doubles.
  const double a_entries = double(c.first_layer_units()) * c.latent_dim;
  if (a_entries > 5e7) {
    fail_field("first_layer.latent_dim", c.latent_dim,
               "A = (grid^2 * channels[0]) x latent_dim = " + format_value(a_entries) +
                   " entries must be <= 5e7");
  }
  return c;
}

Json to_json(const TargetConfig& c) {
  Json fl{{"correlation", c.correlation == Correlation::kFile ? c.correlation_file.string()
                                                              : to_string(c.correlation)},
          {"latent_dim", c.latent_dim},
          {"alpha", Json::array({c.alpha_min, c.alpha_max})}};
  // Written only when it is not the default: the normalised config (and so the suite plans and
  // target.json) of every Gaussian target stays what it was before the key existed.
  if (c.first_layer_noise != FirstLayerNoise::kGaussian)
    fl["noise"] = to_string(c.first_layer_noise);
  Json dict{
      {"kind", c.dictionary == DictionaryKind::kFile ? c.dictionary_file : to_string(c.dictionary)},
      {"coherence", c.coherence}};
  return Json{
      {"levels", c.levels}, {"grid", c.grid},     {"channels", c.channels},
      {"patch", c.patch},   {"colors", c.colors}, {"kernel", c.kernel},
      {"active", c.active}, {"first_layer", fl},  {"dictionary", dict},
      {"noise", c.noise},   {"seed", c.seed},     {"calibration_samples", c.calibration_samples}};
}

}  // namespace fsr

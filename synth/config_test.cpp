// Config validation: every rule gives an InputError whose message names the field, the value and
// the rule.
#include "synth/config.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "core/npy.h"
#include "core/validate.h"
#include "synth/target.h"

namespace fsr {
namespace {

Json issue_example() {
  return Json::parse(R"({"levels": 2, "grid": 2, "channels": [8, 8], "patch": 2, "colors": 3,
    "kernel": 2, "active": [0.1, 0.1],
    "first_layer": {"correlation": "independent", "latent_dim": 16, "alpha": [0.5, 2.0]},
    "dictionary": {"kind": "orthonormal", "coherence": 0.1}, "noise": 0.0, "seed": 1})");
}

// Parses `j` and expects an InputError whose message contains every one of `parts`.
void expect_error(const Json& j, std::vector<std::string> parts,
                  const std::filesystem::path& base = {}) {
  try {
    parse_target_config(j, base);
    ADD_FAILURE() << "no error for " << j.dump();
  } catch (const InputError& e) {
    for (const auto& p : parts) {
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos)
          << "message \"" << e.what() << "\" lacks \"" << p << "\"";
    }
  }
}

TEST(Config, IssueExampleParses) {
  const TargetConfig c = parse_target_config(issue_example());
  EXPECT_EQ(c.levels, 2);
  EXPECT_EQ(c.channels, (std::vector<int>{8, 8}));
  EXPECT_EQ(c.correlation, Correlation::kIndependent);
  EXPECT_EQ(c.latent_dim, 32);  // independent units: m0 = h_1^2 m_1, latent_dim is not used
  EXPECT_EQ(c.patch_dim(), 12);
  EXPECT_EQ(c.side_at(2), 8);
}

TEST(Config, NormalisedRoundTrip) {
  const TargetConfig c = parse_target_config(issue_example());
  const Json j = to_json(c);
  EXPECT_EQ(to_json(parse_target_config(j)), j);
}

TEST(Config, ScalarsBroadcastOverLevels) {
  Json j = issue_example();
  j["channels"] = 8;
  j["active"] = 0.1;
  const TargetConfig c = parse_target_config(j);
  EXPECT_EQ(c.channels, (std::vector<int>{8, 8}));
  EXPECT_EQ(c.active, (std::vector<double>{0.1, 0.1}));
}

TEST(Config, UnknownKeysNamed) {
  Json j = issue_example();
  j["chanels"] = 3;
  expect_error(j, {"chanels", "unknown key"});
  j = issue_example();
  j["first_layer"]["corelation"] = "latent";
  expect_error(j, {"first_layer.corelation = \"latent\": unknown key"});
  j = issue_example();
  j["dictionary"]["mu"] = 0.1;
  expect_error(j, {"dictionary.mu", "unknown key"});
}

TEST(Config, BadValuesNamed) {
  struct Case {
    const char* pointer;
    Json value;
    std::vector<std::string> parts;
  };
  const std::vector<Case> cases{
      {"/active/1", 1.4, {"active[1] = 1.4", "(0, 1)"}},
      {"/active/0", 0.0, {"active[0] = 0", "(0, 1)"}},
      {"/kernel", 3, {"kernel = 3", "must be 2"}},
      {"/levels", 0, {"levels = 0", "[1, 8]"}},
      {"/levels", 2.5, {"levels = 2.5", "integer"}},
      {"/grid", "two", {"grid = \"two\"", "integer"}},
      {"/channels", Json::array({8, 8, 8}), {"channels = [8,8,8]", "levels = 2 entries"}},
      {"/channels/1", 16, {"channels[1] = 16", "<= d = patch^2 * colors = 12", "orthonormal"}},
      {"/first_layer/alpha",
       Json::array({-1, 2}),
       {"first_layer.alpha[0] = -1", "[1e-06, 1000000]"}},
      // Beyond 1e6 the construction overflowed and the message blamed W_2 ("W_2[0] = -nan").
      {"/first_layer/alpha", 1e308, {"first_layer.alpha[0] = 1e+308", "[1e-06, 1000000]"}},
      {"/first_layer/alpha",
       Json::array({2, 1}),
       {"first_layer.alpha[1] = 1", ">= first_layer.alpha[0]"}},
      {"/first_layer/correlation",
       "banded",
       {"first_layer.correlation = banded", "independent, latent"}},
      {"/dictionary/kind", "sparse", {"dictionary.kind = sparse", "orthonormal, incoherent"}},
      {"/dictionary/coherence", 1.5, {"dictionary.coherence = 1.5", "[0, 1]"}},
      {"/noise", -0.1, {"noise = -0.1", "[0, 1000000]"}},
      {"/noise", 1.7e308, {"noise = 1.7e+308", "[0, 1000000]"}},  // gave infinite samples
      {"/seed", -1, {"seed = -1"}},
      {"/calibration_samples", 5, {"calibration_samples = 5"}},
  };
  for (const Case& c : cases) {
    Json j = issue_example();
    j[Json::json_pointer(c.pointer)] = c.value;
    SCOPED_TRACE(std::string(c.pointer) + " = " + c.value.dump());
    expect_error(j, c.parts);
  }
  Json j = issue_example();
  j.erase("active");
  expect_error(j, {"active", "is required"});
  j = issue_example();
  j["first_layer"] = {{"correlation", "latent"}};
  expect_error(j, {"first_layer.latent_dim", "required with correlation = latent"});
}

// first_layer.noise: the law of z (synth/latent.h). The default is gaussian and is not written
// into the normalised config, so every existing config normalises as it did before the key.
TEST(Config, FirstLayerNoise) {
  const TargetConfig plain = parse_target_config(issue_example());
  EXPECT_EQ(plain.first_layer_noise, FirstLayerNoise::kGaussian);
  EXPECT_FALSE(to_json(plain)["first_layer"].contains("noise"));
  Json j = issue_example();
  j["first_layer"]["noise"] = "gaussian";
  EXPECT_EQ(to_json(parse_target_config(j)), to_json(plain));
  for (const auto& [name, law] : {std::pair{"laplace", FirstLayerNoise::kLaplace},
                                  std::pair{"mixture", FirstLayerNoise::kMixture}}) {
    j["first_layer"]["noise"] = name;
    const TargetConfig c = parse_target_config(j);
    EXPECT_EQ(c.first_layer_noise, law);
    const Json normal = to_json(c);
    EXPECT_EQ(normal["first_layer"]["noise"], name);
    EXPECT_EQ(to_json(parse_target_config(normal)), normal);  // round trip
  }
  j["first_layer"]["noise"] = "cauchy";
  expect_error(j, {"first_layer.noise = \"cauchy\": must be one of gaussian, laplace, mixture"});
  j["first_layer"]["noise"] = "Laplace";  // spellings are exact
  expect_error(j, {"first_layer.noise = \"Laplace\": must be one of gaussian, laplace, mixture"});
  j["first_layer"]["noise"] = 3;
  expect_error(j, {"first_layer.noise = 3: must be one of gaussian, laplace, mixture"});
  j["first_layer"].erase("noise");
  j["first_layer"]["noize"] = "laplace";
  expect_error(j, {"first_layer.noize = \"laplace\": unknown key", "noise"});
}

TEST(Config, SizesThatDoNotDivide) {
  Json j = issue_example();
  j.erase("grid");
  j["side"] = 10;  // patch 2, 2 levels: side must be a multiple of 4
  expect_error(j, {"side = 10", "divisible by patch * 2^(levels - 1) = 4"});
  j["side"] = 12;
  EXPECT_EQ(parse_target_config(j).grid, 3);
  j["grid"] = 2;
  expect_error(j, {"side = 12", "must equal patch * grid * 2^(levels - 1) = 8"});
}

TEST(Config, IncoherentBelowWelchBound) {
  Json j = issue_example();
  j["channels"] = {8, 40};
  j["dictionary"] = {{"kind", "incoherent"}, {"coherence", 0.1}};
  expect_error(j, {"dictionary.coherence = 0.1", "Welch bound", "m = 40", "d = 12"});
}

TEST(Config, DictionaryFileOfWrongShape) {
  const auto dir = std::filesystem::temp_directory_path() / "fsr_config_test_dict";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  write_npy(dir / "M.npy", Eigen::MatrixXd(Eigen::MatrixXd::Identity(12, 7)));
  Json j = issue_example();
  j["dictionary"] = {{"kind", "M.npy"}};
  const TargetConfig c = parse_target_config(j, dir);  // the path alone is fine ...
  try {
    build_target(c);  // ... the shape is checked when the file is read
    ADD_FAILURE() << "no error for a 12 x 7 dictionary with m = 8";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("dictionary.kind"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("shape (12, 7) must be (12, 8)"), std::string::npos)
        << e.what();
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace fsr

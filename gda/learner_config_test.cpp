#include "gda/learner_config.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "core/atomic_file.h"
#include "core/validate.h"

namespace fsr {
namespace {

std::string error_of(const Json& j) {
  try {
    parse_learner_config(j);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(LearnerConfig, DefaultsRoundTrip) {
  const Json normal = to_json(parse_learner_config(Json::object()));
  EXPECT_EQ(to_json(parse_learner_config(normal)), normal);
  EXPECT_EQ(normal["sgda"]["d_steps"], 3);
  EXPECT_EQ(normal["discriminator"]["kind"], "theory");
}

TEST(LearnerConfig, OverlaysUserValues) {
  const LearnerConfig c = parse_learner_config(Json::parse(
      R"({"seed": 7, "sgda": {"batch": 64, "lr_g": 1e-4}, "schedule": {"steps": [10, 20]}})"));
  EXPECT_EQ(c.seed, 7u);
  EXPECT_EQ(c.sgda.batch, 64);
  EXPECT_DOUBLE_EQ(c.sgda.lr_g, 1e-4);
  EXPECT_EQ(c.steps_for_stage(1), 20);
  EXPECT_EQ(parse_learner_config(Json::parse(R"({"schedule": {"steps": 5}})")).steps_for_stage(3),
            5);
}

TEST(LearnerConfig, ErrorsNameFieldValueAndRule) {
  EXPECT_EQ(error_of(Json::parse(R"({"sgda": {"d_steps": 0}})")),
            "sgda.d_steps = 0: must be an integer in [1, 100]");
  EXPECT_NE(error_of(Json::parse(R"({"sgda": {"bogus": 1}})")).find("sgda.bogus = 1: unknown key"),
            std::string::npos);
  EXPECT_EQ(error_of(Json::parse(R"({"loss": {"kind": "hinge"}})")),
            "loss.kind = hinge: must be one of ipm, nonsaturating");
  EXPECT_EQ(error_of(Json::parse(R"({"sgda": {"batch": "big"}})")),
            "sgda.batch = \"big\": must be a number");
  EXPECT_NE(error_of(Json::parse(R"({"data": {"source": "fixed", "train_samples": 10}})"))
                .find("data.train_samples = 10"),
            std::string::npos);
  EXPECT_NE(error_of(Json::parse(R"({"discriminator": {"kind": "conv", "readout": "optimal"}})"))
                .find("discriminator.readout"),
            std::string::npos);
  EXPECT_EQ(error_of(Json::parse(R"({"units": {"prune_rule": "energy"}})")),
            "units.prune_rule = energy: must be one of strongest, clusters");
  EXPECT_NE(error_of(Json::parse(R"({"units": {"cluster_cosine": 1.0}})"))
                .find("units.cluster_cosine = 1"),
            std::string::npos);
  EXPECT_NE(error_of(Json::parse(R"({"units": {"cluster_floor": -0.1}})"))
                .find("units.cluster_floor = -0.1"),
            std::string::npos);
}

// generator.kernel: 0 (the target's) by default, so every shipped config is unchanged; 2 or 4
// through synth/architecture.h's require_kernel, naming the field.
TEST(LearnerConfig, GeneratorKernelDefaultsToTheTargetsAndIsCheckedByRequireKernel) {
  EXPECT_EQ(parse_learner_config(Json::object()).generator.kernel, 0);
  EXPECT_EQ(parse_learner_config(Json::parse(R"({"generator": {"kernel": 4}})")).generator.kernel,
            4);
  EXPECT_EQ(error_of(Json::parse(R"({"generator": {"kernel": 3}})")),
            "generator.kernel = 3: must be 2 (parent only) or 4 (padding 1, 2x2 parents)");
  EXPECT_EQ(error_of(Json::parse(R"({"generator": {"kernel": 6}})")),
            "generator.kernel = 6: must be an integer in [0, 4]");
}

// data.normals: exact by default (shipped configs unchanged); only with stream data.
TEST(LearnerConfig, DataNormalsDefaultsToExactAndIsRefusedNamingTheField) {
  const LearnerConfig d = parse_learner_config(Json::object());
  EXPECT_EQ(d.data.normals, DataNormals::kExact);
  EXPECT_EQ(to_json(d)["data"]["normals"], "exact");
  EXPECT_EQ(parse_learner_config(Json::parse(R"({"data": {"normals": "fast"}})")).data.normals,
            DataNormals::kFast);
  EXPECT_EQ(error_of(Json::parse(R"({"data": {"normals": "approx"}})")),
            "data.normals = approx: must be one of exact, fast");
  EXPECT_EQ(error_of(Json::parse(R"({"data": {"normals": 1}})")).rfind("data.normals = 1", 0), 0u);
  EXPECT_EQ(
      error_of(
          Json::parse(R"({"data": {"source": "fixed", "train_samples": 1000, "normals": "fast"}})"))
          .rfind("data.normals = fast: needs data.source = stream", 0),
      0u);
  EXPECT_EQ(error_of(Json::parse(
                R"({"data": {"source": "fixed", "train_samples": 1000, "normals": "exact"}})")),
            "");
}

// A config saved before data.normals existed resumes as its default (what that run used).
TEST(LearnerConfig, DifferencesTakeAFieldTheSavedConfigLacksAsItsDefault) {
  Json saved = to_json(parse_learner_config(Json::object()));
  saved["data"].erase("normals");
  EXPECT_TRUE(config_differences(saved, to_json(parse_learner_config(Json::object()))).empty());
  const auto d = config_differences(
      saved, to_json(parse_learner_config(Json::parse(R"({"data": {"normals": "fast"}})"))));
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0], "data.normals: \"exact\" -> \"fast\"");
}

// Likewise a config saved before discriminator.quartic existed: no quartic read-out, the default.
TEST(LearnerConfig, DifferencesTakeAMissingQuarticAsFalse) {
  Json saved = to_json(parse_learner_config(Json::object()));
  EXPECT_EQ(saved["discriminator"]["quartic"], false);
  saved["discriminator"].erase("quartic");
  EXPECT_TRUE(config_differences(saved, to_json(parse_learner_config(Json::object()))).empty());
  const auto d = config_differences(
      saved, to_json(parse_learner_config(Json::parse(R"({"discriminator": {"quartic": true}})"))));
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0], "discriminator.quartic: false -> true");
}

TEST(LearnerConfig, DifferencesNameChangedFields) {
  const Json a = to_json(parse_learner_config(Json::object()));
  const Json b =
      to_json(parse_learner_config(Json::parse(R"({"sgda": {"batch": 256}, "seed": 3})")));
  const auto d = config_differences(a, b);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0], "seed: 1 -> 3");
  EXPECT_EQ(d[1], "sgda.batch: 512 -> 256");
  EXPECT_TRUE(config_differences(a, a).empty());
}

// docs/learner.md's options table is generated from learner_fields(): this test fails when the two
// differ and prints the table; FSR_UPDATE_DOCS=1 rewrites the section in place instead.
TEST(LearnerConfig, DocsTableIsGeneratedFromTheFields) {
  const std::string path = std::string(FSR_SOURCE_DIR) + "/docs/learner.md";
  std::ifstream in(path);
  ASSERT_TRUE(in) << path;
  std::stringstream buf;
  buf << in.rdbuf();
  const std::string doc = buf.str();
  const std::string begin =
      "<!-- learner options: generated from learner_fields(); do not edit by hand -->\n";
  const std::string end = "<!-- end of learner options -->";
  const auto b = doc.find(begin), e = doc.find(end);
  ASSERT_NE(b, std::string::npos);
  ASSERT_NE(e, std::string::npos);
  const std::string want = options_markdown(learner_fields().docs());
  const std::string have = doc.substr(b + begin.size(), e - b - begin.size());
  if (have != want && std::getenv("FSR_UPDATE_DOCS")) {
    write_file_atomic(path, doc.substr(0, b + begin.size()) + want + doc.substr(e));
    return;
  }
  EXPECT_EQ(have, want) << "docs/learner.md is out of date; FSR_UPDATE_DOCS=1 "
                        << "rewrites it";
}

}  // namespace
}  // namespace fsr

// Tests of the declarative field table (core/fields.h) and the shared JSON readers
// (core/json_read.h). The references are written out by hand: the expected messages, the
// normalised JSON and the Markdown rows of a small config declared here.
#include "core/fields.h"

#include <gtest/gtest.h>

#include <cmath>

#include "core/json_read.h"

namespace fsr {
namespace {

enum class Mode { kFast, kCareful };
constexpr std::array<EnumName<Mode>, 2> enum_names(Mode) {
  return {{{Mode::kFast, "fast"}, {Mode::kCareful, "careful"}}};
}

struct Demo {
  std::string note;
  std::uint64_t seed = 1;
  struct Inner {
    int steps = 3;
    double rate = 0.5;
    bool on = true;
    Mode mode = Mode::kFast;
    std::vector<int> sizes = {10};
  } inner;
};

const FieldTable<Demo>& demo_fields() {
  static const FieldTable<Demo> t = [] {
    FieldTable<Demo> t;
    t.text(FSR_FIELD(Demo, note), "free text")
        .count(FSR_FIELD(Demo, seed), "the seed")
        .integer(FSR_FIELD(Demo, inner.steps), 1, 100, "steps")
        .number(FSR_FIELD(Demo, inner.rate), NumberRule::in(0, 1, false, true), "a rate")
        .boolean(FSR_FIELD(Demo, inner.on), "a switch")
        .choice(FSR_FIELD(Demo, inner.mode), "how")
        .check([](const Demo& d) {
          if (d.inner.mode == Mode::kCareful && d.inner.steps < 10)
            fail_field("inner.steps", d.inner.steps, "must be >= 10 with inner.mode = careful");
        })
        .integer_list(FSR_FIELD(Demo, inner.sizes), 1, 1000, "sizes per stage");
    return t;
  }();
  return t;
}

std::string error_of(const Json& j) {
  try {
    demo_fields().parse(j);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(FieldTable, DefaultsRoundTripAndEveryKeyIsWritten) {
  const Json normal = demo_fields().to_json(Demo{});
  EXPECT_EQ(normal, Json::parse(R"({"note": "", "seed": 1, "inner": {"steps": 3, "rate": 0.5,
                                    "on": true, "mode": "fast", "sizes": [10]}})"));
  EXPECT_EQ(demo_fields().to_json(demo_fields().parse(normal)), normal);
}

TEST(FieldTable, OverlaysUserValuesAndParsesEnumsOnce) {
  const Demo d = demo_fields().parse(
      Json::parse(R"({"seed": 7, "inner": {"mode": "careful", "steps": 12, "sizes": 5}})"));
  EXPECT_EQ(d.seed, 7u);
  EXPECT_EQ(d.inner.mode, Mode::kCareful);
  EXPECT_EQ(d.inner.steps, 12);
  EXPECT_EQ(d.inner.sizes, std::vector<int>{5});  // one number: a one-entry list
  EXPECT_DOUBLE_EQ(d.inner.rate, 0.5);            // untouched default
  EXPECT_EQ(demo_fields().parse(Json::parse(R"({"inner": {"steps": 4.0}})")).inner.steps, 4);
}

TEST(FieldTable, ErrorsNameFieldValueAndRule) {
  EXPECT_EQ(error_of(Json::parse(R"({"inner": {"steps": 0}})")),
            "inner.steps = 0: must be an integer in [1, 100]");
  EXPECT_EQ(error_of(Json::parse(R"({"inner": {"steps": 2.5}})")),
            "inner.steps = 2.5: must be an integer in [1, 100]");
  EXPECT_EQ(error_of(Json::parse(R"({"inner": {"rate": 0}})")),
            "inner.rate = 0: must be in (0, 1]");
  EXPECT_EQ(error_of(Json::parse(R"({"inner": {"mode": "slow"}})")),
            "inner.mode = slow: must be one of fast, careful");
  EXPECT_EQ(error_of(Json::parse(R"({"inner": {"rate": "big"}})")),
            "inner.rate = \"big\": must be a number");
  EXPECT_EQ(error_of(Json::parse(R"({"inner": {"bogus": 1}})")),
            "inner.bogus = 1: unknown key (allowed: mode, on, rate, sizes, steps)");
  EXPECT_EQ(error_of(Json::parse(R"({"inner": 3})")), "inner = 3: must be an object");
  EXPECT_EQ(error_of(Json::parse(R"({"seed": -1})")), "seed = -1: must be an integer >= 0");
  EXPECT_EQ(error_of(Json::parse(R"({"inner": {"sizes": []}})")),
            "inner.sizes = []: must not be empty");
  EXPECT_EQ(error_of(Json::parse(R"({"inner": {"sizes": [3, 0]}})")),
            "inner.sizes[1] = 0: must be an integer in [1, 1000]");
  EXPECT_EQ(error_of(Json::parse(R"({"inner": {"sizes": "a"}})")),
            "inner.sizes = \"a\": must be a number or an array of numbers");
  // The cross-field rule runs where it is declared: after mode and steps, before sizes.
  EXPECT_EQ(error_of(Json::parse(R"({"inner": {"mode": "careful", "sizes": [0]}})")),
            "inner.steps = 3: must be >= 10 with inner.mode = careful");
}

TEST(FieldTable, DocsRowsCarryTypeRuleAndDefault) {
  const std::vector<FieldDoc> rows = demo_fields().docs();
  ASSERT_EQ(rows.size(), 7u);  // the check is not a field
  EXPECT_EQ(rows[2].path, "inner.steps");
  EXPECT_EQ(rows[2].type, "integer in [1, 100]");
  EXPECT_EQ(rows[2].default_value, "3");
  EXPECT_EQ(rows[3].type, "number in (0, 1]");
  EXPECT_EQ(rows[5].type, "one of fast, careful");
  EXPECT_EQ(rows[5].default_value, "fast");
  FieldDoc piped = rows[2];
  piped.doc = "|x| steps";
  EXPECT_EQ(options_markdown({piped}),
            "| key | type and rule | default | meaning |\n| --- | --- | --- | --- |\n"
            "| `inner.steps` | integer in [1, 100] | `3` | \\|x\\| steps |\n");
}

TEST(JsonRead, ValueReadersNameTheField) {
  EXPECT_EQ(as_int(Json(3.0), "k", 0, 5), 3);  // an integral float is an integer
  EXPECT_THROW(as_int(Json(3.5), "k", 0, 5), InputError);
  EXPECT_THROW(as_int(Json(std::uint64_t{1} << 63), "k", 0, 5), InputError);
  EXPECT_EQ(as_uint(Json(std::uint64_t{1} << 63), "seed"), std::uint64_t{1} << 63);
  try {
    as_number(Json("x"), "a.b");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_STREQ(e.what(), "a.b = \"x\": must be a number");
  }
  // Keyed readers: absent -> fallback; integers must be written as integers.
  const Json j = Json::parse(R"({"n": 4, "f": 4.0, "s": "", "c": "b"})");
  EXPECT_EQ(read_int(j, "n", "cfg", 1, 0, 10), 4);
  EXPECT_EQ(read_int(j, "missing", "cfg", 7, 0, 10), 7);
  EXPECT_THROW(read_int(j, "f", "cfg", 1, 0, 10), InputError);
  EXPECT_EQ(read_string(j, "s", "cfg", "x", /*allow_empty=*/true), "");
  EXPECT_THROW(read_string(j, "s", "cfg", "x"), InputError);
  EXPECT_EQ(read_choice(j, "c", "cfg", "a", {"a", "b"}), "b");
  try {
    read_choice(j, "c", "cfg", "a", {"a"});
    FAIL();
  } catch (const InputError& e) {
    EXPECT_STREQ(e.what(), "cfg.c = b: must be one of a");
  }
}

TEST(JsonRead, KeysPathsAndDifferences) {
  const Json j = Json::parse(R"({"a": {"b": [10, {"c": 3}]}})");
  EXPECT_EQ(json_at_path(j, "a.b.0"), 10);
  EXPECT_EQ(json_at_path(j, "a.b.1.c"), 3);
  EXPECT_TRUE(json_at_path(j, "a.x").is_null());
  EXPECT_TRUE(json_at_path(j, "a.b.7").is_null());
  Json w;
  w[dotted_pointer("x.y")] = 1;
  EXPECT_EQ(w, Json::parse(R"({"x": {"y": 1}})"));
  try {
    require_known_keys(Json::parse(R"({"a": 1, "z": 2})"), "cfg", {"a"});
    FAIL();
  } catch (const InputError& e) {
    EXPECT_STREQ(e.what(), "cfg.z: unknown key; known keys: a");
  }
  try {
    require_known_keys(Json::parse(R"({"z": 2})"), "cfg", {"a", "b"}, UnknownKey::kValue);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_STREQ(e.what(), "cfg.z = 2: unknown key (allowed: a, b)");
  }
  const auto d = json_differences(Json::parse(R"({"a": 1, "b": {"c": 2}})"),
                                  Json::parse(R"({"a": 1, "b": {"c": 3, "d": 4}})"));
  EXPECT_EQ(d, (std::vector<std::string>{"b.c: 2 -> 3", "b.d: (absent) -> 4"}));
  EXPECT_EQ(compact_json(Json(std::string(70, 'x'))).size(), 60u);
  EXPECT_TRUE(finite_or_null(std::nan("")).is_null());
}

}  // namespace
}  // namespace fsr

#include "core/validate.h"

#include <gtest/gtest.h>

#include <cmath>

namespace fsr {
namespace {

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "<no error>";
}

TEST(Validate, MessagesNameFieldValueAndRule) {
  EXPECT_EQ(message_of([] { require_positive("alpha", -1.0); }),
            "alpha = -1: must be finite and > 0");
  EXPECT_EQ(message_of([] { require_in_range("active[0]", 1.4, 0, 1); }),
            "active[0] = 1.4: must be in (0, 1)");
  EXPECT_EQ(message_of([] { require_in_range("x", 0.0, 0, 1, true, false); }), "<no error>");
  EXPECT_EQ(message_of([] { require_int_in_range("levels", 9, 1, 6); }),
            "levels = 9: must be an integer in [1, 6]");
  EXPECT_EQ(message_of([] { require_finite("beta", NAN); }), "beta = nan: must be finite");
  const double data[] = {0.0, 1.0, INFINITY};
  EXPECT_EQ(message_of([&] { require_all_finite("S", data, 3); }), "S[2] = inf: must be finite");
  EXPECT_EQ(message_of([] { require_nonnegative("noise", 0.0); }), "<no error>");
}

// Text from the input is echoed into the one-line message; before, a key holding a newline and a
// NUL split the message and cut it at the NUL.
TEST(Validate, MessagesEscapeControlBytesAndCutLongValues) {
  const std::string key("bad\nkey\0x\x1b", 10);
  EXPECT_EQ(field_message(key, std::string("v\tal\r"), "unknown key"),
            "bad\\nkey\\0x\\x1b = v\\tal\\r: unknown key");
  EXPECT_EQ(escape_control("caf\xc3\xa9 \x7f"), "caf\xc3\xa9 \\x7f");  // UTF-8 stays as is
  const std::string long_value(1000, 'a');
  const std::string m = field_message("f", long_value, "rule");
  EXPECT_EQ(m, "f = " + std::string(297, 'a') + "...: rule");
  // A cut never splits a UTF-8 character: 150 two-byte characters, cut at byte 297 -> 296.
  std::string accents;
  for (int i = 0; i < 150; ++i) accents += "\xc3\xa9";
  EXPECT_EQ(shorten(accents + "tail", 300), accents.substr(0, 296) + "...");
}

// JSON numbers are doubles: 1e300 for an integer field was converted first (undefined; it printed
// -9223372036854775808) and range-checked after.
TEST(Validate, IntegersAreCheckedBeforeTheyAreConverted) {
  EXPECT_EQ(require_integer("n", 12.0, 1, 100), 12);
  EXPECT_EQ(message_of([] { require_integer("sgda.batch", 1e300, 1, 1048576); }),
            "sgda.batch = 1e+300: must be an integer in [1, 1048576]");
  EXPECT_EQ(message_of([] { require_integer("n", 2.5, 1, 100); }),
            "n = 2.5: must be an integer in [1, 100]");
  EXPECT_EQ(message_of([] { require_integer("n", NAN, 1, 100); }),
            "n = nan: must be an integer in [1, 100]");
  EXPECT_EQ(message_of([] { require_integer("n", 9223372036854775808.0, 0, INT64_MAX); }),
            "n = 9.223372037e+18: must be an integer in [0, 9223372036854775807]");
  EXPECT_EQ(require_integer("n", -9223372036854775808.0, INT64_MIN, 0), INT64_MIN);
}

TEST(Validate, FormatsShapesLikeNumpy) {
  EXPECT_EQ(format_shape({}), "()");
  EXPECT_EQ(format_shape({3}), "(3,)");
  EXPECT_EQ(format_shape({2, 3}), "(2, 3)");
}

}  // namespace
}  // namespace fsr

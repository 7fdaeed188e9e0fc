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

TEST(Validate, FormatsShapesLikeNumpy) {
  EXPECT_EQ(format_shape({}), "()");
  EXPECT_EQ(format_shape({3}), "(3,)");
  EXPECT_EQ(format_shape({2, 3}), "(2, 3)");
}

}  // namespace
}  // namespace fsr

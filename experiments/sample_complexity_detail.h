// Pieces the sample-complexity files share (experiments/sample_complexity*.cpp); not part of the
// API. The suite (parsing, loading), the N* search, the fits and the run each have their file.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "core/json_io.h"
#include "experiments/sample_complexity.h"

namespace fsr::sample_complexity_detail {

inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// A job's config at a point and training-set size: the job's config, the point's patch, N at
// samples_key (sample_complexity_suite.cpp).
Json job_config_for(const ComplexityJob& job, const ComplexityPoint& point,
                    const std::string& samples_key, std::int64_t n);

// [lo, hi] with non-finite ends as null; the q-quantile by linear interpolation, NaN when empty
// (sample_complexity_fit.cpp).
Json interval_json(const Interval& i);
double quantile(std::vector<double> v, double q);

}  // namespace fsr::sample_complexity_detail

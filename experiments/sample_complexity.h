// Sample complexity N*(d, ε) (docs/science.md §5 "theorem: poly(d, 1/ε) samples"): for each
// dimension point (target overrides that move d and m together) and job (any registered job kind:
// a first-layer baseline now, "gda" later), find the smallest training-set size N whose recovery
// error — a dotted path into the job's result — is <= ε in at least a configured fraction of
// seeds; then fit log N* against log d and log(1/ε) (theory/bounds.h), compare polynomial against
// exponential growth and the reference bounds of docs/science.md §3, and fit error-vs-N slopes.
//
//   fsr::SampleComplexitySuite s = fsr::load_sample_complexity_suite(
//       "experiments/sample_complexity_first_layer.json", "ci");
//   fsr::Json result = fsr::run_sample_complexity(s, {.out = "runs/sc"});  // + DIR/*.json
//
// Search, per (point, job): a log grid N_k = round(n_min · 2^(k/R)), R = steps_per_doubling.
// Doubling visits k = 0, R, 2R, … (and the last grid size <= n_max) until the success rule holds;
// bisection on k between the last failure and the first success then finds N* to a factor 2^(1/R).
// ε values are searched from the largest down; every (N, seed) trial is cached, so an error
// measured at N serves every ε, and cached results also narrow the bisection bracket. Success is
// assumed monotone in N (what bisection needs); every trial is kept in the output so a
// non-monotone case is visible. Statuses: "reached", "at_minimum" (already met at n_min: N* <=
// n_min, censored), "not_reached" (failed at n_max). Only "reached" rows enter the fits.
//
// Files (docs/sample_complexity.md): OUT/plan.json (the normalised suite at its size, for the
// record), OUT/jobs/<id>/result.json (one per trial: a job of the runner's store,
// experiments/job_store.h, written atomically and last; re-running reuses every "ok" trial whose
// spec is the same, so an interrupted run resumes, and refuses one of another configuration), and
// OUT/sample_complexity.json (kind "sample-complexity", the result below). Code: the suite in
// sample_complexity_suite.cpp, the search in _search.cpp, the fits in _fit.cpp, the run here.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/json_io.h"
#include "theory/bounds.h"

namespace fsr {

// One dimension point: a merge patch (RFC 7386) on the suite's base target, and a patch on every
// job's config (e.g. max_units). `target` is the normalised target config it yields.
struct ComplexityPoint {
  std::string name;
  Json target = Json::object();  // normalised (synth/config.h to_json)
  Json config = Json::object();  // patch on the job configs
  double d = 0.0;                // the fit's dimension (the suite's `dimension` of this target)
  int patch_dim = 0;             // r²c
  int channels = 0;              // m_1
  int first_layer_units = 0;     // h_1² m_1
  double active = 0.0;           // requested P(unit active) at level 1 (reference bound constant)
};

struct ComplexityJob {
  std::string name;
  std::string kind;              // a registered job kind
  Json config = Json::object();  // as written; the samples key and the point patch are set per
                                 // trial, then the kind normalises it
  std::vector<std::string> references;  // reference bounds compared with (docs/science.md §3)
};

struct ComplexitySearch {
  std::int64_t n_min = 64;
  std::int64_t n_max = 1 << 20;
  int steps_per_doubling = 4;     // R: grid factor 2^(1/R)
  double success_fraction = 0.8;  // of the seeds with error <= ε

  // N_k of the grid; strictly increasing (validated: n_min (2^(1/R) - 1) >= 1).
  std::int64_t grid_n(int k) const;
  int grid_last() const;  // the largest k with N_k <= n_max
};

struct SampleComplexitySuite {
  std::string name, description, size, size_description;
  double expected_seconds = 0.0;   // the suite's own estimate for this size (0: not given)
  std::filesystem::path source;    // the suite file ("" when parsed from memory)
  std::filesystem::path base_dir;  // relative paths in job configs resolve against it
  std::string error_path = "errors.alpha_max_relative";  // dotted path into a job's result
  // identity: the value is the error; one_minus: error = 1 - value (for scores where higher is
  // better, e.g. a worst matched cosine of a learner's recovery).
  std::string error_transform = "identity";
  std::string samples_key = "samples";  // dotted path into a job's config: the training-set size
  std::string dimension = "patch_dim";  // patch_dim | channels | first_layer_units
  std::vector<ComplexityPoint> points;
  std::vector<ComplexityJob> jobs;
  std::vector<double> eps;  // strictly decreasing (sorted at load)
  std::vector<std::uint64_t> seeds;
  ComplexitySearch search;
  BoundFitOptions fit;
  // Error-vs-N curves: extra trials at these sizes on every point (shared with the search), and
  // the smallest N that enters the slope fit.
  std::vector<std::int64_t> curve_samples;
  std::int64_t curve_min_samples = 0;
  // Steps-to-ε hook for learners: a dotted path into a job's result holding a training trajectory
  // [{"step": s, "error": e}, ...] (or [[s, e], ...]); empty: not measured.
  std::string steps_path;
  Json normalized;  // the whole suite at this size, every default filled in (plan.json)
};

// Parses and validates a suite (docs/sample_complexity.md) at `size` ("ci" or "paper"). Both sizes
// are validated, so a typo in either fails now. Unknown keys are an InputError naming their path.
SampleComplexitySuite parse_sample_complexity_suite(const Json& json, const std::string& size,
                                                    const std::filesystem::path& base_dir = {});
SampleComplexitySuite load_sample_complexity_suite(const std::filesystem::path& file,
                                                   const std::string& size);

struct SampleComplexityOptions {
  std::filesystem::path out;  // required
  int threads = 1;            // given to each trial (trials run one after another)
  std::function<void(const std::string&)> log = {};  // one line per new trial (may be empty)
};

// Runs (or resumes) the search and writes OUT/sample_complexity.json; returns its payload.
Json run_sample_complexity(const SampleComplexitySuite& suite,
                           const SampleComplexityOptions& options);

// ---- Pieces, exposed for tests and for reports ------------------------------------------------

// Error at N for each seed (nullopt: the trial failed or had no finite error at error_path).
using ErrorsAtN = std::function<std::vector<std::optional<double>>(std::int64_t n)>;

struct SearchStep {
  std::int64_t n = 0;
  std::string phase;  // "doubling" or "bisection"
  int successes = 0, seeds = 0;
  bool success = false;
};

struct NStarSearch {
  double eps = 0.0;
  std::string status;             // reached | at_minimum | not_reached
  std::int64_t n_star = 0;        // 0 when not reached
  std::int64_t n_below = 0;       // largest grid N known to fail (0: none)
  std::vector<SearchStep> steps;  // in the order visited (cached evaluations included)
};

bool meets(const std::vector<std::optional<double>>& errors, double eps, double fraction);

// Doubling then bisection for each ε (searched in decreasing order; output in that order), with
// `errors_at` called at most once per N.
std::vector<NStarSearch> search_n_star(const ComplexitySearch& search,
                                       const std::vector<double>& eps, const ErrorsAtN& errors_at);

// Least squares of log error on log N over the given trials (error > 0), with a bootstrap
// percentile interval resampling seeds (cluster bootstrap).
struct SlopeFit {
  double slope = 0.0, intercept = 0.0;
  Interval slope_interval{};
  int n_trials = 0, n_sizes = 0;
};
struct CurveTrial {
  std::int64_t n;
  std::uint64_t seed;
  double error;
};
std::optional<SlopeFit> fit_error_slope(const std::vector<CurveTrial>& trials,
                                        const BoundFitOptions& options);

// The fit of N*(d, ε) and the verdict for one job: exponents with intervals, polynomial vs
// exponential (AIC), and the reference bounds. Rows that are not "reached" must be left out by the
// caller. Returns {"fit": null, "reason": ...} when the rows cannot be fitted.
struct ReferenceAtPoint {
  std::string name;
  ReferenceBound bound;
};
Json fit_and_verdict(const std::vector<SampleComplexityPoint>& rows,
                     const std::vector<std::vector<ReferenceAtPoint>>& references_per_row,
                     const BoundFitOptions& options);

}  // namespace fsr

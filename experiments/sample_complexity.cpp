// Running a sample-complexity suite (sample_complexity.h): trials as jobs of the runner's store
// (experiments/job_store.h), the search per (point, job), curves, steps-to-eps, fits, the document.
#include "experiments/sample_complexity.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>

#include "core/atomic_file.h"
#include "core/json_read.h"
#include "core/validate.h"
#include "experiments/job_store.h"
#include "experiments/jobs.h"
#include "experiments/sample_complexity_detail.h"

namespace fsr {
namespace fs = std::filesystem;

namespace {

using sample_complexity_detail::interval_json;
using sample_complexity_detail::job_config_for;
using sample_complexity_detail::kNaN;
using sample_complexity_detail::quantile;

// ---- Trials: jobs of the runner's store (experiments/job_store.h) -----------------------------

struct Trial {
  std::string id;
  std::size_t point = 0, job = 0;
  std::int64_t n = 0;
  std::uint64_t seed = 0;
  std::string status;         // ok | failed
  std::string result_status;  // the job's own "status" field, when it has one
  std::string message;        // why a trial failed
  std::optional<double> error;
  Json trajectory;  // steps_path value (null when not measured)
  double seconds = 0.0;
};

// One (step, error) entry of a trajectory [{"step", "error"}] or [[step, error]].
std::pair<Json, Json> trajectory_entry(const Json& e) {
  if (e.is_array() && e.size() >= 2) return {e[0], e[1]};
  if (e.is_object()) return {e.value("step", Json()), e.value("error", Json())};
  return {Json(), Json()};
}

// First step of a trajectory with error <= eps.
Json steps_to(const Json& trajectory, double eps) {
  if (!trajectory.is_array()) return nullptr;
  for (const Json& e : trajectory) {
    const auto [step, err] = trajectory_entry(e);
    if (step.is_number() && err.is_number() && err.get<double>() <= eps) return step;
  }
  return nullptr;
}

// First step from which the error stays <= eps to the end of the trajectory (null when the last
// entry is above eps). For a learner started near the truth the first passage is its first record;
// this one measures when training has settled within eps.
Json steps_to_stay(const Json& trajectory, double eps) {
  if (!trajectory.is_array()) return nullptr;
  Json first = nullptr;
  for (const Json& e : trajectory) {
    const auto [step, err] = trajectory_entry(e);
    if (!step.is_number() || !err.is_number()) continue;
    if (err.get<double>() <= eps) {
      if (first.is_null()) first = step;
    } else {
      first = nullptr;
    }
  }
  return first;
}

class TrialRunner {
 public:
  TrialRunner(const SampleComplexitySuite& s, const SampleComplexityOptions& o)
      : suite_(s), options_(o), store_(o.out) {}

  std::vector<std::optional<double>> errors_at(std::size_t pi, std::size_t ji, std::int64_t n) {
    std::vector<std::optional<double>> out;
    for (std::uint64_t seed : suite_.seeds) out.push_back(run(pi, ji, n, seed).error);
    return out;
  }

  const Trial& run(std::size_t pi, std::size_t ji, std::int64_t n, std::uint64_t seed) {
    const ComplexityPoint& point = suite_.points[pi];
    const ComplexityJob& job = suite_.jobs[ji];
    const std::string id =
        point.name + "." + job.name + ".n" + std::to_string(n) + ".seed" + std::to_string(seed);
    if (const auto it = trials_.find(id); it != trials_.end()) return it->second;

    const JobKind& kind = find_job_kind(job.kind);
    JobSpec spec;
    spec.id = id;
    spec.target_name = point.name;
    spec.target = point.target;
    spec.job_name = job.name;
    spec.kind = job.kind;
    spec.config = kind.normalize(job_config_for(job, point, suite_.samples_key, n),
                                 "jobs." + job.name + ".config", suite_.base_dir);
    spec.sweep = Json{{suite_.samples_key, n}};
    spec.seed = seed;
    const Json spec_json = to_json(spec);

    Trial t;
    t.id = id, t.point = pi, t.job = ji, t.n = n, t.seed = seed;
    Json doc;
    const std::optional<Json> old = store_.read(id);
    const bool reuse = JobStore::ok(old);
    if (reuse) {
      if ((*old)["job"] != spec_json) {
        fail_field("--out", options_.out.string(),
                   "holds trial " + id + " of another configuration: use a fresh directory");
      }
      doc = *old;
      ++reused_;
    } else {
      doc = store_.run(spec, options_.threads);
      ++ran_;
    }
    t.status = doc["status"].get<std::string>();
    t.seconds = doc.value("seconds", 0.0);
    if (doc.contains("error") && doc["error"].is_string()) t.message = doc["error"];
    const Json& result = doc["result"];
    if (result.is_object() && result.contains("status") && result["status"].is_string()) {
      t.result_status = result["status"].get<std::string>();
    }
    const Json e = json_at_path(result, suite_.error_path);
    if (e.is_number() && std::isfinite(e.get<double>())) {
      t.error = suite_.error_transform == "one_minus" ? 1.0 - e.get<double>() : e.get<double>();
    }
    if (!suite_.steps_path.empty()) t.trajectory = json_at_path(result, suite_.steps_path);
    if (options_.log && !reuse) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.4g", t.error.value_or(kNaN));
      options_.log("trial " + id + ": " + t.status + ", " + suite_.error_path + " = " + buf);
    }
    return trials_.emplace(id, std::move(t)).first->second;
  }

  const std::map<std::string, Trial>& trials() const { return trials_; }
  std::int64_t ran() const { return ran_; }
  std::int64_t reused() const { return reused_; }

 private:
  const SampleComplexitySuite& suite_;
  const SampleComplexityOptions& options_;
  const JobStore store_;
  std::map<std::string, Trial> trials_;
  std::int64_t ran_ = 0, reused_ = 0;
};

}  // namespace

// ---- The run ------------------------------------------------------------------------------------

Json run_sample_complexity(const SampleComplexitySuite& suite,
                           const SampleComplexityOptions& options) {
  const Stopwatch clock;
  if (options.out.empty()) fail_field("--out", "(empty)", "an output directory is required");
  ensure_output_directory(options.out, "--out");
  // The plan is informational: trials are checked one by one against their own spec, so a
  // directory can be re-used with more ε values, seeds or a wider grid.
  write_json_atomic(options.out / "plan.json",
                    make_document("sample-complexity-plan", suite.normalized,
                                  RunInfo{.seed = suite.fit.seed, .config = suite.normalized}));

  TrialRunner runner(suite, options);
  Json rows = Json::array();
  std::map<std::size_t, std::vector<std::pair<std::size_t, NStarSearch>>> by_job;
  for (std::size_t pi = 0; pi < suite.points.size(); ++pi) {
    for (std::size_t ji = 0; ji < suite.jobs.size(); ++ji) {
      const auto searches = search_n_star(
          suite.search, suite.eps, [&](std::int64_t n) { return runner.errors_at(pi, ji, n); });
      for (std::int64_t n : suite.curve_samples) runner.errors_at(pi, ji, n);
      for (const NStarSearch& s : searches) {
        Json steps = Json::array();
        for (const SearchStep& st : s.steps) {
          steps.push_back({{"n", st.n},
                           {"phase", st.phase},
                           {"successes", st.successes},
                           {"seeds", st.seeds},
                           {"success", st.success}});
        }
        rows.push_back({{"point", suite.points[pi].name},
                        {"job", suite.jobs[ji].name},
                        {"d", suite.points[pi].d},
                        {"eps", s.eps},
                        {"status", s.status},
                        {"n_star", s.status == "not_reached" ? Json(nullptr) : Json(s.n_star)},
                        {"n_below", s.n_below == 0 ? Json(nullptr) : Json(s.n_below)},
                        {"steps", steps}});
        by_job[ji].emplace_back(pi, s);
      }
    }
  }

  // Every trial, in (point, job, N, seed) order; `meets` follows the suite's eps order.
  std::vector<const Trial*> ordered;
  for (const auto& [id, t] : runner.trials()) ordered.push_back(&t);
  std::sort(ordered.begin(), ordered.end(), [](const Trial* a, const Trial* b) {
    return std::tie(a->point, a->job, a->n, a->seed) < std::tie(b->point, b->job, b->n, b->seed);
  });
  Json trials = Json::array();
  std::int64_t failed = 0;
  for (const Trial* t : ordered) {
    Json meets_eps = Json::array(), steps = Json::array(), stay = Json::array();
    for (double e : suite.eps) {
      meets_eps.push_back(t->error && *t->error <= e);
      if (!suite.steps_path.empty()) {
        steps.push_back(steps_to(t->trajectory, e));
        stay.push_back(steps_to_stay(t->trajectory, e));
      }
    }
    Json row{{"id", t->id},
             {"point", suite.points[t->point].name},
             {"job", suite.jobs[t->job].name},
             {"d", suite.points[t->point].d},
             {"n", t->n},
             {"seed", t->seed},
             {"status", t->status},
             {"error", t->error ? Json(*t->error) : Json(nullptr)},
             {"meets", meets_eps},
             {"seconds", t->seconds}};
    if (!t->result_status.empty()) row["result_status"] = t->result_status;
    if (!t->message.empty()) row["message"] = t->message;
    if (!suite.steps_path.empty()) {
      row["steps_to_eps"] = steps;
      row["steps_to_stay"] = stay;
    }
    failed += t->status == "ok" ? 0 : 1;
    trials.push_back(std::move(row));
  }

  // Error-vs-N curves per (point, job), fitted on every trial with N >= curve.min_samples.
  Json curves = Json::array();
  std::map<std::size_t, Json> slopes_by_job;
  for (std::size_t pi = 0; pi < suite.points.size(); ++pi) {
    for (std::size_t ji = 0; ji < suite.jobs.size(); ++ji) {
      std::vector<CurveTrial> ct;
      std::map<std::int64_t, std::vector<double>> by_n;
      for (const Trial* t : ordered) {
        if (t->point != pi || t->job != ji || !t->error || t->n < suite.curve_min_samples) continue;
        ct.push_back({t->n, t->seed, *t->error});
        by_n[t->n].push_back(*t->error);
      }
      Json table = Json::array();
      for (const auto& [n, errs] : by_n) {
        double mean_log = 0;
        int positive = 0;
        for (double e : errs) {
          if (e > 0) mean_log += std::log(e), ++positive;
        }
        table.push_back({{"n", n},
                         {"trials", errs.size()},
                         {"median_error", quantile(errs, 0.5)},
                         {"geometric_mean_error",
                          positive ? Json(std::exp(mean_log / positive)) : Json(nullptr)}});
      }
      const auto fit = fit_error_slope(ct, suite.fit);
      Json row{{"point", suite.points[pi].name},
               {"job", suite.jobs[ji].name},
               {"d", suite.points[pi].d},
               {"min_samples", suite.curve_min_samples},
               {"by_n", table}};
      if (fit) {
        row["slope"] = fit->slope;
        row["intercept"] = fit->intercept;
        row["slope_interval"] = interval_json(fit->slope_interval);
        row["n_trials"] = fit->n_trials;
        row["n_sizes"] = fit->n_sizes;
      } else {
        row["slope"] = nullptr;
        row["reason"] = "fewer than two sample sizes with a positive error";
      }
      slopes_by_job[ji].push_back(
          {{"point", suite.points[pi].name},
           {"slope", row["slope"]},
           {"slope_interval", fit ? row["slope_interval"] : Json(nullptr)}});
      curves.push_back(std::move(row));
    }
  }

  // Fits and verdicts per job.
  Json fits = Json::object(), verdict = Json::object(), table = Json::object();
  for (std::size_t ji = 0; ji < suite.jobs.size(); ++ji) {
    const ComplexityJob& job = suite.jobs[ji];
    std::vector<SampleComplexityPoint> pts;
    std::vector<std::vector<ReferenceAtPoint>> refs;
    Json excluded = Json::array();
    for (const auto& [pi, s] : by_job[ji]) {
      const ComplexityPoint& p = suite.points[pi];
      if (s.status != "reached") {
        excluded.push_back({{"point", p.name}, {"eps", s.eps}, {"status", s.status}});
        continue;
      }
      pts.push_back({p.d, s.eps, double(s.n_star)});
      std::vector<ReferenceAtPoint> r;
      for (const std::string& name : job.references) {
        r.push_back({name, name == "truncated_moment" ? ReferenceBound::truncated_moment(p.active)
                                                      : ReferenceBound::sgda_one_layer(1.0)});
      }
      refs.push_back(std::move(r));
    }
    Json f = fit_and_verdict(pts, refs, suite.fit);
    f["excluded"] = excluded;
    Json v = f.contains("verdict") ? f["verdict"] : Json{{"summary", f["reason"]}};
    // The error-vs-N slope beside it: the truncated-moment reference predicts -1/2.
    Json slope{{"points", slopes_by_job[ji]}};
    if (std::find(job.references.begin(), job.references.end(), "truncated_moment") !=
        job.references.end()) {
      slope["expected"] = -0.5;
      bool all_in = true;
      for (const Json& s : slopes_by_job[ji]) {
        const Json& iv = s["slope_interval"];
        all_in = all_in && iv.is_array() && iv[0].is_number() && iv[1].is_number() &&
                 iv[0].get<double>() <= -0.5 && -0.5 <= iv[1].get<double>();
      }
      slope["expected_in_every_interval"] = all_in;
    }
    v["error_slope"] = slope;
    verdict[job.name] = v;
    fits[job.name] = std::move(f);

    // N* table: rows = points, columns = eps (suite order), null when not reached.
    Json ns = Json::array(), ds = Json::array(), names = Json::array();
    for (std::size_t pi = 0; pi < suite.points.size(); ++pi) {
      Json row = Json::array();
      for (const auto& [pj, s] : by_job[ji]) {
        if (pj == pi) row.push_back(s.status == "not_reached" ? Json(nullptr) : Json(s.n_star));
      }
      ns.push_back(row);
      ds.push_back(suite.points[pi].d);
      names.push_back(suite.points[pi].name);
    }
    table[job.name] = {{"points", names}, {"d", ds}, {"eps", suite.eps}, {"n_star", ns}};
  }

  // Steps-to-eps (time complexity), for learners that report a trajectory: the median over seeds
  // of the first step reaching eps, in the trials at N* of that eps.
  Json steps_to_eps;
  if (suite.steps_path.empty()) {
    steps_to_eps = {{"measured", false},
                    {"note",
                     "set steps_path to a dotted path of a training trajectory "
                     "[{step, error}] in the job result (the gda kind)"}};
  } else {
    Json rows_steps = Json::array(), steps_fits = Json::object();
    for (std::size_t ji = 0; ji < suite.jobs.size(); ++ji) {
      // A job kind without a trajectory at steps_path (a learner-free baseline) has no rows.
      if (std::none_of(ordered.begin(), ordered.end(),
                       [&](const Trial* t) { return t->job == ji && t->trajectory.is_array(); })) {
        continue;
      }
      // Steps against (d, eps) with the N* tools: log steps = a log d + b log(1/eps) + c.
      std::vector<SampleComplexityPoint> first_pts, stay_pts;
      for (const auto& [pi, s] : by_job[ji]) {
        if (s.status == "not_reached") continue;
        std::vector<double> steps, stay;
        for (const Trial* t : ordered) {
          if (t->point != pi || t->job != ji || t->n != s.n_star) continue;
          const Json st = steps_to(t->trajectory, s.eps);
          if (st.is_number()) steps.push_back(st.get<double>());
          const Json sy = steps_to_stay(t->trajectory, s.eps);
          if (sy.is_number()) stay.push_back(sy.get<double>());
        }
        const double median = quantile(steps, 0.5), median_stay = quantile(stay, 0.5);
        const double d = suite.points[pi].d;
        if (std::isfinite(median) && median > 0) first_pts.push_back({d, s.eps, median});
        if (std::isfinite(median_stay) && median_stay > 0) {
          stay_pts.push_back({d, s.eps, median_stay});
        }
        rows_steps.push_back({{"point", suite.points[pi].name},
                              {"job", suite.jobs[ji].name},
                              {"d", d},
                              {"eps", s.eps},
                              {"n", s.n_star},
                              {"seeds_reached", steps.size()},
                              {"median_steps", finite_or_null(median)},
                              {"seeds_stayed", stay.size()},
                              {"median_steps_to_stay", finite_or_null(median_stay)}});
      }
      const auto exponents = [&](const std::vector<SampleComplexityPoint>& pts) {
        Json f = fit_and_verdict(pts, {}, suite.fit);
        Json v = f.contains("verdict") ? f["verdict"] : Json{{"summary", f["reason"]}};
        std::string text = v["summary"].get<std::string>();  // the fit speaks of N*: rename
        for (std::size_t at; (at = text.find("N*")) != std::string::npos;) {
          text.replace(at, 2, "steps");
        }
        v["summary"] = text;
        v["points_used"] = pts.size();
        if (f.contains("polynomial")) v["log_constant"] = f["polynomial"]["log_constant"];
        return v;
      };
      steps_fits[suite.jobs[ji].name] = {{"first", exponents(first_pts)},
                                         {"stay", exponents(stay_pts)}};
    }
    steps_to_eps = {
        {"measured", true}, {"path", suite.steps_path}, {"rows", rows_steps}, {"fits", steps_fits}};
  }

  Json payload{{"suite", suite.normalized},
               {"counts",
                {{"trials", trials.size()},
                 {"ran", runner.ran()},
                 {"reused", runner.reused()},
                 {"failed", failed}}},
               {"trials", trials},
               {"n_star", rows},
               {"n_star_table", table},
               {"fits", fits},
               {"verdict", verdict},
               {"curves", curves},
               {"steps_to_eps", steps_to_eps},
               {"seconds", clock.seconds()}};
  RunInfo run{.seed = suite.fit.seed, .threads = options.threads, .config = suite.normalized};
  run.wall_seconds = clock.seconds();
  write_json_atomic(options.out / "sample_complexity.json",
                    make_document("sample-complexity", payload, run));
  return payload;
}

}  // namespace fsr

// fsrlab._core: the Python binding of fsrlab (pybind11), imported through
// python/fsrlab/__init__.py. It binds the entry points the command line uses — build, load and
// sample a target, the ReLU closed forms and first-layer estimators, column matching, the analyzer,
// the trainer and the suite runner — and nothing below them, so that the layers can change
// underneath. Results are the documents the commands print (as dicts), with arrays as NumPy arrays;
// docs/python.md.
//
//   import fsrlab
//   t = fsrlab.build_target("experiments/targets/quickstart.json")
//   s = t.sample(1000, hidden=True)          # s["X"][0]: (1000, 3, 4, 4), views of C++ buffers
//   fit = fsrlab.fit_first_layer(s["S"][0])  # dict; fit["alpha"] is a NumPy array
//
// Conventions: fsr::InputError becomes fsrlab.InputError (a ValueError) with the same
// "field = value: rule" message; long calls release the GIL; arrays that come from C++ are
// read-only views of buffers the returned object owns (no copy), arrays that go in are read as
// float64 (copied only where the C++ side needs another layout).
#include <Python.h>
#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/json_io.h"
#include "core/validate.h"
#include "experiments/analysis.h"
#include "experiments/runner.h"
#include "experiments/suite.h"
#include "synth/config.h"
#include "synth/report.h"
#include "synth/sample.h"
#include "synth/target.h"
#include "theory/first_layer.h"
#include "theory/match_columns.h"
#include "theory/relu_moments.h"
#ifdef FSR_WITH_GDA
#include "experiments/gda_job.h"
#include "gda/learner_config.h"
#include "gda/trainer.h"
#endif

namespace py = pybind11;
namespace fs = std::filesystem;

namespace fsr::python {
namespace {

// ---- JSON <-> Python ---------------------------------------------------------------------------

py::object to_py(const Json& j) {
  switch (j.type()) {
    case Json::value_t::null:
      return py::none();
    case Json::value_t::boolean:
      return py::bool_(j.get<bool>());
    case Json::value_t::number_integer:
      return py::int_(j.get<std::int64_t>());
    case Json::value_t::number_unsigned:
      return py::int_(j.get<std::uint64_t>());
    case Json::value_t::number_float:
      return py::float_(j.get<double>());
    case Json::value_t::string:
      return py::str(j.get<std::string>());
    case Json::value_t::array: {
      py::list out;
      for (const Json& v : j) out.append(to_py(v));
      return out;
    }
    case Json::value_t::object: {
      py::dict out;
      for (const auto& [k, v] : j.items()) out[py::str(k)] = to_py(v);
      return out;
    }
    default:
      return py::none();
  }
}

Json from_py(py::handle h, const std::string& field) {
  if (h.is_none()) return nullptr;
  if (py::isinstance<py::bool_>(h)) return h.cast<bool>();
  if (py::isinstance<py::int_>(h)) {
    try {
      return h.cast<std::int64_t>();
    } catch (const py::cast_error&) {
      return h.cast<std::uint64_t>();  // above int64's range (seeds); anything else throws
    }
  }
  if (py::isinstance<py::float_>(h)) return h.cast<double>();
  if (py::isinstance<py::str>(h)) return h.cast<std::string>();
  if (py::isinstance<py::dict>(h)) {
    Json out = Json::object();
    for (const auto& [k, v] : py::reinterpret_borrow<py::dict>(h)) {
      if (!py::isinstance<py::str>(k)) {
        fail_field(field, py::str(k).cast<std::string>(), "keys of a config must be strings");
      }
      const std::string key = k.cast<std::string>();
      out[key] = from_py(v, field + "." + key);
    }
    return out;
  }
  if (py::isinstance<py::list>(h) || py::isinstance<py::tuple>(h)) {
    Json out = Json::array();
    std::size_t i = 0;
    for (py::handle v : h) out.push_back(from_py(v, field + "[" + std::to_string(i++) + "]"));
    return out;
  }
  if (py::hasattr(h, "item") && py::hasattr(h, "dtype")) {  // a NumPy scalar
    return from_py(h.attr("item")(), field);
  }
  if (py::hasattr(h, "tolist")) return from_py(h.attr("tolist")(), field);  // a NumPy array
  fail_field(field, py::repr(h).cast<std::string>(),
             "must be a JSON value (dict, list, str, int, float, bool or None)");
}

bool is_path(py::handle h) { return py::isinstance<py::str>(h) || py::hasattr(h, "__fspath__"); }

fs::path as_path(py::handle h) { return fs::path(py::str(h).cast<std::string>()); }

// A config given as a dict or as the path of a JSON file: (json, the folder its relative paths
// resolve against).
std::pair<Json, fs::path> config_of(py::handle h, const std::string& field) {
  if (is_path(h)) {
    const fs::path p = as_path(h);
    return {read_json(p), p.parent_path()};
  }
  if (py::isinstance<py::dict>(h)) return {from_py(h, field), fs::current_path()};
  fail_field(field, py::repr(h).cast<std::string>(), "must be a dict or the path of a JSON file");
}

// ---- arrays
// ---------------------------------------------------------------------------------------

// A read-only view of memory that `owner` keeps alive.
py::array view(const double* data, std::vector<py::ssize_t> shape, std::vector<py::ssize_t> strides,
               py::handle owner) {
  py::array a(py::dtype::of<double>(), std::move(shape), std::move(strides), data, owner);
  a.attr("setflags")(py::arg("write") = false);
  return a;
}

// An Eigen (column-major) matrix as a (rows, cols) view.
py::array view(const Eigen::MatrixXd& m, py::handle owner) {
  const auto s = static_cast<py::ssize_t>(sizeof(double));
  return view(m.data(), {m.rows(), m.cols()}, {s, s * m.rows()}, owner);
}

py::array view(const Eigen::VectorXd& v, py::handle owner) {
  return view(v.data(), {v.size()}, {static_cast<py::ssize_t>(sizeof(double))}, owner);
}

// A C-order view of `count` rows of `row` doubles each, reshaped to (count, shape...).
py::array rows_view(const double* data, std::int64_t count, const std::vector<py::ssize_t>& shape,
                    py::handle owner) {
  std::vector<py::ssize_t> full{count};
  full.insert(full.end(), shape.begin(), shape.end());
  std::vector<py::ssize_t> strides(full.size());
  py::ssize_t s = sizeof(double);
  for (std::size_t i = full.size(); i-- > 0;) {
    strides[i] = s;
    s *= full[i];
  }
  return view(data, full, strides, owner);
}

// NumPy array -> Eigen matrix (a copy: Eigen stores column-major). 1-D arrays are one column.
Eigen::MatrixXd matrix_of(const py::handle& h, const std::string& field) {
  const auto a = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(h);
  if (!a) fail_field(field, py::repr(h).cast<std::string>(), "must be an array of numbers");
  if (a.ndim() < 1) fail_field(field, "a scalar", "must have at least one axis");
  const py::ssize_t rows = a.shape(0);
  const py::ssize_t cols = a.ndim() == 1 ? 1 : a.size() / std::max<py::ssize_t>(rows, 1);
  Eigen::MatrixXd m(rows, cols);
  const double* p = a.data();
  for (py::ssize_t i = 0; i < rows; ++i) {
    for (py::ssize_t j = 0; j < cols; ++j) m(i, j) = p[i * cols + j];
  }
  return m;
}

// ---- targets
// --------------------------------------------------------------------------------------

using TargetPtr = std::shared_ptr<Target>;

TargetPtr build_target_py(py::handle config) {
  auto [json, base] = config_of(config, "config");
  TargetPtr t;
  {
    py::gil_scoped_release release;
    t = std::make_shared<Target>(build_target(parse_target_config(json, base)));
  }
  return t;
}

TargetPtr load_target_py(py::handle dir) {
  const fs::path p = as_path(dir);
  py::gil_scoped_release release;
  return std::make_shared<Target>(load_target(p));
}

Json architecture_of(const Target& t) {
  return Json{{"levels", t.levels},       {"grid", t.grid},     {"channels", t.channels},
              {"patch", t.patch},         {"colors", t.colors}, {"kernel", t.kernel},
              {"latent_dim", t.A.cols()}, {"noise", t.noise},   {"sample_seed", t.sample_seed}};
}

// sample(): the batch moves into a capsule that every returned array keeps alive.
py::dict sample_py(const TargetPtr& t, std::int64_t count, std::int64_t first, bool hidden,
                   int threads) {
  if (count < 1) fail_field("count", count, "must be >= 1");
  if (first < 0) fail_field("first", first, "must be >= 0");
  require_int_in_range("threads", threads, 1, 256);
  auto* batch = new SampleBatch();
  {
    py::gil_scoped_release release;
    *batch = sample(*t, first, count, SampleOptions{.with_hidden = hidden, .threads = threads});
  }
  py::capsule owner(batch, [](void* p) { delete static_cast<SampleBatch*>(p); });
  py::list xs, ss;
  for (int l = 1; l <= t->levels; ++l) {
    const py::ssize_t side = t->side_at(l), h = t->grid_at(l);
    xs.append(rows_view(batch->x[l - 1].data(), count, {t->colors, side, side}, owner));
    if (hidden) {
      ss.append(rows_view(batch->s[l - 1].data(), count, {t->channels[l - 1], h, h}, owner));
    }
  }
  py::dict out;
  out["X"] = xs;
  if (hidden) out["S"] = ss;
  out["first"] = first;
  return out;
}

// ---- theory
// ---------------------------------------------------------------------------------------

py::dict relu_moments_py(double alpha, double beta, int order) {
  require_int_in_range("order", order, 1, kMaxReluMomentOrder);
  const ReluMoments m = relu_moments(alpha, beta, order);
  py::dict out;
  out["alpha"] = alpha;
  out["beta"] = beta;
  out["t"] = beta / alpha;
  out["p_active"] = m.p_active;
  out["moments"] = m.moments;
  return out;
}

py::dict fit_first_layer_py(py::handle samples, const std::string& method,
                            const std::string& rho_method, const std::string& psd_repair) {
  FirstLayerOptions o;
  o.unit_method = method;
  o.rho_method = rho_method;
  o.psd_repair = psd_repair;
  const Eigen::MatrixXd s = matrix_of(samples, "samples");
  FirstLayerFit f;
  {
    py::gil_scoped_release release;
    f = fit_first_layer(s, o);
  }
  // The command's document, with its arrays as NumPy arrays (null, a unit that could not be
  // fitted, becomes NaN).
  py::dict out = to_py(to_json(f)).cast<py::dict>();
  const py::object asarray = py::module_::import("numpy").attr("asarray");
  for (const char* k :
       {"alpha", "beta", "stderr_alpha", "stderr_beta", "rho", "rho_raw", "rho_flag"}) {
    out[k] = asarray(out[k], py::arg("dtype") = "float64");
  }
  out["n_active"] = asarray(out["n_active"], py::arg("dtype") = "int64");
  return out;
}

py::object match_columns_py(py::handle truth, py::handle estimate, double threshold) {
  const Eigen::MatrixXd t = matrix_of(truth, "truth"), e = matrix_of(estimate, "estimate");
  ColumnMatch r;
  {
    py::gil_scoped_release release;
    r = match_columns(t, e, threshold);
  }
  return to_py(to_json(r));
}

// ---- experiments
// ----------------------------------------------------------------------------------

py::object analyze_py(py::handle target, py::handle run, py::object out, std::int64_t samples,
                      int directions, double threshold, std::uint64_t seed, int threads,
                      bool noise_floor) {
  AnalysisOptions o;
  o.samples = samples;
  o.directions = directions;
  o.threshold = threshold;
  o.seed = seed;
  o.threads = threads;
  o.noise_floor = noise_floor;
  if (o.samples < 2) fail_field("samples", o.samples, "must be >= 2");
  require_int_in_range("directions", o.directions, 1, 100000);
  require_in_range("threshold", o.threshold, 0, 1, true, true);
  require_int_in_range("threads", o.threads, 1, 256);
  const fs::path tdir = as_path(target), rdir = as_path(run);
  RunAnalysis r;
  {
    py::gil_scoped_release release;
    r = analyze_run(tdir, rdir, o);
  }
  if (!out.is_none()) {
    const Json args{
        {"target", tdir.string()}, {"run", rdir.string()},       {"out", as_path(out).string()},
        {"samples", o.samples},    {"directions", o.directions}, {"threshold", o.threshold},
        {"seed", o.seed},          {"threads", o.threads},       {"noise_floor", o.noise_floor}};
    write_analysis(as_path(out), r, RunInfo{.seed = o.seed, .threads = o.threads, .config = args});
  }
  return to_py(to_json(r));
}

fs::path worker_binary(py::object fsr) {
  if (!fsr.is_none()) return as_path(fsr);
  if (const char* env = std::getenv("FSR_BIN"); env && *env) return env;
  // build/python/fsrlab/_core*.so -> build/apps/fsr
  const fs::path here =
      fs::path(py::module_::import("fsrlab._core").attr("__file__").cast<std::string>());
  const fs::path candidate = here.parent_path().parent_path().parent_path() / "apps" / "fsr";
  std::error_code ec;
  if (fs::is_regular_file(candidate, ec)) return fs::canonical(candidate, ec);
  fail_field("fsr", candidate.string(),
             "the fsr executable that runs a suite's jobs was not found; pass fsr=PATH or set "
             "FSR_BIN");
}

py::object run_suite_py(py::handle suite, py::handle out, const std::string& size, int jobs,
                        int threads, const std::string& shard, py::object fsr, bool in_process) {
  RunOptions o;
  o.out = as_path(out);
  o.size = size;
  o.jobs = jobs;
  o.threads = threads;
  o.shard = parse_shard(shard);
  if (!in_process) o.worker = {worker_binary(fsr).string(), "run-job"};
  const Suite s = load_suite(as_path(suite));
  SuiteSummary summary;
  {
    py::gil_scoped_release release;
    summary = run_suite(s, o);
  }
  if (PyErr_CheckSignals() != 0) throw py::error_already_set();
  return to_py(to_json(summary));
}

#ifdef FSR_WITH_GDA
py::object train_py(py::handle target, py::handle config, py::handle out, const std::string& device,
                    bool resume, py::object progress) {
  if (device != "auto" && device != "cpu" && device != "cuda") {
    fail_field("device", device, "must be auto, cpu or cuda");
  }
  const Target truth =
      py::isinstance<Target>(target) ? target.cast<const Target&>() : load_target(as_path(target));
  const LearnerConfig c = parse_learner_config(config_of(config, "config").first);
  bool interrupted = false;
  TrainOptions o{.out = as_path(out), .device = device, .resume = resume, .progress = false};
  // Ctrl-C: Python's handler only sets a flag while C++ runs; it is read once per generator step,
  // and the trainer then checkpoints and stops as for stop_after.
  o.stop_requested = [&interrupted] {
    py::gil_scoped_acquire acquire;
    if (PyErr_CheckSignals() != 0) {
      interrupted = true;
      PyErr_Clear();
    }
    return interrupted;
  };
  std::exception_ptr callback_error;
  if (!progress.is_none()) {
    o.on_metrics = [&](const Json& record) {
      py::gil_scoped_acquire acquire;
      if (callback_error) return;
      try {
        progress(to_py(record));
      } catch (py::error_already_set& e) {
        if (e.matches(PyExc_KeyboardInterrupt)) {
          interrupted = true;
        } else {
          callback_error = std::current_exception();
          interrupted = true;  // stop at the next step, then re-raise
        }
      }
    };
  }
  TrainResult r;
  {
    py::gil_scoped_release release;
    r = train(truth, c, o);
  }
  if (callback_error) std::rethrow_exception(callback_error);
  if (interrupted) {
    PyErr_SetString(PyExc_KeyboardInterrupt,
                    ("training interrupted at step " + std::to_string(r.steps) + " of " +
                     std::to_string(r.total_steps) + "; the run in " + as_path(out).string() +
                     " resumes with fsrlab.train(..., resume=True)")
                        .c_str());
    throw py::error_already_set();
  }
  Json payload = to_json(r);
  payload["out"] = as_path(out).string();
  return to_py(payload);
}
#endif

}  // namespace
}  // namespace fsr::python

PYBIND11_MODULE(_core, m) {
  using namespace fsr::python;
  namespace fsrns = fsr;
  m.doc() = "fsrlab's compiled core (pybind11); use it through `import fsrlab` (docs/python.md).";
  py::register_exception<fsrns::InputError>(m, "InputError", PyExc_ValueError);
#ifdef FSR_WITH_GDA
  fsrns::register_gda_job_kind();
  m.attr("has_learner") = true;
#else
  m.attr("has_learner") = false;
#endif
  m.attr("version") = fsrns::build_info().version;

  py::class_<fsrns::Target, TargetPtr>(
      m, "Target", R"(A planted target G* (or a learned model in the same layout).

Build one with fsrlab.build_target(config) or load one with fsrlab.load_target(dir).
Parameter arrays (A, alpha, beta, M, W, b) are read-only NumPy views of the target's own
memory, in the orientation of docs/target_format.md: A (n_1, m0), alpha and beta (n_1,),
M[l-1] (d, m_l) with columns the features, W[l-2] (m_{l-1}, m_l, k, k), b[l-2] (m_l,).)")
      .def_property_readonly(
          "architecture", [](const fsrns::Target& t) { return to_py(architecture_of(t)); },
          "dict: levels, grid, channels, patch, colors, kernel, latent_dim, noise, sample_seed")
      .def_property_readonly(
          "config", [](const fsrns::Target& t) { return to_py(t.config); },
          "dict: the normalised config the target was built from (None for a learned model)")
      .def_property_readonly(
          "achieved", [](const fsrns::Target& t) { return to_py(t.achieved); },
          "dict: what construction achieved (activity, coherence, calibration)")
      .def_property_readonly(
          "levels", [](const fsrns::Target& t) { return t.levels; }, "number of levels L")
      .def_property_readonly(
          "A", [](py::object self) { return view(self.cast<const fsrns::Target&>().A, self); },
          "first-layer directions, (n_1, m0), unit rows")
      .def_property_readonly(
          "alpha",
          [](py::object self) { return view(self.cast<const fsrns::Target&>().alpha, self); },
          "first-layer scales alpha, (n_1,), unit order (channel, y, x)")
      .def_property_readonly(
          "beta",
          [](py::object self) { return view(self.cast<const fsrns::Target&>().beta, self); },
          "first-layer thresholds beta, (n_1,)")
      .def_property_readonly(
          "M",
          [](py::object self) {
            py::list out;
            for (const auto& M : self.cast<const fsrns::Target&>().M) out.append(view(M, self));
            return out;
          },
          "output dictionaries, list of (d, m_l) arrays (columns are features), l = 1..L")
      .def_property_readonly(
          "W",
          [](py::object self) {
            py::list out;
            for (const auto& u : self.cast<const fsrns::Target&>().up) {
              const auto s = static_cast<py::ssize_t>(sizeof(double));
              const py::ssize_t k = u.kernel;
              out.append(view(u.weight.data(), {u.in_channels, u.out_channels, k, k},
                              {s * u.out_channels * k * k, s * k * k, s * k, s}, self));
            }
            return out;
          },
          "super-resolution weights, list of (m_{l-1}, m_l, k, k) arrays (ConvTranspose2d "
          "layout), l = 2..L")
      .def_property_readonly(
          "b",
          [](py::object self) {
            py::list out;
            for (const auto& u : self.cast<const fsrns::Target&>().up)
              out.append(view(u.bias, self));
            return out;
          },
          "super-resolution biases, list of (m_l,) arrays, l = 2..L")
      .def("sample", &sample_py, py::arg("count"), py::kw_only(), py::arg("first") = 0,
           py::arg("hidden") = false, py::arg("threads") = 1,
           R"(Draws samples first .. first+count-1 of the target's stream.

Returns a dict: "X": list of L arrays (count, c, r h_l, r h_l), the images X_l; with
hidden=True also "S": list of L arrays (count, m_l, h_l, h_l), the hidden codes. The arrays are
read-only views of the C++ buffers (no copy). Sample i is the same for any first, count or
threads, and equal to row i of `fsr synth --samples` (X_<l>.npy, S_<l>.npy).)")
      .def(
          "save",
          [](const fsrns::Target& t, py::handle dir) {
            fsrns::save_target(as_path(dir), t, "dir");
          },
          py::arg("dir"),
          "Writes the target directory (target.json and the .npy arrays), as `fsr synth` does.")
      .def(
          "inspect",
          [](const fsrns::Target& t, std::int64_t samples, int threads) {
            fsrns::Json r;
            {
              py::gil_scoped_release release;
              r = fsrns::property_report(t, samples, threads);
            }
            return to_py(r);
          },
          py::arg("samples") = 2000, py::arg("threads") = 1,
          "The property report of `fsr inspect` (activity, coherence, rho, locality, ...).")
      .def("__repr__", [](const fsrns::Target& t) {
        return "<fsrlab.Target " + architecture_of(t).dump() + ">";
      });

  m.def("build_target", &build_target_py, py::arg("config"),
        R"(Builds a planted target from a config: a dict, or the path of a JSON file.

The keys and rules are those of `fsr synth --config` (docs/target_format.md); relative .npy
paths resolve against the file's folder (the current directory for a dict). A bad config raises
fsrlab.InputError with the command line's message, e.g. "levels = 9: must be in [1, 8]".)");
  m.def("load_target", &load_target_py, py::arg("dir"),
        "Loads a target directory written by `fsr synth`, Target.save or the learner (RUN/model).");
  m.def("relu_moments", &relu_moments_py, py::arg("alpha"), py::arg("beta"), py::arg("order") = 4,
        R"(Closed forms for s = ReLU(alpha g - beta), g ~ N(0, 1) (docs/science.md §3).

Returns {"alpha", "beta", "t", "p_active": P(s > 0), "moments": [E s, ..., E s^order]}, the
document of `fsr moments`.)");
  m.def("normal_q", &fsrns::normal_q, py::arg("t"),
        "Q(t) = 1 - Phi(t), accurate in the upper tail.");
  m.def("normal_q_inverse", &fsrns::normal_q_inverse, py::arg("p"),
        "t with Q(t) = p, p in (0, 1): the threshold t = beta/alpha of a unit active with "
        "probability p.");
  m.def("relu_moment_ratio", &fsrns::relu_moment_ratio, py::arg("t"),
        "E[s]^2 / E[s^2] for s = ReLU(g - t): independent of alpha, strictly decreasing in t.");
  m.def("relu_t_from_moment_ratio", &fsrns::relu_t_from_moment_ratio, py::arg("r"),
        "The t with relu_moment_ratio(t) = r (the inversion behind the moment estimator).");
  m.def("fit_first_layer", &fit_first_layer_py, py::arg("samples"), py::kw_only(),
        py::arg("method") = "auto", py::arg("rho_method") = "cross_moment",
        py::arg("psd_repair") = "higham",
        R"(Estimates alpha, beta (per unit) and rho (pairwise) from samples of first-layer codes.

samples: (N, m) array, one row per sample (N, m, h, h arrays such as sample(...)["S"][0] are
flattened after the first axis, unit order (channel, y, x)). method: "moments", "mle" or "auto"
(MLE for units active in < 30 % of samples); rho_method: "cross_moment" or "coactivation";
psd_repair: "higham", "clip" or "none" (docs/theory_estimators.md). Returns the document of
`fsr fit-first-layer` with NumPy arrays: alpha, beta, stderr_alpha, stderr_beta (NaN where a
unit cannot be fitted, with its reason in status), rho, rho_raw, rho_flag, n_active, method.)");
  m.def("match_columns", &match_columns_py, py::arg("truth"), py::arg("estimate"),
        py::arg("threshold") = 0.99,
        R"(Matches estimated dictionary columns to true ones: Hungarian method on |cos|.

truth (d, m) and estimate (d, m_hat), m_hat >= m, columns are features. Returns the document of
`fsr match`: permutation (estimate column of each true column), cosines, signed_cosines,
mean_cosine, min_cosine, fraction_above threshold, unmatched, best_cosines, best_index,
duplicate_columns, dead_columns (docs/theory_matching_and_bounds.md).)");
  m.def("analyze", &analyze_py, py::arg("target"), py::arg("run"), py::kw_only(),
        py::arg("out") = py::none(), py::arg("samples") = 4000, py::arg("directions") = 128,
        py::arg("threshold") = 0.99, py::arg("seed") = 0, py::arg("threads") = 1,
        py::arg("noise_floor") = true,
        R"(Scores a learned model (RUN/model, or a target directory) against its target directory.

Returns the analysis document of `fsr analyze` (levels: columns, decoder, first_layer,
super_resolution, distribution, activity; docs/analysis.md). With out=PATH it is also written
there, as the command writes RUN/analysis.json.)");
  m.def(
      "run_suite", &run_suite_py, py::arg("suite"), py::arg("out"), py::kw_only(),
      py::arg("size") = "ci", py::arg("jobs") = 1, py::arg("threads") = 0, py::arg("shard") = "1/1",
      py::arg("fsr") = py::none(), py::arg("in_process") = false,
      R"(Runs a suite (experiments/suites/*.json) into OUT, as `fsr run` does; returns its summary.

Re-running skips finished jobs. Each job runs in a child process of the fsr executable
(build/apps/fsr next to this module, or fsr=PATH, or $FSR_BIN); in_process=True runs the built-in
kinds on threads of this process instead. size "ci" or "paper"; shard "i/n" (docs/suites.md).)");
#ifdef FSR_WITH_GDA
  m.def("train", &train_py, py::arg("target"), py::arg("config"), py::arg("out"), py::kw_only(),
        py::arg("device") = "auto", py::arg("resume") = false, py::arg("progress") = py::none(),
        R"(Trains the GDA learner against a target, as `fsr train` does; returns its result.

target: a target directory or a Target; config: a learner config (dict or JSON path,
docs/learner.md); out: the run directory (new, or an interrupted run with resume=True).
progress(record) is called with every metrics record (a dict, as in metrics.jsonl). Ctrl-C
(KeyboardInterrupt) stops the run at the next generator step, writes a checkpoint and raises
KeyboardInterrupt; the run then resumes with resume=True, bit-identical to an uninterrupted
one.)");
#endif
}

"""Every JSON key name the figures read, in one place, so a change of schema is one edit here.

Documents carry "kind" (core/json_io.h make_document). metrics.jsonl lines of a training run carry
no kind; they are recognised by file name (gda/trainer.cpp Trainer::log_metrics).
"""

# --- document kinds --------------------------------------------------------------------------
KIND_ANALYZE = "analyze"                     # experiments/analysis.h (fsr analyze)
KIND_SUITE_SUMMARY = ("suite-summary", "run", "merge")  # experiments/runner.h (fsr run / merge)
KIND_SAMPLE_COMPLEXITY = ("sample-complexity", "sample_complexity")
KIND_IMAGE_STRUCTURE = "image-structure"  # experiments/image_structure.h (image_structure jobs)
KIND_TRAIN = "train"                         # gda/trainer.h result.json (fsr train)
METRICS_FILES = ("metrics.jsonl",)           # one JSON record per logged generator step

# --- metrics.jsonl (gda/trainer.cpp Trainer::evaluate) ----------------------------------------
M_STEP = "step"
M_STAGE = "stage"
M_MOMENTS = "moment_mismatch"      # [{level, per_order: [order 1..4]}]
M_MOMENTS_PER_ORDER = "per_order"
M_RECOVERY = "recovery"            # [{level, mean_cosine, min_cosine, ...}]  M_hat vs M
M_V_COSINE = "v_cosine"            # [{level, mean_cosine, min_cosine}]          V vs M
M_V_HAT_COSINE = "v_hat_cosine"    # [{level, mean_cosine, min_cosine}]          V vs M_hat (if logged)
M_LEVEL = "level"
M_MEAN_COS = "mean_cosine"
M_MIN_COS = "min_cosine"
M_LOSSES = ("loss_d", "loss_g")

# --- suite summaries (experiments/runner.h to_json(SuiteSummary)) -----------------------------
S_ROWS = "jobs"
S_VALUES = "values"
S_SWEEP = "sweep"
S_SAMPLES = ("samples", "sweep.samples", "config.samples", "n", "N")  # x axis of error-vs-N
S_SCHEDULE = ("schedule.kind", "schedule", "config.schedule.kind")  # sweep key or recorded value
SCHEDULES = ("layerwise", "random_lower", "joint", "layerwise_finetune")  # gda/learner_config.h
# A recorded value is an error (drawn against N) when its path contains one of these.
S_ERROR_MARKERS = ("error", "relative", "sliced_w", "moment_mismatch", "gap")

# --- image-structure documents (experiments/image_structure.h, docs/real_images.md) ---------
IS_SOURCES = "sources"            # {images|target: {samples, levels: [{level, data, noise, planted, locality}]}}

# --- sample-complexity documents (experiments/sample_complexity.h, docs/sample_complexity.md) ---
SC_SUITE = "suite"               # the normalised suite at its size (also manifest.config)
SC_SUITE_NAME = "suite"          # suite.suite: the suite's name
SC_SIZE = "size"                 # suite.size: ci | paper
SC_ERROR_PATH = "error"          # suite.error: dotted path of the error in a job result
SC_ERROR_TRANSFORM = "error_transform"
SC_DIMENSION = "dimension"       # suite.dimension: patch_dim | channels | first_layer_units
SC_POINTS = "points"             # suite.points[]: name, d, patch_dim, channels, active, ...
SC_JOBS = "jobs"                 # suite.jobs[]: name, kind
SC_SEEDS = "seeds"
SC_SEARCH = "search"             # n_min, n_max, steps_per_doubling, success_fraction
SC_CURVE = "curve"               # samples, min_samples
SC_TRIALS = "trials"             # [{point, job, d, n, seed, status, error, ...}]
SC_NSTAR = "n_star"              # [{point, job, d, eps, status, n_star, n_below, steps}]
SC_NSTAR_TABLE = "n_star_table"  # {job: {points, d, eps, n_star[point][eps]}}
SC_FITS = "fits"                 # {job: {polynomial, exponential, delta_aic, references, ...}}
SC_VERDICT = "verdict"           # {job: {d_exponent(_interval), eps_exponent(_interval), ...}}
SC_CURVES = "curves"             # [{point, job, d, slope, intercept, slope_interval, by_n[]}]
SC_ERROR_SLOPE = "error_slope"   # verdict.<job>.error_slope {points[], expected, ...}
SC_STATUS_REACHED = "reached"
SC_STATUS_AT_MIN = "at_minimum"      # N* <= n_min (censored; n_star = n_min)
SC_STATUS_NOT_REACHED = "not_reached"  # N* > n_max (n_below = largest size tried)

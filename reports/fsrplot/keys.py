"""Every JSON key name the figures read, in one place, so a change of schema is one edit here.

Documents carry "kind" (core/json_io.h make_document). metrics.jsonl lines of a training run carry
no kind; they are recognised by file name (gda/trainer.cpp Trainer::log_metrics).
"""

# --- document kinds --------------------------------------------------------------------------
KIND_ANALYZE = "analyze"                     # experiments/analysis.h (fsr analyze)
KIND_SUITE_SUMMARY = ("suite-summary", "run", "merge")  # experiments/runner.h (fsr run / merge)
KIND_SAMPLE_COMPLEXITY = ("sample-complexity", "sample_complexity")
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

# --- sample-complexity documents (experiments/sample_complexity.h) -----------------------------
SC_TRIALS = "trials"
SC_NSTAR = ("n_star", "nstar", "n_star_table")
SC_FITS = "fits"
SC_VERDICT = "verdict"
SC_ERROR_VS_N = ("error_vs_n", "error_curves")
SC_LEARNER = "learner"
SC_D = "d"
SC_EPS = "eps"
SC_N = "N"
SC_NSTAR_VALUE = "n_star"
SC_ERROR = "error"
SC_EXPONENT = "exponent"
SC_INTERVAL = "interval"
SC_INTERCEPT = "intercept"
SC_SLOPE = "slope"

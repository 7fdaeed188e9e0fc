"""fsrlab from Python: planted forward super-resolution targets, the first-layer estimators and
closed forms, column matching, the analyzer, the GDA learner and experiment suites.

The functions are the command line's (`fsr synth`, `fit-first-layer`, `match`, `analyze`,
`train`, `run`) with the same results, bit for bit: the same C++ code runs, and results come
back as the same documents, as dicts, with arrays as NumPy arrays. Bad input raises
fsrlab.InputError (a ValueError) with the command line's one-line "field = value: rule" message.
The reference is docs/python.md; the model behind the names is docs/science.md.

    import fsrlab
    t = fsrlab.build_target("experiments/targets/quickstart.json")   # or a dict
    s = t.sample(20000, hidden=True)              # s["X"][l-1], s["S"][l-1]: NumPy arrays
    fit = fsrlab.fit_first_layer(s["S"][0])       # alpha, beta, rho estimated from the codes
    print(abs(fit["alpha"] - t.alpha).max())

Functions: build_target, load_target (-> Target: sample, save, inspect, A, alpha, beta, M, W,
b), relu_moments, normal_q, normal_q_inverse, relu_moment_ratio, relu_t_from_moment_ratio,
fit_first_layer, match_columns, analyze, train (builds with LibTorch: has_learner), run_suite.
Use help(fsrlab.<name>) for each.
"""
from ._core import (  # noqa: F401
    InputError,
    Target,
    analyze,
    build_target,
    fit_first_layer,
    has_learner,
    load_target,
    match_columns,
    normal_q,
    normal_q_inverse,
    relu_moment_ratio,
    relu_moments,
    relu_t_from_moment_ratio,
    run_suite,
    version,
)

InputError.__doc__ = """Bad input: a config field, an argument or a file that breaks a rule.

Its message is the command line's one line "field = value: rule" (e.g. "levels = 9: must be in
[1, 8]"); the command line exits with code 2 where the module raises it. A ValueError."""

if has_learner:
    from ._core import train  # noqa: F401

__version__ = version
__all__ = ["InputError", "Target", "analyze", "build_target", "fit_first_layer", "has_learner",
           "load_target", "match_columns", "normal_q", "normal_q_inverse", "relu_moment_ratio",
           "relu_moments", "relu_t_from_moment_ratio", "run_suite", "version"] + (
               ["train"] if has_learner else [])

"""fsrplot: the figures and tables of `fsr report`, drawn from fsrlab JSON documents alone.

Modules: style (one look for every figure), keys (every JSON key name the figures read),
documents (finding and classifying documents under a directory), analysis, training, suites,
sample_complexity (one module per kind of input), tables (Markdown and LaTeX).
"""

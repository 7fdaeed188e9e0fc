#!/usr/bin/env python3
"""fsr report: figures and the recovery table of fsrlab results, drawn from their JSON alone.

Usage: /usr/bin/python3 reports/report.py DIR --out FIGDIR [--quiet]

Walks DIR recursively and dispatches on each document's "kind" (docs/reports.md):
  analyze              per-patch sparsity histograms, feature grids (M_l, M_hat_l, V_l; reads the
                       .npy arrays the document names), distribution per level, recovery table
  metrics.jsonl        moment-mismatch trajectories and D/G feature alignment over training
  suite-summary        error against N with fitted slopes; schedules compared per level
  sample-complexity    N* against d and 1/eps with fits, intervals, reference bounds; error vs N
  image-structure      sparsity histograms and error curves (real vs planted vs Gaussian control),
                       learned atoms as tiles, locality curves (docs/real_images.md)
Writes FIGDIR/<name>.pdf and .png per figure, FIGDIR/report.md, FIGDIR/report_table.tex and
FIGDIR/report.json (the list of figures, for tools).
Exit status: 0 on success; 2 when DIR is missing or holds no recognisable document (one line on
stderr, "report: ..."); 1 on an unexpected error.
"""
import argparse
import json
import os
import sys
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

try:
    import numpy  # noqa: F401
    import matplotlib  # noqa: F401
except ImportError as e:  # pragma: no cover - depends on the machine
    print(f"report: {e}: install python3-numpy and python3-matplotlib (scripts/setup.sh)",
          file=sys.stderr)
    sys.exit(2)

from fsrplot import (analysis, documents, image_structure, paper,  # noqa: E402
                     sample_complexity, style, suites, tables, training)

SCHEMA_VERSION = 1


class Report:
    def __init__(self, root, outdir, quiet):
        self.root, self.outdir, self.quiet = root, outdir, quiet
        self.sections = []   # (heading, config line, [(caption, files)], [notes])
        self.table_rows = []
        self.figures = []    # every file written
        self.problems = []

    def log(self, msg):
        if not self.quiet:
            print(msg, file=sys.stderr)

    def add(self, heading, config, items, notes=()):
        """A section of report.md: what was drawn from one document. The configuration line and
        the notes carry the metadata that the column-wide figures leave out."""
        items = [(cap, files) for cap, files in items if files]
        if items or notes:
            self.sections.append((heading, config, items, list(notes)))
            for _, f in items:
                self.figures.extend(f)
                self.log(f"  wrote {', '.join(f)}")

    def guarded(self, what, fn, *args, default=None):
        """A figure that fails is reported and the report goes on (one bad document must not
        hide the others)."""
        try:
            return fn(*args)
        except Exception as e:  # noqa: BLE001
            self.problems.append(f"{what}: {type(e).__name__}: {e}")
            self.log(f"  FAILED {what}: {e}")
            if os.environ.get("FSR_REPORT_DEBUG"):
                traceback.print_exc()
            return default


def run(root, outdir, quiet=False):
    docs = documents.find(root, exclude=[outdir])
    if docs.empty():
        return None, docs
    os.makedirs(outdir, exist_ok=True)
    style.apply()
    rep = Report(root, outdir, quiet)
    rel = lambda p: os.path.relpath(p, root)  # noqa: E731

    # The paper's figures first: they are what a suite directory is for.
    for path, doc in docs.suites:
        if not paper.handles(doc):
            continue
        rep.log(f"paper figures {path}")
        drawn = rep.guarded(path, paper.draw, doc, path, outdir, default=[])
        for cap, files, notes in drawn:
            rep.add(f"{doc.get('suite')}: {cap.split(' (')[0]}", suites.describe(doc),
                    [(cap, files)], notes)

    for path, doc in docs.analyses:
        s = "analysis_" + documents.slug(path, root)
        rep.log(f"analysis {path}")
        items = [("Per-patch sparsity of the hidden layers: fraction of patches with j active "
                  "channels, target (blue) vs learned (orange); dashed: k",
                  rep.guarded(path, analysis.sparsity_figure, doc, path, outdir, f"{s}_sparsity"))]
        notes = analysis.sparsity_notes(doc)
        for lv in doc.get("levels") or []:
            res = rep.guarded(path, analysis.feature_grid_figure, doc, path, lv, outdir,
                              f"{s}_features_level{lv.get('level')}")
            if res:
                files, why = res
                if files:
                    items.append((f"Output features of level {lv.get('level')} in matched order: "
                                  "target M, learned M\u0302 and discriminator decoder V, one "
                                  "normalised r\u00d7r colour tile per feature (grey = 0); "
                                  "number: matched |cos| with the target column (red below the "
                                  "bar)", files))
                    notes.append(analysis.feature_notes(doc, lv))
                elif why:
                    notes.append(f"feature grid not drawn: {why}")
        items.append(("Distribution of generated images per level: patch moment mismatch of "
                      "orders 1..4 (top) and sliced Wasserstein distance relative to the RMS "
                      "projection (bottom); black: the noise floor of two target batches (of "
                      "a data set: its two held-out halves)",
                      rep.guarded(path, analysis.distribution_figure, doc, path, outdir,
                                  f"{s}_distribution")))
        rep.table_rows.extend(analysis.table_rows(doc, path, documents.slug(path, root)))
        rep.add(f"Analysis: {rel(path)}", analysis.describe(doc, path), items, notes)

    for path, records, result, config in docs.trainings:
        s = "training_" + documents.slug(path, root)
        rep.log(f"training {path}")
        _, floor_note = training.noise_floor(path, config)
        items = [("Moment mismatch of patches over training, orders 1..4, per level"
                  + ("; dashed: the noise floor of each order" if floor_note else "")
                  + "; dotted verticals: stage changes",
                  rep.guarded(path, training.moments_figure, path, records, result, config, outdir,
                              f"{s}_moments")),
                 ("Feature alignment over training: matched |cos| with the target's columns of "
                  "the generator's M\u0302 (G) and the discriminator's decoder V (D); mean solid, "
                  "worst dashed; dotted: 0.99",
                  rep.guarded(path, training.alignment_figure, path, records, result, config, outdir,
                              f"{s}_alignment"))]
        rep.add(f"Training: {rel(path)}", training.describe(path, result, config), items,
                [floor_note] if floor_note else [])

    fit_notes = []
    for path, doc in docs.suites:
        s = "suite_" + documents.slug(path, root)
        rep.log(f"suite {path}")
        figs, fits = rep.guarded(path, suites.error_vs_n_figures, doc, outdir, f"{s}_error_vs_n",
                                 default=([], []))
        items = [(f"{suites._pretty(metric)} against the number of samples N: seeds as dots, "
                  "median per job (line), log-log fit (dashed), N^-1/2 (dotted)", files)
                 for metric, files in figs]
        targets = suites.targets_of(doc)
        if not paper.handles(doc) and len(targets) > 1:
            # Schedules compared per target family (a misspecified family is its own question).
            for t in targets:
                items.append((f"Schedules compared per level on target '{t}' (mean over seeds, sd "
                              "as error bar)",
                              rep.guarded(path, suites.schedules_figure, suites.only_target(doc, t),
                                          outdir, f"{s}_schedules_{suites.safe_name(t)}")))
        elif not paper.handles(doc):
            items.append(("Schedules compared per level (mean over seeds, sd as error bar)",
                          rep.guarded(path, suites.schedules_figure, doc, outdir, f"{s}_schedules")))
        notes = [f"fit {f['metric']} / {f['series']}: slope {f['slope']:.3f} "
                 f"(95% bootstrap [{f['lo']:.3f}, {f['hi']:.3f}])" for f in fits]
        fit_notes.extend(fits)
        rep.add(f"Suite: {rel(path)}", suites.describe(doc), items, notes)

    for path, doc in docs.sample_complexity:
        s = "sc_" + documents.slug(path, root)
        rep.log(f"sample complexity {path}")
        items = []
        for job, files in rep.guarded(path, sample_complexity.nstar_figures, doc, outdir,
                                      f"{s}_nstar", default=[]):
            items.append((f"N* of {job} against d (top, one series per \u03b5) and against 1/\u03b5 "
                          "(bottom, one per d): filled markers measured, open censored; solid the "
                          "polynomial fit with its exponent interval (band), dashed the exponential "
                          "fit, grey the reference bounds scaled by their median N*/bound", files))
        for job, files in rep.guarded(path, sample_complexity.error_vs_n_figures, doc, outdir,
                                      f"{s}_error_vs_n", default=[]):
            items.append(("Fitted error-vs-N slope per d with its interval; dotted: expected"
                          if job == "slopes" else
                          f"Error of {job} against N at fixed d: trials as dots, median over seeds, "
                          "fitted slope dashed (grey band: below the fit range), \u03b5 levels "
                          "dash-dotted", files))
        for job, files in rep.guarded(path, sample_complexity.steps_figures, doc, outdir,
                                      f"{s}_steps", default=[]):
            items.append((f"Steps to \u03b5 of {job} at N* against d: first passage (top) and to "
                          "stay (bottom); dashed: fitted power; dotted: the logging interval",
                          files))
        data = sample_complexity.read(doc)
        notes = [f"verdict ({job}): " + sample_complexity.verdict_text(data, job).replace("\n", "; ")
                 for job in data["jobs"]]
        for job, v in (doc.get("verdict") or {}).items():
            if isinstance(v, dict) and v.get("summary"):
                notes.append(f"summary ({job}): {v['summary']}")
        notes += sample_complexity.slope_notes(doc) + sample_complexity.steps_notes(doc)
        rep.add(f"Sample complexity: {rel(path)}", sample_complexity.describe(doc), items, notes)

    for path, doc in docs.image_structures:
        s = "structure_" + documents.slug(path, root)
        rep.log(f"image structure {path}")
        items = [("Per-patch sparsity at the fixed error, one panel per level: fraction of patches "
                  "coded with j atoms of the dictionary learned from the patches; real images "
                  "(orange) and planted target (blue) solid, their Gaussian controls (same mean "
                  "and covariance) dashed with open markers, the planted target's true active "
                  "channels grey dotted",
                  rep.guarded(path, image_structure.sparsity_figure, doc, outdir, f"{s}_sparsity")),
                 ("Mean atoms per patch against the error tolerance (x RMS patch norm), one panel "
                  "per level, same series as the sparsity figure; grey dotted: the planted target "
                  "coded over its true atoms",
                  rep.guarded(path, image_structure.error_curve_figure, doc, outdir, f"{s}_error")),
                 ("Locality: held-out fraction of the variance of the level-l codes left "
                  "unexplained by a ridge regression on the codes of an n x n block of parents "
                  "(weights per child parity), one panel per level; circled: the whole coarser "
                  "image; dotted: n = 1, the parent alone (kernel 2); dashed: n = 2 (kernel 4)",
                  rep.guarded(path, image_structure.locality_figure, doc, outdir, f"{s}_locality"))]
        g = doc.get("geometry") or {}
        tiles = (f"{g.get('patch')}x{g.get('patch')} pixels, {g.get('colors')} colours; grey = 0, "
                 "the largest |entry| of each atom saturates")
        for src, what in (("images", "photographs"), ("target", "planted target")):
            items.append((f"Atoms learned (OMP + MOD) from the patches of the {what}, in pixel space "
                          f"(whitening undone), one block per level, largest contrast first; each "
                          f"tile one atom ({tiles})",
                          rep.guarded(path, image_structure.atoms_figure, doc, path, src, outdir,
                                      f"{s}_atoms_{src}")))
        rep.add(f"Image structure: {rel(path)}", image_structure.describe(doc), items,
                image_structure.notes(doc))

    write_outputs(rep, docs, fit_notes)
    return rep, docs


def _atomic_write(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def write_outputs(rep, docs, fits):
    md = [f"# fsrlab report: {os.path.abspath(rep.root)}", "",
          "Drawn by `fsr report` (reports/report.py) from the JSON documents under this directory "
          "alone. Each figure is also written as PDF next to its PNG.", ""]
    if rep.table_rows:
        md += ["## Recovery table", "", tables.markdown(rep.table_rows),
               "(also as LaTeX: [report_table.tex](report_table.tex))", ""]
        _atomic_write(os.path.join(rep.outdir, "report_table.tex"), tables.latex(rep.table_rows))
        rep.figures.append("report_table.tex")
    for heading, config, items, notes in rep.sections:
        md += [f"## {heading}", ""]
        if config:
            md += [f"Configuration: {config}", ""]
        for cap, files in items:
            pdf, png = files[0], files[1]
            md += [f"![{cap}]({png})", "", f"*{cap}* ([PDF]({pdf}))", ""]
        for n in notes:
            md += [f"- {n}"]
        if notes:
            md.append("")
    if rep.problems or docs.skipped:
        md += ["## Not drawn", ""]
        md += [f"- {p}" for p in rep.problems]
        md += [f"- {os.path.relpath(p, rep.root)}: {why}" for p, why in docs.skipped]
        md.append("")
    _atomic_write(os.path.join(rep.outdir, "report.md"), "\n".join(md))
    index = {"schema_version": SCHEMA_VERSION, "kind": "report", "source": os.path.abspath(rep.root),
             "figures": rep.figures, "problems": rep.problems, "slopes": fits,
             "documents": {"analyze": len(docs.analyses), "training": len(docs.trainings),
                           "suite": len(docs.suites), "sample_complexity": len(docs.sample_complexity),
                           "image_structure": len(docs.image_structures)}}
    _atomic_write(os.path.join(rep.outdir, "report.json"), json.dumps(index, indent=2) + "\n")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dir", help="directory of fsrlab results (walked recursively)")
    ap.add_argument("--out", required=True, help="folder for figures, report.md, report_table.tex")
    ap.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    a = ap.parse_args(argv)
    if not os.path.isdir(a.dir):
        print(f"report: DIR = {a.dir}: not a directory", file=sys.stderr)
        return 2
    if os.path.exists(a.out) and not os.path.isdir(a.out):
        print(f"report: --out = {a.out}: exists and is not a directory", file=sys.stderr)
        return 2
    try:
        rep, docs = run(a.dir, a.out, a.quiet)
    except OSError as e:  # a read-only or full --out, an unreadable file: exit 2, no traceback
        path = os.path.abspath(str(e.filename or a.out))
        if path.startswith(os.path.abspath(a.out)):
            print(f"report: --out = {a.out}: cannot be written ({e.strerror or e})", file=sys.stderr)
        else:
            print(f"report: file = {path}: cannot be read ({e.strerror or e})", file=sys.stderr)
        return 2
    if rep is None:
        print(f"report: DIR = {a.dir}: no fsrlab document found (looked for JSON with kind analyze, "
              f"suite-summary, sample-complexity, image-structure, and metrics.jsonl files)", file=sys.stderr)
        return 2
    n_fig = sum(1 for f in rep.figures if f.endswith(".png"))
    print(f"report: {n_fig} figures, report.md" + (", report_table.tex" if rep.table_rows else "")
          + f" in {a.out}"
          + (f"; {len(rep.problems)} figure(s) failed, see report.md" if rep.problems else ""))
    return 1 if rep.problems and not n_fig else 0


if __name__ == "__main__":
    sys.exit(main())

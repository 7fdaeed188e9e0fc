#!/usr/bin/env python3
"""Test of reports/report.py (fsr report) on the stored fixture reports/fixtures/: every expected
figure exists as a valid PDF and PNG one column wide, report.md references each and carries the
configuration, the LaTeX table is written, and bad input exits with 2. Run with Debian's python: /usr/bin/python3 reports/report_test.py
Optional argument: the fsr binary, to check `fsr report` end to end as well."""
import copy
import os
import struct
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPORT = os.path.join(HERE, "report.py")
FIXTURES = os.path.join(HERE, "fixtures")
# The fsr binary, for the `fsr report` test: first argument or $FSR_BIN. Read here, before the
# skipUnless below is evaluated.
if __name__ == "__main__" and len(sys.argv) > 1 and not sys.argv[1].startswith("-"):
    os.environ["FSR_BIN"] = os.path.abspath(sys.argv.pop(1))

# Figure names for the fixture: one per kind of figure the report draws.
EXPECTED = [
    "analysis_analysis_analysis_sparsity",           # per-patch sparsity, target vs learned
    "analysis_analysis_analysis_features_level1",    # feature grids M, M_hat, V
    "analysis_analysis_analysis_features_level2",
    "analysis_analysis_analysis_distribution",
    "training_training_metrics_moments",             # moment mismatch over training
    "training_training_metrics_alignment",           # D/G feature alignment over training
    "suite_suite_summary_error_vs_n_errors_alpha_max_relative",  # error vs N, one per metric
    "suite_suite_summary_error_vs_n_errors_rho_max_abs_error",
    "suite_schedules_summary_schedules",             # layer-wise vs random-lower vs joint
    "sc_sample_complexity_sample_complexity_nstar_moments",  # N* vs d and 1/eps, per job
    "sc_sample_complexity_sample_complexity_nstar_mle",
    "sc_sample_complexity_sample_complexity_error_vs_n_moments",
    "sc_sample_complexity_sample_complexity_error_vs_n_slopes",
]
COLUMN_PT = 3.3 * 72  # every figure is one column of a two-column paper (reports/fsrplot/style.py)
PNG_DPI = 300


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", head[16:24])


def pdf_width_pt(path):
    """Width of the first page's MediaBox in points."""
    import re
    with open(path, "rb") as f:
        m = re.search(rb"/MediaBox\s*\[\s*([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)", f.read())
    return float(m.group(3)) - float(m.group(1)) if m else None


def is_pdf(path):
    with open(path, "rb") as f:
        data = f.read()
    return data.startswith(b"%PDF-") and b"%%EOF" in data[-64:]


class ReportTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.out = os.path.join(cls.tmp.name, "figs")
        cls.proc = subprocess.run([sys.executable, REPORT, FIXTURES, "--out", cls.out, "--quiet"],
                                  capture_output=True, text=True, timeout=300)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_exit_status(self):
        self.assertEqual(self.proc.returncode, 0, self.proc.stderr)

    def test_every_figure_is_a_valid_png_and_pdf(self):
        for name in EXPECTED:
            png, pdf = os.path.join(self.out, name + ".png"), os.path.join(self.out, name + ".pdf")
            self.assertTrue(os.path.isfile(png), f"missing {png}; have {sorted(os.listdir(self.out))}")
            self.assertTrue(os.path.isfile(pdf), f"missing {pdf}")
            size = png_size(png)
            self.assertIsNotNone(size, f"{png} is not a PNG")
            self.assertGreater(min(size), 200, f"{png}: {size}")
            self.assertTrue(is_pdf(pdf), f"{pdf} is not a complete PDF")

    def test_every_figure_is_one_column_wide(self):
        # The one style: 3.3 in wide, so that it pastes into one column unscaled (fonts stay at
        # their 7-8 pt); the PNG at 300 dpi. Rounding of the PNG size: one pixel.
        for name in sorted(f[:-4] for f in os.listdir(self.out) if f.endswith(".png")):
            w = pdf_width_pt(os.path.join(self.out, name + ".pdf"))
            self.assertIsNotNone(w, name)
            self.assertAlmostEqual(w, COLUMN_PT, delta=0.01, msg=name)
            self.assertAlmostEqual(png_size(os.path.join(self.out, name + ".png"))[0],
                                   3.3 * PNG_DPI, delta=1, msg=name)

    def test_report_md_references_every_figure(self):
        with open(os.path.join(self.out, "report.md")) as f:
            md = f.read()
        for name in EXPECTED:
            self.assertIn(f"]({name}.png)", md)
            self.assertIn(f"]({name}.pdf)", md)
        self.assertIn("## Recovery table", md)
        # The metadata the figures leave out is in report.md: each document's configuration.
        self.assertIn("Configuration: run 'run' vs target 'target'", md)
        self.assertIn("verdict (moments): N* \u221d d^0.34 [0.25, 0.48]", md)
        self.assertNotIn("## Not drawn", md, md)  # no figure of the fixture failed

    def test_recovery_table(self):
        with open(os.path.join(self.out, "report_table.tex")) as f:
            tex = f.read()
        self.assertIn(r"\begin{tabular}", tex)
        self.assertIn(r"\end{tabular}", tex)
        # Two levels of the fixture analysis: level 1 mean cosine 0.993 (fsr analyze output).
        self.assertEqual(tex.count(r"\\") - 1, 2, tex)  # header + 2 rows
        self.assertIn("0.993", tex)

    def test_no_document_is_exit_2(self):
        with tempfile.TemporaryDirectory() as d:
            p = subprocess.run([sys.executable, REPORT, d, "--out", os.path.join(d, "f")],
                               capture_output=True, text=True)
            self.assertEqual(p.returncode, 2)
            self.assertIn("no fsrlab document", p.stderr)
            p = subprocess.run([sys.executable, REPORT, os.path.join(d, "missing"), "--out", d],
                               capture_output=True, text=True)
            self.assertEqual(p.returncode, 2)
            self.assertIn("not a directory", p.stderr)

    @unittest.skipUnless(os.environ.get("FSR_BIN"), "FSR_BIN (the fsr binary) not given")
    def test_fsr_report_command(self):
        with tempfile.TemporaryDirectory() as d:
            p = subprocess.run([os.environ["FSR_BIN"], "report", FIXTURES, "--out", d],
                               capture_output=True, text=True, timeout=300)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertTrue(os.path.isfile(os.path.join(d, "report.md")))
            p = subprocess.run([os.environ["FSR_BIN"], "report", os.path.join(d, "nope"), "--out", d],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 2, p.stderr)

    @unittest.skipUnless(os.environ.get("FSR_BIN"), "FSR_BIN (the fsr binary) not given")
    def test_fsr_report_json_is_one_document(self):
        import json
        with tempfile.TemporaryDirectory() as d:
            p = subprocess.run([os.environ["FSR_BIN"], "report", FIXTURES, "--out", d, "--json"],
                               capture_output=True, text=True, timeout=300)
            self.assertEqual(p.returncode, 0, p.stderr)
            doc = json.loads(p.stdout)  # the whole of stdout is one JSON value
            self.assertIsInstance(doc, dict)
            self.assertEqual(doc["kind"], "report")
            self.assertEqual(doc["schema_version"], 1)
            self.assertIn("manifest", doc)
            self.assertEqual(doc["problems"], [])
            self.assertEqual(doc["documents"]["analyze"], 1)
            for f in doc["figures"]:
                self.assertTrue(os.path.isfile(os.path.join(d, f)), f)
            self.assertIn("analysis_analysis_analysis_sparsity.pdf", doc["figures"])


class SampleComplexityTest(unittest.TestCase):
    """The sample-complexity reader against the real `fsr complexity` fixture: rows keyed by their
    own (job, point, eps), each job's own verdict, a short configuration line, censored rows."""

    @classmethod
    def setUpClass(cls):
        import json
        sys.path.insert(0, HERE)
        from fsrplot import sample_complexity as sc
        cls.sc = sc
        with open(os.path.join(FIXTURES, "sample_complexity", "sample_complexity.json")) as f:
            cls.doc = json.load(f)
        cls.data = sc.read(cls.doc)

    def test_nstar_markers_match_the_table(self):
        self.assertEqual(self.data["jobs"], ["moments", "mle"])
        for job, tab in self.doc["n_star_table"].items():
            got = {(pt, e): n for pt, _, e, n in self.sc.nstar_points(self.data, job)["reached"]}
            want = {(pt, e): n for pt, row in zip(tab["points"], tab["n_star"])
                    for e, n in zip(tab["eps"], row)}
            self.assertEqual(got, want, job)
        # Spot checks against the `fsr complexity` text table.
        got = {(pt, e): n for pt, _, e, n in self.sc.nstar_points(self.data, "moments")["reached"]}
        self.assertEqual(got[("d3_m3", 0.2)], 304)
        self.assertEqual(got[("d48_m32", 0.05)], 11585)

    def test_each_job_shows_its_own_verdict(self):
        m, l = self.sc.verdict_text(self.data, "moments"), self.sc.verdict_text(self.data, "mle")
        self.assertIn("4.39", m)
        self.assertIn("d^0.34 [0.25, 0.48]", m)
        self.assertNotIn("11.2", m)
        self.assertIn("11.2", l)
        self.assertIn("d^0.35 [0.27, 0.43]", l)

    def test_configuration_line_is_short(self):
        text = self.sc.describe(self.doc)
        for part in ("sample_complexity_first_layer", "size ci", "errors.alpha_max_relative",
                     "patch_dim"):
            self.assertIn(part, text)
        self.assertNotIn("{", text)
        self.assertLess(len(text), 220, text)

    def test_censored_rows_follow_status(self):
        doc = copy.deepcopy(self.doc)
        for r in doc["n_star"]:
            if (r["job"], r["point"], r["eps"]) == ("moments", "d3_m3", 0.2):
                r.update(status="at_minimum", n_star=32, n_below=None)
            if (r["job"], r["point"], r["eps"]) == ("moments", "d48_m32", 0.05):
                r.update(status="not_reached", n_star=None, n_below=1048576)
        marks = self.sc.nstar_points(self.sc.read(doc), "moments")
        self.assertEqual(marks["at_minimum"], [("d3_m3", 3.0, 0.2, 32.0)])
        self.assertEqual(marks["not_reached"], [("d48_m32", 48.0, 0.05, 1048576.0)])
        self.assertEqual(len(marks["reached"]), 10)
        with tempfile.TemporaryDirectory() as d:
            files = dict(self.sc.nstar_figures(doc, d, "censored"))
            self.assertEqual(files["moments"], ["censored_moments.pdf", "censored_moments.png"])
            self.assertIsNotNone(png_size(os.path.join(d, "censored_moments.png")))


class PhaseCellsTest(unittest.TestCase):
    """The map's cells (fsrplot/phase.py) on a three-run summary written here: a run at the bar, a
    run that lost a column and was scored (columns.missing_columns non-empty, worst |cos| 0), and
    one from an output made before lost columns were scored (job failed with the scorer's
    message, no scores). Expected by hand: 1 success of 3, 2 lost, the mean over the 2 scored."""

    def test_lost_columns_count_scored_or_not(self):
        import json
        sys.path.insert(0, HERE)
        from fsrplot import phase
        target = {"levels": 1, "grid": 2, "channels": [8], "patch": 2, "colors": 3,
                  "active": [0.05], "first_layer": {"correlation": "independent"},
                  "dictionary": {"kind": "orthonormal"}}
        ids = ["t.gda.width=4.seed%d" % s for s in (1, 2, 3)]
        plan = {"jobs": [{"id": i, "target_name": "t", "target": target,
                          "config": {"generator": {"width": 4}}} for i in ids]}
        rows = [
            {"id": ids[0], "target": "t", "status": "ok", "sweep": {"generator.width": 4},
             "values": {phase.MEAN_COS: 0.99, phase.MIN_COS: 0.97, phase.MISSING: []}},
            {"id": ids[1], "target": "t", "status": "ok", "sweep": {"generator.width": 4},
             "values": {phase.MEAN_COS: 0.87, phase.MIN_COS: 0.0, phase.MISSING: [5]}},
            {"id": ids[2], "target": "t", "status": "failed", "sweep": {"generator.width": 4},
             "error": "learned M_1: has 7 non-zero columns, fewer than the target's 8: cannot "
                      "be matched one-to-one", "values": {}},
        ]
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "plan.json"), "w") as f:
                json.dump(plan, f)
            cells = phase.cells({"jobs": rows}, d)
        c = cells[(12, 0.05, None, 8)][4.0]
        self.assertEqual((c.n, c.successes, c.lost), (3, 1, 2))
        self.assertAlmostEqual(c.mean_cos, (0.99 + 0.87) / 2, places=12)
        self.assertAlmostEqual(c.min_cos, (0.97 + 0.0) / 2, places=12)


class SchedulePanelsTest(unittest.TestCase):
    """The panels of a schedules figure (fsrplot/suites.py), as agnostic_bfc.json records them:
    four moment-mismatch orders before sliced W1 and its floor. Expected by hand: sliced W1 first
    (it has a floor, the per-level mean of the floors recorded), then the first two orders."""

    def test_metric_with_a_floor_comes_first_with_its_mean_floor(self):
        sys.path.insert(0, HERE)
        from fsrplot import suites
        rows = []
        for sched in ("layerwise", "joint"):
            for seed, floor in ((1, 0.004), (2, 0.006)):
                values = {"analysis.levels.0.distribution.moment_mismatch.%d" % k: 0.1 * k
                          for k in range(4)}
                values["analysis.levels.0.distribution.sliced_w1"] = 0.02
                values["analysis.levels.0.distribution.sliced_w1_floor"] = floor
                values["analysis.levels.1.distribution.sliced_w1"] = 0.03
                values["analysis.levels.1.distribution.sliced_w1_floor"] = 2 * floor
                rows.append({"id": "t.%s.seed%d" % (sched, seed), "job": sched, "status": "ok",
                             "target": "t", "seed": seed, "sweep": {}, "values": values})
        scheds, metrics = suites.schedule_metrics({"kind": "suite-summary", "jobs": rows})
        self.assertEqual(scheds, ["layerwise", "joint"])
        panels = suites.schedule_panels(metrics)
        names = [m for m, _ in panels]
        self.assertEqual(len(names), 3)
        self.assertTrue(names[0].endswith("sliced_w1"), names)
        self.assertTrue(names[1].endswith("moment_mismatch.0"), names)
        self.assertTrue(names[2].endswith("moment_mismatch.1"), names)
        floors = panels[0][1]
        self.assertAlmostEqual(floors[1], 0.005, places=15)
        self.assertAlmostEqual(floors[2], 0.010, places=15)
        self.assertIsNone(panels[1][1])


class Fig7Test(unittest.TestCase):
    """fig7 of feature_alignment (fsrplot/paper.py): a job swept over training length and a job
    drawn from its runs' metrics.jsonl, each with the chance level of its own decoder count.
    Expected values by hand: the trajectory's mean over two seeds at each logged step, and the
    chance level of one random unit decoder against one axis in the plane, E|cos| = 2/pi."""

    def test_chance_level_against_its_closed_form(self):
        sys.path.insert(0, HERE)
        from fsrplot import paper
        mean, lo, hi = paper.chance_alignment(2, 1, 1, draws=400, seed=0)
        # |cos| of a uniform angle has sd 0.308, so 400 draws give a standard error of 0.0154:
        # 0.05 is 3.2 standard errors.
        self.assertAlmostEqual(mean, 2 / 3.141592653589793, delta=0.05)
        self.assertLess(lo, mean)
        self.assertGreater(hi, mean)

    def test_swept_and_trajectory_jobs_with_their_own_chance(self):
        import json
        import numpy as np
        sys.path.insert(0, HERE)
        from fsrplot import paper
        root = tempfile.mkdtemp()
        rows = []
        key = "analysis.levels.0.decoder.vs_target.mean_cosine"
        rng = np.random.default_rng(3)
        M = np.eye(12)[:, :8]
        for seed in (1, 2):
            for steps in (100, 300):
                rows.append({"id": "t.swept.schedule.steps=%d.seed%d" % (steps, seed),
                             "job": "swept", "status": "ok", "target": "t", "seed": seed,
                             "sweep": {"schedule.steps": steps},
                             "values": {key: 0.5 + steps / 1000.0}})
            rid = "t.traj.seed%d" % seed
            rows.append({"id": rid, "job": "traj", "status": "ok", "target": "t", "seed": seed,
                         "sweep": {}, "values": {}})
            for rid_, units in ((rid, 32), ("t.swept.schedule.steps=100.seed%d" % seed, 16)):
                os.makedirs(os.path.join(root, "jobs", rid_, "run"), exist_ok=True)
                os.makedirs(os.path.join(root, "jobs", rid_, "target"), exist_ok=True)
                np.save(os.path.join(root, "jobs", rid_, "run", "V_1.npy"),
                        rng.standard_normal((12, units)))
                np.save(os.path.join(root, "jobs", rid_, "target", "M_1.npy"), M)
            with open(os.path.join(root, "jobs", rid, "run", "metrics.jsonl"), "w") as f:
                for step, v, g in ((0, 0.6, 0.4), (50, 1.05 - 0.1 * seed, 0.7), (100, 0.7 + 0.1 * seed, 0.9)):
                    f.write(json.dumps({"step": step,
                                        "v_cosine": [{"level": 1, "mean_cosine": v, "min_cosine": v}],
                                        "recovery": [{"level": 1, "mean_cosine": g,
                                                      "min_cosine": g}]}) + "\n")
        doc = {"kind": "suite-summary", "jobs": rows}
        out = paper.fig7(doc, root, root, "fig7")
        self.assertEqual(len(out), 1)
        _, files, notes = out[0]
        self.assertTrue(files and all(os.path.isfile(os.path.join(root, f)) for f in files), files)
        text = "\n".join(notes)
        for job, units in (("swept", 16), ("traj", 32)):
            mean, lo, hi = paper.chance_alignment(12, 8, units)
            self.assertIn(f"{job}: chance level of V vs M: {units} random unit decoders against 8 "
                          f"orthonormal columns in d = 12: mean {mean:.3f}", text)
        # D: V vs M over the two seeds: 0.6 at step 0, mean(0.95, 0.85) = 0.9 at step 50 (the
        # largest), mean(0.8, 0.9) = 0.85 at step 100; the largest single value is seed 1's 0.95.
        self.assertIn("traj, D: V vs M: mean over 2 seed(s) 0.600 at step 0, largest 0.900 at "
                      "step 50, 0.850 at step 100; at the end seed 1 0.800, seed 2 0.900; largest "
                      "logged value of any seed 0.950", text)
        self.assertIn("traj, G: M\u0302 vs M: mean over 2 seed(s) 0.400 at step 0, largest 0.900", text)
        self.assertIn("swept, 300 steps, seed 2: D 0.800", text)


if __name__ == "__main__":
    unittest.main()

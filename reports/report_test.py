#!/usr/bin/env python3
"""Test of reports/report.py (fsr report) on the stored fixture reports/fixtures/: every expected
figure exists as a valid PDF and PNG, report.md references each PNG, the LaTeX table is written,
and bad input exits with 2. Run with Debian's python: /usr/bin/python3 reports/report_test.py
Optional argument: the fsr binary, to check `fsr report` end to end as well."""
import os
import struct
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPORT = os.path.join(HERE, "report.py")
FIXTURES = os.path.join(HERE, "fixtures")
FSR = None  # set from argv

# Figure names for the fixture: one per kind of figure the issue asks for.
EXPECTED = [
    "analysis_analysis_analysis_sparsity",           # per-patch sparsity, target vs learned
    "analysis_analysis_analysis_features_level1",    # feature grids M, M_hat, V
    "analysis_analysis_analysis_features_level2",
    "analysis_analysis_analysis_distribution",
    "training_training_metrics_moments",             # moment mismatch over training
    "training_training_metrics_alignment",           # D/G feature alignment over training
    "suite_suite_summary_error_vs_n",                # error vs N with fitted slope (suite)
    "suite_schedules_summary_schedules",             # layer-wise vs random-lower vs joint
    "sc_sample_complexity_sample_complexity_nstar",  # N* vs d and 1/eps
    "sc_sample_complexity_sample_complexity_error_vs_n",
]


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", head[16:24])


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

    def test_report_md_references_every_figure(self):
        with open(os.path.join(self.out, "report.md")) as f:
            md = f.read()
        for name in EXPECTED:
            self.assertIn(f"]({name}.png)", md)
            self.assertIn(f"]({name}.pdf)", md)
        self.assertIn("## Recovery table", md)
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


if __name__ == "__main__":
    if len(sys.argv) > 1 and not sys.argv[1].startswith("-"):
        os.environ["FSR_BIN"] = os.path.abspath(sys.argv.pop(1))
    unittest.main()

#!/usr/bin/env python3
"""CI check of experiments/suites/real_image_structure.json (docs/real_images.md): runs its `ci`
size through `fsr run`, recomputes what can be recomputed independently, checks the claims the ci
run supports, and that `fsr report` draws its figures.

Independent recomputations (numpy and Pillow, not the C++ code under test):
* the pyramid: `fsr pyramid` with the job's seed writes the same crops; the finest level of a
  crop of the PNG equals Pillow's decoding of that file at the recorded position, and every
  coarser level is the 2x2 block mean of the next finer one;
* the sparsity: a plain numpy OMP (greedy atom choice, least squares on the support) of the
  held-out patches of levels 1 and 2 (all of them are used there) over the stored dictionary
  gives the reported mean atoms per patch;
* coherence of the stored dictionaries; histograms summing to 1 with the reported means.

Claims (margins next to each, from the measurements in docs/real_images.md):
* real-image codes are sparser than their Gaussian control at every level;
* the Gaussian controls are dense (whitened patches: an isotropic control needs many atoms);
* the planted target reproduces its configured sparsity: its true active count per patch is the
  configured 10 % of 12 channels, and coding over its true (centred) atoms at the same error
  takes no more atoms than are active;
* locality on the planted kernel-4 target: the 2 x 2 parent block (kernel 4) explains the child
  codes better than the parent alone, and the whole coarser image adds little beyond it.

Usage: real_image_suite_test.py PATH/TO/fsr PATH/TO/experiments/suites
"""
import glob
import json
import os
import re
import subprocess
import sys
import unittest

import numpy as np

import suite_run

FSR = SUITES = None
OUT = None
RUN = None
SUITE = "real_image_structure"


CI_RUN = suite_run.CiSuiteRun(SUITE, reuse_env="FSR_REAL_IMAGE_REUSE", prefix="fsr_real_image_",
                              run_args=["--jobs", "1", "--threads", "2"], timeout=900)


def setUpModule():
    global OUT, RUN
    OUT, RUN = CI_RUN.start(FSR, SUITES)


def tearDownModule():
    CI_RUN.cleanup()


def structure_docs():
    return sorted(glob.glob(os.path.join(OUT, SUITE, "jobs", "*", "structure.json")))


def numpy_omp_counts(D, X, tol):
    """Atoms per row of X by textbook OMP: pick the atom most correlated with the residual,
    refit all chosen atoms by least squares, stop when the residual norm is <= tol."""
    D = D / np.linalg.norm(D, axis=0, keepdims=True)
    cap = min(D.shape)
    counts = np.zeros(len(X), int)
    for n, x in enumerate(X):
        r, support = x.copy(), []
        while np.linalg.norm(r) > tol and len(support) < cap:
            c = np.abs(D.T @ r)
            c[support] = -1
            support.append(int(np.argmax(c)))
            A = D[:, support]
            g, *_ = np.linalg.lstsq(A, x, rcond=None)
            r = x - A @ g
        counts[n] = len(support)
    return counts


def patches(X, h, r, c):
    """(samples, c, r h, r h) -> (samples h^2, c r^2): row n h^2 + y h + x, entry colour r^2 +
    dy r + dx (docs/target_format.md)."""
    n = X.shape[0]
    P = X.reshape(n, c, h, r, h, r).transpose(0, 2, 4, 1, 3, 5)
    return P.reshape(n * h * h, c * r * r)


class RealImageSuite(unittest.TestCase):
    def test_0_run_completed(self):
        code, err = RUN
        self.assertEqual(code, 0, err)
        with open(os.path.join(OUT, SUITE, "summary.json")) as f:
            s = json.load(f)
        self.assertTrue(s["complete"], s.get("missing"))
        self.assertEqual(len(structure_docs()), 1)

    def doc(self):
        docs = structure_docs()
        self.assertTrue(docs)
        with open(docs[0]) as f:
            return docs[0], json.load(f)

    def test_histograms_and_means(self):
        _, doc = self.doc()
        for name, src in doc["sources"].items():
            for lv in src["levels"]:
                for block in ("data", "noise"):
                    h = np.asarray(lv[block]["histogram"])
                    self.assertAlmostEqual(h.sum(), 1.0, places=9)
                    self.assertAlmostEqual(float(np.arange(len(h)) @ h), lv[block]["mean_atoms"],
                                           places=9, msg=f"{name} level {lv['level']} {block}")

    def test_real_images_sparser_than_their_gaussian_control(self):
        _, doc = self.doc()
        for lv in doc["sources"]["images"]["levels"]:
            real, noise = lv["data"]["mean_atoms"], lv["noise"]["mean_atoms"]
            print(f"level {lv['level']}: real {real:.3f} atoms per patch, control {noise:.3f}")
            # Measured ratios 0.42-0.47 at ci size (docs/real_images.md); 0.7 leaves room.
            self.assertLess(real, 0.7 * noise, f"level {lv['level']}")
            # The control is dense: whitened, it is isotropic, and at an error of 0.3 x RMS
            # its patches take about a third of the d dimensions (measured 4.3-4.5 of 12).
            self.assertGreater(noise, 0.3 * lv["patch_dim"], f"level {lv['level']}")

    def test_planted_target_reproduces_its_configured_sparsity(self):
        _, doc = self.doc()
        m = doc["sources"]["target"]["levels"][0]["planted"]["channels"]
        for lv in doc["sources"]["target"]["levels"]:
            p = lv["planted"]
            # Configured 10 % active of 12 channels = 1.2 per patch; the 120 held-out samples of
            # the ci run are few and the positions of one sample are correlated (measured 1.34,
            # 1.41, 1.48 at levels 1-3): within 35 %.
            self.assertLess(abs(p["mean_active"] - 0.1 * m), 0.35 * 0.1 * m, f"level {lv['level']}")
            # Over its true atoms the code never needs more atoms than are active (units with
            # small values fall below the error and are dropped).
            self.assertLessEqual(p["oracle"]["mean_atoms"], p["mean_active"] + 1e-9)
            # The learned dictionary finds the planted atoms (orthonormal M, centred, whitened;
            # measured mean |cos| 0.99, 0.99, 0.95 at ci size).
            self.assertGreater(p["match"]["mean_cosine"], 0.93, f"level {lv['level']}")
            # ...and codes the planted patches as sparsely as the true atoms do (within 0.3).
            self.assertLess(abs(lv["data"]["mean_atoms"] - p["oracle"]["mean_atoms"]), 0.3)
            self.assertLess(lv["data"]["mean_atoms"], lv["noise"]["mean_atoms"])

    def test_coherence_and_sparsity_recomputed_from_the_stored_dictionaries(self):
        path, doc = self.doc()
        job = os.path.dirname(path)
        g = doc["geometry"]
        cfg = doc["config"]
        # The job's pyramid, rebuilt by `fsr pyramid` with the job's seed.
        pyr = os.path.join(OUT, "pyramid")
        if not os.path.isdir(pyr):
            r = subprocess.run([FSR, "pyramid", "--out", pyr, "--levels", str(g["levels"]),
                                "--grid", str(g["grid"]), "--patch", str(g["patch"]),
                                "--colors", str(g["colors"]), "--samples", str(cfg["samples"]),
                                "--scale", str(cfg["image_scale"]), "--seed",
                                str(doc["manifest"]["seed"]), "--json", "--images"]
                               + cfg["images"], capture_output=True, text=True, timeout=300)
            self.assertEqual(r.returncode, 0, r.stderr)
        r_, c_ = g["patch"], g["colors"]
        n = cfg["samples"]
        for lv in doc["sources"]["images"]["levels"]:
            l = lv["level"]
            D = np.load(os.path.join(job, lv["dictionary_file"]))
            G = np.abs((D / np.linalg.norm(D, axis=0)).T @ (D / np.linalg.norm(D, axis=0)))
            np.fill_diagonal(G, 0)
            self.assertAlmostEqual(G.max(), lv["data"]["coherence"]["max"], places=9)
            if l > 2:
                continue  # level 3 codes a random subset of its held-out patches
            X = np.load(os.path.join(pyr, f"X_{l}.npy")).astype(float)
            h = g["grid"] << (l - 1)
            P = patches(X[n // 2:], h, r_, c_)
            self.assertEqual(len(P), lv["eval_patches"])
            P = P - P.mean(axis=1, keepdims=True)
            if lv.get("whitening_file"):
                P = P @ np.load(os.path.join(job, lv["whitening_file"]))  # symmetric
            counts = numpy_omp_counts(D, P, lv["tolerance_abs"])
            # Float32 pixels in the pyramid file vs float64 in the job: a patch exactly at the
            # tolerance could flip by one atom; none did (printed), 0.01 allows a few.
            print(f"level {l}: numpy OMP {counts.mean():.4f} vs reported {lv['data']['mean_atoms']:.4f}")
            self.assertAlmostEqual(counts.mean(), lv["data"]["mean_atoms"], delta=0.01)

    def test_pyramid_matches_pillow_and_pooling(self):
        from PIL import Image
        _, doc = self.doc()
        pyr = os.path.join(OUT, "pyramid")
        if not os.path.isdir(pyr):
            self.skipTest("made by the recomputation test")
        with open(os.path.join(pyr, "pyramid.json")) as f:
            meta = json.load(f)
        L = meta["architecture"]["levels"]
        X = [np.load(os.path.join(pyr, f"X_{l}.npy")) for l in range(1, L + 1)]
        for l in range(1, L):
            f = X[l].astype(float)
            pooled = 0.25 * (f[:, :, 0::2, 0::2] + f[:, :, 1::2, 0::2] + f[:, :, 0::2, 1::2]
                             + f[:, :, 1::2, 1::2])
            self.assertLess(np.abs(pooled - X[l - 1]).max(), 1e-6)
        scale = meta["image_scale"]
        png = [i for i, p in enumerate(meta["images"]) if p.endswith(".png")]
        self.assertTrue(png)
        img = np.asarray(Image.open(meta["images"][png[0]]).convert("RGB"), float) / 255.0
        H, W = img.shape[0] // scale, img.shape[1] // scale
        img = img[:H * scale, :W * scale].reshape(H, scale, W, scale, 3).mean(axis=(1, 3))
        side = X[-1].shape[-1]
        checked = 0
        for i, (k, top, left) in enumerate(meta["crops"]):
            if k != png[0]:
                continue
            ref = img[top:top + side, left:left + side].transpose(2, 0, 1)
            self.assertLess(np.abs(X[-1][i] - ref).max(), 1e-6)
            checked += 1
        self.assertGreater(checked, 0)

    def test_locality_on_the_planted_kernel4_target(self):
        _, doc = self.doc()
        for src in ("images", "target"):
            for lv in doc["sources"][src]["levels"][1:]:
                fvu = {p["size"]: p["fvu"] for p in lv["locality"] if p["fvu"] is not None}
                whole = [p for p in lv["locality"] if p["whole"]][0]
                print(f"{src} level {lv['level']}: " + ", ".join(
                    f"n={k}: {v:.3f}" for k, v in sorted(fvu.items())) + f" (whole n={whole['size']})")
                for v in fvu.values():
                    self.assertTrue(0 <= v < 1.5)
        for lv in doc["sources"]["target"]["levels"][1:]:
            fvu = {p["size"]: p["fvu"] for p in lv["locality"]}
            whole = [p for p in lv["locality"] if p["whole"]][0]["fvu"]
            # Kernel 4: a child reads a 2 x 2 block of parents; the parent alone explains less.
            self.assertLess(fvu[2], fvu[1] - 0.02, f"level {lv['level']}")
            # Nothing beyond the block matters (held-out error, ridge): within 0.05 of it.
            self.assertLess(whole, fvu[2] + 0.05, f"level {lv['level']}")

    def test_report_draws_the_figures(self):
        fig = os.path.join(OUT, "figs")
        r = subprocess.run([FSR, "report", os.path.join(OUT, SUITE), "--out", fig],
                           capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr)
        names = [os.path.basename(p) for p in glob.glob(os.path.join(fig, "structure_*.png"))]
        for part in ("_sparsity.png", "_error.png", "_locality.png", "_atoms_images.png",
                     "_atoms_target.png"):
            self.assertTrue(any(n.endswith(part) for n in names), (part, names))
        # Every figure is one column of a two-column paper, 3.3 in (docs/reports.md): the PDF's
        # MediaBox 3.3 x 72 pt wide (to 0.01 pt), the 300 dpi PNG 990 pixels (to one pixel,
        # rounding).
        with open(os.path.join(fig, "report.md")) as f:
            md = f.read()
        for n in names:
            with open(os.path.join(fig, n), "rb") as f:
                head = f.read(24)
            self.assertEqual(head[:8], b"\x89PNG\r\n\x1a\n", n)
            self.assertAlmostEqual(int.from_bytes(head[16:20], "big"), 3.3 * 300, delta=1, msg=n)
            with open(os.path.join(fig, n[:-4] + ".pdf"), "rb") as f:
                box = re.search(rb"/MediaBox\s*\[\s*([-\d.]+)\s+[-\d.]+\s+([-\d.]+)", f.read())
            self.assertIsNotNone(box, n)
            self.assertAlmostEqual(float(box.group(2)) - float(box.group(1)), 3.3 * 72, delta=0.01,
                                   msg=n)
            self.assertIn(f"]({n})", md)  # with its caption in report.md

    def test_bad_input_is_exit_2(self):
        r = subprocess.run([FSR, "pyramid", "--images", "/nonexistent/x.png", "--out",
                            os.path.join(OUT, "never")], capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--images", r.stderr)
        self.assertFalse(os.path.exists(os.path.join(OUT, "never")))


if __name__ == "__main__":
    if len(sys.argv) < 3:
        print(__doc__)
        sys.exit(2)
    FSR, SUITES = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    unittest.main(argv=[sys.argv[0], "-v"])

#!/usr/bin/env python3
"""Level-2 diagnostics behind docs/learner.md "Level 2": how far a learned W_2 is from the
target's, split by the sign of the true entry, and how much that shows in the child-parent
cross moments E[S_2(child) S_1(parent)^T] the theory discriminator matches.

    /usr/bin/python3 research/level2_moments.py TARGET_DIR MODEL_DIR [--samples N] [--seed S]

TARGET_DIR: `fsr synth` output; MODEL_DIR: a run's model/ (target layout, canonical form).
Assumes the family of experiments/learners/target_level2.json: independent first-layer units
(S_1 = ReLU(alpha g - beta), g ~ N(0, I)) and kernel 2. Both layers are fed the same true S_1,
after matching learned channels to true ones by |cos| of the output columns (docs/science.md §2).
"""
import argparse
import json
import os

import numpy as np


def up(s1, w, b):
    """ReLU(ConvTranspose2d(s1; w, stride 2, kernel 2) - b), s1: (N, m1, h, h)."""
    n, _, h, _ = s1.shape
    out = np.zeros((n, w.shape[1], 2 * h, 2 * h))
    for y in range(2 * h):
        for x in range(2 * h):
            out[:, :, y, x] = s1[:, :, y // 2, x // 2] @ w[:, :, y % 2, x % 2]
    return np.maximum(out - b[None, :, None, None], 0.0)


def cross(s1, s2):
    """E[s2_j(child) s1_i(parent)] per child offset: (2, 2, m2, m1)."""
    n, _, hh, _ = s2.shape
    out = np.zeros((2, 2, s2.shape[1], s1.shape[1]))
    for y in range(hh):
        for x in range(hh):
            out[y % 2, x % 2] += s2[:, :, y, x].T @ s1[:, :, y // 2, x // 2] / n
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("target")
    ap.add_argument("model")
    ap.add_argument("--samples", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    load = lambda d, k: np.load(os.path.join(d, k + ".npy"))
    t = {k: load(a.target, k) for k in ("M_1", "M_2", "W_2", "b_2", "alpha", "beta")}
    m = {k: load(a.model, k) for k in ("M_1", "M_2", "W_2", "b_2")}
    if t["W_2"].shape[2] != 2:
        raise SystemExit("level2_moments.py: kernel 2 only")
    unit = lambda x: x / np.linalg.norm(x, axis=0, keepdims=True)
    p1 = np.abs(unit(t["M_1"]).T @ unit(m["M_1"])).argmax(1)
    p2 = np.abs(unit(t["M_2"]).T @ unit(m["M_2"])).argmax(1)
    if len(set(p1)) < len(p1) or len(set(p2)) < len(p2):
        raise SystemExit("level2_moments.py: the column match is not one-to-one")
    w_hat, b_hat, w = m["W_2"][p1][:, p2], m["b_2"][p2], t["W_2"]
    m1, h = t["M_1"].shape[1], int(round(np.sqrt(t["alpha"].size / t["M_1"].shape[1])))
    g = np.random.default_rng(a.seed).standard_normal((a.samples, t["alpha"].size))
    s1 = np.maximum(t["alpha"] * g - t["beta"], 0.0).reshape(a.samples, m1, h, h)
    s2, s2_hat = up(s1, w, t["b_2"]), up(s1, w_hat, b_hat)
    c, c_hat = cross(s1, s2), cross(s1, s2_hat)
    rel = lambda e, r: float(np.linalg.norm(e) / np.linalg.norm(r))
    pos = w > 0
    print(json.dumps({
        "w_relative": rel(w_hat - w, w),
        "w_relative_positive_entries": rel((w_hat - w)[pos], w[pos]),
        "w_relative_negative_entries": rel((w_hat - w)[~pos], w[~pos]),
        "functional_error": rel(s2_hat - s2, s2),
        "cross_moment_relative_difference": rel(c_hat - c, c),
        "samples": a.samples}, indent=1))


if __name__ == "__main__":
    main()

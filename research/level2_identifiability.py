#!/usr/bin/env python3
"""Does matching the theory discriminator's level-2 moments identify W_2, and how flat is it?
Behind docs/learner.md "Level 2" ("why GDA keeps W_2 but does not learn it").

    fsr synth --config experiments/learners/target_level2.json --out T --samples 5000 --hidden
    /usr/bin/python3 research/level2_identifiability.py T [--perturb 0.15] [--steps 3000]

Takes the target's true parent codes S_1 (T/S_1.npy) and, per kernel offset, the features the
discriminator matches when its decoder reads the codes exactly: E[s_2], E[s_2^2] per child
channel and the child-parent cross moments E[s_2 s_1^T]. Starting from W_2 (b_2 exact) perturbed
by Gaussian noise of relative Frobenius size --perturb, it runs Adam (lr 3e-3) on the squared
distance of those moments with *the same* S_1 for target and model (common random numbers: the
exact, noise-free gradient of the population objective) and prints the loss and the W_2
relative error. It then prints the size of the same squared distance between a batch of --batch
samples and the population (the truth against itself): the noise a GDA step at that batch size
sees. Kernel 2 targets only.
"""
import argparse
import os

import numpy as np


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("target")
    ap.add_argument("--perturb", type=float, default=0.15)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    s1 = np.load(os.path.join(a.target, "S_1.npy"))
    w0 = np.load(os.path.join(a.target, "W_2.npy"))
    b0 = np.load(os.path.join(a.target, "b_2.npy"))
    if w0.shape[2] != 2:
        raise SystemExit("level2_identifiability.py: kernel 2 only")
    m1 = s1.shape[1]
    # One row per (sample, parent position): with kernel 2 every child at offset (ky, kx) reads
    # exactly its parent, so each offset is a separate ReLU layer on these rows.
    p_all = s1.transpose(0, 2, 3, 1).reshape(-1, m1)

    def child(p, w, b, o):
        return np.maximum(p @ w[:, :, o // 2, o % 2] - b, 0.0)

    def moments(p, w, b):
        out = []
        for o in range(4):
            s = child(p, w, b, o)
            out.append([s.mean(0), (s ** 2).mean(0), s.T @ p / len(p)])
        return out

    def distance(x, y):
        return sum(((u - v) ** 2).sum() for xo, yo in zip(x, y) for u, v in zip(xo, yo))

    target = moments(p_all, w0, b0)
    rng = np.random.default_rng(a.seed)
    w = w0 + a.perturb * np.linalg.norm(w0) / np.sqrt(w0.size) * rng.standard_normal(w0.shape)
    b = b0.copy()
    n = len(p_all)
    mw, vw, mb, vb = 0.0, 0.0, 0.0, 0.0
    lr, b1, b2 = 3e-3, 0.9, 0.999
    for it in range(a.steps + 1):
        loss, gw, gb = 0.0, np.zeros_like(w), np.zeros_like(b)
        for o in range(4):
            s = child(p_all, w, b, o)
            m = [s.mean(0), (s ** 2).mean(0), s.T @ p_all / n]
            d = [u - v for u, v in zip(m, target[o])]
            loss += sum((x ** 2).sum() for x in d)
            g = (2 * d[0][None, :] + 4 * d[1][None, :] * s + 2 * p_all @ d[2].T) / n
            g *= s > 0
            gw[:, :, o // 2, o % 2] = p_all.T @ g
            gb -= g.sum(0)
        if it % 500 == 0:
            err = np.linalg.norm(w - w0) / np.linalg.norm(w0)
            print("step %5d  moment distance %.3e  W_2 relative error %.4f" % (it, loss, err))
        if it == a.steps:
            break
        t = it + 1
        mw = b1 * mw + (1 - b1) * gw
        vw = b2 * vw + (1 - b2) * gw * gw
        mb = b1 * mb + (1 - b1) * gb
        vb = b2 * vb + (1 - b2) * gb * gb
        w -= lr * (mw / (1 - b1 ** t)) / (np.sqrt(vw / (1 - b2 ** t)) + 1e-12)
        b -= lr * (mb / (1 - b1 ** t)) / (np.sqrt(vb / (1 - b2 ** t)) + 1e-12)
    # Batch noise: a batch of B samples has 4 B parent rows.
    noise = []
    for _ in range(50):
        idx = rng.choice(s1.shape[0], a.batch, replace=False)
        p = s1[idx].transpose(0, 2, 3, 1).reshape(-1, m1)
        noise.append(distance(moments(p, w0, b0), target))
    print("batch of %d samples vs the population: moment distance %.3e (mean of 50 batches)"
          % (a.batch, np.mean(noise)))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Writes a permuted, noisy, over-complete copy of a dictionary (d x m .npy -> d x (m+2) .npy).

A stand-in for a learned dictionary in the quick-start, so `fsr match` has something to score.
Usage: perturb_dictionary.py TRUTH.npy OUT.npy [--noise 0.05] [--seed 0]
"""
import argparse
import os

import numpy as np


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("truth")
    parser.add_argument("out")
    parser.add_argument("--noise", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    truth = np.load(args.truth)
    rng = np.random.default_rng(args.seed)
    d, m = truth.shape
    estimate = truth[:, rng.permutation(m)] * rng.uniform(0.5, 2.0, size=m)
    estimate = estimate + args.noise * rng.standard_normal((d, m))
    estimate = np.concatenate([estimate, rng.standard_normal((d, 2))], axis=1)
    tmp = args.out + ".tmp.npy"
    np.save(tmp, estimate)
    os.replace(tmp, args.out)


if __name__ == "__main__":
    main()

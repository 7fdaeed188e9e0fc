#!/usr/bin/python3
"""The SGDA step of bench/step_model.h (the fast engine) in PyTorch eager — the step benchmark's baseline.

Same model, loss and step (definition in bench/step_model.h (the fast engine) and docs/performance.md), written
the way gda/networks.cpp writes it: images -> patches by reshape/permute, matmul, relu,
conv_transpose2d, einsum for the cross-scale terms, autograd for the gradients, plain SGD.

  pytorch_step.py check DIR... [--tol-loss T] [--tol-param T]
      each DIR written by fast_step_dump: loads the initial weights, the real batch and z_d, z_g,
      runs one step and compares the D loss, the G loss and every updated parameter with the C++
      step (default tolerances: 1e-4 relative in float32, 1e-9 in float64; see check_one).
  pytorch_step.py bench DIR --threads N [--seconds S] [--repeats R]
                                 [--device cpu|cuda] [--cuda-graph]
      times steps on DIR's real batch and shapes (fresh z from torch.randn each step), best of R
      segments of S seconds; prints one JSON line {"steps_per_s": ...}.

Needs python3-torch (Debian's 1.13 here; any 1.13+/2.x) and numpy.
"""
import argparse
import json
import os
import sys
import time

import numpy as np

try:
    import torch
except ImportError:  # the caller (ctest / compare_step.sh) turns this into a skip
    print("pytorch_step.py: python3-torch is not installed (apt-get install python3-torch)",
          file=sys.stderr)
    sys.exit(77)



def _sgd(loss, params, lr):
    """theta -= lr * d loss / d theta, then the parameters leave autograd again."""
    grads = torch.autograd.grad(loss, params)
    with torch.no_grad():
        for t, g in zip(params, grads):
            t.sub_(lr * g)
    for t in params:
        t.requires_grad_(False)

class Model:
    def __init__(self, d, params, device, dtype):
        self.cfg = d
        self.L = d["levels"]
        self.r, self.c, self.k = d["patch"], d["colors"], d["kernel"]
        self.h = [d["grid"] << l for l in range(self.L)]  # h[l - 1]
        self.p = {n: torch.tensor(v, device=device, dtype=dtype) for n, v in params.items()}
        self.g_names = ["A", "b1"] + [n for l in range(1, self.L + 1) for n in
                                      ((["W%d" % l, "bW%d" % l] if l >= 2 else []) + ["M%d" % l])]
        self.d_names = [n for l in range(1, self.L + 1) for n in
                        ["V%d" % l, "tau%d" % l, "lin%d" % l, "quad%d" % l] +
                        (["cross%d" % l] if l >= 2 else [])]
        self.readouts = [n for n in self.d_names if n[:3] in ("lin", "qua", "cro")]
        self.parent = [None]
        for l in range(2, self.L + 1):
            h, hp = self.h[l - 1], self.h[l - 2]
            idx = [(y // 2) * hp + x // 2 for y in range(h) for x in range(h)]
            self.parent.append(torch.tensor(idx, device=device, dtype=torch.long))

    def images_to_patches(self, x, h):
        n, r, c = x.shape[0], self.r, self.c
        return x.reshape(n, c, h, r, h, r).permute(0, 2, 4, 1, 3, 5).reshape(n, h * h, c * r * r)

    def codes_to_images(self, s, M):
        n, h, r, c = s.shape[0], s.shape[2], self.r, self.c
        return (s.permute(0, 2, 3, 1).matmul(M.t()).reshape(n, h, h, c, r, r)
                .permute(0, 3, 1, 4, 2, 5).reshape(n, c, h * r, h * r))

    def generate(self, z):
        p, n = self.p, z.shape[0]
        m1, h1 = p["M1"].shape[1], self.h[0]
        s = torch.relu(z.matmul(p["A"].t()) - p["b1"]).reshape(n, m1, h1, h1)
        xs = [self.codes_to_images(s, p["M1"])]
        for l in range(2, self.L + 1):
            s = torch.nn.functional.conv_transpose2d(s, p["W%d" % l], stride=2,
                                                     padding=1 if self.k == 4 else 0)
            s = torch.relu(s - p["bW%d" % l].view(1, -1, 1, 1))
            xs.append(self.codes_to_images(s, p["M%d" % l]))
        return xs

    def score(self, xs):
        p, f, prev = self.p, 0, None
        for l in range(1, self.L + 1):
            u = torch.relu(self.images_to_patches(xs[l - 1], self.h[l - 1])
                           .matmul(p["V%d" % l].t()) - p["tau%d" % l])
            f = f + (u * p["lin%d" % l]).sum((1, 2)) + (u * u * p["quad%d" % l]).sum((1, 2))
            if l >= 2:
                up = prev.index_select(1, self.parent[l - 1])
                f = f + torch.einsum("npi,pij,npj->n", u, p["cross%d" % l], up)
            prev = u
        return f

    def step(self, real, z_d, z_g):
        """One D step then one G step, plain SGD. Returns (d_loss, g_loss) tensors."""
        p, lam = self.p, self.cfg["lambda"]
        d_params = [p[n] for n in self.d_names]
        g_params = [p[n] for n in self.g_names]
        for t in d_params:
            t.requires_grad_(True)
        with torch.no_grad():
            fake = self.generate(z_d)
        d_loss = -(self.score(real).mean() - self.score(fake).mean()) + \
            lam * sum((p[n] ** 2).sum() for n in self.readouts)
        _sgd(d_loss, d_params, self.cfg["lr_d"])
        for t in g_params:
            t.requires_grad_(True)
        g_loss = -self.score(self.generate(z_g)).mean()
        _sgd(g_loss, g_params, self.cfg["lr_g"])
        return d_loss.detach(), g_loss.detach()


def load(dirname, device, dtype):
    with open(os.path.join(dirname, "step.json")) as f:
        cfg = json.load(f)
    init = {n[:-4]: np.load(os.path.join(dirname, "init", n))
            for n in os.listdir(os.path.join(dirname, "init"))}
    real = [torch.tensor(np.load(os.path.join(dirname, "X%d.npy" % l)), device=device, dtype=dtype)
            for l in range(1, cfg["levels"] + 1)]
    return cfg, init, real


def check(args):
    ok = True
    for d in args.dirs:
        ok &= check_one(args, d) == 0
    return 0 if ok else 1


def check_one(args, dirname):
    cfg, init, _ = load(dirname, "cpu", torch.float64)
    # Defaults per precision: float32 1e-4 relative — sums of up to ~1e4 products in another order
    # give ~1e-6, and the largest cancellation (L_D, a difference of means) is normalised below;
    # float64 1e-9 (observed ~1e-15): the same formulas, so only rounding differs.
    f32 = cfg["dtype"] == "float32"
    tol_loss = args.tol_loss if args.tol_loss is not None else (1e-4 if f32 else 1e-9)
    tol_param = args.tol_param if args.tol_param is not None else (1e-4 if f32 else 1e-9)
    print("== %s: %s batch %d, %s" % (dirname, os.path.basename(cfg["target"]), cfg["batch"],
                                      cfg["dtype"]))
    dtype = torch.float32 if cfg["dtype"] == "float32" else torch.float64
    _, _, real = load(dirname, "cpu", dtype)
    model = Model(cfg, init, "cpu", dtype)
    zd = torch.tensor(np.load(os.path.join(dirname, "z_d.npy")), dtype=dtype)
    zg = torch.tensor(np.load(os.path.join(dirname, "z_g.npy")), dtype=dtype)
    d_loss, g_loss = model.step(real, zd, zg)
    ok = True
    # Losses: relative to the scale of the scores they are made of, since L_D is a difference of
    # two means that can cancel: |ours - torch| <= tol * (|torch| + |mean D(fake)|), where
    # |mean D(fake)| = |g_loss|. float32 sums of <= 1e4 terms in another order: ~1e-6 relative.
    scale = abs(float(g_loss))
    for name, ours, theirs in (("d_loss", cfg["d_loss"], float(d_loss)),
                               ("g_loss", cfg["g_loss"], float(g_loss))):
        err = abs(ours - theirs) / (abs(theirs) + scale)
        good = err <= tol_loss
        ok &= good
        print("%-8s ours %+.8e torch %+.8e rel.err %.1e %s" % (name, ours, theirs, err,
                                                                "ok" if good else "FAIL"))
    worst_p, worst_u = 0.0, 0.0
    for n in model.g_names + model.d_names:
        after = np.load(os.path.join(dirname, "after", n + ".npy")).astype(np.float64)
        before = init[n].astype(np.float64)
        mine = model.p[n].detach().double().numpy()
        # Parameters: max |ours - torch| <= tol * max |theta|. Updates (theta' - theta, i.e. lr *
        # gradient): max error <= 100 tol * max |update| — looser because a float32 update is a
        # difference of two rounded parameters, but a wrong gradient still misses by O(1).
        ep = np.abs(after - mine).max() / max(np.abs(mine).max(), 1e-30)
        upd = mine - before
        eu = np.abs((after - before) - upd).max() / max(np.abs(upd).max(), 1e-30)
        good = ep <= tol_param and eu <= 100 * tol_param
        ok &= good
        worst_p, worst_u = max(worst_p, ep), max(worst_u, eu)
        if not good or args.verbose:
            print("%-8s param rel.err %.1e update rel.err %.1e %s" % (n, ep, eu,
                                                                       "ok" if good else "FAIL"))
    print("parameters: worst rel.err %.1e, worst update rel.err %.1e (%s, %d tensors) -> %s" %
          (worst_p, worst_u, cfg["dtype"], len(model.g_names) + len(model.d_names),
           "PASS" if ok else "FAIL"))
    return 0 if ok else 1


def bench(args):
    torch.set_num_threads(args.threads)
    device = args.device
    if device == "cuda" and not torch.cuda.is_available():
        print("pytorch_step.py: --device cuda but torch.cuda.is_available() is False",
              file=sys.stderr)
        return 3
    cfg, init, real = load(args.dir, device, torch.float32)
    model = Model(cfg, init, device, torch.float32)
    B, m0 = cfg["batch"], cfg["latent_dim"]
    gen = torch.Generator(device=device).manual_seed(1)

    def one():
        zd = torch.randn(B, m0, device=device, generator=gen)
        zg = torch.randn(B, m0, device=device, generator=gen)
        return model.step(real, zd, zg)

    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    run = one
    if args.cuda_graph and device == "cuda":
        # Capture one step (randn included) into a graph; replay it. Parameters are updated in
        # place, so replays continue training exactly as eager steps would.
        s = torch.cuda.Stream()
        s.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(s):
            for _ in range(3):
                one()
        torch.cuda.current_stream().wait_stream(s)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            one()
        run = graph.replay
    for _ in range(3):
        run()
    sync()
    # Best of --repeats timed segments of --seconds each (wall clock): on a shared machine the
    # best segment is the one least disturbed by other work.
    best = None
    for _ in range(args.repeats):
        n, t0 = 0, time.perf_counter()
        while True:
            run()
            n += 1
            if n % 5 == 0:
                sync()
                if time.perf_counter() - t0 >= args.seconds:
                    break
        sync()
        dt = time.perf_counter() - t0
        if best is None or n / dt > best[0] / best[1]:
            best = (n, dt)
    n, dt = best
    print(json.dumps({"steps_per_s": n / dt, "steps": n, "seconds": dt, "threads": args.threads,
                      "repeats": args.repeats,
                      "device": device, "cuda_graph": bool(args.cuda_graph and device == "cuda"),
                      "torch": torch.__version__,
                      "flops_per_s": n * cfg["flops_per_step"] / dt}))
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("check")
    c.add_argument("dirs", nargs="+")
    c.add_argument("--tol-loss", type=float, default=None)
    c.add_argument("--tol-param", type=float, default=None)
    c.add_argument("--verbose", action="store_true")
    b = sub.add_parser("bench")
    b.add_argument("dir")
    b.add_argument("--threads", type=int, default=1)
    b.add_argument("--seconds", type=float, default=5.0)
    b.add_argument("--repeats", type=int, default=3)
    b.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    b.add_argument("--cuda-graph", action="store_true")
    args = ap.parse_args()
    return check(args) if args.cmd == "check" else bench(args)


if __name__ == "__main__":
    sys.exit(main())

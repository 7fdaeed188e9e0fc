#!/usr/bin/env python3
"""ctest docs_test: the documentation of a fresh clone is complete and self-contained.

Usage: check_docs.py [--fsr FSR] [--write-commands]

Checks, over every text file of the repository (git ls-files, else a walk that skips build
folders):
  1. every relative link of a Markdown file ([text](path) and <a href>) names a file or folder
     that exists in the repository (anchors are not checked);
  2. nothing points outside the repository or at the project's issue tracker: no "../shared",
     no absolute path under /work, no "SPEC.md", no "issue <number>" / "issue #<number>";
  3. with --fsr: docs/commands.md is exactly what `fsr <command> --help` prints for every
     command today (--write-commands rewrites it instead of checking).
Prints each problem as FILE:LINE: what; exit 1 if there is one.
"""
import argparse
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SELF = os.path.relpath(os.path.abspath(__file__), ROOT)
TEXT_EXT = (".md", ".h", ".cpp", ".py", ".sh", ".json", ".txt", ".cmake", ".sbatch", ".cfg")
FORBIDDEN = [
    (re.compile(r"\.\./shared"), "points outside the repository (../shared)"),
    (re.compile(r"(?<![\w.])/work/"), "an absolute path of the development machine (/work/...)"),
    (re.compile(r"SPEC\.md|\bSPEC\b"), "names a specification outside the repository "
                                          "(docs/science.md is the project's own)"),
    (re.compile(r"\b[Ii]ssues?\s*#?\d+"), "refers to an issue number"),
]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)|href=\"([^\"]+)\"")
COMMANDS_DOC = os.path.join("docs", "commands.md")


def files():
    try:
        out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout.split("\n")
        listed = [f for f in out if f]
    except (OSError, subprocess.CalledProcessError):
        listed = []
        for d, dirs, fs in os.walk(ROOT):
            dirs[:] = [x for x in dirs if not x.startswith((".", "build", "out", "runs"))]
            listed += [os.path.relpath(os.path.join(d, f), ROOT) for f in fs]
    return sorted(f for f in listed if f.endswith(TEXT_EXT) and os.path.isfile(os.path.join(ROOT, f)))


def check_text(problems):
    for rel in files():
        if rel == SELF:
            continue
        with open(os.path.join(ROOT, rel), errors="replace") as f:
            lines = f.read().split("\n")
        for n, line in enumerate(lines, 1):
            for rx, why in FORBIDDEN:
                if rx.search(line):
                    problems.append(f"{rel}:{n}: {why}: {line.strip()[:120]}")
            if rel.endswith(".md"):
                for m in LINK.finditer(line):
                    target = (m.group(1) or m.group(2)).split("#")[0]
                    if not target or re.match(r"^[a-z]+:", target):
                        continue  # an anchor, or a URL (http:, mailto:)
                    path = os.path.normpath(os.path.join(ROOT, os.path.dirname(rel), target))
                    if not path.startswith(ROOT + os.sep) and path != ROOT:
                        problems.append(f"{rel}:{n}: link outside the repository: {target}")
                    elif not os.path.exists(path):
                        problems.append(f"{rel}:{n}: link to a missing file: {target}")


def commands_doc(fsr):
    """docs/commands.md as the binary describes itself today."""
    def help_of(*cmd):
        r = subprocess.run([fsr, *cmd, "--help"], capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"check_docs: {fsr} {' '.join(cmd)} --help exited {r.returncode}")
        return r.stdout.rstrip() + "\n"
    top = help_of()
    names = []
    in_subs = False
    for line in top.split("\n"):
        if line.strip().upper().startswith("SUBCOMMANDS"):
            in_subs = True
            continue
        if in_subs:
            m = re.match(r"^\s+(\S+)\s", line)
            if m:
                names.append(m.group(1))
            elif line.strip() == "":
                continue
            else:
                in_subs = False
    out = ["# Commands", "",
           "Every `fsr` command with its options, exactly as `fsr <command> --help` prints them "
           "(`scripts/check_docs.py --fsr build/apps/fsr --write-commands` regenerates this page; "
           "the ctest `docs_test` fails when it differs from the binary). What the commands "
           "compute and write: [science.md](science.md), [conventions.md](conventions.md) and "
           "the page of each command's layer ([README.md](README.md)). Every command prints a "
           "table by default and exactly one JSON document with `--json`; bad input is one line "
           "on stderr naming the field, the value and the rule, exit code 2, nothing written.", "",
           "## fsr", "", "```", top.rstrip(), "```", ""]
    for name in names:
        out += [f"## fsr {name}", "", "```", help_of(name).rstrip(), "```", ""]
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fsr", help="the fsr binary: also check docs/commands.md against it")
    ap.add_argument("--write-commands", action="store_true", help="rewrite docs/commands.md")
    a = ap.parse_args()
    problems = []
    if a.fsr:
        text = commands_doc(a.fsr)
        path = os.path.join(ROOT, COMMANDS_DOC)
        if a.write_commands:
            with open(path, "w") as f:
                f.write(text)
            print(f"wrote {COMMANDS_DOC}")
        else:
            try:
                with open(path) as f:
                    have = f.read()
            except OSError:
                have = ""
            if have != text:
                diff = [f"  {x}" for x in set(text.split("\n")) ^ set(have.split("\n"))][:8]
                problems.append(f"{COMMANDS_DOC}: differs from `fsr <command> --help` (regenerate: "
                                f"scripts/check_docs.py --fsr build/apps/fsr --write-commands); "
                                f"lines only on one side:\n" + "\n".join(diff))
    check_text(problems)
    for p in problems:
        print(p)
    print(f"check_docs: {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

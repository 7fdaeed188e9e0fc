"""The recovery table, as Markdown (report.md) and LaTeX (report_table.tex)."""

COLUMNS = [  # key, Markdown header, LaTeX header, format
    ("run", "run", "run", "s"),
    ("level", "level", r"$\ell$", "d"),
    ("channels", "m / m\u0302", r"$m/\hat m$", "s"),
    ("mean_cos", "mean cos", r"mean $\cos$", ".3f"),
    ("worst_cos", "worst cos", r"worst $\cos$", ".3f"),
    ("frac_099", "\u2265 0.99", r"$\geq 0.99$", ".2f"),
    ("v_cos", "V vs M cos", r"$V$ vs $M$", ".3f"),
    ("alpha", "\u03b1 max rel err", r"$\alpha$ err", ".3g"),
    ("beta", "\u03b2 max rel err", r"$\beta$ err", ".3g"),
    ("rho", "\u03c1 max abs err", r"$\rho$ err", ".3g"),
    ("w", "W rel err", r"$W$ err", ".3g"),
    ("functional", "functional err", "funct.", ".3g"),
    ("sw1", "SW1 (floor)", r"SW$_1$ (floor)", "pair"),
]

NOTES = ("cos: matched |cos| of M\u0302_l with M_l (Hungarian); V: discriminator decoder vs M_l; "
         "\u03b1, \u03b2: max relative error after canonical form and permutation (level 1); "
         "\u03c1: max abs error of A A^T; W: relative Frobenius error of the super-resolution "
         "operator; functional: E||\u015c_l - S_l|| / E||S_l|| given the true S_{l-1}; SW1: sliced "
         "Wasserstein of X_l with the noise floor of two target batches. * = some channels not "
         "identifiable (left out of \u03b1/\u03b2/\u03c1).")


def _fmt(v, f):
    if v is None:
        return "\u2013"
    if f == "pair":
        a, b = v
        if a is None:
            return "\u2013"
        return f"{a:.3g} ({b:.2g})" if b is not None else f"{a:.3g}"
    if f == "s":
        return str(v)
    if f == "d":
        return str(int(v))
    try:
        return format(float(v), f)
    except (TypeError, ValueError):
        return str(v)


def _cells(r):
    """(text, format) per column of one row; '*' marks alpha that is not identifiable."""
    out = []
    for k, _, _, f in COLUMNS:
        s = _fmt(r.get(k), f)
        if k == "alpha" and not r.get("identifiable", True):
            s += "*"
        out.append((s, f))
    return out


def markdown(rows):
    lines = ["| " + " | ".join(h for _, h, _, _ in COLUMNS) + " |",
             "|" + "|".join("---" if f == "s" else "---:" for _, _, _, f in COLUMNS) + "|"]
    for r in rows:
        lines.append("| " + " | ".join(s.replace("|", "\\|") for s, _ in _cells(r)) + " |")
    return "\n".join(lines) + "\n\n" + NOTES + "\n"


_TEX = {"\\": r"\textbackslash{}", "_": r"\_", "%": r"\%", "&": r"\&", "#": r"\#", "$": r"\$",
        "{": r"\{", "}": r"\}", "\u2013": "--"}


def _tex_escape(s):
    """One pass, so the braces of \\textbackslash{} are not escaped again."""
    return "".join(_TEX.get(ch, ch) for ch in s)


def latex(rows):
    spec = "".join("l" if f == "s" else "r" for _, _, _, f in COLUMNS)
    out = ["% Recovery table written by reports/report.py (fsr report); needs \\usepackage{booktabs}.",
           r"\begin{tabular}{" + spec + "}", r"\toprule",
           " & ".join(t for _, _, t, _ in COLUMNS) + r" \\", r"\midrule"]
    for r in rows:
        out.append(" & ".join(_tex_escape(s) if f == "s" else s.replace("\u2013", "--")
                              for s, f in _cells(r)) + r" \\")
    out += [r"\bottomrule", r"\end{tabular}", ""]
    return "\n".join(out)

"""Exercises for the chapter *The optimization landscape*. Solutions come from :func:`dlnotes.landscapes.classify_critical_point` and eigenvalues."""

from __future__ import annotations

import numpy as np

from .. import landscapes
from . import Variant, exercise

CHAPTER = "landscape"


def _num(v: float, digits: int = 4) -> str:
    return f"{round(float(v), digits) + 0.0:g}"


def _mat(M) -> str:
    rows = r" \\ ".join(" & ".join(_num(x) for x in row) for row in np.asarray(M))
    return r"\begin{pmatrix} " + rows + r" \end{pmatrix}"


_KINDS = {"minimum": "a", "maximum": "b", "saddle": "c", "degenerate": "d"}


@exercise("landscape.classify-hessian", title="Compute and classify a Hessian", chapter=CHAPTER,
          topic="curvature", points=2, answer_type="choice")
def _classify(rng: np.random.Generator) -> Variant:
    a = float(rng.choice([-3.0, -2.0, -1.0, 1.0, 2.0, 3.0]))
    c = float(rng.choice([-3.0, -2.0, -1.0, 1.0, 2.0, 3.0]))
    b = float(rng.choice([-2.0, -1.0, 0.0, 1.0, 2.0]))
    # f(x) = a x1^2 + 2 b x1 x2 + c x2^2 (+ terms that vanish with their derivatives at the origin)
    H = np.array([[2 * a, 2 * b], [2 * b, 2 * c]])
    lam = np.linalg.eigvalsh(H)
    kind = landscapes.classify_critical_point(H)

    def term(coef, mono):
        return "" if coef == 0 else f"{'+' if coef > 0 else '-'} {_num(abs(coef)) if abs(coef) != 1 else ''}{mono} "
    expr = (term(a, "x_1^2") + term(2 * b, "x_1 x_2") + term(c, "x_2^2")).strip().lstrip("+ ").strip()
    if expr.startswith("- "):
        expr = "-" + expr[2:]
    prompt = (f"The function $f(x) = {expr} + x_1^3 x_2^3$ has a stationary point at the origin. "
              "Compute its Hessian there and classify the point by the signs of the eigenvalues.")
    choices = {"a": "a minimum", "b": "a maximum", "c": "a saddle point", "d": "degenerate: the test cannot tell"}
    explanation = (f"The cubic term's second derivatives vanish at 0, so $H = {_mat(H)}$, with eigenvalues "
                   f"${_num(lam[0])}$ and ${_num(lam[1])}$ (trace ${_num(np.trace(H))}$, determinant "
                   f"${_num(np.linalg.det(H))}$): {choices[_KINDS[kind]]}.")
    return Variant(prompt, {"a": a, "b": b, "c": c, "H": H.tolist()}, _KINDS[kind], explanation,
                   choices=choices)


@exercise("landscape.condition-number", title="The condition number after standardisation", chapter=CHAPTER,
          topic="conditioning", points=2, answer_type="numeric")
def _condition(rng: np.random.Generator) -> Variant:
    scale = float(rng.choice([10.0, 20.0, 50.0, 100.0]))
    r = float(rng.choice([0.0, 0.2, 0.5, 0.6]))
    # two centred features with correlation r; the second is measured in units 1/scale as large
    C = np.array([[1.0, r], [r, 1.0]])
    S = np.diag([1.0, scale])
    cov_raw = S @ C @ S
    H_raw, H_std = 2 * cov_raw, 2 * C
    lam_raw, lam_std = np.linalg.eigvalsh(H_raw), np.linalg.eigvalsh(H_std)
    k_raw, k_std = lam_raw[-1] / lam_raw[0], lam_std[-1] / lam_std[0]
    prompt = (f"Two centred features have standard deviations 1 and ${_num(scale)}$ and correlation "
              f"${_num(r)}$. For least squares $L(\\theta) = \\frac1N\\lVert X\\theta - y\\rVert^2$ (no bias) the Hessian "
              "is $\\frac2N X^\\top X$, twice the features' covariance matrix. Give the condition number "
              "$\\kappa = \\lambda_{\\max}/\\lambda_{\\min}$ of the Hessian for the raw features and after "
              "standardising both features (two numbers).")
    explanation = (f"Raw: $H = {_mat(H_raw)}$, eigenvalues ${_num(lam_raw[0])}$ and ${_num(lam_raw[-1])}$, "
                   f"$\\kappa = {_num(k_raw)}$. Standardised: $H = {_mat(H_std)}$, eigenvalues "
                   f"$2(1 \\pm {_num(r)})$, $\\kappa = (1 + {_num(abs(r))})/(1 - {_num(abs(r))}) = {_num(k_std)}$. "
                   "Standardising removes the scale; only the correlation remains.")
    return Variant(prompt, {"scale": scale, "r": r}, [float(k_raw), float(k_std)], explanation,
                   rtol=1e-3)

"""Figures, explorables and experiments of the chapter *Gradient descent and its problems*.

Order: the explorables (labels, alt text, fast path = full redraw, size), the static figures
(labelled axes), then every experiment the chapter reports, checked against an independent
reference (PyTorch autograd and optimizers, NumPy linear algebra, enumeration) and against
the statements the chapter makes about its numbers.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose

from dlnotes import gradcheck, landscapes, training
from dlnotes.figures import gradient_descent as figs

from figure_checks import assert_axes_labelled  # tests/ helper

EXPLORABLES = [figs.quadratic_explorable, figs.saddle_explorable]


# ------------------------------------------------------------------ explorables

@pytest.mark.slow
@pytest.mark.parametrize("make", EXPLORABLES, ids=lambda f: f.__name__)
def test_explorable_html_stays_under_one_and_a_half_megabytes(make):
    ex = make()
    assert len(ex.states()) <= 36
    assert len(ex.to_html()) <= 1.5 * 1024 * 1024


def test_quadratic_explorable_contours_are_level_sets_of_the_quadratic():
    q = landscapes.ill_conditioned_quadratic(30.0, angle=math.pi / 6)
    levels = np.array([2.0, 0.5, 0.01])
    for lev, pts in zip(levels, figs._ellipses(q, levels)):
        # independent of the eigen-decomposition: evaluate 1/2 x^T A x directly
        assert_allclose(0.5 * np.einsum("ni,ij,nj->n", pts, q.A, pts), lev, rtol=1e-10)


# ------------------------------------------------------------------ static figures

STATIC = {
    "regimes": lambda: figs.regimes_figure(),
    "stability": lambda: figs.stability_figure(figs.stability_demo(steps=60)),
    "sgd-vs-gd": lambda: figs.sgd_vs_gd_figure(figs.sgd_vs_gd(epochs=2)),
    "minibatch-noise": lambda: figs.minibatch_noise_figure(
        figs.minibatch_noise(np.random.default_rng(0).normal(size=(40, 3)), [1, 4, 16], draws=20), 40),
    "finite-differences": lambda: figs.finite_difference_figure(gradcheck.finite_difference_study(
        lambda v: float(np.sum(np.exp(np.sin(v)))), lambda v: np.cos(v) * np.exp(np.sin(v)),
        np.array([0.3, -1.2]), h=np.logspace(-12, -1, 12))),
}


@pytest.mark.parametrize("name", list(STATIC))
def test_static_figures_have_labelled_axes(name):
    assert_axes_labelled(STATIC[name]())


def test_batch_size_figure_has_labelled_axes(data):
    runs = figs.batch_size_runs(batch_sizes=(64, None), epochs=1, data=data)
    assert_axes_labelled(figs.batch_size_figure(runs, data.X_train.shape[0]))


# ------------------------------------------------------------------ GD vs SGD vs minibatch

def test_per_sample_gradients_match_torch_autograd_and_average_to_the_full_gradient(data):
    model = training.SoftmaxRegression(64, 10, seed=3)
    model.b[:] = np.linspace(-0.2, 0.2, 10)
    X, y = data.X_train[:25], data.y_train[:25]
    G = figs.per_sample_gradients(model, X, y)
    W = torch.tensor(model.W, requires_grad=True)
    b = torch.tensor(model.b, requires_grad=True)
    for i in range(len(y)):
        loss = torch.nn.functional.cross_entropy(torch.tensor(X[i:i + 1]) @ W + b, torch.tensor(y[i:i + 1]))
        gW, gb = torch.autograd.grad(loss, [W, b])
        assert_allclose(G[i], np.concatenate([gW.numpy().ravel(), gb.numpy()]), rtol=1e-10, atol=1e-12)
    _, full = model.loss_and_grads(X, y)
    assert_allclose(G.mean(axis=0), np.concatenate([g.ravel() for g in full]), atol=1e-14)


def test_measured_minibatch_noise_agrees_with_exact_enumeration_and_the_formula():
    G = np.random.default_rng(1).normal(size=(7, 3)) * [1.0, 3.0, 0.5]
    g_bar = G.mean(axis=0)
    noise = figs.minibatch_noise(G, [1, 2, 3, 7], draws=4000, seed=0)
    for b, formula, measured in zip(noise["batch_size"], noise["formula"], noise["measured"]):
        exact = np.mean([np.sum((G[list(c)].mean(axis=0) - g_bar) ** 2)
                         for c in itertools.combinations(range(7), int(b))])
        assert formula == pytest.approx(exact, rel=1e-12, abs=1e-15)
        assert measured == pytest.approx(exact, rel=0.08, abs=1e-15)


def test_minibatch_noise_halves_its_standard_deviation_when_the_batch_is_four_times_larger(data):
    G = figs.per_sample_gradients(training.SoftmaxRegression(64, 10, seed=0), data.X_train, data.y_train)
    noise = figs.minibatch_noise(G, [4, 16], draws=10)
    ratio = np.sqrt(noise["formula"][0] / noise["formula"][1])
    assert ratio == pytest.approx(2.0, rel=0.01)       # the finite-population factor is near 1


def test_least_squares_minimum_solves_the_normal_equations():
    p = figs.least_squares_problem()
    X, y = p["X"], p["y"]
    assert_allclose(X.T @ X @ p["w_star"], X.T @ y, rtol=1e-10)
    assert p["loss_star"] == pytest.approx(np.mean((X @ p["w_star"] - y) ** 2))


def test_full_batch_minibatch_sgd_is_gradient_descent_as_in_torch():
    p = figs.least_squares_problem(n=50)
    path = figs.minibatch_sgd(p["X"], p["y"], p["w0"], lr=0.3, batch_size=50, epochs=6)
    w = torch.tensor(p["w0"], requires_grad=True)
    opt = torch.optim.SGD([w], lr=0.3)
    X, y = torch.tensor(p["X"]), torch.tensor(p["y"])
    for k in range(6):
        opt.zero_grad()
        ((X @ w - y) ** 2).mean().backward()
        opt.step()
        assert_allclose(path[k + 1], w.detach().numpy(), rtol=1e-12)


def test_sgd_vs_gd_matches_what_the_chapter_says():
    runs = figs.sgd_vs_gd(epochs=20)
    gd, sgd1, sgd10, decay = runs.values()
    at_one = {k: r["window_excess"][np.searchsorted(r["window_epochs"], 1.0)] for k, r in runs.items()}
    # SGD is far ahead after one epoch of work ...
    assert at_one["SGD, $B=1$"] < at_one["GD"] / 10
    # ... but with a constant rate it stalls on a floor that gradient descent goes below,
    last = {k: float(np.mean(r["excess"][-len(r["path"]) // 20:])) for k, r in runs.items()}
    assert last["GD"] < last["SGD, $B=10$"] < last["SGD, $B=1$"]
    # and a decaying rate lowers the floor
    assert last["SGD, $B=1$, $1/t$ decay"] < last["SGD, $B=1$"] / 10
    assert len(gd["path"]) == 21 and len(sgd1["path"]) == 20 * 400 + 1


def test_binned_step_loss_averages_whole_bins_and_leaves_unfilled_bins_empty():
    h = training.History(step_loss=np.arange(10.0), lr=np.ones(10), epoch=np.arange(2),
                         train_loss=np.zeros(2), val_loss=np.zeros(2), train_accuracy=np.zeros(2),
                         val_accuracy=np.zeros(2), steps_per_epoch=10, diverged=False, seconds=0.0)
    out = figs.binned_step_loss(h, [1, 2, 4, 8, 16])
    assert_allclose(out[:3], [1.0, 2.5, 5.5])        # steps 1; 2-3; 4-7
    assert np.isnan(out[3])                          # steps 8-15: the run stopped at 9


def test_batch_size_runs_small_batches_win_per_epoch_and_tie_per_step(data):
    runs = figs.batch_size_runs(batch_sizes=(1, 16, 128, None), lr=0.05, epochs=8, data=data)
    final = [h.train_loss[-1] for h in runs.values()]
    assert final == sorted(final)                       # per epoch: the smaller, the better
    h16, h128 = runs[16], runs[128]
    # per step: B=16 after one epoch (79 steps) vs B=128 after 8 epochs (80 steps)
    assert h16.steps_per_epoch == 79 and 8 * h128.steps_per_epoch == 80
    assert h16.train_loss[1] == pytest.approx(h128.train_loss[8], rel=0.05)


# ------------------------------------------------------------------ numerical vs analytic

def test_network_loss_problem_gradient_matches_torch_autograd(data):
    net = figs.network_loss_problem(data=data)
    model = net["model"]
    theta = net["theta0"] + 0.1 * np.random.default_rng(0).normal(size=net["theta0"].shape)
    g = net["grad"](theta)
    parts = [torch.tensor(p.copy(), requires_grad=True) for p in model.params]  # loaded by grad()
    W1, b1, W2, b2 = parts
    X = torch.tensor(data.X_train[:32])
    loss = torch.nn.functional.cross_entropy(torch.tanh(X @ W1 + b1) @ W2 + b2,
                                             torch.tensor(data.y_train[:32]))
    ref = torch.autograd.grad(loss, parts)
    assert_allclose(g, np.concatenate([r.numpy().ravel() for r in ref]), rtol=1e-9, atol=1e-12)
    assert net["f"](theta) == pytest.approx(loss.item(), rel=1e-12)
    assert theta.size == 64 * 4 + 4 + 4 * 10 + 10


def test_finite_difference_study_of_the_network_has_its_best_steps_where_theory_says(data):
    net = figs.network_loss_problem(data=data)
    s = gradcheck.finite_difference_study(net["f"], net["grad"], net["theta0"], h=np.logspace(-13, -1, 25))
    eps = np.finfo(float).eps
    assert eps ** 0.5 / 30 <= s.best_h_forward <= 30 * eps ** 0.5
    assert eps ** (1 / 3) / 30 <= s.best_h_central <= 30 * eps ** (1 / 3)
    assert s.central_error.min() < s.forward_error.min() / 10
    assert (s.forward_evaluations, s.central_evaluations) == (311, 620)


def test_gradient_cost_counts_p_plus_one_and_two_p_evaluations(data):
    net = figs.network_loss_problem(data=data)
    cost = figs.gradient_cost(net, repeats=1)
    p = net["theta0"].size
    assert cost["forward difference"]["evaluations"] == p + 1
    assert cost["centred difference"]["evaluations"] == 2 * p
    assert all(c["seconds"] > 0 for c in cost.values())          # measured, but never compared
    untimed = figs.gradient_cost(net, timed=False)
    assert {k: v["evaluations"] for k, v in untimed.items()} == {k: v["evaluations"] for k, v in cost.items()}
    assert all("seconds" not in v for v in untimed.values())


def test_gradient_check_passes_the_correct_gradient_and_catches_the_chapter_bugs(data):
    net = figs.network_loss_problem(data=data)
    net32 = figs.network_loss_problem(dtype=np.float32, data=data)
    theta = net["theta0"]
    sizes = [p.size for p in net["model"].params]
    is_bias = np.concatenate([np.full(s, i % 2 == 1) for i, s in enumerate(sizes)])
    assert gradcheck.check_gradient(net["f"], net["grad"], theta).passed
    assert not gradcheck.check_gradient(net["f"], lambda v: 32 * net["grad"](v), theta).passed
    assert not gradcheck.check_gradient(net["f"], lambda v: np.where(is_bias, 0.0, net["grad"](v)),
                                        theta).passed
    assert not gradcheck.check_gradient(net32["f"], net32["grad"], theta).passed


# ------------------------------------------------------------------ ill-conditioning

def _torch_gd_on_quadratic(A, x0, lr, steps):
    x = torch.tensor(np.asarray(x0, float), requires_grad=True)
    At = torch.tensor(A)
    opt = torch.optim.SGD([x], lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        (0.5 * x @ At @ x).backward()
        opt.step()
    return x.detach().numpy()


def test_stability_demo_converges_just_below_and_diverges_just_above_like_torch_sgd():
    demo = figs.stability_demo(condition_number=10.0, factors=(0.99, 1.01), steps=300)
    q = demo["quadratic"]
    assert demo["bound"] == pytest.approx(2.0 / np.linalg.eigvalsh(q.A).max())
    below, above = demo["runs"][0.99], demo["runs"][1.01]
    for r in (below, above):
        ref = _torch_gd_on_quadratic(q.A, (2.0, 1.0), r["lr"], 300)
        assert_allclose(r["closed_form"].iterates[-1], ref, rtol=1e-8)
        assert r["max_difference"] < 1e-10
    assert below["closed_form"].losses[-1] < 1e-6 * below["closed_form"].losses[0]
    assert above["closed_form"].losses[-1] > 1e3 * above["closed_form"].losses[0]
    assert below["closed_form"].factors[-1] == pytest.approx(-0.98)
    assert above["closed_form"].factors[-1] == pytest.approx(-1.02)


@pytest.mark.parametrize("kappa", [1, 10, 100])
def test_steps_to_converge_matches_a_torch_run_and_grows_like_kappa(kappa):
    s = figs.steps_to_converge(kappa, tol=1e-6)
    assert s["predicted"] == s["measured"]
    q = landscapes.ill_conditioned_quadratic(kappa)
    x0 = q.eigenvectors @ np.array([1.0, 1.0])
    k = s["measured"]
    err = lambda n: np.linalg.norm(_torch_gd_on_quadratic(q.A, x0, s["lr"], n)) / np.linalg.norm(x0)
    assert err(k) <= 1e-6 * (1 + 1e-9) and (k == 1 or err(k - 1) > 1e-6)
    if kappa > 1:
        assert s["measured"] == pytest.approx(kappa / 2 * math.log(1e6), rel=0.1)


# ------------------------------------------------------------------ saddles

def test_saddle_run_without_noise_is_gradient_descent_as_in_torch():
    tr = figs.saddle_run(1e-3, lr=0.2, steps=60)
    p = torch.tensor([1.0, 1e-3], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([p], lr=0.2)
    for _ in range(60):
        opt.zero_grad()
        (p[0] ** 2 + p[1] ** 4 / 4 - p[1] ** 2 / 2).backward()
        opt.step()
    assert_allclose(tr.xs[-1], p.detach().numpy(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("offset", [1e-1, 1e-4, 1e-8, 1e-12])
def test_escape_takes_about_log_offset_over_log_one_plus_alpha_steps(offset):
    k = figs.escape_step(figs.saddle_run(offset, lr=0.2, steps=200))
    predicted = math.log(0.5 / offset) / math.log(1.2)
    assert predicted <= k <= predicted + 3


def test_exactly_on_the_ridge_only_noise_escapes():
    assert figs.escape_step(figs.saddle_run(0.0, 0.0, steps=200)) is None
    for sigma in (1e-6, 1e-3, 1e-1):
        assert figs.escape_step(figs.saddle_run(0.0, sigma, steps=200)) is not None
    # noise runs are reproducible
    a, b = figs.saddle_run(0.0, 1e-3), figs.saddle_run(0.0, 1e-3)
    assert_allclose(a.xs, b.xs)


def test_critical_point_census_agrees_with_numpy_eigenvalues():
    census = figs.critical_point_census(dims=(1, 2, 3), samples=500, seed=4)
    rng = np.random.default_rng(4)
    for d in (1, 2, 3):
        lam = np.array([np.linalg.eigvalsh(0.5 * (M + M.T)) for M in
                        (rng.standard_normal((d, d)) for _ in range(500))])
        assert census[d]["minimum"] == pytest.approx(np.mean(np.all(lam > 0, axis=1)))
        assert census[d]["saddle"] == pytest.approx(np.mean((lam.min(1) < 0) & (lam.max(1) > 0)))
    assert census[1]["saddle"] == 0 and census[3]["minimum"] < census[2]["minimum"] < census[1]["minimum"]

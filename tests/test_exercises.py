"""The question bank: determinism, graders, rendering, and solutions checked independently."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.optimize
import scipy.special
import torch
import torch.nn.functional as F

from dlnotes import exercises
from dlnotes.exercises import Variant

ALL = exercises.all_exercises()
IDS = [e.id for e in ALL]


def _wrong_answer(inst):
    if inst.answer_type == "numeric":
        return (np.asarray(inst.solution, dtype=float) * 1.1 + 0.5).tolist()
    if inst.answer_type == "choice":
        return next(k for k in inst.choices if k != inst.solution)
    return inst.starter


def test_bank_has_exercises_for_both_chapters():
    chapters = {e.chapter for e in ALL}
    assert {"losses", "regularization"} <= chapters
    assert len(exercises.for_chapter("losses")) >= 5
    assert len(exercises.for_chapter("regularization")) >= 5


def test_ids_are_unique_prefixed_and_metadata_is_valid():
    assert len(IDS) == len(set(IDS))
    for e in ALL:
        assert e.id.startswith(e.chapter + ".")
        assert e.answer_type in exercises.ANSWER_TYPES
        assert e.points > 0 and e.title and e.topic


@pytest.mark.parametrize("ex_id", IDS)
def test_same_seed_gives_the_same_exercise(ex_id):
    ex = exercises.get(ex_id)
    a, b = ex(7).to_dict(), ex(7).to_dict()
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


@pytest.mark.parametrize("ex_id", IDS)
def test_different_seeds_give_different_variants(ex_id):
    ex = exercises.get(ex_id)
    params = {json.dumps(ex(s).params, sort_keys=True) for s in range(8)}
    assert len(params) >= 3


@pytest.mark.parametrize("ex_id", IDS)
def test_solution_passes_and_a_wrong_answer_fails(ex_id):
    for seed in range(5):
        inst = exercises.get(ex_id)(seed)
        ok = inst.check(inst.solution)
        assert ok.correct and ok.score == inst.points, (seed, ok)
        bad = inst.check(_wrong_answer(inst))
        assert not bad.correct and bad.score < inst.points, (seed, bad)


@pytest.mark.parametrize("ex_id", IDS)
def test_instance_is_json_serialisable_and_can_hide_the_solution(ex_id):
    inst = exercises.get(ex_id)(3)
    full = json.loads(json.dumps(inst.to_dict()))
    hidden = json.loads(json.dumps(inst.to_dict(include_solution=False)))
    assert "solution" in full and "solution" not in hidden and "explanation" not in hidden
    assert hidden["prompt"] == inst.prompt


def test_variants_are_pinned_so_regenerated_assignments_stay_identical():
    # Published assignments are regenerated from (seed, id). If a generator or the seeding
    # changes, every student's variant changes: this golden test makes that a conscious act.
    assert exercises.get("losses.multiclass-hinge")(0).params == {
        "scores_by_class": [[2.1, 1.2, 0.6], [-0.9, 0.6, 0.7], [-1.4, 2.4, -1.3]], "labels": [2, 0, 1]}
    assert exercises.get("regularization.l2-step")(0).params == {
        "theta": [-1.8, 0.8, -2.0], "g": [0.6, -0.2, 0.7], "lam": 0.5, "alpha": 0.5}


# ------------------------------------------------------- solutions, independently

@pytest.mark.parametrize("seed", range(5))
def test_multiclass_hinge_solution_matches_torch(seed):
    inst = exercises.get("losses.multiclass-hinge")(seed)
    # shown to students as in the notes: one row per class; torch wants one row per sample
    scores = torch.tensor(inst.params["scores_by_class"], dtype=torch.float64).T
    labels = torch.tensor(inst.params["labels"])
    expected = 3 * F.multi_margin_loss(scores, labels).item()          # torch divides by k = 3
    assert inst.solution == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_softmax_cross_entropy_solution_matches_torch(seed):
    inst = exercises.get("losses.softmax-cross-entropy")(seed)
    s = torch.tensor([inst.params["scores"]], dtype=torch.float64)
    assert inst.solution == pytest.approx(F.cross_entropy(s, torch.tensor([inst.params["label"]])).item())


@pytest.mark.parametrize("seed", range(5))
def test_huber_solution_matches_torch(seed):
    inst = exercises.get("losses.huber")(seed)
    d = torch.tensor(inst.params["d"], dtype=torch.float64)
    expected = F.huber_loss(d, torch.zeros_like(d), delta=inst.params["delta"]).item()
    assert inst.solution == pytest.approx(expected)


@pytest.mark.parametrize("seed", range(5))
def test_worst_case_solution_is_log_k_and_k_minus_one(seed):
    inst = exercises.get("losses.worst-case")(seed)
    k = inst.params["k"]
    assert inst.solution == pytest.approx([np.log(k), k - 1])


@pytest.mark.parametrize("seed", range(5))
def test_kl_solution_matches_scipy(seed):
    inst = exercises.get("losses.kl-divergence")(seed)
    p, q = np.array(inst.params["p"]), np.array(inst.params["q"])
    assert inst.solution == pytest.approx(scipy.special.rel_entr(p, q).sum())


@pytest.mark.parametrize("seed", range(5))
def test_outlier_gradient_choice_matches_autograd(seed):
    inst = exercises.get("losses.outlier-gradient")(seed)
    d, delta = inst.params["d"], inst.params["delta"]
    grads = {}
    for key, fn in {"a": lambda x: x.abs(), "b": lambda x: x ** 2,
                    "c": lambda x: F.huber_loss(x, torch.zeros_like(x), delta=delta, reduction="sum"),
                    "d": lambda x: torch.log(torch.cosh(x))}.items():
        x = torch.tensor([d], dtype=torch.float64, requires_grad=True)
        fn(x).sum().backward()
        grads[key] = abs(x.grad.item())
    assert inst.solution == min(grads, key=grads.get)


@pytest.mark.parametrize("kind", ["l1", "l2"])
@pytest.mark.parametrize("seed", range(4))
def test_gradient_step_solutions_match_torch_sgd(kind, seed):
    inst = exercises.get(f"regularization.{kind}-step")(seed)
    p = inst.params
    theta = torch.tensor(p["theta"], dtype=torch.float64, requires_grad=True)
    g = torch.tensor(p["g"], dtype=torch.float64)
    penalty = theta.abs().sum() if kind == "l1" else (theta ** 2).sum()
    objective = (g * theta).sum() + p["lam"] * penalty      # its data gradient is g
    opt = torch.optim.SGD([theta], lr=p["alpha"])
    objective.backward()
    opt.step()
    assert inst.solution == pytest.approx(theta.detach().numpy().tolist())


@pytest.mark.parametrize("seed", range(4))
def test_elastic_net_solution_matches_torch_norms(seed):
    inst = exercises.get("regularization.elastic-net")(seed)
    t = torch.tensor(inst.params["theta"], dtype=torch.float64)
    r = inst.params["l1_ratio"]
    expected = r * torch.linalg.vector_norm(t, 1) + (1 - r) * torch.linalg.vector_norm(t, 2) ** 2
    assert inst.solution == pytest.approx(expected.item())


@pytest.mark.parametrize("seed", range(4))
def test_soft_threshold_solution_is_the_proximal_minimiser(seed):
    inst = exercises.get("regularization.soft-threshold")(seed)
    tau = inst.params["tau"]
    for z, w in zip(inst.params["z"], inst.solution):
        res = scipy.optimize.minimize_scalar(lambda v: 0.5 * (v - z) ** 2 + tau * abs(v),
                                             bounds=(-2, 2), method="bounded",
                                             options={"xatol": 1e-12})
        assert w == pytest.approx(res.x, abs=1e-6)


@pytest.mark.parametrize("seed", range(4))
def test_weight_decay_mapping_solution_reproduces_torch_updates(seed):
    inst = exercises.get("regularization.weight-decay-mapping")(seed)
    wd, lam = inst.params["weight_decay"], inst.solution
    a = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64, requires_grad=True)
    b = a.detach().clone().requires_grad_(True)
    opt_a = torch.optim.SGD([a], lr=0.1, weight_decay=wd)
    opt_b = torch.optim.SGD([b], lr=0.1)
    (a ** 3).sum().backward()
    ((b ** 3).sum() + lam * (b ** 2).sum()).backward()
    opt_a.step()
    opt_b.step()
    assert torch.allclose(a, b, atol=1e-15)


@pytest.mark.parametrize("seed", range(4))
def test_activity_penalty_solution_matches_torch(seed):
    inst = exercises.get("regularization.activity-penalty")(seed)
    p = inst.params
    X, W, b = (torch.tensor(p[k], dtype=torch.float64) for k in ("X", "W", "b"))
    a = X @ W + b
    assert inst.solution == pytest.approx(p["lam"] * (a ** 2).sum(dim=1).mean().item())


def test_log_cosh_reference_solution_passes_and_the_naive_starter_does_not():
    inst = exercises.get("losses.log-cosh-code")(0)
    assert inst.check(inst.solution).correct
    unchanged = inst.check(inst.starter + "\n\n")
    assert unchanged.score == 0 and "unchanged" in unchanged.feedback
    naive = inst.check(inst.starter.replace("np.log(np.cosh(d))", "np.log(np.cosh(d)) + 0.0"))
    assert not naive.correct and 0 < naive.score < inst.points / 2   # partial credit, not much
    assert "First failing input" in naive.feedback


# ------------------------------------------------------------------ graders

@pytest.mark.parametrize("answer", [None, "", "abc", "1, 2, 3, 4, 5", float("nan"), [1, 2, 3]])
def test_numeric_grader_never_raises_on_malformed_answers(answer):
    inst = exercises.get("losses.huber")(0)
    g = inst.check(answer)
    assert not g.correct and g.score == 0 and g.feedback


def test_numeric_grader_reads_strings_and_vectors():
    inst = exercises.get("losses.huber")(0)
    assert inst.check(f"{inst.solution:.6f}").correct
    step = exercises.get("regularization.l2-step")(0)
    assert step.check(", ".join(f"{v:.8f}" for v in step.solution)).correct
    assert step.check("[" + " ".join(f"{v:.8f}" for v in step.solution) + "]").correct


def test_choice_grader_accepts_key_or_option_text():
    inst = exercises.get("losses.outlier-gradient")(0)
    assert inst.check(inst.solution.upper()).correct
    assert inst.check(f"({inst.solution})").correct
    assert inst.check(inst.choices[inst.solution]).correct
    # option texts with parentheses in them are matched whole
    with_paren = next(k for k, v in inst.choices.items() if "(" in v)
    assert inst.check(inst.choices[with_paren]).correct == (with_paren == inst.solution)
    assert "not one of the options" not in inst.check(inst.choices[with_paren]).feedback
    assert not inst.check("z").correct and "not one of the options" in inst.check("z").feedback


@pytest.mark.parametrize("code, reason", [
    ("def log_cosh(d) return d", "does not run"),
    ("def other(d):\n    return d", "Define a function"),
    ("def log_cosh(d):\n    raise RuntimeError('boom')", "0 of"),
    ("import numpy as np\ndef log_cosh(d):\n    return np.zeros(3)", "0 of"),
])
def test_code_grader_records_a_reason_instead_of_raising(code, reason):
    inst = exercises.get("losses.log-cosh-code")(0)
    g = inst.check(code)
    assert not g.correct and reason in g.feedback


def test_code_grader_accepts_a_callable():
    inst = exercises.get("losses.log-cosh-code")(1)
    assert inst.check(lambda d: np.logaddexp(d, -d) - np.log(2)).correct


# ------------------------------------------------------------------ rendering

def test_markdown_has_solution_in_a_dropdown_and_can_omit_it():
    inst = exercises.get("losses.multiclass-hinge")(0)
    md = exercises.render_markdown(inst, 1)
    assert "::::{dropdown} Solution" in md and "Exercise 1" in md and inst.id in md
    assert f"{inst.solution:.4f}" in md
    hidden = exercises.render_markdown(inst, 1, solution=False)
    assert "dropdown" not in hidden and f"{inst.solution:.4f}" not in hidden


def test_html_rendering_uses_details_and_keeps_math():
    inst = exercises.get("losses.softmax-cross-entropy")(0)
    html = exercises.render_html(inst, 2)
    assert "<details>" in html and "Exercise 2" in html and r"\(" in html


def test_show_returns_a_displayable_set():
    shown = exercises.show(chapter="regularization", seed=2)
    assert len(shown.instances) == len(exercises.for_chapter("regularization"))
    assert shown._repr_markdown_().count("{dropdown}") == len(shown.instances)
    assert "<details>" in shown._repr_html_()
    by_id = exercises.show(ids=["losses.huber"])
    assert by_id.instances[0].id == "losses.huber"


# ------------------------------------------------------------------ bad input

def test_unknown_id_and_chapter_name_the_known_ones():
    with pytest.raises(KeyError, match="losses.huber"):
        exercises.get("losses.nope")
    with pytest.raises(KeyError, match="chapters: "):
        exercises.for_chapter("nope")


@pytest.mark.parametrize("seed", [-1, 1.5, "3", True])
def test_bad_seed_is_rejected(seed):
    with pytest.raises(ValueError, match="seed"):
        exercises.get("losses.huber")(seed)


def test_show_needs_exactly_one_selector():
    with pytest.raises(ValueError, match="exactly one"):
        exercises.show()
    with pytest.raises(ValueError, match="exactly one"):
        exercises.show(chapter="losses", ids=["losses.huber"])


def test_registering_bad_exercises_fails_clearly():
    with pytest.raises(ValueError, match="answer_type"):
        exercises.exercise("losses.x", title="t", chapter="losses", topic="t", points=1,
                           answer_type="essay")
    with pytest.raises(ValueError, match="must start with its chapter"):
        exercises.exercise("x.y", title="t", chapter="losses", topic="t", points=1,
                           answer_type="numeric")
    with pytest.raises(ValueError, match="points"):
        exercises.exercise("losses.x", title="t", chapter="losses", topic="t", points=0,
                           answer_type="numeric")
    with pytest.raises(ValueError, match="already registered"):
        exercises.exercise("losses.huber", title="t", chapter="losses", topic="t", points=1,
                           answer_type="numeric")(lambda rng: Variant("p", {}, 1.0, "e"))


def test_a_choice_generator_whose_solution_is_not_an_option_is_rejected():
    ex = exercises.Exercise("t.bad", "t", "t", "t", 1.0, "choice",
                            lambda rng: Variant("p", {}, "z", "e", choices={"a": "A"}))
    with pytest.raises(ValueError, match="choice keys"):
        ex(0)

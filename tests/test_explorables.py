"""Explorables: static HTML without a kernel, live ipywidgets with one, and the book's figures."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import numpy as np
import pytest

from dlnotes import explorables
from dlnotes.explorables import Control, Explorable
from dlnotes.figures import Table, book_explorables
from dlnotes.figures import losses as loss_figs
from dlnotes.figures import regularization as reg_figs

from figure_checks import PNG, assert_axes_labelled, pixels  # noqa: E402 (tests/ helper)


def _line_explorable(calls=None, two=False):
    def draw(fig, slope, offset=0.0):
        if calls is not None:
            calls.append((slope, offset))
        ax = fig.add_subplot()
        x = np.linspace(0, 1, 5)
        ax.plot(x, slope * x + offset)
        ax.set_ylim(-3, 3)
        ax.set_xlabel("x")
        ax.set_ylabel("y")
    controls = [Control("slope", "slope", [-1.0, 0.0, 1.0, 2.0])]
    if two:
        controls.append(Control("offset", "offset", [-1.0, 0.0, 1.0], value=0.0))
    return Explorable(draw, controls, alt="A straight line whose slope follows the slider.",
                      figsize=(3, 2), dpi=50)


class _Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def test_render_returns_png_that_depends_on_the_value():
    ex = _line_explorable()
    a, b = ex.render(slope=-1.0), ex.render(slope=2.0)
    assert a.startswith(PNG) and b.startswith(PNG) and a != b


def test_layout_is_frozen_after_the_first_frame():
    ex = _line_explorable()
    ex.render(slope=0.0)
    first = [tuple(ax.get_position().bounds) for ax in ex._fig.axes]
    ex.render(slope=2.0)
    assert [tuple(ax.get_position().bounds) for ax in ex._fig.axes] == first


def test_static_html_has_every_frame_sliders_and_alt_text_and_nothing_external():
    ex = _line_explorable(two=True)
    html = ex.to_html()
    p = _Collect()
    p.feed(html)
    imgs = [a for t, a in p.tags if t == "img"]
    sliders = [a for t, a in p.tags if t == "input"]
    assert len(imgs) == 1 and imgs[0]["alt"] == ex.alt_for()
    assert [s["type"] for s in sliders] == ["range", "range"]
    assert [s["max"] for s in sliders] == ["3", "2"] and all(s["aria-label"] for s in sliders)
    # every state + the initial src, as lossless WebP
    assert html.count("data:image/webp;base64,") == 4 * 3 + 1
    assert not re.search(r"(src|href)=\"https?:", html) and "<script src" not in html


def test_static_initial_frame_is_the_initial_value():
    ex = _line_explorable(two=True)
    html = ex.to_html()
    first_src = re.search(r'<img [^>]*src="([^"]+)"', html).group(1)
    frames = re.search(r'"frames": (\[[^\]]*\])', html).group(1)
    # slope starts at index 2 (value 1.0), offset at index 1: frame 2 * 3 + 1 = 7
    assert __import__("json").loads(frames)[7] == first_src


def test_live_widget_recomputes_when_a_slider_moves():
    calls = []
    ex = _line_explorable(calls)
    box = ex.widget()
    before = bytes(box.image.value)
    box.sliders[0].value = -1.0
    assert calls[-1] == (-1.0, 0.0)
    after = bytes(box.image.value)
    assert after != before and after.startswith(PNG)


def test_live_widget_has_one_slider_per_control_spanning_the_grid():
    ex = _line_explorable(two=True)
    box = ex.widget()
    assert [(s.min, s.max) for s in box.sliders] == [(-1.0, 2.0), (-1.0, 1.0)]


def test_display_picks_html_in_static_mode_and_a_widget_in_live_mode(monkeypatch):
    import IPython.display as disp
    import ipywidgets

    shown = []
    monkeypatch.setattr(disp, "display", lambda obj: shown.append(obj))
    ex = _line_explorable()
    monkeypatch.setenv(explorables.MODE_ENV, "static")
    ex._ipython_display_()
    monkeypatch.setenv(explorables.MODE_ENV, "live")
    ex._ipython_display_()
    assert isinstance(shown[0], disp.HTML) and "dlnotes-explorable" in shown[0].data
    assert isinstance(shown[1], ipywidgets.VBox)


def test_mode_defaults_to_live_and_rejects_unknown_values(monkeypatch):
    monkeypatch.delenv(explorables.MODE_ENV, raising=False)
    assert explorables.mode() == "live"
    monkeypatch.setenv(explorables.MODE_ENV, "Static")
    assert explorables.mode() == "static"
    monkeypatch.setenv(explorables.MODE_ENV, "kernel")
    with pytest.raises(ValueError, match=explorables.MODE_ENV):
        explorables.mode()


@pytest.mark.parametrize("kwargs, match", [
    ({"name": "2x", "label": "a", "values": [0, 1]}, "identifier"),
    ({"name": "a", "label": " ", "values": [0, 1]}, "label"),
    ({"name": "a", "label": "a", "values": [1]}, "at least 2"),
    ({"name": "a", "label": "a", "values": [0, 2, 1]}, "increasing"),
    ({"name": "a", "label": "a", "values": [0, float("nan")]}, "finite"),
])
def test_bad_controls_are_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Control(**kwargs)


def test_control_snaps_its_initial_value_to_the_grid():
    assert Control("a", "a", [0.0, 0.5, 1.0], value=0.6).value == 0.5


def test_bad_explorables_are_rejected():
    c = Control("a", "a", [0, 1])
    with pytest.raises(ValueError, match="one or two controls"):
        Explorable(lambda fig, a: None, [], alt="x")
    with pytest.raises(ValueError, match="one or two controls"):
        Explorable(lambda fig, a: None, [c, Control("b", "b", [0, 1]), Control("c", "c", [0, 1])],
                   alt="x")
    with pytest.raises(ValueError, match="alt"):
        Explorable(lambda fig, a: None, [c], alt="  ")
    with pytest.raises(TypeError, match="callable"):
        Explorable("draw", [c], alt="x")
    with pytest.raises(ValueError, match="distinct"):
        Explorable(lambda fig, a: None, [c, Control("a", "b", [0, 1])], alt="x")
    ex = Explorable(lambda fig, a: fig.add_subplot(), [c], alt="x")
    with pytest.raises(ValueError, match="unknown control"):
        ex.render(b=1.0)


# ------------------------------------------------------------- the book's figures

BOOK_EXPLORABLES = book_explorables()          # every chapter's, found by name
BOOK_FIGURES = [loss_figs.regression_losses, loss_figs.log_cosh_regimes, loss_figs.margin_losses,
                loss_figs.kl_asymmetry, loss_figs.likelihood_ratio_convergence,
                reg_figs.penalty_shapes, reg_figs.regularization_paths,
                lambda: reg_figs.validation_curve()[1]]


def test_every_chapter_with_figures_has_an_explorable():
    chapters = {name.split(".")[0] for name in BOOK_EXPLORABLES}
    assert {"losses", "regularization", "gradient_descent", "momentum", "adaptive",
            "schedules"} <= chapters


@pytest.mark.parametrize("make", BOOK_EXPLORABLES.values(), ids=BOOK_EXPLORABLES.keys())
def test_book_explorables_have_labelled_axes_alt_text_a_caption_and_at_most_two_controls(make):
    ex = make()
    assert 1 <= len(ex.controls) <= 2 and len(ex.alt) > 40 and ex.caption
    png = ex.render()
    assert png.startswith(PNG)
    assert_axes_labelled(ex._fig)


@pytest.mark.slow
@pytest.mark.parametrize("make", BOOK_EXPLORABLES.values(), ids=BOOK_EXPLORABLES.keys())
def test_book_explorables_html_stays_small(make):
    assert len(make().to_html()) < 1.5 * 1024 * 1024


@pytest.mark.slow
@pytest.mark.parametrize("make", BOOK_FIGURES, ids=lambda f: getattr(f, "__name__", "fig"))
def test_book_figures_have_labelled_axes(make):
    assert_axes_labelled(make())


def test_outlier_figure_shows_the_mean_running_away_and_the_others_staying():
    curves = loss_figs.location_vs_outlier([10.0, 1000.0], delta=1.0)
    assert curves["l2"][1] - curves["l2"][0] > 90
    for loss in ("l1", "huber", "log_cosh"):
        assert abs(curves[loss][1] - curves[loss][0]) < 1e-6


def test_hinge_terms_markdown_shows_the_worked_example_term_by_term():
    scores = np.array([[0.5, 0.4, 0.3], [1.3, 0.8, -0.6], [1.4, -0.4, 2.7]]).T
    md = loss_figs.hinge_terms_markdown(scores, [0, 1, 2]).data
    assert "1.8 + 1.9 = 3.7" in md and "0.6 + 0.0 = 0.6" in md and "0.0 + 0.0 = 0.0" in md
    assert "1.4333" in md and r"\max(0,\, 1.3 - 0.5 + 1)" in md


def test_table_renders_markdown_and_html_and_checks_its_shape():
    t = Table(["a", "b"], [[1, 0.5], ["x", 2.0]], fmt="{:.2f}")
    assert t._repr_markdown_().splitlines()[2] == "| 1 | 0.50 |"
    assert "<td>2.00</td>" in t._repr_html_()
    with pytest.raises(ValueError, match="one cell per header"):
        Table(["a"], [[1, 2]])


@pytest.mark.parametrize("make", BOOK_EXPLORABLES.values(), ids=BOOK_EXPLORABLES.keys())
def test_fast_updates_draw_the_same_picture_as_a_full_redraw(make):
    fast = make()
    states = fast.states()
    picks = [states[0], states[len(states) // 2], states[-1], states[1]]
    fast.render(**picks[0])
    assert fast._update is not None, "this explorable should use the fast update path"
    for s in picks[1:]:
        blitted = pixels(fast.render(**s))
        fresh = make()
        fresh.render(**picks[0])           # the same frozen layout
        fresh._update = None
        full = pixels(fresh.render(**s))
        diff = np.abs(blitted - full)
        # antialiased edges of moved artists may differ by a few levels; nothing else may
        assert diff.max() <= 64 and (diff > 8).mean() < 1e-3, (s, diff.max(), (diff > 8).mean())


def test_update_must_return_artists():
    def draw(fig, a):
        fig.add_subplot().set_xlabel("x")
        return lambda a: None
    ex = Explorable(draw, [Control("a", "a", [0, 1])], alt="x")
    with pytest.raises(TypeError, match="artists it changed"):
        ex.render(a=0)


def test_every_frame_has_its_own_alt_text_naming_the_control_values():
    ex = _line_explorable(two=True)
    assert ex.alt_for() == ("A straight line whose slope follows the slider. "
                            "Shown: slope = 1, offset = 0.")
    html = ex.to_html()
    alts = __import__("json").loads(re.search(r'"alts": (\[[^\]]*\])', html).group(1))
    assert len(alts) == len(ex.states()) == len(set(alts))
    assert alts[0].endswith("Shown: slope = -1, offset = -1.")


def test_describe_adds_to_each_frame_alt_and_must_return_text():
    ex = _line_explorable()
    ex.describe = lambda slope: f"The line rises by {slope:g} over the unit interval."
    assert ex.alt_for(slope=2.0) == ("A straight line whose slope follows the slider. The line "
                                     "rises by 2 over the unit interval. Shown: slope = 2.")
    ex.describe = lambda slope: 3
    with pytest.raises(TypeError, match="describe"):
        ex.alt_for()
    with pytest.raises(TypeError, match="describe"):
        Explorable(lambda fig, a: None, [Control("a", "a", [0, 1])], alt="x", describe="no")


def test_slider_value_text_says_what_the_value_means_with_its_unit():
    c = Control("warmup", "warm-up T_w", [0, 100, 200], fmt="{:.0f}", unit="steps")
    assert c.shown(100) == "100 steps" and c.spoken(100) == "warm-up T_w = 100 steps"
    named = Control("act", "activation", [0, 1], valuetext=lambda v: ["tanh", "ReLU"][int(v)])
    assert named.spoken(1) == "ReLU"
    ex = Explorable(lambda fig, warmup: fig.add_subplot(), [c], alt="A schedule.",
                    figsize=(2, 1), dpi=30)
    html = ex.to_html()
    assert 'aria-valuetext="warm-up T_w = 100 steps"' in html and "100 steps</output>" in html
    bad = Control("a", "a", [0, 1], valuetext=lambda v: "")
    with pytest.raises(ValueError, match="valuetext"):
        bad.spoken(0)


def test_data_gives_a_collapsible_table_with_one_row_per_state_and_the_current_one_marked():
    ex = _line_explorable(two=True)
    ex.data = lambda slope, offset: {"y at x = 1": slope + offset, "rising": slope > 0}
    [(header, rows)] = ex.data_tables()
    assert header == ["slope", "offset", "y at x = 1", "rising"]
    assert len(rows) == 12 and rows[0] == ["-1", "-1", "-2", "no"] and rows[-1] == ["2", "1", "3", "yes"]
    html = ex.to_html()
    assert html.count('<tr data-state=') == 12 and "<details class=\"dlnotes-explorable-data\">" in html
    assert re.search(r'<tr data-state="7" aria-current="true">', html)
    assert _line_explorable().data_tables() is None and "<details" not in _line_explorable().to_html()
    ex.data = lambda slope, offset: [slope]
    with pytest.raises(TypeError, match="dict"):
        ex.data_tables()


def test_data_may_give_one_table_per_state_shown_for_the_current_state():
    ex = _line_explorable(two=True)
    ex.data = lambda slope, offset: (["x", "y"], [[0.0, offset], [1.0, slope + offset]])
    tables = ex.data_tables()
    assert len(tables) == 12 and tables[7] == (["x", "y"], [["0", "0"], ["1", "1"]])
    html = ex.to_html()
    assert html.count("data-table-state=") == 12 and html.count(" hidden>") == 11
    assert 'data-table-state="7">' in html
    ex.data = lambda slope, offset: (["x", "y"], [[0.0]])
    with pytest.raises(TypeError, match="one cell per header"):
        ex.data_tables()

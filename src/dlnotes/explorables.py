r"""Interactive figures ("explorables") that work with and without a Python kernel.

One mechanism for the whole book. An :class:`Explorable` is a drawing function plus at
most two :class:`Control`\ s. Displayed in a notebook it becomes

* **live** (a running kernel): ipywidgets sliders; moving one re-runs the ``dlnotes``
  computation inside the drawing function and redraws the figure;
* **static** (the built HTML book): every state on the controls' grid is drawn once at
  build time, and a few lines of inline JavaScript swap the pictures as the reader moves
  the sliders. No kernel, no server and no CDN: the page works from ``file://``.

The mode comes from the environment variable ``DLNOTES_EXPLORABLES`` (``live`` or
``static``); the book's Sphinx extension (``dlnotes.sphinxext``) sets ``static`` for
the kernels that execute chapters at build time. Without it the mode is ``live``.

Example
-------
>>> def draw(fig, delta):
...     ax = fig.add_subplot()
...     ax.plot([0, delta], [0, 1]); ax.set_xlabel("d"); ax.set_ylabel("loss")
>>> ex = Explorable(draw, [Control("delta", "threshold δ", [0.5, 1.0, 2.0])],
...                 alt="A line whose end moves with δ.")
"""

from __future__ import annotations

import base64
import html
import io
import itertools
import json
import os
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

__all__ = ["Control", "Explorable", "mode", "MODE_ENV"]

MODE_ENV = "DLNOTES_EXPLORABLES"
_MODES = ("live", "static")


def mode() -> str:
    """The current display mode, ``'live'`` or ``'static'`` (from ``DLNOTES_EXPLORABLES``)."""
    value = os.environ.get(MODE_ENV, "live").strip().lower() or "live"
    if value not in _MODES:
        raise ValueError(f"environment variable {MODE_ENV} must be one of {_MODES}, got {value!r}")
    return value


@dataclass
class Control:
    """A slider over numeric values.

    Parameters
    ----------
    name : str
        Keyword argument passed to the drawing function.
    label : str
        What the reader sees next to the slider (plain text; include the unit/symbol).
    values : sequence of float
        The states drawn for the static HTML (increasing). The live slider spans
        ``min(values)`` to ``max(values)`` with step ``step``.
    value : float, optional
        Initial value; defaults to the middle of ``values`` (snapped to the grid).
    step : float, optional
        Live slider step; defaults to the smallest spacing of ``values``.
    fmt : str
        Format for displaying the current value, e.g. ``"{:.2f}"``.
    """

    name: str
    label: str
    values: Sequence[float]
    value: float | None = None
    step: float | None = None
    fmt: str = "{:g}"
    _grid: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise ValueError(f"Control name must be a Python identifier, got {self.name!r}")
        if not isinstance(self.label, str) or not self.label.strip():
            raise ValueError("Control label must be a non-empty string")
        grid = np.asarray(list(self.values), dtype=float)
        if grid.ndim != 1 or grid.size < 2:
            raise ValueError(f"Control {self.name!r}: values must hold at least 2 numbers")
        if not np.all(np.isfinite(grid)) or np.any(np.diff(grid) <= 0):
            raise ValueError(f"Control {self.name!r}: values must be finite and strictly increasing")
        self._grid = grid
        if self.value is None:
            self.value = float(grid[len(grid) // 2])
        else:
            self.value = float(grid[int(np.argmin(np.abs(grid - float(self.value))))])
        if self.step is None:
            self.step = float(np.min(np.diff(grid)))
        if self.step <= 0:
            raise ValueError(f"Control {self.name!r}: step must be > 0")

    @property
    def grid(self) -> np.ndarray:
        """The static grid of values as a float array."""
        return self._grid

    @property
    def initial_index(self) -> int:
        return int(np.argmin(np.abs(self._grid - self.value)))

    def format(self, v: float) -> str:
        return self.fmt.format(v)


class Explorable:
    """An interactive figure: ``draw(fig, **values)`` plus one or two controls.

    Parameters
    ----------
    draw : callable
        ``draw(fig, **{control.name: value})`` draws on an empty
        :class:`matplotlib.figure.Figure`. It should call ``dlnotes`` to compute what it
        shows, label its axes, and must not call ``pyplot``. For fast updates it may
        return a function ``update(**values)`` that recomputes, changes the existing
        artists (``set_data``, ``set_height``, ``set_text``, ...) to show the new values,
        and returns the list of artists it changed; it must leave the figure exactly as
        ``draw`` would have drawn it for those values. Everything else is drawn once, under
        the returned artists: return an unchanged artist too if a changing one can pass
        beneath it (a legend, data points, the axes' spines). Axis limits, ticks and axis
        labels belong to the background and cannot change in ``update``; a title or any
        ``Text`` artist can.
    controls : list of Control
        One or two controls (one idea per figure).
    alt : str
        Alternative text describing the figure for readers who cannot see it.
    caption : str, optional
        Shown under the figure.
    figsize : (float, float)
        Figure size in inches.
    dpi : int
        Resolution of the rendered frames.
    """

    def __init__(self, draw: Callable[..., Any], controls: Sequence[Control], *, alt: str,
                 caption: str = "", figsize: tuple[float, float] = (7.0, 3.4), dpi: int = 90):
        if not callable(draw):
            raise TypeError(f"draw must be callable, got {type(draw).__name__}")
        controls = list(controls)
        if not 1 <= len(controls) <= 2:
            raise ValueError(f"an explorable has one or two controls, got {len(controls)}")
        if not all(isinstance(c, Control) for c in controls):
            raise TypeError("controls must be Control instances")
        if len({c.name for c in controls}) != len(controls):
            raise ValueError("control names must be distinct")
        if not isinstance(alt, str) or not alt.strip():
            raise ValueError("alt must be a non-empty description of the figure")
        self.draw = draw
        self.controls = controls
        self.alt = alt.strip()
        self.caption = caption
        self.figsize = figsize
        self.dpi = int(dpi)
        self._fig = None
        self._positions = None
        self._update = None
        self._dynamic = None
        self._background = None

    # ------------------------------------------------------------------ rendering
    def _figure(self):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        if self._fig is None:
            self._fig = Figure(figsize=self.figsize, dpi=self.dpi)
            FigureCanvasAgg(self._fig)
        return self._fig

    def render(self, **values: float) -> bytes:
        """Draw the figure for the given control values and return it as PNG bytes.

        The first render lays the axes out with matplotlib's constrained layout; later
        renders reuse those axes positions, so frames line up exactly (nothing jumps as
        the reader moves a slider).

        If ``draw`` returned an ``update(**values)`` function, later renders call it
        instead of redrawing: it changes the existing artists and returns the ones it
        changed, and only those are redrawn over a cached picture of everything else
        (blitting). Text, ticks and legends are then rendered once, which is what keeps
        an update within the book's 100 ms budget.
        """
        unknown = set(values) - {c.name for c in self.controls}
        if unknown:
            raise ValueError(f"unknown control(s) {sorted(unknown)}; "
                             f"expected {[c.name for c in self.controls]}")
        params = {c.name: float(values.get(c.name, c.value)) for c in self.controls}
        fig = self._figure()
        if self._update is not None:
            return self._blit(self._update(**params))
        fig.clear()
        result = self.draw(fig, **params)
        frozen = self._positions is not None and len(self._positions) == len(fig.axes)
        if frozen:
            fig.set_layout_engine("none")
            for ax, pos in zip(fig.axes, self._positions):
                ax.set_position(pos)
        else:
            fig.set_layout_engine("constrained")
        png = self._png(full=True)
        if not frozen:
            self._positions = [ax.get_position() for ax in fig.axes]
        if callable(result):
            fig.set_layout_engine("none")
            self._update = result
            self._dynamic = None
            # Render the static background now, so that every slider move is a cheap update.
            self._blit(result(**params))
        return png

    def _png(self, full: bool) -> bytes:
        from PIL import Image

        canvas = self._fig.canvas
        if full:
            canvas.draw()
        w, h = canvas.get_width_height(physical=True)
        img = Image.frombuffer("RGBA", (w, h), bytes(canvas.buffer_rgba()), "raw", "RGBA", 0, 1)
        buf = io.BytesIO()
        img.convert("RGB").save(buf, format="png")
        return buf.getvalue()

    def _blit(self, artists: Any) -> bytes:
        if artists is None or not all(hasattr(a, "draw") for a in artists):
            raise TypeError("update() must return the matplotlib artists it changed")
        artists = list(artists)
        canvas = self._fig.canvas
        if self._dynamic is None or [id(a) for a in artists] != self._dynamic:
            # Render everything that never changes once, without the dynamic artists.
            for a in artists:
                a.set_animated(True)
            canvas.draw()
            self._background = canvas.copy_from_bbox(self._fig.bbox)
            self._dynamic = [id(a) for a in artists]
        canvas.restore_region(self._background)
        # a full draw paints each axes' artists in z-order; do the same
        for a in sorted(artists, key=lambda a: a.get_zorder()):
            self._fig.draw_artist(a)
        return self._png(full=False)

    def states(self) -> list[dict[str, float]]:
        """Every combination of grid values, first control varying slowest."""
        grids = [c.grid for c in self.controls]
        return [{c.name: float(v) for c, v in zip(self.controls, combo)}
                for combo in itertools.product(*grids)]

    # ------------------------------------------------------------------ static HTML
    def to_html(self) -> str:
        """Self-contained HTML: all frames as PNG data URIs, sliders, and inline JS.

        Frame ``i0 * n1 + i1`` shows grid values ``(i0, i1)``.
        """
        frames = ["data:image/png;base64," + base64.b64encode(self.render(**s)).decode("ascii")
                  for s in self.states()]
        uid = "dlx-" + uuid.uuid4().hex[:10]
        sizes = [len(c.grid) for c in self.controls]
        start = [c.initial_index for c in self.controls]
        flat = start[0] * (sizes[1] if len(sizes) > 1 else 1) + (start[1] if len(sizes) > 1 else 0)
        labels = [[c.format(v) for v in c.grid] for c in self.controls]
        esc = html.escape
        parts = [f'<figure class="dlnotes-explorable" id="{uid}" data-controls="{len(self.controls)}" '
                 'style="margin:1em 0;max-width:100%">',
                 f'<img class="dlnotes-explorable-frame" src="{frames[flat]}" alt="{esc(self.alt)}" '
                 f'style="max-width:100%;height:auto" width="{int(self.figsize[0] * self.dpi)}" '
                 f'height="{int(self.figsize[1] * self.dpi)}">',
                 '<div class="dlnotes-explorable-controls" style="display:flex;flex-wrap:wrap;'
                 'gap:0.5em 2em;align-items:center;margin:0.3em 0">']
        for i, c in enumerate(self.controls):
            parts.append(
                f'<label style="display:flex;gap:0.5em;align-items:center">'
                f'<span>{esc(c.label)}</span>'
                f'<input type="range" class="dlnotes-explorable-slider" data-index="{i}" '
                f'min="0" max="{sizes[i] - 1}" step="1" value="{start[i]}" '
                f'aria-label="{esc(c.label)}" aria-valuetext="{esc(labels[i][start[i]])}">'
                f'<output style="min-width:4em;font-variant-numeric:tabular-nums">'
                f'{esc(labels[i][start[i]])}</output></label>')
        parts.append("</div>")
        if self.caption:
            parts.append(f"<figcaption>{esc(self.caption)}</figcaption>")
        data = json.dumps({"frames": frames, "sizes": sizes, "labels": labels})
        # Inline on purpose: the book must not load scripts from anywhere.
        parts.append(
            "<script>(function(){"
            f"var root=document.getElementById({json.dumps(uid)});"
            f"var d={data};"
            "var img=root.querySelector('img.dlnotes-explorable-frame');"
            "var sl=root.querySelectorAll('input.dlnotes-explorable-slider');"
            "function upd(){var k=0;for(var i=0;i<sl.length;i++){var v=parseInt(sl[i].value,10);"
            "k=k*d.sizes[i]+v;var t=d.labels[i][v];sl[i].setAttribute('aria-valuetext',t);"
            "sl[i].nextElementSibling.textContent=t;}img.src=d.frames[k];}"
            "for(var i=0;i<sl.length;i++){sl[i].addEventListener('input',upd);}"
            "})();</script>")
        parts.append("</figure>")
        return "".join(parts)

    # ------------------------------------------------------------------ live widget
    def widget(self):
        """An ipywidgets box: one FloatSlider per control above an Image of the figure.

        Each slider change calls :meth:`render` with the new values and updates the image.
        """
        import ipywidgets as w

        sliders = []
        for c in self.controls:
            sliders.append(w.FloatSlider(
                value=c.value, min=float(c.grid[0]), max=float(c.grid[-1]), step=c.step,
                description=c.label, continuous_update=False, readout=True,
                readout_format=".3g", style={"description_width": "initial"},
                layout=w.Layout(width="32em")))
        image = w.Image(value=self.render(), format="png",
                        layout=w.Layout(max_width="100%", height="auto"))
        image.description = self.alt  # not shown; kept for assistive tooling and tests

        def update(_change=None):
            image.value = self.render(**{c.name: s.value for c, s in zip(self.controls, sliders)})

        for s in sliders:
            s.observe(update, names="value")
        children = [*sliders, image]
        if self.caption:
            children.append(w.HTML(f"<em>{html.escape(self.caption)}</em>"))
        box = w.VBox(children)
        box.sliders = sliders
        box.image = image
        return box

    # ------------------------------------------------------------------ display
    def _ipython_display_(self) -> None:
        from IPython.display import HTML, display

        if mode() == "static":
            display(HTML(self.to_html()))
        else:
            display(self.widget())

    def __repr__(self) -> str:
        names = ", ".join(c.name for c in self.controls)
        return f"<Explorable ({names}): {self.alt}>"

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


def _data_uri(png: bytes) -> str:
    """A frame as a data URI: lossless WebP (pixel for pixel the PNG, about 40% of its size)."""
    from PIL import Image

    img = Image.open(io.BytesIO(png))
    buf = io.BytesIO()
    img.save(buf, format="webp", lossless=True, quality=50, method=1)
    return "data:image/webp;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _cell(value: Any) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return f"{v:.4g}" if np.isfinite(v) else str(v)
    return str(value)


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
    unit : str, optional
        Unit of the value ("steps", "%", ...), shown after it and spoken by screen readers.
    valuetext : callable, optional
        ``valuetext(value) -> str``: what a screen reader says for a value (the slider's
        ``aria-valuetext``). Defaults to ``"<label> = <formatted value> <unit>"``.
    """

    name: str
    label: str
    values: Sequence[float]
    value: float | None = None
    step: float | None = None
    fmt: str = "{:g}"
    unit: str = ""
    valuetext: Callable[[float], str] | None = None
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

    def shown(self, v: float) -> str:
        """The value as the page shows it next to the slider (with the unit)."""
        text = self.format(v)
        return f"{text} {self.unit}" if self.unit else text

    def spoken(self, v: float) -> str:
        """The slider's ``aria-valuetext`` for ``v``: what the value means, with its unit."""
        if self.valuetext is not None:
            text = self.valuetext(v)
            if not isinstance(text, str) or not text.strip():
                raise ValueError(f"Control {self.name!r}: valuetext must return a non-empty string")
            return text.strip()
        return f"{self.label} = {self.shown(v)}"


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
        Every frame's alt text is this, followed by the control values it shows
        ("Shown: Huber threshold δ = 1, outlier at y = 10."), so each state is described.
    caption : str, optional
        Shown under the figure.
    figsize : (float, float)
        Figure size in inches.
    dpi : int
        Resolution of the rendered frames.
    describe : callable, optional
        ``describe(**values) -> str``: a sentence on what this state of the figure shows
        (e.g. "The fit reaches 0.12 after 40 steps."); added to that frame's alt text.
    data : callable, optional
        ``data(**values) -> dict``: the numbers behind one state, as column name -> number or
        short text. The HTML shows them, one row per state, in a collapsible table under the
        figure (the current state's row marked), so the figure's content can be read
        without the picture.
    """

    def __init__(self, draw: Callable[..., Any], controls: Sequence[Control], *, alt: str,
                 caption: str = "", figsize: tuple[float, float] = (7.0, 3.4), dpi: int = 90,
                 describe: Callable[..., str] | None = None,
                 data: Callable[..., Any] | None = None):
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
        for arg, fn in (("describe", describe), ("data", data)):
            if fn is not None and not callable(fn):
                raise TypeError(f"{arg} must be callable or None, got {type(fn).__name__}")
        self.draw = draw
        self.describe = describe
        self.data = data
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
    def alt_for(self, **values: float) -> str:
        """The alt text of the frame for ``values``: ``alt``, what ``describe`` adds,
        and the control values shown."""
        params = {c.name: float(values.get(c.name, c.value)) for c in self.controls}
        shown = ", ".join(f"{c.label} = {c.shown(params[c.name])}" for c in self.controls)
        text = self.alt if self.alt.endswith((".", "!", "?")) else self.alt + "."
        if self.describe is not None:
            extra = self.describe(**params)
            if not isinstance(extra, str):
                raise TypeError(f"describe() must return a string, got {type(extra).__name__}")
            if extra.strip():
                text += " " + extra.strip()
        return f"{text} Shown: {shown}."

    def data_tables(self) -> list[tuple[list[str], list[list[str]]]] | None:
        """The tables behind the figure, or None without ``data``.

        If ``data`` returns a dict per state: one table, one row per state (the control
        values, then the dict's values). If it returns ``(header, rows)`` per state: one table
        per state, in the order of :meth:`states`.
        """
        if self.data is None:
            return None
        results = [(s, self.data(**s)) for s in self.states()]
        if all(isinstance(r, dict) and r for _, r in results):
            keys: list[str] = []
            for _, r in results:
                keys += [str(k) for k in r if str(k) not in keys]
            header = [c.label + (f" ({c.unit})" if c.unit else "") for c in self.controls]
            rows = [[c.format(s[c.name]) for c in self.controls]
                    + [_cell(r.get(k, "")) for k in keys] for s, r in results]
            return [(header + keys, rows)]
        tables = []
        for _, r in results:
            ok = (isinstance(r, tuple) and len(r) == 2 and all(isinstance(h, str) for h in r[0])
                  and all(len(row) == len(r[0]) for row in r[1]))
            if not ok:
                raise TypeError("data() must return a non-empty dict of column name -> value "
                                "(one row per state), or (header, rows) with one cell per header")
            tables.append((list(r[0]), [[_cell(v) for v in row] for row in r[1]]))
        return tables

    def _data_html(self, flat: int) -> str:
        tables = self.data_tables()
        if tables is None:
            return ""
        esc = html.escape

        def table(header, rows, attrs="", current=None):
            out = [f"<table{attrs}><thead><tr>"
                   + "".join(f'<th scope="col">{esc(h)}</th>' for h in header) + "</tr></thead><tbody>"]
            for k, row in enumerate(rows):
                mark = ""
                if current is not None:
                    mark = f' data-state="{k}"' + (' aria-current="true"' if k == current else "")
                out.append(f"<tr{mark}>" + "".join(f"<td>{esc(v)}</td>" for v in row) + "</tr>")
            return "".join(out) + "</tbody></table>"

        if len(tables) == 1:   # one row per state (every explorable has at least two states)
            body = table(*tables[0], current=flat)
            what = "every setting of the controls, one row each (the one shown is marked)"
        else:
            body = "".join(table(h, r, f' data-table-state="{k}"' + ("" if k == flat else " hidden"))
                           for k, (h, r) in enumerate(tables))
            what = "the setting shown; it follows the sliders"
        return ('<details class="dlnotes-explorable-data"><summary>The numbers behind this figure '
                f'({what})</summary><div class="dlnotes-explorable-table">{body}</div></details>')

    def to_html(self) -> str:
        """Self-contained HTML: all frames as image data URIs (lossless WebP), sliders, and
        inline JS.

        Frame ``i0 * n1 + i1`` shows grid values ``(i0, i1)``. The book's Sphinx extension
        moves the frames into image files beside the page, so that a page loads only the
        frames it shows.
        """
        states = self.states()
        frames = [_data_uri(self.render(**s)) for s in states]
        alts = [self.alt_for(**s) for s in states]
        uid = "dlx-" + uuid.uuid4().hex[:10]
        sizes = [len(c.grid) for c in self.controls]
        start = [c.initial_index for c in self.controls]
        flat = start[0] * (sizes[1] if len(sizes) > 1 else 1) + (start[1] if len(sizes) > 1 else 0)
        labels = [[c.shown(v) for v in c.grid] for c in self.controls]
        spoken = [[c.spoken(v) for v in c.grid] for c in self.controls]
        esc = html.escape
        parts = [f'<figure class="dlnotes-explorable" id="{uid}" data-controls="{len(self.controls)}" '
                 'style="margin:1em 0;max-width:100%">',
                 f'<img class="dlnotes-explorable-frame" src="{frames[flat]}" alt="{esc(alts[flat])}" '
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
                f'aria-label="{esc(c.label)}" aria-valuetext="{esc(spoken[i][start[i]])}">'
                f'<output aria-hidden="true" style="min-width:4em;font-variant-numeric:tabular-nums">'
                f'{esc(labels[i][start[i]])}</output></label>')
        parts.append("</div>")
        if self.caption:
            parts.append(f"<figcaption>{esc(self.caption)}</figcaption>")
        parts.append(self._data_html(flat))
        data = json.dumps({"frames": frames, "sizes": sizes, "labels": labels,
                           "spoken": spoken, "alts": alts})
        # Inline on purpose: the book must not load scripts from anywhere.
        parts.append(
            "<script>(function(){"
            f"var root=document.getElementById({json.dumps(uid)});"
            f"var d={data};"
            "var img=root.querySelector('img.dlnotes-explorable-frame');"
            "var sl=root.querySelectorAll('input.dlnotes-explorable-slider');"
            "var rows=root.querySelectorAll('tr[data-state]');"
            "var tabs=root.querySelectorAll('table[data-table-state]');"
            "function upd(){var k=0;for(var i=0;i<sl.length;i++){var v=parseInt(sl[i].value,10);"
            "k=k*d.sizes[i]+v;sl[i].setAttribute('aria-valuetext',d.spoken[i][v]);"
            "sl[i].nextElementSibling.textContent=d.labels[i][v];}"
            "img.src=d.frames[k];img.alt=d.alts[k];"
            "for(var j=0;j<rows.length;j++){if(j===k){rows[j].setAttribute('aria-current','true');}"
            "else{rows[j].removeAttribute('aria-current');}}"
            "for(var j=0;j<tabs.length;j++){tabs[j].hidden=(j!==k);}}"
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

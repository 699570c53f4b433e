"""Figures and explorables of the book, one module per chapter.

Every figure function returns a :class:`matplotlib.figure.Figure` (not managed by
pyplot, so nothing is displayed twice) or an :class:`dlnotes.explorables.Explorable`,
and computes what it shows with ``dlnotes`` calls. Colours are fixed per concept so a
loss has the same colour in every figure of the book.
"""

from __future__ import annotations

import html
from typing import Any, Callable, Sequence

from matplotlib.figure import Figure

__all__ = ["COLORS", "new_figure", "Table", "book_explorables"]

COLORS = {
    "l1": "#1b9e77",
    "l2": "#d95f02",
    "huber": "#7570b3",
    "log_cosh": "#e7298a",
    "zero_one": "#666666",
    "hinge": "#1f78b4",
    "squared_hinge": "#a6cee3",
    "logistic": "#e31a1c",
    "cross_entropy": "#e31a1c",
    "kl": "#33a02c",
    "entropy": "#6a3d9a",
    "elastic_net": "#b15928",
    "data": "#333333",
}


def book_explorables() -> dict[str, Callable[[], Any]]:
    """Every explorable of the book: ``"<chapter module>.<function>"`` -> the function making it.

    Found by name (``*_explorable``) in the chapter modules of this package, so a new chapter's
    explorables are benchmarked and tested without being listed anywhere.
    """
    import importlib
    import inspect
    import pkgutil

    found: dict[str, Callable[[], Any]] = {}
    for mod in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{mod.name}")
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            if name.endswith("_explorable") and fn.__module__ == module.__name__:
                found[f"{mod.name}.{name}"] = fn
    return dict(sorted(found.items()))


def new_figure(width: float = 8.0, height: float = 3.2) -> Figure:
    """An empty figure with constrained layout, outside pyplot's figure manager."""
    return Figure(figsize=(width, height), dpi=100, layout="constrained")


class Table:
    """A small table that renders as Markdown in the book and as HTML in Jupyter.

    Parameters
    ----------
    headers : sequence of str
        Column titles (Markdown/math allowed in the book).
    rows : sequence of sequences
        Cell values; floats are formatted with ``fmt``.
    fmt : str
        Format for floats.
    """

    def __init__(self, headers: Sequence[str], rows: Sequence[Sequence[Any]], fmt: str = "{:.6g}"):
        self.headers = list(headers)
        self.rows = [list(r) for r in rows]
        if any(len(r) != len(self.headers) for r in self.rows):
            raise ValueError("every row must have one cell per header")
        self.fmt = fmt

    def _cell(self, v: Any) -> str:
        if isinstance(v, float):
            return self.fmt.format(v)
        return str(v)

    def _repr_markdown_(self) -> str:
        lines = ["| " + " | ".join(self.headers) + " |",
                 "|" + "---|" * len(self.headers)]
        lines += ["| " + " | ".join(self._cell(v) for v in r) + " |" for r in self.rows]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(h)}</th>" for h in self.headers)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(self._cell(v))}</td>" for v in r) + "</tr>"
                       for r in self.rows)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

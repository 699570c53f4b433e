"""Time every explorable of the book: one update = dlnotes computation + redraw + PNG.

Reproduce with:  .venv/bin/python benchmarks/explorables.py

Finds every function named ``*_explorable`` in ``dlnotes.figures.*``, renders its initial
state (draw + layout, once), then moves through every state of its static grid in order, as
a reader sweeping a slider would, and reports the median and the slowest update. Also the
size of its self-contained HTML (all frames).
"""

from __future__ import annotations

import statistics
import time

from dlnotes.figures import book_explorables


def main() -> None:
    rows = []
    for name, make in book_explorables().items():
        ex = make()
        states = ex.states()
        t0 = time.perf_counter()
        ex.render(**states[0])
        first = time.perf_counter() - t0
        times = []
        for s in states[1:]:
            t = time.perf_counter()
            ex.render(**s)
            times.append(time.perf_counter() - t)
        html_kb = len(make().to_html()) / 1024
        rows.append((name, len(states), 1e3 * first, 1e3 * statistics.median(times),
                     1e3 * max(times), html_kb))
    print("| explorable | states | first draw (ms) | median update (ms) | slowest update (ms) | HTML (KiB) |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| `{r[0]}` | {r[1]} | {r[2]:.0f} | {r[3]:.0f} | {r[4]:.0f} | {r[5]:.0f} |")


if __name__ == "__main__":
    main()

"""dlnotes.sphinxext's post-processing of the written HTML pages, on small pages."""

from __future__ import annotations

import base64
import re

from dlnotes.explorables import Control, Explorable
from dlnotes.sphinxext import FRAMES_DIR, postprocess_page


def _explorable_html():
    def draw(fig, a):
        ax = fig.add_subplot()
        ax.plot([0, 1], [0, a])
        ax.set_xlabel("x")
        ax.set_ylabel("y")
    return Explorable(draw, [Control("a", "slope a", [0.0, 1.0, 2.0])], alt="A line.",
                      figsize=(2, 1.5), dpi=40).to_html()


def test_frames_move_into_files_beside_the_page_and_are_written_once(tmp_path):
    html = "<html><body>" + _explorable_html() + "</body></html>"
    out = postprocess_page(html, tmp_path)
    assert "data:image" not in out
    srcs = re.findall(FRAMES_DIR + r"/[0-9a-f]{20}\.webp", out)
    assert len(srcs) == 4 and len(set(srcs)) == 3          # initial src + 3 states
    files = sorted((tmp_path / FRAMES_DIR).iterdir())
    assert len(files) == 3 and all(f.read_bytes()[:4] == b"RIFF" for f in files)
    first = re.search(r'<img [^>]*src="([^"]+)"', out).group(1)
    uri = re.search(r'<img [^>]*src="([^"]+)"', html).group(1)
    assert (tmp_path / first).read_bytes() == base64.b64decode(uri.split(",", 1)[1])
    assert postprocess_page(out, tmp_path) == out          # idempotent


def test_headers_bibliography_and_sidebar_are_fixed_for_screen_readers(tmp_path):
    page = ('<div id="pst-primary-sidebar" class="bd-sidebar-primary bd-sidebar"></div>'
            '<table><thead><tr><th class="head"><p></p></th>'
            '<th class="head"><p><span class="math notranslate nohighlight">\\(\\ell_\\delta(d)\\)</span></p></th>'
            '<th class="head"><p>loss <span class="math notranslate nohighlight">\\(d\\)</span></p></th>'
            '</tr></thead></table><div role="list"><div class="citation" role="doc-biblioentry"></div></div>')
    out = postprocess_page(page, tmp_path)
    assert '<td class="head"><p></p></td>' in out
    assert ('nohighlight">\\(\\ell_\\delta(d)\\)</span></p>'
            '<span class="dlnotes-sr-only">\\ell_\\delta(d)</span></th>') in out
    assert '<p>loss <span class="math notranslate nohighlight">\\(d\\)</span></p></th>' in out
    assert 'role="listitem"' in out and "doc-biblioentry" not in out
    assert 'role="complementary" aria-label="Book contents"' in out
    assert postprocess_page(out, tmp_path) == out


def test_sidebar_toggles_are_named_after_the_entry_they_open(tmp_path):
    page = ('<li class="toctree-l1"><a class="reference internal" href="x.html">Losses</a></li>'
            '<li class="toctree-l1 current active has-children"><a class="current reference internal" '
            'href="#">API &amp; reference</a><details open="open"><summary><span class="toctree-toggle" '
            'role="presentation"><i class="fa-solid fa-chevron-down"></i></span></summary><ul></ul>'
            '</details></li><details><summary>Show code cell source</summary></details>')
    out = postprocess_page(page, tmp_path)
    assert ('<details open="open"><summary aria-label="Show or hide the pages of API &amp; reference">'
            in out)
    assert "<details><summary>Show code cell source</summary>" in out     # a summary with text: untouched
    assert postprocess_page(out, tmp_path) == out

# The two commands a fresh machine needs (see README.md):
#
#   make book   set up .venv and build the HTML book into _build/html
#   make pdf    the whole book as one PDF, _build/html/dlnotes.pdf
#   make test   set up .venv, Chromium and bubblewrap, run the unit and reference tests, rebuild the
#               book from scratch (re-executing every chapter), print the PDF, then test the
#               HTML and the PDF in headless Chromium with the network blocked
#
# .ci/run runs `make test`.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# -W: any Sphinx warning fails the build; -n: so does any broken reference.
# (A failing cell fails it too: execute.raise_on_error in _config.yml.)
JB_FLAGS := --builder html -W -n --keep-going

.PHONY: book book-fresh pdf test unit browser chromium bubblewrap notebooks clean

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $(STAMP)

# Executed chapters are cached in _build/.jupyter_cache: a rebuild re-runs only changed chapters
# (Jupyter Book executes them, one after another).
book: $(STAMP)
	$(BIN)/jupyter-book build . $(JB_FLAGS)

# The cache does not notice changes in src/dlnotes, so tests and CI start from nothing.
# `dlnotes.bookbuild execute` runs every chapter two at a time (jupyter-cache's local-parallel
# executor) before Jupyter Book, which then takes every chapter from the cache.
book-fresh: $(STAMP)
	rm -rf _build/.jupyter_cache _build/jupyter_execute _build/html
	$(BIN)/python -m dlnotes.bookbuild execute
	$(BIN)/jupyter-book build . $(JB_FLAGS)

# The whole book as one PDF, _build/html/dlnotes.pdf (the HTML book links to it): the single-page
# HTML build, from the same execution cache as `make book`, printed by headless Chromium
# (src/dlnotes/bookbuild.py). Works before or after `make book`.
pdf: $(STAMP) chromium
	$(BIN)/python -m dlnotes.bookbuild execute
	$(BIN)/jupyter-book build . --builder singlehtml -W -n --keep-going
	mkdir -p _build/html
	$(BIN)/python -m dlnotes.bookbuild pdf _build/singlehtml/dlnotes.html _build/html/dlnotes.pdf

# Debian's chromium for the browser tests (playwright's own browser download does not work here).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }
	@chromium --version 2>/dev/null | head -1

# Debian's bubblewrap: the sandbox `dlnotes grade` runs student code in (see README.md).
bubblewrap:
	@command -v bwrap >/dev/null 2>&1 || { \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq bubblewrap >/dev/null; }
	@bwrap --version 2>/dev/null | head -1

unit: $(STAMP) bubblewrap
	$(BIN)/python -m pytest -m "not browser"

browser: $(STAMP) chromium
	$(BIN)/python -m pytest -m browser tests/browser

test: chromium bubblewrap
	$(MAKE) unit
	$(MAKE) book-fresh
	$(MAKE) pdf
	$(MAKE) browser

notebooks: $(STAMP)
	$(BIN)/dlnotes notebooks chapters --force

clean:
	rm -rf _build chapters

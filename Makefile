# Build, test and check the tenset-study book.
#   make test        run the unit tests (creates .venv on first use)
#   make book        execute the notebooks with papermill, build the book (-W), check it in a browser
#   make book-check  only the browser check of the built HTML
#   make your-machine  measure data/default's first 16 programs per task on this CPU and rebuild chapter 05 with it
#   make publish     push the built book to the gh-pages branch of PUBLISH_REMOTE (default origin)
#   make clean       remove build outputs
# Notebook parameters for `make book`: NB_PARAMS="-p dataset data/dev" (default: each notebook's own).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The venv's kernelspec first, so that papermill's `python3` kernel is this venv's Python.
export JUPYTER_PATH := $(abspath $(VENV))/share/jupyter
# Silences ipykernel's "frozen modules" debugger warning on the kernel's stderr.
export PYDEVD_DISABLE_FILE_VALIDATION := 1

NOTEBOOKS := $(sort $(wildcard notebooks/*.py))
NB_PARAMS ?=
# pytest-xdist workers for `make test` (auto: one per core); tests that share a fixture run in one worker.
TEST_WORKERS ?= auto
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: help venv test book notebooks format-tables html book-check browser publish clean your-machine your-machine-book

help:
	@sed -n '2,9p' Makefile | sed 's/^# //'

venv: $(STAMP)

# pip compiles every installed module to bytecode in one process; --no-compile then compileall on every core
# does the same work in less time (the bytecode matters: with PYTHONDONTWRITEBYTECODE set, as on CI, modules
# without it are compiled again in every process that imports them). compileall exits 1 on the few files that
# packages ship as templates or for other Pythons, which is why its status is ignored.
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --no-compile -e ".[book,test]"
	@$(PY) -m compileall -q -j 0 $(VENV)/lib src > /dev/null 2>&1 || true
	@touch $@

test: venv
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile --durations=30

format-tables: venv
	$(PY) -m tenset_study.book format-tables

# Every notebook runs unless the cache (_build/cache) holds a run with the same inputs: its source, NB_PARAMS,
# the package's code, data/ and the notebooks before it (tenset_study.book.cache). `make clean` empties it.
notebooks: venv
	$(PY) -m tenset_study.book notebooks $(NOTEBOOKS) --out _build/notebooks --copy-to book/notebooks \
	  --cache _build/cache $(NB_PARAMS)

html: venv format-tables
	$(VENV)/bin/jupyter-book build -W --all --quiet .

book: venv
	@start=$$(date +%s); $(MAKE) --no-print-directory notebooks; echo "notebooks: $$(( $$(date +%s) - start )) s"
	@start=$$(date +%s); $(MAKE) --no-print-directory html; echo "jupyter-book: $$(( $$(date +%s) - start )) s"
	@start=$$(date +%s); $(MAKE) --no-print-directory book-check; echo "browser check: $$(( $$(date +%s) - start )) s"

book-check: browser venv
	$(PY) scripts/check_book.py _build/html

browser:
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
	  $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; \
	fi

# Your machine in the book (tenset_study.collect.your_machine): the first YOUR_PROGRAMS program ids of every task
# of data/default measured on this machine's CPU into a copy, YOUR_DATASET (resumable), then the transfer chapter
# run again with this machine as the unseen platform and the book rebuilt. The other chapters come from an
# earlier `make book`.
YOUR_DATASET ?= data/yours
YOUR_PROGRAMS ?= 16
your-machine: venv
	$(VENV)/bin/tenset-study your-machine --dataset data/default --out $(YOUR_DATASET) --programs-per-task $(YOUR_PROGRAMS)
	$(MAKE) --no-print-directory your-machine-book

your-machine-book: venv
	@test -f $(YOUR_DATASET)/.your-platform || { echo "$(YOUR_DATASET) holds no platform of this machine: run make your-machine" >&2; exit 2; }
	@test -d book/notebooks || { echo "book/notebooks is missing: run make book once first (the other chapters come from it)" >&2; exit 2; }
	$(MAKE) --no-print-directory notebooks NOTEBOOKS=notebooks/05_transfer.py \
	  NB_PARAMS="-p dataset $(YOUR_DATASET) -p targets [$$(cat $(YOUR_DATASET)/.your-platform)]"
	$(MAKE) --no-print-directory html

# The built book onto the gh-pages branch of PUBLISH_REMOTE, the way Jupyter Book documents it: ghp-import
# commits HTML_DIR as the whole branch (-f replaces what was there, -n adds .nojekyll so that GitHub Pages
# serves the underscore folders) and pushes it (-p). Run `make book` first; nothing is built here.
PUBLISH_REMOTE ?= origin
HTML_DIR ?= _build/html
publish:
	@test -f $(HTML_DIR)/index.html || { echo "$(HTML_DIR)/index.html is missing: run make book first" >&2; exit 2; }
	@test -x $(VENV)/bin/ghp-import || { echo "$(VENV)/bin/ghp-import is missing: run make book first" >&2; exit 2; }
	$(VENV)/bin/ghp-import -n -p -f -r $(PUBLISH_REMOTE) -b gh-pages \
	  -m "Publish the book from $$(git rev-parse --short HEAD 2>/dev/null || echo 'an unversioned tree')" $(HTML_DIR)

clean:
	rm -rf _build book/notebooks .pytest_cache

# riverbed — every target installs what it needs first; `make demo` and `make test` work on a
# fresh clone.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# pip's notes about missing mirror folders are noise, not errors.
QUIET_PIP := 2>&1 | { grep -v -e 'is ignored: it is neither a file nor a directory' || true; }
QUESTION ?= what did Zelensky ask of NATO

.PHONY: help install lock browser test-files demo demo-postgres test bench lint clean

help:
	@echo "make demo     install, ingest seeds/, answer the Zelensky question"
	@echo "make demo-postgres  the demo against a throwaway local Postgres (pgvector)"
	@echo "make test     install, run the test suite"
	@echo "make bench    install, run the benchmarks (figures in bench/results/)"
	@echo "make lint     ruff check and format check"
	@echo "make lock     resolve the dependencies afresh into constraints.txt (on purpose)"
	@echo "make clean    remove the virtualenv, the demo index and caches"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip $(QUIET_PIP)

# torch first, pinned: the CPU build. pyproject.toml asks for a range, which this build
# satisfies; without it first, pip would take PyPI's default build (CUDA, several GB).
TORCH := torch==2.13.0
# Every other package at the version constraints.txt locks (`make lock` updates it).
LOCK := constraints.txt

$(VENV)/.installed: pyproject.toml $(LOCK) | $(BIN)/python
	$(BIN)/pip install --quiet $(TORCH) $(QUIET_PIP)
	$(BIN)/pip install --quiet -c $(LOCK) -e '.[dev]' $(QUIET_PIP)
	touch $@

install: $(VENV)/.installed

demo: install
	$(BIN)/riverbed ingest seeds/
	$(BIN)/riverbed ask "$(QUESTION)" -k 3

demo-postgres: install
	$(BIN)/python -m riverbed.pgdemo "$(QUESTION)"

# The search page's test drives Debian's chromium (headless, through Playwright); without it
# (no root, no registry) that test is skipped and says why.
browser:
	command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium) \
		|| echo "chromium could not be installed: the search page's browser test will skip"

# The format tests read R's manuals as Debian ships them (r-doc-pdf: real PDFs with hyphenation,
# running headers and page numbers) and check pages against poppler's pdftotext; without them
# (no root, no registry) those tests are skipped and say why.
R_MANUALS := /usr/share/R/doc/manual
test-files:
	@{ test -f $(R_MANUALS)/R-intro.pdf && command -v pdftotext >/dev/null; } \
		|| { apt-get update -qq && apt-get install -y -qq --no-install-recommends r-doc-pdf poppler-utils; } \
		|| echo "r-doc-pdf could not be installed: the tests on Debian's PDFs will skip"

# The MCP Inspector's command line drives `riverbed mcp` in tests/test_mcp_inspector.py. 0.14.0
# is its newest release that runs on this Node.js (20; later ones ask for 22.7.5 or newer).
# Without npm that test is skipped and says why.
INSPECTOR := .npm-tools/node_modules/.bin/mcp-inspector

$(INSPECTOR):
	command -v npm >/dev/null && npm install --silent --no-audit --no-fund --prefix .npm-tools \
		@modelcontextprotocol/inspector@0.14.0 \
		|| echo "the MCP Inspector could not be installed: its test will skip"

test: install browser test-files $(INSPECTOR)
	$(BIN)/pytest -q

# The query benchmarks search the Python 3.11 documentation (Debian's python3.11-doc).
PYDOCS := /usr/share/doc/python3.11/html

$(VENV)/.bench-installed: $(VENV)/.installed
	$(BIN)/pip install --quiet -c $(LOCK) -e '.[dev,bench]' $(QUIET_PIP)
	touch $@

# The PDF libraries are compared on R's manuals, PDF against HTML of the same source; the feed
# parsers on the real feeds among chardet's test files (its source distribution on PyPI).
FEEDS := bench/.cache/chardet

$(FEEDS):
	$(BIN)/pip download --quiet --no-deps --no-binary :all: -d bench/.cache chardet==5.2.0 $(QUIET_PIP)
	mkdir -p $(FEEDS) && tar -xzf bench/.cache/chardet-5.2.0.tar.gz -C $(FEEDS) --strip-components=1

bench: install $(VENV)/.bench-installed $(FEEDS)
	@test -d $(PYDOCS) || { apt-get update -qq && apt-get install -y -qq python3.11-doc; }
	@test -f $(R_MANUALS)/R-intro.html || { apt-get update -qq && apt-get install -y -qq --no-install-recommends r-doc-pdf r-doc-html; }
	$(BIN)/python -m bench

# A fresh resolution of pyproject.toml (every extra) in a scratch venv, frozen: review the diff,
# run `make test`, commit. The test suite checks that the installed versions match it.
LOCK_VENV := .lock-venv
lock:
	rm -rf $(LOCK_VENV)
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/pip install --quiet --upgrade pip $(QUIET_PIP)
	$(LOCK_VENV)/bin/pip install --quiet $(TORCH) $(QUIET_PIP)
	$(LOCK_VENV)/bin/pip install --quiet '.[dev,bench,postgres,scale,langchain]' $(QUIET_PIP)
	{ echo "# The versions \`make install\` installs (pip -c). Made by \`make lock\`: do not edit."; \
	  $(LOCK_VENV)/bin/pip freeze --exclude riverbed; } > $(LOCK)
	rm -rf $(LOCK_VENV) build

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) $(LOCK_VENV) .npm-tools riverbed-data .pytest_cache .ruff_cache *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

# The two commands: `make run` (embedded workbench in JupyterLab) and `make test` (everything).
# Each sets up what it needs first, on a fresh machine with Python 3.11 and the package registries.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
PYTEST_ARGS ?=

.PHONY: run test setup services services-down browser-deps lint sync-code bench clean

run: setup  ## set up, load the sample data if the store is empty, open JupyterLab on notebooks/
	$(VENV)/bin/workbench lab

test: setup services browser-deps  ## set up, start the real servers, run every test
	$(PY) -m ruff check workbench tests scripts bench
	$(PY) scripts/generate_sync.py --check
	CI=$${CI:-1} $(PY) -m pytest $(PYTEST_ARGS)

setup: $(STAMP)

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is needed ($(PYTHON) not found)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[services,notebooks,dev]"
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (workbench)" >/dev/null
	rm -f $(VENV)/.installed-* && touch $@

services:  ## install (if missing) and start MariaDB, Redis, Elasticsearch and Neo4j on loopback
	bash scripts/services up

services-down:
	bash scripts/services down

browser-deps:  ## Debian's Chromium for the browser test (Playwright drives it; no browser download), and a CJK font
	@{ command -v chromium && fc-list | grep -q WenQuanYi; } >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null; }

lint: setup
	$(PY) -m ruff check workbench tests scripts bench
	$(PY) -m ruff format --check workbench tests scripts bench

sync-code: setup  ## regenerate the sync twins from the async sources
	$(PY) scripts/generate_sync.py

bench: setup services  ## benchmarks against the raw-client floor and the peers (bench/README.md)
	$(VENV)/bin/pip install --quiet -e ".[services,bench]"
	$(VENV)/bin/pip install --quiet --no-deps "langchain-elasticsearch>=1.0"  # it pins elasticsearch<9
	$(PY) -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .workbench .pytest_cache

# Ympa: set-up, demo, tests and benchmarks. See README.md.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
YMPA := $(VENV)/bin/ympa
PG_TEST_URL ?= postgres://postgres@127.0.0.1:5432/ympa
PORT ?= 8000

.PHONY: setup demo test lint typecheck migrations-check test-sqlite test-postgres bench-smoke bench messages clean

# The first interpreter that actually runs and is Python >= 3.12 (pyenv shims may exist but refuse to run).
FIND_PYTHON = for c in python3.13 python3.12 \
	  $$(ls -d $$(pyenv root 2>/dev/null)/versions/3.13* $$(pyenv root 2>/dev/null)/versions/3.12* 2>/dev/null \
	     | sort -rV | sed 's|$$|/bin/python3|'); do \
	  if "$$c" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1; then \
	    echo "$$c"; exit 0; fi; done; exit 1

$(VENV)/.installed: pyproject.toml
	@py=$$($(FIND_PYTHON)) || { echo "make setup: no working Python >= 3.12 found (tried python3.13, python3.12 and pyenv's 3.13*/3.12*). Install Python 3.12 or 3.13 and try again." >&2; exit 1; }; \
	echo "Using $$py ($$("$$py" --version))"; \
	test -x $(PY) || "$$py" -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

setup: $(VENV)/.installed messages

messages: $(VENV)/.installed
	@cd ympa && ../$(PY) -m django compilemessages --settings=ympa.settings -v 0

demo: setup
	$(YMPA) demo --port $(PORT)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: setup
	$(VENV)/bin/mypy ympa

migrations-check: setup
	YMPA_DATA_DIR=$$(mktemp -d) $(YMPA) makemigrations --check --dry-run

test-sqlite: setup
	$(VENV)/bin/pytest -q -n 2 --dist loadgroup

test-postgres: setup
	DATABASE_URL=$(PG_TEST_URL) $(VENV)/bin/pytest -q -n 2 --dist loadgroup -m "not browser"

bench-smoke: setup
	$(PY) -m bench --smoke

test: lint typecheck migrations-check test-sqlite test-postgres bench-smoke

bench: setup
	$(PY) -m bench

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache

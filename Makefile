# Two commands for a newcomer: `make demo` and `make test`. Everything else is here for developers.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install demo serve test test-fast test-e2e lint format migration clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## make demo: install, seed Beijing (places, units, categories, demo users) on SQLite, serve on :8000
demo: install
	$(BIN)/jiesu demo seed
	$(BIN)/jiesu serve

serve: install
	$(BIN)/jiesu serve

## make test: the whole suite, on SQLite and on a throwaway PostgreSQL 15 (two pytest processes: tests/tiers.sh)
test: install
	PYTEST=$(BIN)/pytest tests/tiers.sh

## make test-fast: the unit and integration tiers on SQLite only (no browser, no PostgreSQL server)
test-fast: install
	$(BIN)/pytest -x -q -m "unit or integration" -k "not postgresql"

## make test-e2e: the slow tiers: browser, conformance, durability, stories (SQLite and PostgreSQL)
test-e2e: install
	$(BIN)/pytest -q -m "e2e or conformance or durability or stories"

lint: install
	$(BIN)/ruff check jiesu tests $(wildcard benchmarks)

format: install
	$(BIN)/ruff format jiesu tests $(wildcard benchmarks)

## make migration m="what changed": a new Alembic revision from the models
migration: install
	$(BIN)/python -c "import sys; from jiesu import migrate; from jiesu.db import make_engine; \
	e = make_engine('sqlite:///var/migration-scratch.db'); migrate.upgrade(e); migrate.new_revision(e, sys.argv[1])" "$(m)"
	rm -f var/migration-scratch.db*

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .hypothesis *.egg-info

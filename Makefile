# smm-scheduler — every command creates the virtual environment it needs on the way.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PG_URL ?= postgresql+asyncpg://postgres@127.0.0.1:5432

.PHONY: run sandbox test test-sqlite test-postgres lint bench bench-quick clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

## run: start the service (HTTP API, web pages and the publisher) on SQLite in ./data
run: $(STAMP)
	$(BIN)/smm serve

## sandbox: the same, with the sandbox platforms (no accounts needed)
sandbox: $(STAMP)
	SMM_SANDBOX=1 $(BIN)/smm serve

## test: lint, type-check, then the whole suite on SQLite and again on PostgreSQL
test: lint test-sqlite test-postgres

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy app connectors bench

test-sqlite: $(STAMP)
	SMM_TEST_DB=sqlite $(BIN)/pytest -q -p no:cacheprovider

test-postgres: $(STAMP)
	SMM_TEST_DB=postgres SMM_TEST_PG_URL=$(PG_URL) $(BIN)/pytest -q -p no:cacheprovider -m "not browser"

## bench: every benchmark; figures go to bench/RESULTS.md (bench-quick: a smoke run of each, as CI runs it)
bench: $(STAMP)
	$(BIN)/python -m bench.run_all

bench-quick: $(STAMP)
	$(BIN)/python -m bench.run_all --quick

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache test-artifacts

# Two commands for a fresh machine: `make demo` and `make test`. Each creates .venv when missing.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint typecheck bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

## demo: run plans/demo.yaml end to end against the built-in simulator (no credentials, no network)
demo: $(VENV)/.installed
	rm -f .rerun/demo.sqlite* .rerun/demo-report.json
	$(BIN)/rerun-orchestrator validate plans/demo.yaml
	$(BIN)/rerun-orchestrator plan plans/demo.yaml --format table
	$(BIN)/rerun-orchestrator run plans/demo.yaml --simulate --journal .rerun/demo.sqlite --report .rerun/demo-report.json
	$(BIN)/rerun-orchestrator status --journal .rerun/demo.sqlite

## test: lint, type-check and run the whole suite
test: $(VENV)/.installed lint typecheck
	$(BIN)/pytest

lint: $(VENV)/.installed
	$(BIN)/ruff check rerun_orchestrator tests bench
	$(BIN)/ruff format --check rerun_orchestrator tests bench

typecheck: $(VENV)/.installed
	$(BIN)/mypy

bench: $(VENV)/.installed
	for f in bench/bench_*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) .rerun .mypy_cache .ruff_cache

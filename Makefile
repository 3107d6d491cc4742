# Two commands for a fresh machine: `make demo` and `make test`. Each creates .venv when missing.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test test-hostile lint typecheck bench clean hook-check

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

## test: lint, type-check and run the whole suite with branch coverage (subprocesses too;
## fails under [tool.coverage.report] fail_under)
test: $(VENV)/.installed lint typecheck
	$(BIN)/pytest -n 2 --dist loadscope --durations=15 --cov --cov-report=term

## test-hostile: `make test` with every ambient variable it must ignore set to something odd
## (CI runs this: the suite must not notice; install first, pip needs the real HOME)
HOSTILE_ENV := ALIBABA_CLOUD_ACCESS_KEY_ID=hostile-id ALIBABA_CLOUD_ACCESS_KEY_SECRET=hostile-secret \
	ALIBABA_CLOUD_SECURITY_TOKEN=hostile-token ALIBABA_CLOUD_PROFILE=no-such-profile \
	ALIBABA_CLOUD_CLI_PROFILE_DISABLED=true ALIBABA_CLOUD_CREDENTIALS_FILE=/nonexistent/credentials \
	ALIBABA_CLOUD_CONFIG_FILE=/nonexistent/config.json ALIBABA_CLOUD_ROLE_ARN=acs:ram::1:role/hostile \
	ALIBABA_CLOUD_OIDC_PROVIDER_ARN=hostile ALIBABA_CLOUD_OIDC_TOKEN_FILE=/nonexistent/token \
	ALIBABA_CLOUD_ECS_METADATA=hostile-role ALIBABA_CLOUD_ECS_METADATA_DISABLED=false \
	ALIBABA_CLOUD_REGION_ID=xx-hostile-1 ALICLOUD_ACCESS_KEY=hostile ALIYUN_PROFILE=hostile \
	RERUN_ORCHESTRATOR_HOME=/nonexistent/home RERUN_ORCHESTRATOR_JOURNAL=/nonexistent/j.sqlite \
	XDG_STATE_HOME=/nonexistent/state HOME=/nonexistent/home
test-hostile: $(VENV)/.installed
	env $(HOSTILE_ENV) $(MAKE) --no-print-directory test

## hook-check: `pre-commit try-repo` of the shipped hook: passes plans/demo.yaml, fails a broken copy
hook-check: $(VENV)/.installed
	$(BIN)/python -m pip install -q pre-commit
	rm -rf .rerun/hook-check && mkdir -p .rerun/hook-check/plans
	cp plans/demo.yaml .rerun/hook-check/plans/
	sed 's/^name: demo/name: a b/' plans/demo.yaml > .rerun/hook-check/plans/broken.yaml
	cd .rerun/hook-check && git init -q && git add plans \
	  && $(CURDIR)/$(BIN)/pre-commit try-repo $(CURDIR) rerun-orchestrator-validate --files plans/demo.yaml \
	  && ! $(CURDIR)/$(BIN)/pre-commit try-repo $(CURDIR) rerun-orchestrator-validate --files plans/broken.yaml
	@echo "hook-check: the hook passes a good plan and fails a broken one"

lint: $(VENV)/.installed
	$(BIN)/ruff check rerun_orchestrator tests bench docs/examples
	$(BIN)/ruff format --check rerun_orchestrator tests bench docs/examples

typecheck: $(VENV)/.installed
	$(BIN)/mypy
	$(BIN)/mypy --strict docs/examples  # the service example, public names only

bench: $(VENV)/.installed
	for f in bench/bench_*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) .rerun .mypy_cache .ruff_cache

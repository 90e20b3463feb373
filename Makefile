# usagecast: `make demo` runs the pipeline on simulated data, `make test` proves it.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help venv demo test test-fast lint importlint audit ui serve bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-10s %s\n", $$1, $$2}'

# uv installs the locked versions: from its cache alone when every wheel is there (seconds),
# else from the package index; pip only installs uv itself. Compiled to bytecode at install, as
# pip does: else the first processes to import each library (the tests start many at once)
# would all compile it.
UV_INSTALL := $(PY) -m uv pip install --quiet --compile-bytecode --python $(PY) \
	-c constraints.txt -e '.[dev]'
$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -c constraints.txt uv
	$(UV_INSTALL) --offline 2>/dev/null || $(UV_INSTALL)
	touch $(STAMP)

venv: $(STAMP) ## create/refresh the virtualenv from constraints.txt

demo: $(STAMP) ## simulate, ingest and run the pipeline on the embedded default
	@PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) -m usagecast_cli.demo

lint: $(STAMP) ## ruff lint + format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

importlint: $(STAMP) ## import-direction rules
	$(VENV)/bin/lint-imports

audit: $(STAMP) ## pip-audit the locked versions (AUDIT_STRICT=1: fail when offline)
	$(PY) scripts/audit_dependencies.py $(if $(AUDIT_STRICT),--strict)

# Test processes (pytest-xdist), a test file to a process; WORKERS=0 runs in this process.
# `make test` keeps the collection order (tests/conftest.py puts the expensive files first).
WORKERS ?= auto
PYTEST := PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) -m pytest -q -n $(WORKERS) --dist loadfile

test: lint importlint audit ## install what the tests need, lint, and run every test (10 slowest listed)
	$(PYTEST) --no-loadscope-reorder --durations=10

FAST := not slow and not spark and not spark_cluster and not serve and not postgres
test-fast: $(STAMP) ## every test but those marked slow, spark, spark_cluster, serve or postgres
	$(PYTEST) -m "$(FAST)"

ui: $(STAMP) ## open the MLflow UI on the workspace store
	$(VENV)/bin/mlflow ui --backend-store-uri "$${MLFLOW_TRACKING_URI:-sqlite:///$${USAGECAST_HOME:-.usagecast}/mlflow.db}" --port 5000

MODEL ?= premium_30d
PORT ?= 5001
serve: $(STAMP) ## serve models:/$(MODEL)@champion on 127.0.0.1:$(PORT) (pickle loading off)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" \
	MLFLOW_TRACKING_URI="$${MLFLOW_TRACKING_URI:-sqlite:///$${USAGECAST_HOME:-.usagecast}/mlflow.db}" \
	MLFLOW_ALLOW_PICKLE_DESERIALIZATION=false \
	$(VENV)/bin/mlflow models serve -m "models:/$(MODEL)@champion" --env-manager local \
		--host 127.0.0.1 --port $(PORT)

bench: $(STAMP) ## run the benchmarks (slow; prints ratios against named peers)
	for b in benchmarks/bench_*.py; do PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) $$b || exit 1; done

clean: ## remove the workspace (not the venv)
	rm -rf .usagecast

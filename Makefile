# Minqing — the README's commands. Each target is a script under scripts/ that prints its steps.
#   make run     PORT=5000 HOST=127.0.0.1 (DATABASE_URL, MINQING_DEMO_PASSWORD from the environment)
#   make test    ARGS='-k locate -x'      (or PYTEST_ARGS in the environment)
# VENV (default .venv) chooses the virtualenv for every target.

SHELL := /bin/bash
.DEFAULT_GOAL := help

ARGS ?=

.PHONY: help run test lint fmt bench chaos clean

help: ## list the targets
	@echo "Minqing make targets:"
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z]+):.*## (.*)/  make \1\t\2/' | expand -t 16

run: ## install what is missing, migrate, seed the demo and serve on HOST:PORT (127.0.0.1:5000)
	@bash scripts/run.sh

test: ## run the test suite on SpatiaLite and PostGIS (ARGS='...' goes to pytest)
	@bash scripts/test.sh $(ARGS)

lint: ## ruff check, ruff format --check, mypy, lint-imports
	@bash scripts/lint.sh

fmt: ## ruff format and ruff check --fix
	@bash scripts/fmt.sh

bench: ## run bench/*.py (bench/locate.py first) against SpatiaLite and PostGIS
	@bash scripts/bench.sh $(ARGS)

chaos: ## offline sync under chaos: 50 phones × 200 records, lossy network, a server crash (ARGS='--devices 8')
	@bash -c 'source scripts/ensure-postgres.sh && ensure_postgres minqing_bench && \
		MINQING_BENCH_DATABASE_URL="$$MINQING_TEST_DATABASE_URL" \
		SPATIALITE_LIBRARY_PATH="$${SPATIALITE_LIBRARY_PATH:-mod_spatialite}" \
		"$${VENV:-.venv}/bin/python" scripts/sync_chaos.py $(ARGS)'

clean: ## remove instance/ (demo database, uploads) and caches; keeps .venv
	rm -rf instance .pytest_cache .mypy_cache .ruff_cache .import_linter_cache build dist *.egg-info
	find . \( -path ./.venv -o -path ./node_modules -o -path ./.git \) -prune -o \
		-type d -name __pycache__ -exec rm -rf {} +

# gridwatch — the two commands that matter are `make run` and `make test`.
# Both do their own set-up (scripts/setup.sh): venv, pinned packages, Debian packages when root, footage.
VENV ?= .venv
BIN := $(VENV)/bin
export VENV
export YOLO_OFFLINE := 1
export PYTHONPATH := $(CURDIR)
# Compiled modules are cached (a machine may switch that off): the suite starts the CLI and servers
# as processes of their own many times, and each would compile the project again.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: run test setup lint services bench clean help

help:
	@echo "make run    start gridwatch on the demo site (SQLite, real footage) at http://127.0.0.1:8000"
	@echo "make test   set up, check local services, lint, run the test suite"
	@echo "make lint   ruff, mypy, the layering contract (import-linter), repeated code (pylint duplicate-code)"
	@echo "make bench  run the benchmarks under bench/"

setup:
	@scripts/setup.sh

run: setup
	$(BIN)/python -m gridwatch run --demo

services: setup
	@$(BIN)/python scripts/check_services.py

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/lint-imports --no-cache
	$(BIN)/pylint --score=n core camera_config ingest detectors events api gridwatch

test: setup services lint
	@scripts/test.sh $(PYTEST_ARGS)

bench: setup
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache

# The two commands of README.md: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CONFIG ?= config/gateway.toml

.PHONY: run test init venv clean typecheck lint

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

init: $(STAMP)
	$(BIN)/gateway --config $(CONFIG) init

run: init
	$(BIN)/gateway --config $(CONFIG) run

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# mypy, strict on gateway/core (settings in pyproject.toml)
typecheck: $(STAMP)
	$(BIN)/mypy gateway/core

# ruff: lint and format check (settings in pyproject.toml); `ruff format FILE` fixes a file
lint: $(STAMP)
	$(BIN)/ruff check gateway tests bench
	$(BIN)/ruff format --check gateway tests bench

clean:
	rm -rf $(VENV) var .pytest_cache test-artifacts

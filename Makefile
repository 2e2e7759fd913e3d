# flowport developer commands. Everything installs into ./.venv (project) and ./.venv-sam (SAM CLI,
# kept apart because its pins clash with the runtime's pydantic).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
SAM_VENV := .venv-sam
export SAM_CLI_TELEMETRY := 0
export PIP_DISABLE_PIP_VERSION_CHECK := 1

HOST ?= 127.0.0.1
PORT ?= 3000

.PHONY: help install dev test lint typecheck unit cfn-lint sam-check sam-build bench clean

help:  ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/python pyproject.toml layers/dependencies/requirements.txt
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r layers/dependencies/requirements.txt -e '.[dev]'
	touch $@

install: $(VENV)/.installed  ## Create .venv and install flowport with its development tools

dev: install  ## Run the whole API on http://$(HOST):$(PORT) over an embedded AWS emulator
	$(BIN)/flowport dev --host $(HOST) --port $(PORT)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy
	@# Every function's module is called `app`, so each is checked on its own.
	@for handler in functions/*/app.py; do $(BIN)/mypy --strict --no-error-summary $$handler || exit 1; done

cfn-lint: install
	$(BIN)/cfn-lint template.yaml

unit: install
	$(BIN)/pytest

test: lint typecheck cfn-lint unit  ## Lint, type-check, check the template and run every test

$(SAM_VENV)/.installed:
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install -q aws-sam-cli==1.170.0
	touch $@

sam-check: $(SAM_VENV)/.installed  ## sam validate --lint and sam build (no container, no AWS account)
	$(SAM_VENV)/bin/sam validate --lint --region us-east-1
	$(SAM_VENV)/bin/sam build

# Sizes come from `sam build`; without SAM CLI (or if the build fails) the other figures are still made
# and bench/results.json says why sizes are missing.
bench: install  ## Measure cold start, AWS calls, handler overhead, local server, sizes, cost: bench/results.json
	@mkdir -p .aws-sam
	@if $(MAKE) --no-print-directory $(SAM_VENV)/.installed >.aws-sam/bench-sam.log 2>&1 \
		&& $(SAM_VENV)/bin/sam build >>.aws-sam/bench-sam.log 2>&1; then echo "sam build: done"; \
	else echo "sam build failed (.aws-sam/bench-sam.log): sizes will be missing"; rm -rf .aws-sam/build; fi
	$(BIN)/python -m bench

clean:  ## Remove build output and virtual environments
	rm -rf $(VENV) $(SAM_VENV) .aws-sam .mypy_cache .ruff_cache

# flowport developer commands. Everything installs into ./.venv (project), ./.venv-sam (SAM CLI, kept
# apart because its pins clash with the runtime's pydantic) and ./.venv-checkov (checkov, which pins
# boto3==1.35.49 against the project's 1.44).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
SAM_VENV := .venv-sam
CHECKOV_VENV := .venv-checkov
export SAM_CLI_TELEMETRY := 0
export PIP_DISABLE_PIP_VERSION_CHECK := 1
# The user's pip.conf is not read by these installs: pip.conf here says why.
export PIP_CONFIG_FILE ?= $(CURDIR)/pip.conf

HOST ?= 127.0.0.1
PORT ?= 3000

.PHONY: help install browser dev test lint typecheck unit clock-ahead cfn-lint sam-validate checkov fuzz sam-check bench clean

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

# The console's browser tests (tests/e2e/test_console_browser.py) drive Debian's chromium through its
# chromium-driver: no browser is downloaded. Installed here when missing, where apt-get runs as root (CI,
# the development machines); anywhere else those tests skip, saying how to get a browser.
browser:  ## Install chromium and chromium-driver with apt-get if they are missing (as root)
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing chromium and chromium-driver for the browser tests (apt-get)"; \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; } \
			>/dev/null 2>&1 || echo "apt-get could not install them: the browser tests will skip"; \
	else echo "no chromium and chromedriver, and no apt-get as root: the browser tests will skip"; fi

# Most test time is waiting on executions in moto's background threads, so two workers halve it.
PYTEST_WORKERS ?= 2

unit: install browser
	$(BIN)/pytest -n $(PYTEST_WORKERS)

# The tests that build events, records and expiries, again with the wall clock ten years ahead
# (tests/conftest.py): a test that compares against a date written in a fixture fails here, today.
CLOCK_AHEAD_DAYS ?= 3653
CLOCK_AHEAD_TESTS := tests/unit tests/aws tests/api tests/sync tests/workflows tests/test_call_counts.py \
	tests/test_faults.py tests/local/test_eventbridge.py tests/local/test_state.py
clock-ahead: install  ## Run the tests of dated things with the clock CLOCK_AHEAD_DAYS ahead
	FLOWPORT_TEST_CLOCK_SHIFT_DAYS=$(CLOCK_AHEAD_DAYS) $(BIN)/pytest -n $(PYTEST_WORKERS) $(CLOCK_AHEAD_TESTS)

test: lint typecheck cfn-lint sam-validate checkov unit clock-ahead  ## Lint, type-check, check the template and run every test (also with the clock moved ahead)

# The bounded schemathesis run of `make test`, long: more examples per operation, stateful sequences too.
FUZZ_EXAMPLES ?= 100
FUZZ_SECONDS ?= 600
FUZZ_SEED ?= $(shell date +%s)
fuzz: install  ## Fuzz the local server with schemathesis from its OpenAPI document (FUZZ_EXAMPLES, FUZZ_SECONDS)
	FLOWPORT_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) FLOWPORT_FUZZ_MAX_SECONDS=$(FUZZ_SECONDS) \
	FLOWPORT_FUZZ_PHASES=examples,coverage,fuzzing,stateful FLOWPORT_FUZZ_SEED=$(FUZZ_SEED) \
	$(BIN)/pytest tests/e2e/test_fuzz.py --timeout=$$(( $(FUZZ_SECONDS) + 300 ))

$(SAM_VENV)/.installed:
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install -q aws-sam-cli==1.170.0
	touch $@

sam-validate: $(SAM_VENV)/.installed  ## sam validate --lint (no AWS account)
	$(SAM_VENV)/bin/sam validate --lint --region us-east-1

$(CHECKOV_VENV)/.installed:
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install -q checkov==3.3.30
	touch $@

# Fails on any finding not skipped in the template (Metadata: checkov: skip:, each with its reason).
checkov: $(CHECKOV_VENV)/.installed  ## checkov on template.yaml, offline
	$(CHECKOV_VENV)/bin/checkov --file template.yaml --framework cloudformation --skip-download --compact --quiet

sam-check: sam-validate  ## sam validate --lint and sam build (no container, no AWS account)
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
	rm -rf $(VENV) $(SAM_VENV) $(CHECKOV_VENV) .aws-sam .mypy_cache .ruff_cache

# The two commands of the README: `make demo` (the main job) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DEMO   ?= demo
export RAY_AUTH_MODE ?= disabled
export GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT := false
export RAY_USAGE_STATS_ENABLED := 0

.PHONY: demo test test-slow lint format bench perf-table cluster-test clean browser

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

install: $(BIN)/.installed

demo: $(BIN)/.installed
	$(BIN)/hmc demo $(DEMO)

# The dashboard test drives a real headless browser: Debian's chromium and chromium-driver, installed
# here when missing (idempotent, quiet; needs root or sudo, as on CI and the developers' machines).
CHROMIUM_BINS := /usr/bin/chromium /usr/bin/chromedriver
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	@for f in $(CHROMIUM_BINS); do test -x $$f || missing=1; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing chromium and chromium-driver (apt) for the dashboard browser test"; \
	  $(SUDO) apt-get update -qq >/dev/null && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium chromium-driver >/dev/null 2>&1 \
	  || echo "warning: could not install chromium; the browser test fails under CI=true"; \
	fi

test: $(BIN)/.installed browser
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q --durations=15

test-slow: $(BIN)/.installed
	$(BIN)/python -m pytest -q -m slow

lint: $(BIN)/.installed
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: $(BIN)/.installed
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

bench: $(BIN)/.installed
	for b in tests/benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

# Run every benchmark (BENCH="train loader" for some; PERF_ARGS="--quick" or "--from DIR") and rewrite the
# performance table in docs/performance.md from their last JSON lines; the lines are kept in bench-results/.
BENCH ?=
PERF_ARGS ?= --save bench-results
perf-table: $(BIN)/.installed
	$(BIN)/python tests/benchmarks/perf_table.py $(PERF_ARGS) $(BENCH)

clean:
	rm -rf $(DEMO) .pytest_cache build *.egg-info

# Multi-node rehearsal: a head and two worker nodes started with `ray start` on this machine,
# then synth -> ingest -> catalog build -> benchmark (smoke) through `--address`; stops only its own nodes.
cluster-test: $(BIN)/.installed
	$(BIN)/python -m hephaestus.infra.rehearsal $(CLUSTER_TEST_ARGS)

# Everything a fresh machine needs: `make demo` (main job) and `make test` (whole suite).
# Installs come from uv.lock (uv itself is bootstrapped with pip at a pinned version), so a new
# release on PyPI changes nothing until `make lock` moves it.
PYTHON ?= python3
VENV ?= .venv
# locked (uv.lock), lowest or latest (see scripts/install-env).
RESOLUTION ?= locked
PY := $(VENV)/bin/python
UV_VERSION := 0.13.8
UV := $(CURDIR)/.tools/bin/uv
export UV
# test-lowest only sees releases published before this instant, so it resolves the same
# tomorrow; `make lock` moves it to now.
export LOWEST_BEFORE := 2026-12-04T00:00:00Z
# The supported range is requires-python >=3.11: the lowest dependencies are tested on its
# lowest Python, the latest ones on the newest Python this machine has; mypy checks each.
SUPPORTED_PYTHONS := 3.11 3.12 3.13
PYTHON_LOWEST ?= $(shell UV=$(UV) scripts/find-python 3.11)
PYTHON_LATEST ?= $(shell UV=$(UV) scripts/find-python 3.13)
TEST_DEPS := --extra all --extra spark --group test --group lint

.PHONY: demo test lint typecheck pytest record bench bench-gateway lock test-lowest test-latest clean java-runtime redis-server

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.installed: pyproject.toml uv.lock | $(UV)
	@echo ">> installing extmodels-integrations with its test toolchain into $(VENV) ($(RESOLUTION))"
	scripts/install-env $(VENV) $(RESOLUTION) $(PYTHON) $(TEST_DEPS)
	@touch $@

# The main job offline: real models on loopback, no account or keys (examples/demo/run.py).
# llama-cpp-python has no Linux wheel on PyPI, so the first install compiles llama.cpp.
$(VENV)/.demo: pyproject.toml uv.lock | $(UV)
	@echo ">> installing extmodels-integrations[demo] into $(VENV)"
	@echo ">> llama-cpp-python compiles llama.cpp from source the first time: about 10 minutes on"
	@echo ">> 2 cores (uv keeps the built wheel in its cache: later installs take seconds)"
	scripts/install-env $(VENV) locked $(PYTHON) --extra demo
	@touch $@

demo: $(VENV)/.demo
	$(PY) examples/demo/run.py

test: lint typecheck pytest

lint: $(VENV)/.installed
	$(PY) -m ruff check extmodels_integrations tests examples benchmarks
	$(PY) -m ruff format --check extmodels_integrations tests examples benchmarks

typecheck: $(VENV)/.installed
	@for version in $(SUPPORTED_PYTHONS); do \
		echo ">> mypy --python-version $$version"; \
		$(PY) -m mypy --python-version $$version || exit 1; \
	done

# PySpark (tests/spark) needs Java 17 or 21: Debian's runtime when the machine has none
# (as root, as CI runs; otherwise install one and set JAVA_HOME).
java-runtime:
	@command -v java >/dev/null 2>&1 || test -n "$${JAVA_HOME:-}" || \
		{ apt-get update -qq && apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless; }

# tests/gateway start a real redis-server on loopback (PostgreSQL 15 too, from
# /usr/lib/postgresql/15/bin): Debian's package when the machine has none (as root, as CI runs).
redis-server:
	@command -v redis-server >/dev/null 2>&1 || test -x /usr/bin/redis-server || \
		{ apt-get update -qq && apt-get install -y -qq --no-install-recommends redis-server; }

pytest: $(VENV)/.installed java-runtime redis-server
	$(PY) -m pytest

# The package's own ranges at both ends, each in its own venv with the whole suite.
test-lowest:
	$(MAKE) test VENV=.venv-lowest RESOLUTION=lowest PYTHON=$(PYTHON_LOWEST)

test-latest:
	$(MAKE) test VENV=.venv-latest RESOLUTION=latest PYTHON=$(PYTHON_LATEST)

# Moves every locked version (package deps, extras and the toolchain) to the newest the ranges
# allow (uv prints each `Updated X vA -> vB`); test-lowest's cut-off moves to now.
lock: | $(UV)
	$(UV) lock --upgrade --python $(PYTHON)
	sed -i 's/^export LOWEST_BEFORE := .*/export LOWEST_BEFORE := $(shell date -u +%Y-%m-%dT%H:%M:%SZ)/' Makefile

# Re-record every cassette against the loopback stub servers (see cassettes/*/README.md).
record: $(VENV)/.installed
	$(PY) -m pytest tests -m vcr --record-mode=rewrite

# Benchmarks against raw httpx and the peers (installs them); writes benchmarks/RESULTS.md.
bench: $(VENV)/.installed
	scripts/install-env $(VENV) locked $(PYTHON) $(TEST_DEPS) --group bench
	$(PY) benchmarks/run.py

# The gateway against LiteLLM's proxy and MLflow's gateway (benchmarks/gateway_bench.py): the
# peers run from their own venv, the gateway-peers group of uv.lock (resolved apart from the
# test toolchain); writes benchmarks/RESULTS-gateway.md.
PEERS_VENV := .venv-gateway-peers
bench-gateway: $(VENV)/.installed
	UV_PROJECT_ENVIRONMENT=$(PEERS_VENV) $(UV) sync --quiet --locked --only-group gateway-peers --python $(PYTHON)
	$(PY) benchmarks/gateway_bench.py

clean:
	rm -rf $(VENV) $(PEERS_VENV) .venv-lowest* .venv-latest* .tools .pytest_cache .mypy_cache .ruff_cache

# Everything a fresh machine needs: `make demo` (main job) and `make test` (whole suite).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: demo test lint typecheck pytest record bench clean

$(VENV)/.installed: pyproject.toml
	@echo ">> creating $(VENV) and installing extmodels-integrations[test] (takes a minute)"
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	@touch $@

# The main job offline: real models on loopback, no account or keys (examples/demo/run.py).
# llama-cpp-python has no Linux wheel on PyPI, so the first install compiles llama.cpp.
$(VENV)/.demo: pyproject.toml
	@echo ">> creating $(VENV) and installing extmodels-integrations[demo]"
	@echo ">> llama-cpp-python compiles llama.cpp from source the first time: about 10 minutes on"
	@echo ">> 2 cores (pip keeps the built wheel in its cache: later installs take seconds)"
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install -e ".[demo]"
	@touch $@

demo: $(VENV)/.demo
	$(PY) examples/demo/run.py

test: lint typecheck pytest

lint: $(VENV)/.installed
	$(PY) -m ruff check extmodels_integrations tests examples benchmarks
	$(PY) -m ruff format --check extmodels_integrations tests examples benchmarks

typecheck: $(VENV)/.installed
	$(PY) -m mypy

# PySpark (tests/spark) needs Java 17 or 21: Debian's runtime when the machine has none
# (as root, as CI runs; otherwise install one and set JAVA_HOME).
java-runtime:
	@command -v java >/dev/null 2>&1 || test -n "$${JAVA_HOME:-}" || \
		{ apt-get update -qq && apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless; }

pytest: $(VENV)/.installed java-runtime
	$(PY) -m pytest

# Re-record every cassette against the loopback stub servers (see cassettes/*/README.md).
record: $(VENV)/.installed
	$(PY) -m pytest tests -m vcr --record-mode=rewrite

# Benchmarks against raw httpx and the peers (installs them); writes benchmarks/RESULTS.md.
bench: $(VENV)/.installed
	$(PY) -m pip install --quiet -e ".[bench]"
	$(PY) benchmarks/run.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

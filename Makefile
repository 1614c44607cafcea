# The two commands of the README: `make lab` opens the course, `make test` runs the tests.
# Each sets itself up on a fresh machine: a virtual environment in .venv with labkit installed.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.labkit-installed
PORT ?= 8888
# JupyterLab refuses root without this; lab VMs and containers often run the course as root.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: lab test check test-engines bench bench-workshop lint clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,binder]'
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (labkit)" >/dev/null
	@touch $(STAMP)

# A real engine when one answers, else the user's simulated engine (its DOCKER_HOST exported to
# JupyterLab, so every kernel and terminal drives the same engine).
lab: $(STAMP)
	$(BIN)/labkit lab --port=$(PORT) $(ROOT_FLAG) notebooks/00-start-here.ipynb

test: $(STAMP)
	$(BIN)/ruff check labkit tests notebooks
	$(BIN)/ruff format --check labkit tests notebooks
	$(BIN)/mypy
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The engine suites on labkit's own engines, each fresh in its own network namespace (root, Linux):
# Engine 28+ from a Debian sid root by default; ENGINES="20.10 28" for both.
ENGINES ?= 28
test-engines: $(STAMP)
	@rc=0; for gen in $(ENGINES); do .ci/engine-suites $$gen $(PYTEST_ARGS) || rc=1; done; exit $$rc

# A student's install check, under a minute: labkit, the engine the course will use, JupyterLab's
# settings, and the first notebook in a kernel (tests/test_install.py says what and why).
check: $(STAMP)
	$(BIN)/labkit doctor
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/test_install.py

bench: $(STAMP)
	$(BIN)/labkit bench $(BENCH_ARGS)

# N students at once on a real JupyterHub, shared engine and per-user simulated engines
# (WORKSHOP_ARGS="--users 3" for a quick run; table on stdout, bench-results/workshop.json).
bench-workshop: $(STAMP)
	$(BIN)/python -m labkit.workshop_bench $(WORKSHOP_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check labkit tests notebooks

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache

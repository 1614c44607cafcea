# The two commands of the README: `make lab` opens the course, `make test` runs the tests.
# Each sets itself up on a fresh machine: a virtual environment in .venv with labkit installed.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.labkit-installed
PORT ?= 8888
# JupyterLab refuses root without this; lab VMs and containers often run the course as root.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: lab test check bench lint clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,binder]'
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (labkit)" >/dev/null
	@touch $(STAMP)

lab: $(STAMP)
	$(BIN)/labkit doctor --brief || true
	$(BIN)/jupyter lab --port=$(PORT) $(ROOT_FLAG) notebooks/00-start-here.ipynb

test: $(STAMP)
	$(BIN)/ruff check labkit tests notebooks
	$(BIN)/ruff format --check labkit tests notebooks
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# A student's install check, under a minute: labkit, the engine the course will use, JupyterLab's
# settings, and the first notebook in a kernel (tests/test_install.py says what and why).
check: $(STAMP)
	$(BIN)/labkit doctor
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/test_install.py

bench: $(STAMP)
	$(BIN)/labkit bench $(BENCH_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check labkit tests notebooks

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache

# emkit developer commands. Each target creates or reuses .venv and installs what it needs.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP_RUN := $(VENV)/.installed-run
STAMP_DEV := $(VENV)/.installed-dev

.PHONY: demo test docs bench lint format clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP_RUN): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(STAMP_DEV): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP_RUN) $@

demo: $(STAMP_RUN)
	$(BIN)/emkit compile
	$(BIN)/emkit demo

test: $(STAMP_DEV)
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

# The documentation site: API reference from the docstrings and the examples gallery, every
# example executed afresh; any warning fails the build. Open docs/_build/html/index.html.
docs: $(STAMP_DEV)
	rm -rf docs/_build docs/auto_examples
	MPLBACKEND=Agg $(BIN)/python -m sphinx -W --keep-going -q -b html docs docs/_build/html

# OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE (set on some machines) slow a current NumPy's BLAS:
# cleared for the benchmark only; the report names the BLAS kernel that ran.
# The mixture benchmark compares with StepMix (dev extra) and pomegranate (the bench extra,
# which needs a CPU build of torch: pip install '.[bench]'); a missing library is skipped.
# Bytecode for emkit's own modules first, as a regular (non-editable) install has: where
# PYTHONDONTWRITEBYTECODE is set, an editable install would otherwise compile every module
# from source in every process, which a user of the package never pays.
bench: $(STAMP_DEV)
	$(BIN)/python -m compileall -q src
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $(BIN)/python benchmarks/run.py
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $(BIN)/python benchmarks/bench_mixtures.py \
		| tee benchmarks/results_mixtures.md
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $(BIN)/python benchmarks/bench_missing.py
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $(BIN)/python benchmarks/bench_selection.py | tee benchmarks/results_selection.md
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $(BIN)/python benchmarks/bench_xd.py

lint: $(STAMP_DEV)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

format: $(STAMP_DEV)
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache .ruff_cache docs/_build docs/auto_examples

# Two commands do all the set-up: `make demo` and `make test`.
# Each creates the virtual environment and installs the pinned dependencies itself.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEMO_DIR ?= demo

.PHONY: demo test lint typecheck unit bench docs clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --constraint constraints.txt --editable '.[dev,spark]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/nbhd demo --out $(DEMO_DIR)

lint: $(STAMP)
	$(BIN)/ruff check metrics_cli tests benchmarks
	$(BIN)/sqlfluff lint models tests/dbt

typecheck: $(STAMP)
	$(BIN)/mypy

# pytest exit code 5 (no tests collected) is a failure here, never a silent pass.
test: lint typecheck
	$(BIN)/python -m pytest -p no:cacheprovider; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc

BENCH_SCALE ?= national
bench: $(STAMP)
	$(BIN)/python benchmarks/run.py --scale $(BENCH_SCALE)

docs: $(STAMP)
	$(BIN)/nbhd docs --warehouse $(DEMO_DIR)/warehouse.duckdb --out target/docs

clean:
	rm -rf $(VENV) target logs demo

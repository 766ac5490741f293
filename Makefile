# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test check lint typecheck slow bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)  ## the main job: the board's event-driven twin with its energy ledger, and the trainer
	$(BIN)/twin demo --out out/demo

test: $(STAMP) check  ## lint, type-check and the default test suite
	$(BIN)/pytest -q

check: lint typecheck

lint: $(STAMP)
	$(BIN)/ruff check twin hw_bridge tests benchmarks schemas

typecheck: $(STAMP)
	$(BIN)/mypy

slow: $(STAMP)  ## physics validations that take minutes
	$(BIN)/pytest -q -m slow

bench: $(STAMP)  ## performance benchmarks (numbers go in closing notes)
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache

# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
WARM   := $(VENV)/.kernels-warm

.PHONY: demo test warm check lint typecheck slow fuzz bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Compile the numba kernels once into their on-disk cache (a few tiny runs; again after an edit
# to the kernels), so that the demo and the tests do not each pay the first-run compilation.
$(WARM): $(STAMP) $(shell find twin/kernels -name '*.py')
	TWIN_DB_URL=off $(BIN)/twin train --steps 2 --json > /dev/null
	TWIN_DB_URL=off $(BIN)/twin simulate --duration 0.002 --json > /dev/null
	TWIN_DB_URL=off $(BIN)/twin simulate --duration 0.002 --engine agents --json > /dev/null
	TWIN_DB_URL=off $(BIN)/twin train --task file:twin/data/reference/tasks/regression_n64_r1.json \
		--steps 2 --realizations 2 --json > /dev/null  # realizations sharing a circuit: lanes
	TWIN_DB_URL=off $(BIN)/twin train --network lattice:32x32:periodic --steps 2 \
		--json > /dev/null  # 2,048 edges: the pcg solver (train_step.advance)
	TWIN_DB_URL=off $(BIN)/twin train --physics springs --steps 2 --json > /dev/null
	TWIN_DB_URL=off $(BIN)/twin train --physics xy --network all:6 --task xor --epochs 1 \
		--json > /dev/null
	$(BIN)/python -c "import numpy as np; \
		from twin.board.emulator import default_board_task as t; \
		from twin.board.variation import HiddenVariation as H, draw_hidden_edges as d; \
		from twin.board.stepwise import plain_steps as p; task = t(); n = task.network.n_edges; \
		p(d(n, np.random.default_rng(0), H.lab())[0], task, np.full(n, 3.0), eta=0.22, \
		step_s=1e-4, n_steps=2)"  # the board's per-step control loop (twin.kernels.stepwise)
	touch $(WARM)

warm: $(WARM)  ## compile the kernels into their cache (done by demo and test)

demo: $(WARM)  ## the main job: the board's event-driven twin with its energy ledger, and the trainer
	$(BIN)/twin demo --out out/demo

# The default suite runs on every core (pytest-xdist, one worker per CPU; `PYTEST_WORKERS=1` for
# one process): its tests are independent (temporary folders, random ports, a PostgreSQL schema
# each), and most of its time is single-threaded simulation.
PYTEST_WORKERS ?= auto

test: $(WARM) check  ## lint, type-check and the default test suite (with Chromium if it can be installed)
	.ci/chromium
	$(BIN)/pytest -q -n $(PYTEST_WORKERS) --dist worksteal

check: lint typecheck

lint: $(STAMP)
	$(BIN)/ruff check twin hw_bridge tests benchmarks schemas
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

slow: $(STAMP)  ## physics validations that take minutes, then the deeper property-test run
	$(BIN)/pytest -q -m slow -n $(PYTEST_WORKERS) --dist worksteal
	$(MAKE) fuzz

# The property tests (Hypothesis marks them `hypothesis`) with 10x their examples
# (tests/hypothesis_profiles.py). Seeded, so a failure is reproduced by the same command;
# `make fuzz FUZZ_SEED=` draws new examples on each run and replays failures from .hypothesis/.
FUZZ_SEED ?= 1
fuzz: $(STAMP)  ## property tests with 10x examples (seed FUZZ_SEED, default 1)
	HYPOTHESIS_PROFILE=fuzz $(BIN)/pytest -q -m hypothesis $(if $(FUZZ_SEED),--hypothesis-seed=$(FUZZ_SEED))

bench: $(STAMP)  ## performance benchmarks (numbers go in closing notes)
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache

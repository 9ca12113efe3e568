# Two commands do all the set-up on a fresh machine:
#   make render   -> installs into .venv, renders the bundled demo song to output/demo.mp4
#   make test     -> installs into .venv, runs the test suite
PYTHON ?= python3
VENV ?= .venv
# CPU build by default (this pin is the CPU wheel on our machines); set TORCH_SPEC=torch to take your platform's build.
TORCH_SPEC ?= torch==2.13.0
BIN := $(VENV)/bin

.PHONY: setup test render bench bench-smoke clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q "$(TORCH_SPEC)"
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $@

test: setup
	$(BIN)/pytest -q tests

# --random-weights is only a fallback: weights in models/biggan (or downloaded when online) are used when they can be
# loaded; without them the demo renders with RANDOM weights after a loud warning. RENDER_FLAGS= makes that an error.
RENDER_FLAGS ?= --random-weights
render: setup
	AUDIOWALK_HOME=. $(BIN)/audiowalk render --demo -o output/demo.mp4 $(RENDER_FLAGS)

bench: setup
	for b in bench/bench_*.py; do $(BIN)/python $$b || exit 1; done

# every bench at its smallest size (seconds each, no figures): what tests/test_benches.py runs in CI
bench-smoke: setup
	for b in bench/bench_*.py; do $(BIN)/python $$b --smoke || exit 1; done

clean:
	rm -rf $(VENV) output/demo.mp4 .pytest_cache

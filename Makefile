# The two commands of the README: `make tour` and `make test`. Both first build the same
# environment: a virtualenv in .venv with minigrad installed in editable mode, plus
# Graphviz's `dot` (installed through apt-get when it is missing and we are root).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
comma := ,
# CI sets MINIGRAD_ORACLE=1 so the PyTorch comparisons run (torch==2.13.0, CPU).
EXTRAS := dev$(if $(filter 1,$(MINIGRAD_ORACLE)),$(comma)oracle,)
# One stamp per set of extras: asking for the oracle later still installs it.
STAMP := $(VENV)/.installed-$(subst $(comma),-,$(EXTRAS))

.PHONY: setup tour test lint bench oracle graphviz browser docs-graph clean

setup: $(STAMP) graphviz

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "minigrad needs Python >= 3.10; found " + sys.version.split()[0])'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[$(EXTRAS)]'
	@touch $(STAMP)

# Rendering graphs needs Graphviz's `dot` (a system program, not a Python package).
graphviz:
	@if ! command -v dot >/dev/null 2>&1; then \
		if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
			echo "Installing Graphviz (dot) with apt-get"; \
			apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz >/dev/null; \
		else \
			echo "Graphviz 'dot' not found: install it with 'sudo apt-get install graphviz' to render graphs (the rest works without it)"; \
		fi; \
	fi

# The backward stepper's tests drive its page in headless Chromium (through Selenium).
browser:
	@if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then \
		if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
			echo "Installing Chromium and chromedriver with apt-get"; \
			apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
		else \
			echo "Chromium not found: install it with 'sudo apt-get install chromium chromium-driver' to run the browser tests (they skip without it)"; \
		fi; \
	fi

tour: setup
	$(BIN)/minigrad tour

# The whole suite, then the proof table: every primitive x example x world (float64, float32,
# SymPy) and every composed function, which must all pass (the table goes to a file; it is
# shown when something fails).
test: setup browser lint
	$(BIN)/python -m pytest
	@echo "minigrad check (every primitive x example x world; the table is in .minigrad-check.txt)"
	@$(BIN)/minigrad check > .minigrad-check.txt 2>&1 || { cat .minigrad-check.txt; exit 1; }
	@grep -E '^[0-9]+ checks, ' .minigrad-check.txt

# The code's shape: ruff's rules and the layer contracts (both configured in pyproject.toml).
lint: setup
	$(BIN)/ruff check .
	$(BIN)/lint-imports

oracle:
	$(MAKE) setup MINIGRAD_ORACLE=1

# Every case in a fresh process, one thread per library (see benchmarks/__main__.py); PyTorch
# and HIPS autograd are timed when installed (`MINIGRAD_ORACLE=1 make bench` installs PyTorch).
# BENCH_ARGS passes options through, e.g. `make bench BENCH_ARGS=--quick` or `--only mlp_step`.
bench: setup
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

docs-graph: setup
	$(BIN)/minigrad graph mlp-spectral --out docs/graph-mlp-spectral.svg

clean:
	rm -rf $(VENV) build *.egg-info minigrad-tour .pytest_cache .hypothesis .minigrad-check.txt

# feedsvc: `make run` to start, `make test` to test. Needs only Python 3.11+ and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8000
export PORT

.PHONY: run test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -qq --upgrade pip
	$(BIN)/python -m pip install -qq -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/flask --app feedsvc serve

# Coverage of feedsvc/, child processes included (pyproject.toml); a report, never a gate.
# One pytest worker a core (pytest-xdist; TEST_WORKERS=0 runs in one process, no workers).
TEST_WORKERS ?= auto
test: $(STAMP)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --cov --cov-report=term --durations=25

# The benchmark's own extras (Django, matplotlib, profilers) on top of the dev install.
BENCH_STAMP := $(VENV)/.bench-installed
$(BENCH_STAMP): pyproject.toml $(STAMP)
	$(BIN)/python -m pip install -qq -e '.[dev,bench]'
	touch $(BENCH_STAMP)

# Every comparison in one run (~30 min; wrk and nginx installed from Debian when missing).
# Quicker: make bench BENCH_ARGS=--smoke; one part: make bench BENCH_ARGS='--only serving'.
bench: $(BENCH_STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

# Crash and load soak, long versions, on SQLite and PostgreSQL (FEEDSVC_TEST_DATABASE_URL, or
# the local server): 50 scheduler SIGKILLs; 200 readers while 100 articles are posted. Prints
# the figures (~20 min). One part or engine: make soak SOAK_ARGS='--only load --engine sqlite'.
.PHONY: soak
soak: $(STAMP)
	$(BIN)/python -m devtools.soak $(SOAK_ARGS)

# mypy: feedsvc, devtools and bench (pyproject's [tool.mypy] packages) and webserver.py, --strict.
LINTED := feedsvc devtools bench tests wsgi.py webserver.py gunicorn.conf.py
lint: $(STAMP)
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)
	$(BIN)/mypy
	$(BIN)/mypy --strict webserver.py

# Generated input through the services, the feeds, the pages and the API (tests/test_fuzz_*.py)
# with the "fuzz" hypothesis profile (tests/conftest.py): 4,000 examples a test, over 10,000 in
# all; prints how many ran and how many failed. `make test` runs the same tests, briefly.
.PHONY: fuzz
fuzz: $(STAMP)
	$(BIN)/python -m pytest -p no:cacheprovider -p tests.support.fuzzcount \
		--hypothesis-profile=fuzz --timeout=7200 --durations=0 tests/test_fuzz_*.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# One entry point per job; every target sets up the virtual environment itself.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test lint bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q -U pip setuptools wheel
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(VENV)/bin/clr-service serve

# Three test processes, a file each at a time: on two cores the third fills the time tests wait on servers.
test: install
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -n 3 --dist loadfile

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .
	$(VENV)/bin/lint-imports

bench: install
	bash benchmarks/run_all.sh

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache

# Two entry points, both from a fresh clone with only Python 3.11 and pip installed:
#   make demo   the embedded pipeline on a simulated city
#   make test   the whole test suite
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: demo test install lint schemas bench

$(BIN)/hotspot: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(BIN)/hotspot

demo: install
	$(BIN)/hotspot demo

test: install lint
	sh infra/ci/install-clickhouse-server.sh
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

schemas: install
	$(BIN)/hotspot schemas

bench: install
	$(BIN)/python benchmarks/ingest.py

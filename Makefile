# Two commands for a fresh machine: `make run` and `make test`. Everything else is a helper.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | sha256sum | cut -c1-12)

.PHONY: run test install lint typecheck layers pytest docs screenshots kafka-start kafka-stop kafka-status postgres-start postgres-stop bench bench-load clean

# The server's distribution carries the client's package: a client installed on its own
# before would hold the same files, so it goes.
$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip uninstall -qq -y safeguarding-ledger-client
	$(PY) -m pip install -q -c constraints.txt -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

## run: serve the ledger on the embedded store with the demo cases loaded (no Kafka needed)
run: install
	$(BIN)/sgl demo

## test: lint, types, layer contracts and the whole suite against a real Kafka broker and a
## real PostgreSQL server
test: install kafka-start postgres-start lint typecheck layers pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

layers: install
	$(BIN)/lint-imports

# Two workers, each taking whole files (a file's module fixtures are set up once): the suite
# spends most of its time waiting on the broker and on subprocesses, not on the CPU.
PYTEST_WORKERS ?= 2
pytest: install
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile

## docs: regenerate the references generated from code (CLI help, event schemas)
docs: install
	$(PY) -m sgl.cli_docs docs/cli.md
	$(PY) -m sgl.schema_docs docs/events.md
	$(PY) -m sgl.codegen ledger/event_types.py && $(BIN)/ruff format -q ledger/event_types.py

## screenshots: the README tour's screenshots, taken from the real pages by the browser tests
screenshots: install
	SGL_SCREENSHOTS=docs/screenshots $(BIN)/pytest -m browser

kafka-start:
	scripts/kafka.sh start

kafka-stop:
	scripts/kafka.sh stop

kafka-status:
	scripts/kafka.sh status

postgres-start:
	scripts/postgres.sh start

postgres-stop:
	scripts/postgres.sh stop

## bench: the benchmarks in benchmarks/ (needs Kafka for the append benchmark)
bench: install kafka-start
	$(PY) benchmarks/append.py
	$(PY) benchmarks/consume.py

## bench-load: five minutes of load through the HTTP API, three consumers, on Kafka and
## PostgreSQL (BENCH_SECONDS to change the duration)
BENCH_SECONDS ?= 300
bench-load: install kafka-start postgres-start
	$(PY) benchmarks/load.py --seconds $(BENCH_SECONDS)

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache

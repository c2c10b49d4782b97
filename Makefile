# Two entry points for a fresh machine: `make run` (set up + launch) and `make test` (set up + test).
PY := .venv/bin/python

.PHONY: run test bench setup setup-test
run: setup
	$(PY) app.py $(ARGS)

test: setup-test
	$(PY) -m pytest -q $(PYTEST_ARGS)

bench: setup-test
	$(PY) -m benchmarks $(ARGS)

setup:
	scripts/setup.sh

setup-test:
	scripts/setup.sh --test

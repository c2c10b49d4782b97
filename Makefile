# Two entry points for a fresh machine: `make run` (set up + launch) and `make test` (set up + test).
PY := .venv/bin/python

.PHONY: run test test-fast bench setup setup-test
run: setup
	$(PY) app.py $(ARGS)

test: setup-test
	$(PY) -m pytest -q $(PYTEST_ARGS)

# The quick loop while editing: everything but real browsers, server processes, kernels, wheels, clusters and
# command-line processes (the whole suite runs them), on two workers (pytest-xdist).
test-fast: setup-test
	$(PY) -m pytest -q -m "not slow and not cli" -n 2 $(PYTEST_ARGS)

bench: setup-test
	$(PY) -m benchmarks $(ARGS)

setup:
	scripts/setup.sh

setup-test:
	scripts/setup.sh --test

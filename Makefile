# Set-up, book and tests. Every target installs what it needs into .venv
# first, so `make book` and `make test` work on a fresh clone.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: book test install benchmarks clean

book: $(VENV)/.installed
	$(BIN)/jupyter-book build . --keep-going -W -n

test: $(VENV)/.installed
	$(BIN)/python -m pytest

benchmarks: $(VENV)/.installed
	$(BIN)/python -m benchmarks.run_all

install: $(VENV)/.installed

# Reinstall whenever the requirements or the package metadata change.
$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt -e .
	touch $@

clean:
	rm -rf _build

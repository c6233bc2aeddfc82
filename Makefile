# The two commands of the quick start:
#   make demo   set up .venv if missing, then train + evaluate + plot on three-dots
#   make test   set up .venv if missing, then lint, check the layers (lint-imports) and run
#               the whole test suite
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: demo test venv bench clean-venv

$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --upgrade pip
	$(VENV)/bin/python -m pip install -q -e '.[dev]'
	$(VENV)/bin/python -m pip install -q --no-deps disentanglement-lib==1.5
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" bash exampleScripts/train_jlonevae_threeDots.bash

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/python -m pytest -q

bench: $(STAMP)
	$(VENV)/bin/python benchmarks/run_all.py --quick

clean-venv:
	rm -rf $(VENV)

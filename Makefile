# The commands of the quick start (docs/testing.md for the tests):
#   make demo       set up .venv if missing, then train + evaluate + plot on three-dots
#   make test       what CI runs (.ci/run): ruff, lint-imports, then the whole suite, 25-31
#                   min wall clock on an idle 2-core CPU from a fresh clone (docs/testing.md:
#                   counts, machine, date). Builds on first run .venv
#                   (torch CPU and the dev tools, ~1.8 GB), in the TensorFlow tests
#                   .venv-dlib (~2.1 GB; tests/dlib_tf/conftest.py runs
#                   experimentScripts/train_baseline/build_dlib_env.bash) and in the peer
#                   benchmark's tests .venv-peer (~1.3 GB, benchmarks/build_peer_env.bash).
#                   The real-Slurm tests need root (tests/slurm_cluster.py starts the cluster;
#                   skipped otherwise).
#   make test-fast  ruff, lint-imports, then pytest -m "not slow and not tensorflow":
#                   3-4 min wall clock on an idle 2-core CPU. Builds .venv only, never
#                   .venv-dlib or .venv-peer.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
# PyPI's Linux wheel of torch is the CUDA build (several GB of CUDA libraries). Without
# nvidia-smi the CPU build is taken from PyTorch's CPU index; `make venv TORCH_INDEX=` keeps
# PyPI's build, TORCH_INDEX=https://download.pytorch.org/whl/cu126 (say) picks a CUDA version.
TORCH_INDEX ?= $(if $(shell command -v nvidia-smi 2>/dev/null),,https://download.pytorch.org/whl/cpu)
# The one pin, read from pyproject.toml so the two never disagree.
TORCH_PIN := $(shell grep -o '"torch==[^"]*"' pyproject.toml | tr -d '"')
FAST_MARKERS := not slow and not tensorflow

.PHONY: demo test test-fast about-test about-test-fast venv bench clean-venv

# torch goes in first and alone (no dependencies: only its own wheel comes from TORCH_INDEX);
# the package's pin is then already satisfied by that build.
$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --upgrade pip
	$(VENV)/bin/python -m pip install -q --no-deps '$(TORCH_PIN)' \
		$(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX))
	$(VENV)/bin/python -m pip install -q -e '.[dev]'
	$(VENV)/bin/python -m pip install -q --no-deps disentanglement-lib==1.5
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" bash exampleScripts/train_jlonevae_threeDots.bash

# The about-* targets come first among the prerequisites: they print before .venv is built.
about-test:
	@echo "make test: ruff, lint-imports, then the whole suite: 25-31 min"
	@echo "  wall clock on a 2-core CPU. On first run it builds .venv (torch CPU and the dev"
	@echo "  tools, ~1.8 GB) and, in the TensorFlow tests, .venv-dlib (TensorFlow 2.15 and"
	@echo "  disentanglement_lib, ~2.1 GB, several minutes more) and, in the peer benchmark's"
	@echo "  tests, .venv-peer (disent, ~1.3 GB). The real-Slurm tests need root (skipped"
	@echo "  otherwise). A quicker check: make test-fast. docs/testing.md"

test: about-test $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/python -m pytest -q --durations=30

about-test-fast:
	@echo "make test-fast: ruff, lint-imports, then pytest -m \"$(FAST_MARKERS)\""
	@echo "  3-4 min wall clock on an idle 2-core CPU."
	@echo "  Builds .venv if missing, never .venv-dlib. Everything, as CI: make test."

test-fast: about-test-fast $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/python -m pytest -q -m "$(FAST_MARKERS)"

bench: $(STAMP)
	$(VENV)/bin/python benchmarks/run_all.py --quick

clean-venv:
	rm -rf $(VENV)

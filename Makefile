# cnn_course task runner. The two set-up commands are `make docs` and `make test` (see README.md);
# each creates .venv on first use.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Offline copies of fastai's MNIST archives (present in this project's CI and dev machines). When they are
# there and FASTAI_HOME is not set, the build uses its own FASTAI_HOME under .build/, seeded from them, and
# never touches ~/.fastai. Elsewhere fastai downloads the data as usual.
SHARED_DATA ?= $(abspath ../shared/data)
ifneq ($(wildcard $(SHARED_DATA)/mnist_sample.tgz),)
ifeq ($(origin FASTAI_HOME),undefined)
export FASTAI_HOME := $(CURDIR)/.build/fastai
SEED_DATA := 1
endif
endif

.PHONY: help venv data export clean test docs outputs site lab bench bench-steps bench-summary bench-variants
.PHONY: colab readme docs-check colab-sim fonts

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): settings.ini setup.py
	@echo "==> setting up $(VENV) (Python: $$($(PYTHON) -c 'import sys; print(sys.version.split()[0])'))"
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "cnn_course needs Python 3.10 or newer")'
	@t=$$(date +%s); test -x $(BIN)/python || $(PYTHON) -m venv $(VENV); \
	  $(BIN)/python -m pip install -q --disable-pip-version-check -e ".[dev]"; \
	  echo "    installed the package with its dev extras in $$(( $$(date +%s) - t )) s"
	@touch $@

venv: $(STAMP) ## Create .venv and install the package with its dev extras

data: ## Seed fastai's archive folder from ../shared/data when it is there (offline machines)
ifdef SEED_DATA
	@mkdir -p $(FASTAI_HOME)/archive
	@for f in $(SHARED_DATA)/mnist_sample.tgz $(SHARED_DATA)/mnist_tiny.tgz; do \
	  test -f $(FASTAI_HOME)/archive/$$(basename $$f) || cp $$f $(FASTAI_HOME)/archive/; done
	@echo "==> data: FASTAI_HOME=$(FASTAI_HOME) (archives seeded from $(SHARED_DATA))"
else
	@echo "==> data: fastai finds or downloads MNIST under $${FASTAI_HOME:-~/.fastai}"
endif

export: $(STAMP) ## Export the notebooks to cnn_course/
	$(BIN)/nbdev_export

clean: $(STAMP) ## Clean the notebooks' metadata (keeps outputs)
	$(BIN)/nbdev_clean

test: $(STAMP) data ## Check export, clean state, generated cells, pages, budgets, lint; test every notebook; the wheel; a quick simulated Colab run
	$(BIN)/python tools/test.py

docs: $(STAMP) data ## Execute every notebook into _executed/ and render the site from there into _docs/ (nothing tracked changes)
	@t=$$(date +%s); $(BIN)/nbdev_export; echo "==> export ($$(( $$(date +%s) - t )) s)"
	@t=$$(date +%s); $(BIN)/python tools/run_nbs.py; echo "==> notebooks executed into _executed/ ($$(( $$(date +%s) - t )) s)"
	@$(MAKE) --no-print-directory site SITE_NBS=_executed

outputs: $(STAMP) data ## Maintainers: execute every notebook and save its outputs and run time into nbs/ (then commit them)
	$(BIN)/nbdev_export
	$(BIN)/python tools/run_nbs.py --in-place
	$(BIN)/python tools/colab.py
	$(BIN)/nbdev_clean
	$(BIN)/python tools/readme.py

SITE_NBS ?= nbs
site: $(STAMP) ## Render the site into _docs/ from the notebooks as they are in nbs/ (Quarto, else an offline preview)
	@t=$$(date +%s); \
	if command -v quarto >/dev/null; then \
	  echo "==> renderer: Quarto $$(quarto --version) (nbdev_docs)"; \
	  touch README.md; $(BIN)/nbdev_docs --path $(SITE_NBS); \
	else \
	  $(BIN)/python tools/preview.py --nbs $(SITE_NBS); \
	fi; echo "==> site rendered from $(SITE_NBS)/ into _docs/ ($$(( $$(date +%s) - t )) s)"
# (README.md is written by tools/readme.py from nbs/index.ipynb as committed (`make readme`); touching it first stops
# nbdev_docs rewriting it with Quarto.)

docs-check: $(STAMP) ## Open every page of _docs/ in headless Chromium: errors, images, math, links, screenshots
	$(BIN)/python tools/docs_check.py

colab: $(STAMP) ## Regenerate the Colab badges, install cells and lesson list from settings.ini
	$(BIN)/python tools/colab.py

colab-sim: $(STAMP) data ## Every lesson as on Colab: alone, outside the repo, in an env with only torch and torchvision, its own install cell run
	$(BIN)/python tools/colab_sim.py

fonts: $(STAMP) ## Remake the site's Korean web font (nbs/fonts/) from the Hangul the notebooks use
	$(BIN)/python tools/fonts.py

readme: $(STAMP) ## Write README.md from nbs/index.ipynb (no Quarto needed)
	$(BIN)/python tools/readme.py

lab: $(STAMP) data ## Open the course in JupyterLab with the project's kernel
	$(BIN)/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS) nbs/

bench: $(STAMP) data ## Where a training step's time goes (the optional speed page): bench/train_speed.py, then bench/step_cost.py
	$(BIN)/python bench/train_speed.py
	$(BIN)/python bench/step_cost.py

bench-steps: $(STAMP) data ## Only one step taken apart: its parts, the optimiser, a profile (bench/step_cost.py)
	$(BIN)/python bench/step_cost.py

bench-variants: $(STAMP) data ## Lesson 6's comparison: each variant of simple_cnn trained over 5 seeds (bench/variants.py, ~3 min)
	$(BIN)/python bench/variants.py

bench-summary: $(STAMP) ## How long cnn_summary takes on real-size networks (bench/summary_speed.py)
	$(BIN)/python bench/summary_speed.py

# --- CI workflows (.github/workflows/) and the GPU run ---
.PHONY: lint gpu-test
WHEELS ?=

lint: $(STAMP) ## Check .github/: zizmor offline (nothing at medium or above) and the workflow schemas
	$(BIN)/python tools/lint.py

# Run with the interpreter whose torch has CUDA: make gpu-test PYTHON=/path/to/python3 [WHEELS=dir]
gpu-test: data ## Run every notebook on a CUDA GPU, `#| cuda` cells on, as gpu.yaml does (fails without one)
	$(PYTHON) tools/gpu_test.py $(if $(WHEELS),--wheels "$(WHEELS)")

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

.PHONY: help venv data export clean test docs site lab bench

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

test: $(STAMP) data ## Check export and clean state, run every notebook's tests, build and install the wheel
	$(BIN)/python tools/test.py

docs: $(STAMP) data ## Execute every notebook (outputs saved), then render the site into _docs/
	@t=$$(date +%s); $(BIN)/nbdev_export; echo "==> export ($$(( $$(date +%s) - t )) s)"
	@t=$$(date +%s); $(BIN)/python tools/run_nbs.py --timings nbs/timings.json; \
	  $(BIN)/nbdev_clean; echo "==> notebooks executed and cleaned ($$(( $$(date +%s) - t )) s)"
	@$(MAKE) --no-print-directory site

site: $(STAMP) ## Render the site into _docs/ from the notebooks as they are (no execution)
	@t=$$(date +%s); \
	if command -v quarto >/dev/null; then \
	  echo "==> rendering with Quarto $$(quarto --version)"; $(BIN)/nbdev_docs; \
	else \
	  echo "==> Quarto is not installed: cannot render the site (the GitHub deploy workflow does)" >&2; exit 1; \
	fi; echo "==> site rendered into _docs/ ($$(( $$(date +%s) - t )) s)"

lab: $(STAMP) data ## Open the course in JupyterLab with the project's kernel
	$(BIN)/jupyter lab nbs/

bench: $(STAMP) data ## Training-speed benchmark (bench/train_speed.py)
	$(BIN)/python bench/train_speed.py

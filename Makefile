# dlclassifier: `make demo` trains on bundled real data; `make test` runs every test.
# Native dependencies are installed on first use into ~/.cache/dlclassifier.

SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
CACHE ?= $(HOME)/.cache/dlclassifier
export DLC_CACHE := $(CACHE)
export LIBTORCH := $(CACHE)/libtorch-2.11.0
export DLC_PYTHON := $(CACHE)/venv-torch-2.11.0/bin/python
CARGO ?= cargo
DEMO_OUT ?= out/demo

.PHONY: all deps build test test-rust demo bench clean

all: build

deps:
	scripts/deps.sh all

build: deps
	$(CARGO) build --workspace --release

test: deps
	$(CARGO) test --workspace -- --test-threads 1

demo: deps
	$(CARGO) build --release -p dlclassifier-cli
	scripts/demo.sh $(DEMO_OUT)

bench: deps
	$(CARGO) build --release -p dlclassifier-cli
	scripts/bench.sh

clean:
	$(CARGO) clean
	rm -rf out

# attrib-adv — the pipeline and the developer commands.
# `make` runs the default pipeline on the embedded synthetic datasets; `make test` runs
# every test; `make help` lists the targets. Per-dataset settings: pipelines/<ds>.mk;
# the rules and profiles: pipelines/common.mk.

.DELETE_ON_ERROR:
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
MAKEFLAGS += --warn-undefined-variables --no-builtin-rules
# make's one-letter flags (the first word of MAKEFLAGS unless it is a long option): under
# -n (plan only) and -q (is anything out of date?) make takes no lock and writes nothing.
MAKE_SHORT_FLAGS := $(filter-out -%,$(firstword $(MAKEFLAGS)))
DRY_RUN := $(findstring n,$(MAKE_SHORT_FLAGS))
QUESTION := $(findstring q,$(MAKE_SHORT_FLAGS))

# $(call command_line_or,NAME,VALUE): NAME keeps a value from the command line (or an
# `override`); otherwise, set in the environment or not at all, it becomes VALUE. For
# settings an unrelated environment variable of the same name must not change (DATA, JOBS…).
command_line_or = $(if $(filter command line override,$(origin $(1))),,$(eval $(1) := $(2)))

# Two stages at a time by default, so a plain `make` keeps both cores of a small machine busy
# where stages are independent (docs/results.md has the measured gain); each stage also uses
# every core for its own kernels. `make JOBS=1` or `make -j1` runs one stage at a time; a -j
# on the command line wins over this default.
$(call command_line_or,JOBS,2)
MAKEFLAGS += -j$(JOBS)

# oneDNN's OpenMP threads spin at each barrier by default: with two stages (or two MPI ranks,
# or a stage and the tests) on two cores, each waits for a thread the other holds, and both
# crawl (docs/engine.md § Threads: 139 img/s per process against 484–840 passive). Passive
# threads sleep instead. A value already in the environment wins.
export OMP_WAIT_POLICY ?= passive
.DEFAULT_GOAL := all

# MARK: Settings
SWIFT ?= swift
CONFIG ?= release
BUILD_DIR := .build
# Where the stage binaries are; with SKIP_BUILD=1 make uses them as they are (no swift
# build), e.g. `make BIN=.build/debug SKIP_BUILD=1 PROFILE=smoke` as the tests do.
BIN := $(BUILD_DIR)/$(CONFIG)
SKIP_BUILD ?=
SWIFT_FLAGS := -c $(CONFIG)
APT_PACKAGES := libhdf5-dev libopenblas-dev libdnnl-dev libjpeg-dev libpng-dev hdf5-tools pkg-config chromium libopenmpi-dev openmpi-bin slurm-wlm munge
SOURCES := Package.swift $(shell find Sources -type f 2>/dev/null)


# MARK: Developer targets

## deps    : install the system libraries with apt-get (as root), else print the command
.PHONY: deps
deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -z "$$missing" ]; then echo "deps: all present ($(APT_PACKAGES))"; \
	elif [ "$$(id -u)" = 0 ]; then \
	  echo "deps: installing $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	else \
	  echo "deps: missing $$missing; run as root:"; \
	  echo "  sudo apt-get update && sudo apt-get install -y $$missing"; exit 1; \
	fi

## build   : build every executable in release mode
.PHONY: build
ifeq ($(SKIP_BUILD),)
build: $(BIN)/.built
else
build:
	@echo "build: SKIP_BUILD is set, using the binaries in $(BIN) as they are"
endif

# The stamp takes the time of the newest source, not the build's: binaries the build left
# untouched are then not older than it, so `make -n` plans only what would really rerun.
# (`deps` always runs, so `make -q` leaves it out: it would answer "out of date" for ever.)
$(BIN)/.built: $(SOURCES) | $(if $(QUESTION),,deps)
	$(SWIFT) build $(SWIFT_FLAGS)
	@touch -r "$$(ls -t $(SOURCES) | head -n 1)" $@

## test    : build and run every test (debug build, all test targets), then the engine's numeric tests on the reference kernels
# The tests are XCTest; Swift Testing's empty run is switched off so the last line is the
# real count, restated as a plain "N passed, N failed" line. The whole suite runs on the
# backend the build prefers (oneDNN when built in: docs/engine.md); the kernel, layer,
# PyTorch-fixture, finite-difference and attack tests then run again on the engine's own
# kernels (ATTRIB_BACKEND=reference), so both backends pass them.
# $(call run_tests,LOG,ENVIRONMENT,OPTIONS): one XCTest run, its log and its count line.
run_tests = $(2) $(SWIFT) test --skip-build --disable-swift-testing $(3) 2>&1 | tee $(1); status=$${PIPESTATUS[0]}; \
  summary=$$(grep -E '^[[:space:]]*Executed [0-9]+ tests?, with [0-9]+ failures?' $(1) | tail -n 1); \
  total=$$(echo "$$summary" | sed -E 's/.*Executed ([0-9]+) tests?.*/\1/'); \
  failed=$$(echo "$$summary" | sed -E 's/.*with ([0-9]+) failures?.*/\1/'); \
  [ -n "$$summary" ] && echo "$$((total - failed)) passed, $$failed failed$(if $(2), ($(2)))"; [ $$status = 0 ]
.PHONY: test
test: deps
	$(SWIFT) build --build-tests
	@$(call run_tests,$(BUILD_DIR)/test.log,,)
	@$(call run_tests,$(BUILD_DIR)/test-reference.log,ATTRIB_BACKEND=reference,--filter '^(TensorsTests|NeuralNetTests|ClassifierKitTests)\.')

## help    : list the targets
.PHONY: help
help:
	@sed -n 's/^## //p' $(MAKEFILE_LIST)

## clean   : remove the build folder (artifacts under data/ stay)
.PHONY: clean
clean:
	rm -rf $(BUILD_DIR)

include pipelines/common.mk

# Common verbs around CMake. `make demo` and `make test` work on a fresh machine: both bootstrap first.
BUILD_DIR ?= build
JOBS ?= $(shell nproc)
PYTHON ?= python3

.PHONY: all bootstrap build test unit-test e2e-test demo bench clean

all: build

bootstrap:
	@bash scripts/bootstrap.sh

$(BUILD_DIR)/CMakeCache.txt:
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=Release

build: bootstrap $(BUILD_DIR)/CMakeCache.txt
	cmake --build $(BUILD_DIR) -j $(JOBS)

unit-test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

e2e-test: build
	SLUICE_BIN=$(abspath $(BUILD_DIR))/sluice $(PYTHON) -m pytest -q tests

test: unit-test e2e-test

demo: build
	@bash scripts/demo.sh $(BUILD_DIR)

bench: build
	@bash bench/run_cpu.sh $(BUILD_DIR)

clean:
	rm -rf $(BUILD_DIR)

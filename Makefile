# Two commands set up everything: `make run` (the app) and `make test` (the test suite).
# Both create .venv with the project installed; llama-cpp-python compiles llama.cpp once
# (about 5 minutes on 2 cores) and pip's wheel cache makes later installs fast.
#
# BACKEND=cpu (default), cuda or metal picks llama.cpp's compute backend at build time.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
BACKEND ?= $(if $(filter Darwin,$(shell uname -s)),metal,cpu)
NPROC := $(shell nproc 2>/dev/null || sysctl -n hw.ncpu 2>/dev/null || echo 2)

CMAKE_ARGS_cpu :=
CMAKE_ARGS_cuda := -DGGML_CUDA=on
CMAKE_ARGS_metal := -DGGML_METAL=on

export CMAKE_BUILD_PARALLEL_LEVEL := $(NPROC)
export CMAKE_ARGS := $(CMAKE_ARGS_$(BACKEND)) $(CMAKE_ARGS)

.PHONY: run test check install install-test bench screenshot package smoke-test package-check clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip wheel

install: $(BIN)/python
	$(BIN)/python -m pip install -e .

install-test: $(BIN)/python
	$(BIN)/python -m pip install -e '.[test]'

run: install
	$(BIN)/python -m desktop_app

# The module map as import contracts (pyproject.toml), lint and types: any broken contract, lint
# error or type error fails the build before a test runs.
check: install-test
	$(BIN)/lint-imports --no-cache
	$(BIN)/ruff check desktop_app tests bench packaging
	$(BIN)/mypy

test: check
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest

# The main window with an image conversation, light and dark, and the Models page (a model's page
# and the catalog), as PNGs anyone can look at.
screenshot: install
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m desktop_app.ui.screenshot --out resources/screenshots/main-window.png
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m desktop_app.ui.screenshot --dark --settings --out resources/screenshots/main-window-dark.png
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m desktop_app.ui.screenshot --models --out resources/screenshots/models-page.png
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m desktop_app.ui.screenshot --catalog --out resources/screenshots/models-catalog.png

# Linux installers into dist/ (.deb + .tar.gz, portable CPU; VARIANT=cuda for CUDA). The first run
# compiles llama.cpp's CPU variants (~25 min on 2 cores), cached in build/wheels/.
package:
	PYTHON=$(PYTHON) packaging/linux/build.sh

# As root: installs the newest dist/*.deb, runs its self-test with no Python on PATH, opens the
# window under Xvfb for a screenshot, uninstalls.
smoke-test:
	packaging/linux/smoke_test.sh

# The Windows and macOS recipes proven on paper (not part of `make test`: it installs Wine and
# downloads the Mac wheels, ~400 MB the first time): workflow and script linters, the Inno Setup
# script compiled under Wine and listed with innoextract, the minimum macOS of every Mach-O the
# Mac build bundles, the bundle selection tests. See packaging/README.md.
package-check: install-test
	PYTHON=$(PYTHON) VENV_PYTHON=$(BIN)/python packaging/ci/package-check.sh

clean:
	rm -rf $(VENV) build dist *.egg-info tests/.generated

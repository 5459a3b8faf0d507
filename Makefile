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

.PHONY: run test check fuzz install install-test llama-server bench screenshot translations package smoke-test package-check clean

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

# The remote engine's tests run against llama.cpp's own llama-server, built from the llama.cpp that
# llama-cpp-python vendors: ~6 min on 2 cores the first time, then cached per machine (in the
# user's cache dir, keyed by llama-cpp-python version and CMake arguments), so it returns at once.
test: check llama-server
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest

llama-server: install-test
	$(BIN)/python bench/build_llama_tools.py --server

# The fuzz tests beyond make test's fixed share (30 examples a target, the same every run): fresh
# random examples, FUZZ_EXAMPLES a target, failures kept in .hypothesis/ and replayed first next
# time. 5,000 take about 25 minutes on 2 cores.
FUZZ_EXAMPLES ?= 5000
fuzz: install-test
	GEMMA_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest tests/test_fuzz.py -q --timeout 7200

# The window as PNGs anyone can look at (resources/screenshots/): the main window light and dark,
# the first-run page (always real: the recommendation and the speed estimated here) and the Models
# page (a model's page and the catalog); and the window in Simplified Chinese, drawn on a real X
# server (Xvfb) with a CJK font as a user's desktop would (Debian: apt-get install xvfb
# fonts-noto-cjk and Qt's xcb libraries: libxcb-cursor0 libxcb-icccm4 libxcb-image0
# libxcb-keysyms1 libxcb-randr0 libxcb-render-util0 libxcb-shape0 libxcb-xinerama0 libxcb-xkb1
# libxkbcommon-x11-0). Without MODEL the chat is a staged illustration and says
# so in its status bar; with MODEL=path/to/gemma-3-it.gguf (and MMPROJ=its projector, to ask
# about the sample photo) it is a real reply, captured from the window with its measured speed.
MODEL ?=
MMPROJ ?=
PHOTO_PROMPT := Who is this, and how would I make a smaller copy of the photo in Python?
TEXT_PROMPT := How do I make a smaller copy of a photo in Python?
SHOT_PROMPT = $(if $(MMPROJ),$(PHOTO_PROMPT),$(TEXT_PROMPT))
SHOT_REAL = $(if $(MODEL),--model "$(MODEL)" $(if $(MMPROJ),--mmproj "$(MMPROJ)" --image tests/data/grace_hopper.jpg) --prompt "$(SHOT_PROMPT)")
screenshot: install
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m desktop_app.ui.screenshot $(SHOT_REAL) --out resources/screenshots/main-window.png
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m desktop_app.ui.screenshot $(SHOT_REAL) --dark --settings --out resources/screenshots/main-window-dark.png
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m desktop_app.ui.screenshot --welcome --out resources/screenshots/first-run.png
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m desktop_app.ui.screenshot --models --out resources/screenshots/models-page.png
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m desktop_app.ui.screenshot --catalog --out resources/screenshots/models-catalog.png
	@command -v xvfb-run >/dev/null && fc-list :lang=zh-cn | grep -q . || { \
		echo "main-window-zh.png needs Xvfb and a CJK font: apt-get install xvfb fonts-noto-cjk (see the Makefile)"; exit 1; }
	xvfb-run -a -s "-screen 0 1600x1000x24" env QT_QPA_PLATFORM=xcb $(BIN)/python -m desktop_app.ui.screenshot --language zh_CN --out resources/screenshots/main-window-zh.png

# The window's translations (desktop_app/translations/): the .ts refreshed from the code by
# pyside6-lupdate, then compiled to the .qm the app loads (both are committed; see
# packaging/translations.py).  New strings arrive unfinished, to be translated in the .ts.
translations: install
	$(BIN)/python packaging/translations.py update

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

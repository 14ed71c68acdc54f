# Two entry points for a fresh machine: `make demo` and `make test` (see README.md).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# Demo settings: small enough for a 2-core CPU in a few minutes, big enough for readable digits.
DEMO_RUN     ?= runs/demo-dcgan
DEMO_EXPORTS ?= exports
DEMO_EPOCHS  ?= 100

# The browser test (tests/serving/test_web_page.py) drives Debian's chromium through Playwright's
# Python API; `make test` installs it when missing (apt-get, as root or with sudo), once.
CHROMIUM := /usr/bin/chromium
SUDO     := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: venv demo test bench clean

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

demo: $(STAMP)
	@rm -rf $(DEMO_RUN)
	@# keras-gen silences TensorFlow's start-up logs itself; the commands below print only their own lines.
	$(BIN)/keras-gen train dcgan --data digits --out $(DEMO_RUN) --image-size 16 --epochs $(DEMO_EPOCHS) --seed 0
	$(BIN)/keras-gen export $(DEMO_RUN) --out $(DEMO_EXPORTS) --name demo-dcgan
	$(BIN)/keras-gen sample $(DEMO_EXPORTS)/demo-dcgan --n 64 --seed 0 --out $(DEMO_RUN)/onnx_grid.png
	@echo
	@echo "demo done:"
	@echo "  sample grid (onnxruntime): $(DEMO_RUN)/onnx_grid.png"
	@echo "  per-epoch grids:           $(DEMO_RUN)/samples/"
	@echo "  latent interpolation:      $(DEMO_RUN)/interpolation.png"
	@echo "  export (TF Serving layout): $(DEMO_EXPORTS)/demo-dcgan/"
	@echo "  TensorBoard logs:          tensorboard --logdir $(DEMO_RUN)/logs"

# Tests run on PYTEST_WORKERS processes (pytest-xdist; tests sharing an expensive fixture stay on one,
# see tests/conftest.py); `make test PYTEST_WORKERS=0` runs them serially in one process. The 25 slowest
# tests are listed at the end: the suite is kept under 10 minutes on 2 cores.
PYTEST_WORKERS ?= 2
PYTEST_PARALLEL := $(if $(filter 0,$(PYTEST_WORKERS)),,-n $(PYTEST_WORKERS) --dist loadgroup)

test: $(STAMP) $(CHROMIUM)
	$(BIN)/python -m pytest -q --durations=25 $(PYTEST_PARALLEL)

$(CHROMIUM):
	@command -v apt-get >/dev/null || { echo "the browser test needs chromium at $(CHROMIUM): install it"; exit 1; }
	@echo "installing chromium for the browser test (apt-get install chromium) ..."
	@$(SUDO) apt-get update -qq >/dev/null
	@$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null

bench: $(STAMP)
	$(BIN)/python benchmarks/train_throughput.py
	$(BIN)/python benchmarks/sample_latency.py

clean:
	rm -rf runs exports cache benchmarks/out .pytest_cache

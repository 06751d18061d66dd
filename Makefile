# gantool: `make demo` and `make test` each work on a fresh machine from a clean clone.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
GANTOOL := $(VENV)/bin/gantool
STAMP := $(VENV)/.installed-$(shell cat setup.cfg pyproject.toml | cksum | cut -d' ' -f1)
DEMO_DIR ?= demo_run
RING_DIR ?= demo_ring

.PHONY: install demo demo-ring test test-all lint bench clean

$(STAMP): setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[test,lint,video,mlflow,wandb]"
	rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)  ## create .venv and install gantool with its test tools

demo: $(STAMP)  ## train a small DCGAN on synthetic shapes (no download; 6,000 steps, ~4 min on 2 CPU cores), then sample and animate it
	$(GANTOOL) train --config examples/shapes_demo.toml --out $(DEMO_DIR) --force
	$(GANTOOL) sample --ckpt $(DEMO_DIR) --n 64 --out $(DEMO_DIR)/sample.png
	$(GANTOOL) animate $(DEMO_DIR)
	@echo
	@echo "Demo outputs in $(DEMO_DIR)/:"
	@echo "  training.gif   the same 36 latents, epoch by epoch: the shapes forming out of grey noise"
	@echo "  evolution.png  snapshots of the generator across epochs"
	@echo "  sample.png     64 fresh samples"
	@echo "  training.png   losses and discriminator outputs per step and per epoch"
	@echo "  metrics.csv, steps.csv, checkpoints/, generator.keras, tensorboard/"
	@echo "The second demo, a GAN on a 2-D ring of 8 Gaussians: make demo-ring"

demo-ring: $(STAMP)  ## train a GAN on the 2-D ring toy (examples/ring_best.toml), then sample and animate it (~1.5 min on 2 CPU cores)
	$(GANTOOL) train --config examples/ring_best.toml --sample-every-steps 250 --out $(RING_DIR) --force
	$(GANTOOL) sample --ckpt $(RING_DIR) --n 2000 --out $(RING_DIR)/sample.png
	$(GANTOOL) animate $(RING_DIR)
	@echo
	@echo "Demo outputs in $(RING_DIR)/:"
	@echo "  training.gif   generated points every 250 steps, moving onto the eight modes of the ring"
	@echo "  evolution.png  snapshots of the generator across epochs"
	@echo "  sample.png     2000 fresh samples over the real data"
	@echo "  training.png   losses and discriminator outputs per step and per epoch"

TEST_WORKERS ?= 3
test: $(STAMP)  ## run the test suite (slow tests excluded), one test file per worker process
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile

test-all: $(STAMP)  ## run every test, slow ones included
	$(PY) -m pytest -q -m "" -n $(TEST_WORKERS) --dist loadfile

lint: $(STAMP)
	$(VENV)/bin/ruff check gantool tests benchmarks

bench: $(STAMP)  ## benchmarks (print tables)
	@for b in benchmarks/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache $(DEMO_DIR) $(RING_DIR)
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

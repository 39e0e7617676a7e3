# Everything runs from a virtual environment made here, so a fresh machine needs
# only Python 3.10+ (and root, or sudo, for Debian's chromium in `make test`).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
LOGDIR ?= runs
PORT ?= 6006
CHROMIUM ?= /usr/bin/chromium

.PHONY: test demo bench install chromium proto clean

$(VENV)/.installed: setup.py
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e ".[test]"
	touch $@

install: $(VENV)/.installed

# Debian's chromium for the browser tests (Playwright's own download cannot work
# offline). Skipped when it is already there.
chromium:
	@test -x $(CHROMIUM) || { \
	  echo "Installing Debian's chromium for the browser tests"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; }

test: install chromium
	$(PY) -m pytest -q tests

demo: install
	$(PY) demo/train_digits.py --logdir $(LOGDIR)
	@echo "Open http://127.0.0.1:$(PORT)/#featviz (Ctrl-C to stop)"
	$(VENV)/bin/tensorboard --logdir $(LOGDIR) --host 127.0.0.1 --port $(PORT)

# Speed of activation maximization against a bare compiled loop, XLA and
# tf-keras-vis, of inversion and MFV, of the dataset examples against a plain
# pass, whether MFV's facets stay facets, of AM on ResNet50 (with peak memory),
# and
# the share of training time FeatureVizCallback(budget=) takes, and the plugin
# on a 500-step logdir (routes, memory, the panel in chromium) (see
# bench/README.md). tf-keras-vis is best effort, and goes into
# bench/_results/site rather than the venv: its wheel ships a top-level `tests`
# package that would shadow ours. Its other needs (scipy, pillow, packaging,
# wrapt) come with our own dependencies.
TFKV_SITE := bench/_results/site
bench: install chromium
	@test -d $(TFKV_SITE)/tf_keras_vis || \
	  $(PIP) install --quiet --no-deps --target $(TFKV_SITE) \
	    "tf-keras-vis==0.8.7" deprecated imageio || \
	  echo "tf-keras-vis could not be installed; the benchmark will say so and go on"
	$(PY) bench/am_speed.py
	$(PY) bench/stages_speed.py
	$(PY) bench/examples_speed.py
	$(PY) bench/mfv_fidelity.py
	$(PY) bench/large_model.py
	$(PY) bench/budget_overhead.py
	$(PY) bench/plugin_scale.py

# Regenerates tb_featviz/plugin_data_pb2.py with protoc 31.1 (grpcio-tools
# 1.75.0), the oldest protobuf runtime that tb-featviz allows.
proto:
	$(PYTHON) -m venv /tmp/tb-featviz-protoc
	/tmp/tb-featviz-protoc/bin/pip install --quiet "grpcio-tools==1.75.0"
	/tmp/tb-featviz-protoc/bin/python -m grpc_tools.protoc -I. --python_out=. tb_featviz/plugin_data.proto

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache

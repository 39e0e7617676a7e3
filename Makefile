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

bench: install
	$(PY) bench/am_speed.py

# Regenerates tb_featviz/plugin_data_pb2.py with protoc 31.1 (grpcio-tools
# 1.75.0), the oldest protobuf runtime that tb-featviz allows.
proto:
	$(PYTHON) -m venv /tmp/tb-featviz-protoc
	/tmp/tb-featviz-protoc/bin/pip install --quiet "grpcio-tools==1.75.0"
	/tmp/tb-featviz-protoc/bin/python -m grpc_tools.protoc -I. --python_out=. tb_featviz/plugin_data.proto

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache

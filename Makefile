# agentcell: one command sets up, builds and runs the demo (`make demo`); one runs every
# test (`make test`). Both install what they need: the wasm32-wasip2 target, a Python
# virtualenv with the dev tools, npm packages, and Debian's chromium for the browser test.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

VENV   := .venv
PY     := $(VENV)/bin/python
WASM   := target/wasm32-wasip2/release/agentcell_component.wasm
# The test build (world agentcell-test: + bench, testing), for tests and benchmarks only.
TEST_WASM := target/agentcell-test.wasm
CARGO  := cargo
# Commands built from crates (wac; wasmtime with serve, for the edge tests) and the edge build.
TOOLS     := target/tools/bin
EDGE      := target/edge/agentcell-http.wasm
EDGE_PART := target/edge-build/wasm32-wasip2/release

.PHONY: demo test setup setup-rust setup-python setup-js setup-system wasm build wheel \
        test-rust test-python test-js lint bench bench-ann clean plugins edge

demo: build
	$(PY) examples/demo.py
	./target/release/agentcell health

test: build setup-system $(TOOLS)/wasmtime lint test-rust test-python test-js
	@echo "all tests passed"

setup: setup-rust setup-python setup-js

setup-rust:
	rustup target list --installed | grep -qx wasm32-wasip2 || rustup target add wasm32-wasip2
	rustup component list --installed | grep -q '^clippy' || rustup component add clippy rustfmt

setup-python: $(VENV)/.installed
$(VENV)/.installed: host-python/pyproject.toml Makefile
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "wasmtime>=50.0.1,<51" "pytest>=8" "mypy>=1.10" "ruff>=0.8" \
	    "numpy>=1.24" "pathspec>=0.12,<2" "build>=1.2" "hatchling>=1.25,<2" "editables>=0.5" \
	    "fastapi>=0.115,<1" "langchain-core>=0.3,<2" "httpx>=0.27,<1" \
	    "ai-spine-sdk==2.3.1" "uvicorn>=0.30,<1" "hypothesis>=6.100,<7" \
	    "huey==2.5.3" "redis==5.2.1" "psycopg[binary]==3.2.10" \
	    "celery==5.4.0" "kombu==5.4.2" "componentize-py==0.25.1"
	touch $@

setup-js: host-js/node_modules/.installed
# `npm install` with the committed lock file: `npm ci` trips over optional
# platform packages (jco's native bindings) missing from lock files written by npm 11.
host-js/node_modules/.installed: host-js/package.json host-js/package-lock.json
	cd host-js && npm install --no-audit --no-fund --loglevel=error
	touch $@

# Debian packages the tests use: chromium for the browser test (playwright-core drives
# it; no browser download) and redis-server for the Redis backend.
setup-system:
	if ! command -v chromium >/dev/null || ! command -v redis-server >/dev/null \
	    || ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium redis-server postgresql >/dev/null; \
	  else echo "install Debian's chromium, redis-server and postgresql packages" >&2; exit 1; fi; \
	fi

# The component, copied to where the Python and JS packages ship it.
wasm: setup-rust setup-python
	$(PY) scripts/sync_version.py
	$(PY) scripts/wit_facade.py
	$(CARGO) build --release --target wasm32-wasip2 -p agentcell-component --config 'profile.release.lto=true'
	cp $(WASM) host-python/agentcell/agentcell.wasm
	$(CARGO) build --release --target wasm32-wasip2 -p agentcell-component --features test-exports \
	    --target-dir target/test-build --config 'profile.release.lto=true'
	cp target/test-build/wasm32-wasip2/release/agentcell_component.wasm $(TEST_WASM)
	echo "component: $(WASM) $$(stat -c %s $(WASM)) bytes; test build: $(TEST_WASM)"

# Plugins (world agentcell:plugin): the examples and the test plugin, a workspace of
# their own under plugins/.
PLUGIN_DIR := target/plugins/wasm32-wasip2/release
plugins: setup-rust setup-python
	cd plugins && $(CARGO) build --release --target wasm32-wasip2 --target-dir ../target/plugins
	$(VENV)/bin/componentize-py -d plugins/wit -w agentcell-plugin componentize \
	    -p plugins/examples/py-keywords app -o $(PLUGIN_DIR)/py_keywords.wasm
	echo "plugins: $$(ls $(PLUGIN_DIR)/*.wasm | xargs -n1 basename | tr '\n' ' ')"

# The edge build (edge/): the core composed with wac between an adapter of its imports
# (wasi:keyvalue, wasi:http, wasi:config) and an HTTP front (wasi:http/incoming-handler).
# wac and the wasmtime command (only `serve` with key-value and config support, for the
# tests) are built from crates into target/tools.
$(TOOLS)/wac:
	$(CARGO) install wac-cli@0.12.0 --locked --no-default-features --root target/tools --target-dir target/tools-build
$(TOOLS)/wasmtime:
	$(CARGO) install wasmtime-cli@48.0.8 --locked --no-default-features \
	    --features run,serve,component-model-async,pooling-allocator,wasi-keyvalue,wasi-config,cranelift,parallel-compilation \
	    --root target/tools --target-dir target/tools-build
edge: wasm $(TOOLS)/wac
	cd edge && $(CARGO) build --release --target wasm32-wasip2 --target-dir ../target/edge-build
	mkdir -p target/edge
	$(TOOLS)/wac compose edge/agentcell-http.wac -o $(EDGE) \
	    --dep agentcell:core=$(WASM) \
	    --dep agentcell:edge-imports=$(EDGE_PART)/agentcell_edge_imports.wasm \
	    --dep agentcell:edge-front=$(EDGE_PART)/agentcell_edge_front.wasm
	echo "edge: $(EDGE) $$(stat -c %s $(EDGE)) bytes"

build: wasm plugins edge setup-js
	$(CARGO) build --release -p agentcell-host
	cd host-js && node scripts/build.mjs
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e host-python
	$(PY) -m compileall -q host-python/agentcell

wheel: wasm
	$(PY) -m build --wheel --no-isolation --outdir dist host-python

lint: setup-python
	$(PY) scripts/wit_facade.py --check
	$(CARGO) fmt --all --check
	cd plugins && $(CARGO) fmt --all --check
	cd edge && $(CARGO) fmt --all --check
	cd edge && $(CARGO) clippy --release --target wasm32-wasip2 --target-dir ../target/edge-build -- -D warnings
	cd plugins && $(CARGO) clippy --release --target wasm32-wasip2 --target-dir ../target/plugins -- -D warnings
	$(CARGO) clippy --release --workspace --all-targets -- -D warnings
	$(CARGO) clippy --release -p agentcell-component --target wasm32-wasip2 -- -D warnings
	$(CARGO) clippy --release -p agentcell-component --target wasm32-wasip2 --features test-exports \
	    --target-dir target/test-build -- -D warnings
	cd host-python && ../$(PY) -m ruff check . ../examples ../benches ../scripts
	cd host-python && ../$(PY) -m ruff format --check . ../examples ../benches ../scripts
	cd host-python && ../$(PY) -m mypy

test-rust:
	$(CARGO) test -p agentcell-component
	$(CARGO) test --release -p agentcell-host

test-python:
	cd host-python && ../$(PY) -m pytest -q

test-js:
	cd host-js && node --test test/*.test.mjs

# Boundary benchmarks: ours against wasmtime-py's default Func.__call__, same run.
bench: build $(TOOLS)/wasmtime
	$(CARGO) build --release -p agentcell-host --example infer_native
	$(PY) benches/boundary.py
	$(PY) benches/attune.py
	$(PY) benches/memory.py
	command -v wrk >/dev/null || apt-get install -y -qq wrk >/dev/null
	$(CARGO) build --release -p agentcell-host --example native_baseline --example infer_native \
	    --example stub_agent --example flows_load
	$(PY) benches/service.py
	$(PY) benches/flows.py
	$(PY) benches/worker.py
	$(CARGO) build --release -p agentcell-host --example mesh_sign
	$(PY) benches/mesh.py
	$(PY) benches/limits.py
	$(PY) benches/edge.py

# Approximate search on isotropic data against hnswlib (issue 3); not in `make bench`:
# building the HNSW graph of 100,000 x 768 takes minutes.
bench-ann: build
	$(PY) -m pip install --quiet "hnswlib==0.8.0"
	$(PY) benches/ann_isotropic.py

clean:
	rm -rf target $(VENV) host-js/node_modules host-js/gen host-js/agentcell.wasm dist agentcell-data

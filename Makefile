# One task runner for developers and CI. `make test` and `make demo` work on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
VENDOR := src/headwater/web/static/vendor

.PHONY: install demo test lint typecheck bench serve clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,spark]'
	touch $(STAMP)

# The web UI's JavaScript: pinned by package-lock.json, copied next to the UI's static files.
$(VENDOR)/.installed: package-lock.json
	npm ci --no-audit --no-fund
	mkdir -p $(VENDOR)
	cp node_modules/cytoscape/dist/cytoscape.min.js node_modules/dagre/dist/dagre.min.js \
	   node_modules/cytoscape-dagre/cytoscape-dagre.js $(VENDOR)/
	touch $@

install: $(STAMP) $(VENDOR)/.installed

demo: install
	$(VENV)/bin/headwater demo

test: install
	$(PY) -m pytest

lint: install
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(VENV)/bin/mypy

bench: install
	$(PY) benchmarks/run.py

serve: install
	$(VENV)/bin/headwater serve

clean:
	rm -rf $(VENV) $(VENDOR) node_modules build dist src/*.egg-info headwater-demo headwater.db

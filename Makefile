# Two entry points: `make run` (real data, server with the map) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
MIRROR := $(abspath ../shared/data)

# Provision from the local mirror beside the checkout when it exists, else official URLs.
ifneq ($(wildcard $(MIRROR)/PROVENANCE.md),)
export FEDMIN_DATA_MIRROR ?= $(MIRROR)
endif

.PHONY: install data assets run test lint browser bench clean-data

$(BIN)/fedmin: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(BIN)/fedmin

data: install
	$(BIN)/fedmin data fetch
	$(BIN)/fedmin data build

# The map's Leaflet files from the npm registry (package-lock.json) into app/static/vendor.
assets: install
	$(BIN)/python -m app.map.vendor

run: data assets
	$(BIN)/fedmin serve

# Debian's chromium for the real-browser tests (root, as on the dev machines and CI).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: install browser assets lint
	$(BIN)/pytest -q -p no:cacheprovider

# Benchmarks (not tests): each prints the machine, data sizes and ratios to its baseline.
bench: data assets
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python bench/rank.py
	$(BIN)/python bench/postgis_tiles.py
	$(BIN)/python bench/features.py
	$(BIN)/python bench/load.py

clean-data:
	rm -rf data/raw data/stores data/store

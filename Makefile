# The dev loop. `make run` and `make test` are the README's quick start; both set themselves up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
EXAMPLE_PLUGINS := plugins/example-pricing plugins/example-tax
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml clients/python/pyproject.toml clients/typescript/package-lock.json $(foreach p,$(EXAMPLE_PLUGINS),$(p)/pyproject.toml $(p)/src/*/*.py) 2>/dev/null | sha1sum | cut -c1-12)

.PHONY: run test check lint typecheck proto proto-check contracts pytest bench install clean

$(STAMP):
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e clients/python -e '.[dev]'
	# The example third-party plugins, installed like any other (not editable): the tests
	# find them through their entry points, never from the source tree.
	$(BIN)/python -m pip install --quiet --force-reinstall --no-deps $(addprefix ./,$(EXAMPLE_PLUGINS))
	# The TypeScript client's generator and compiler, pinned by its package-lock.json.
	cd clients/typescript && npm ci --no-audit --no-fund --loglevel=error
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)  ## install, migrate, serve on 127.0.0.1:50051 (SQLite unless BILLING_DATABASE_URL)
	$(BIN)/billing migrate
	$(BIN)/billing serve

test: check pytest  ## everything CI runs

check: lint typecheck contracts proto-check

lint: $(STAMP)
	$(BIN)/python clients/python/generate.py --link-only
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/buf lint

typecheck: $(STAMP)
	$(BIN)/mypy

contracts: $(STAMP)
	$(BIN)/lint-imports

proto: $(STAMP)  ## regenerate clients/python and clients/typescript from proto/
	$(BIN)/python clients/python/generate.py
	$(BIN)/python -m billing.relay.catalog

proto-check: $(STAMP)
	$(BIN)/python clients/python/generate.py --check
	$(BIN)/python -m billing.relay.catalog --check

# Test files spread over this many pytest-xdist workers, each file whole on one (ADR 0056);
# 3 keeps 2 cores busy while workers wait on PostgreSQL and gRPC. 0 runs in one process.
PYTEST_WORKERS ?= 3
pytest: $(STAMP)
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile

bench: $(STAMP)  ## benchmark against servers it starts (not part of CI)
	$(BIN)/billing-bench

clean:
	rm -rf $(VENV) var third_party .pytest_cache .mypy_cache .ruff_cache
	rm -rf clients/typescript/node_modules clients/typescript/dist

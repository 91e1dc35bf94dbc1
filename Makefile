# tradingweb: `make run` starts everything locally, `make test` runs the checks.
# Installs happen only when their inputs changed (stamp files), so repeated runs start fast.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
PY_STAMP := $(VENV)/.requirements-installed
NODE_STAMP := node_modules/.package-installed

export PORT

.PHONY: run test lint up bench install assets clean-stamps

run: install assets
	$(BIN)/python -m tradingweb.launcher

# Tests that start `celery worker`/`beat` subprocesses (or fork workers) run in a pytest session of
# their own: the main session's in-process worker would otherwise compete with them for tasks and
# database locks.
PROCESS_TESTS := tests/queue tests/reliability tests/approvals/test_no_worker_blocked.py \
	tests/gateway_sim/test_worker_processes.py

test: install assets
	$(BIN)/ruff check .
	$(BIN)/pytest $(addprefix --ignore=,$(PROCESS_TESTS))
	$(BIN)/pytest $(PROCESS_TESTS)

lint: install
	$(BIN)/ruff check .

# Services mode: DATABASE_URL and REDIS_URL point at running PostgreSQL and Redis
# (put them in .env; honcho reads it). web, worker and beat come from the Procfile.
up: install assets
	@test -n "$$DATABASE_URL" -o -f .env || { echo "make up needs DATABASE_URL and REDIS_URL (environment or .env; see .env.example)"; exit 1; }
	$(BIN)/honcho run $(BIN)/python manage.py migrate --noinput
	$(BIN)/honcho run $(BIN)/python manage.py collectstatic --noinput --verbosity 0
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start -f Procfile -p $(PORT)

bench: install
	@set -e; for script in bench/*.py; do \
		[ -e "$$script" ] || { echo "no benchmarks in bench/"; break; }; \
		echo "== $$script"; $(BIN)/python "$$script"; \
	done

install: $(PY_STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(PY_STAMP): requirements.txt requirements-dev.txt constraints.txt | $(BIN)/python
	$(BIN)/pip install --disable-pip-version-check -r requirements-dev.txt
	touch $@

# Front-end assets: npm packages when package.json/package-lock.json changed, then the build.
assets:
	@if [ -f package.json ]; then \
		if [ ! -f $(NODE_STAMP) ] || [ package.json -nt $(NODE_STAMP) ] || { [ -f package-lock.json ] && [ package-lock.json -nt $(NODE_STAMP) ]; }; then \
			if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi && touch $(NODE_STAMP); \
		fi; \
		npm run build; \
	fi

clean-stamps:
	rm -f $(PY_STAMP) $(NODE_STAMP)

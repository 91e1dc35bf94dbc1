# tradingweb: `make run` starts everything locally, `make test` runs the checks.
# Installs happen only when their inputs changed (stamp files), so repeated runs start fast.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
PY_STAMP := $(VENV)/.requirements-installed
NODE_STAMP := node_modules/.package-installed

export PORT

.PHONY: run test test-pytest test-clocks lint up bench install assets system-tools clean-stamps

run: install assets
	$(BIN)/python -m tradingweb.launcher

test: install assets system-tools
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(MAKE) --no-print-directory test-pytest

# Tests that start `celery worker`/`beat` subprocesses (or fork workers) carry the `processes` marker
# (pytestmark in their files) and run in a pytest session of their own: the main session's in-process
# worker would otherwise compete with them for tasks and database locks.
test-pytest:
	$(BIN)/pytest -m "not processes"
	$(BIN)/pytest -m processes

# The suite with the wall clock moved (time-machine, started by tests/clock_site/sitecustomize.py in
# pytest and in every process it starts): a Saturday, Thanksgiving, 23:30 in New York, the hour that
# repeats when US daylight saving time ends, and New Year's Eve (UTC). CI runs on the real date.
# One moment: make test-clocks CLOCKS="2026-11-28T15:00:00+00:00"
CLOCKS ?= 2026-11-28T15:00:00+00:00 2026-11-26T15:00:00+00:00 2026-12-02T04:30:00+00:00 \
	2026-11-01T06:30:00+00:00 2026-12-31T23:30:00+00:00

test-clocks: install assets system-tools
	@for clock in $(CLOCKS); do \
		echo "== the suite with the clock at $$clock"; \
		TEST_CLOCK=$$clock PYTHONPATH=$(CURDIR)/tests/clock_site $(MAKE) --no-print-directory test-pytest || exit 1; \
	done

lint: install
	$(BIN)/ruff check .

# Services mode: DATABASE_URL and REDIS_URL point at running PostgreSQL and Redis
# (put them in .env; honcho reads it). web, worker-io, worker-cpu and beat come from the Procfile.
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

# The suite needs two system programs: Chromium for the browser tests and bubblewrap, the sandbox of
# untrusted code; bench/api.py drives its load with wrk (it skips without it). Debian's packages are
# used when present; otherwise apt-get installs them when running as root; else Chromium comes from
# Playwright's own installer. What cannot be had is named in one line, before any test runs.
system-tools: install
	@missing=""; [ -x /usr/bin/chromium ] || missing="chromium chromium-driver"; \
	command -v bwrap >/dev/null || missing="$$missing bubblewrap"; \
	command -v wrk >/dev/null || missing="$$missing wrk"; \
	[ -z "$$missing" ] && exit 0; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing for the tests (apt-get):$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing \
			&& exit 0; \
	fi; \
	command -v bwrap >/dev/null || { echo "make test needs bubblewrap, the sandbox of untrusted code: sudo apt-get install bubblewrap" >&2; exit 1; }; \
	echo "installing Chromium for the browser tests (playwright install chromium)"; \
	$(BIN)/playwright install chromium >/dev/null 2>&1 && exit 0; \
	echo "make test needs Chromium for its browser tests and could not install it: sudo apt-get install chromium" >&2; \
	exit 1

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

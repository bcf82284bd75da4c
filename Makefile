# The targets .ci/run and the README use. PYTHON defaults to the project venv.
VENV ?= .venv
PYTHON ?= $(VENV)/bin/python
PYTEST_ARGS ?=
# The lock files: every dependency pinned with its hashes, for Python 3.11+ on
# any platform (markers kept). requirements-dev.txt is compiled within the pins
# of requirements.txt, so the two never disagree.
LOCK = $(VENV)/bin/uv pip compile pyproject.toml --generate-hashes --universal \
	--python-version 3.11 --custom-compile-command "make lock" --quiet

.PHONY: install lock lock-upgrade audit lint fmt typecheck test bench up down

# Exactly the locked versions (hashes checked, nothing resolved), then the
# project itself, editable, without touching them.
install:
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install -q --require-hashes --no-deps -r requirements-dev.txt
	$(PYTHON) -m pip install -q --no-deps -e .
	$(PYTHON) -m pip check

# After changing dependencies in pyproject.toml: pins what is new, keeps the rest.
lock:
	$(LOCK) -o requirements.txt
	$(LOCK) --extra dev --constraint requirements.txt -o requirements-dev.txt

# Every pin to its newest release that pyproject.toml allows.
lock-upgrade:
	$(LOCK) --upgrade -o requirements.txt
	$(LOCK) --extra dev --constraint requirements.txt --upgrade -o requirements-dev.txt

# Known vulnerabilities in the locked dependencies; skipped, saying why, where
# the advisory data cannot be reached.
audit:
	$(PYTHON) .ci/audit.py requirements-dev.txt

lint:
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .

fmt:
	$(PYTHON) -m ruff format .
	$(PYTHON) -m ruff check --fix .

typecheck:
	$(PYTHON) -m mypy

# On both cores (pytest-xdist), a test file to a worker: module fixtures (a
# demo, a 10,000-sale rep) are built once, and no two tests share a store.
# A worker that crashes is not replaced: the run ends at once naming the test it
# crashed in (pytest-xdist's loadfile scheduling can wait for good after
# replacing one, pytest-dev/pytest-xdist#1378), instead of waiting out CI's limit.
test:
	$(PYTHON) -m pytest -n 2 --dist loadfile --max-worker-restart 0 $(PYTEST_ARGS)

bench:
	$(PYTHON) -m bench all

up:
	docker compose up -d --build

down:
	docker compose down

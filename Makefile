# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
POSTGRES_TEST_URL ?= postgres://postgres@127.0.0.1:5432/test
# Every install takes its versions from the lock, so a run, a test and CI get the same set on any day; `make lock` renews it.
LOCK := constraints.txt

# screenshots: docs/screenshots/*.png from the real app in Chromium (bench/screenshots.py).
.PHONY: screenshots install lock lint run test test-postgres e2e bench-ingest bench-flush bench-scale bench-soak bench-page bench-dashboard bench-quality bench-imagenet bench-duplicates clean

# `make run` installs what running needs (.installed-local); `make test` adds the test tools (.installed-dev).
$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(BIN)/.installed-local: pyproject.toml $(LOCK) | $(BIN)/python
	$(BIN)/pip install --quiet -c $(LOCK) -e '.[local]'
	touch $@

$(BIN)/.installed-dev: pyproject.toml $(LOCK) | $(BIN)/python
	$(BIN)/pip install --quiet -c $(LOCK) -e '.[dev]'
	touch $@ $(BIN)/.installed-local

# Renew the lock: resolve pyproject.toml's ranges afresh in a throwaway venv and pin what it installed.
lock:
	rm -rf .lock-venv
	$(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet --upgrade pip
	.lock-venv/bin/pip install --quiet -e '.[dev]'
	{ echo '# The whole dependency set, pinned: every install reads it (pip -c). Renew with `make lock`; do not edit by hand.'; \
	  .lock-venv/bin/pip freeze --exclude-editable; } > $(LOCK)
	rm -rf .lock-venv

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

install: $(BIN)/.installed-dev

run: $(BIN)/.installed-local
	@$(BIN)/freelunch db upgrade
	@$(BIN)/python -m workers.dev

# Tests run in parallel test workers (pytest-xdist): the browser and job tests spend much of their time waiting.
TEST_WORKERS ?= 2
PYTEST := $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup

test: install
	$(PYTEST)

# The database-facing tests again, on PostgreSQL (CI runs this too). Not the benchmarks' smoke tests
# (tests/test_benches.py): they choose their own databases, SQLite and PostgreSQL, whatever the run's.
test-postgres: install
	FREELUNCH_TEST_DATABASE_URL=$(POSTGRES_TEST_URL) $(PYTEST) -m "not browser and not bench"

e2e: install
	$(PYTEST) -m browser

# The ingest path under load against the naive design (docs/performance.md); needs wrk and redis-server from Debian (apt-get install wrk redis-server).
bench-ingest: install
	$(BIN)/python bench/ingest.py $(ARGS)

# The flush alone, SQLite and PostgreSQL in the same run, and PostgreSQL's alternative bulk writes (docs/performance.md).
bench-flush: install
	$(BIN)/python bench/flush.py $(ARGS)

# PostgreSQL flush, a real Redis Cluster with the Procfile's processes through kills and a failover, ingest_vs_bare (docs/performance.md).
bench-scale: install
	$(BIN)/python bench/scale.py

# 500 annotators against the Procfile's processes for MINUTES minutes: RSS, stream length, p50/p99 and flush lag each minute.
MINUTES ?= 30
bench-soak: install
	$(BIN)/python bench/soak.py --minutes $(MINUTES)

# The annotation page: server render time, page weight, tracker cost per pointer event (docs/performance.md).
bench-page: install
	$(BIN)/python bench/page.py

# The requester's dashboard on a 144,000-record campaign: page server times, export speed and memory (docs/performance.md).
bench-dashboard: install
	$(BIN)/python bench/dashboard.py $(ARGS)

# Label quality per paid page: fixed-10 majority vote against Dawid–Skene in rounds, and a 144k refit (docs/performance.md).
bench-quality: install
	$(BIN)/python bench/quality.py $(ARGS)

# The near-duplicate search on 1.28 M hashes (about a minute; docs/performance.md).
bench-duplicates: install
	$(BIN)/python bench/duplicates.py

# ImageNet at full size on PostgreSQL (SCALE=1; SCALE=0.1 for a tenth): import, build, pages, fit, exports (docs/performance.md).
SCALE ?= 1
bench-imagenet: install
	cd bench && ../$(BIN)/python imagenet.py --scale $(SCALE)

screenshots: install
	$(BIN)/python bench/screenshots.py

clean:
	rm -rf $(VENV) instance .pytest_cache
